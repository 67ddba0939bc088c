//! Who writes: users, devices, roles, and the Automerge actor ids that carry them into history.
//!
//! Every store session writes under a fresh actor id. Reusing an actor id from two places (two
//! processes, or a device restored from a backup) corrupts Automerge's per-actor sequence and
//! gets later changes rejected, and a device cannot know it was restored; a new actor per
//! session costs 16 bytes per document it touches and removes the risk entirely.
//!
//! An actor id is the device key (8 bytes the server assigns to a user's device at login)
//! followed by 8 random bytes. The server binds each device key to one user, so it knows
//! who wrote every change, including changes a supervisor relays from a bundle, without the
//! device ever having to register its session actors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a person may do in Terrain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Fills in surveys in the field.
    Enumerator,
    /// Reviews, corrects and sends back the surveys of their teams.
    Supervisor,
    /// Reads and exports merged data.
    Analyst,
    /// Manages projects, forms, teams and users.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Enumerator => "enumerator",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that Terrain does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: use enumerator, supervisor, analyst or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "enumerator" => Ok(Role::Enumerator),
            "supervisor" => Ok(Role::Supervisor),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// The person and device behind a store, and so behind every change it writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    /// The user's login name.
    pub user: String,
    /// The device's identifier.
    pub device: String,
    /// The user's role.
    pub role: Role,
}

impl Author {
    /// An author from its parts.
    pub fn new(user: impl Into<String>, device: impl Into<String>, role: Role) -> Self {
        Author { user: user.into(), device: device.into(), role }
    }
}

/// The length of a device key, the first part of every actor id.
pub const DEVICE_KEY_LEN: usize = 8;

/// A fresh actor id: `device_key` (or random bytes before the device has one) followed by
/// 8 random bytes, never handed out twice.
pub fn new_actor_for(device_key: Option<[u8; DEVICE_KEY_LEN]>) -> automerge::ActorId {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    if let Some(key) = device_key {
        bytes[..DEVICE_KEY_LEN].copy_from_slice(&key);
    }
    automerge::ActorId::from(bytes.as_slice())
}

/// A fresh actor id with no device key.
pub fn new_actor() -> automerge::ActorId {
    new_actor_for(None)
}

/// The device key an actor id (hex) starts with.
pub fn device_key_of(actor_hex: &str) -> Option<[u8; DEVICE_KEY_LEN]> {
    let prefix = actor_hex.get(..DEVICE_KEY_LEN * 2)?;
    parse_device_key(prefix)
}

/// A device key from its hex form.
pub fn parse_device_key(hex: &str) -> Option<[u8; DEVICE_KEY_LEN]> {
    let mut key = [0u8; DEVICE_KEY_LEN];
    crate::hex::decode_into(hex.as_bytes(), &mut key)?;
    Some(key)
}

/// A device key in hex.
pub fn device_key_hex(key: &[u8; DEVICE_KEY_LEN]) -> String {
    crate::hex::encode(key)
}
