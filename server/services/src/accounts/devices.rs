//! A user's devices: which phones and tools have logged in as them, when each last synced
//! and with what app; and revoking one when it is lost, stolen or replaced. Revoking ends
//! the device's tokens at once (its next request is told `device_revoked`, a typed error
//! the app shows) and it may not log in again. What it already sent stays: its changes were
//! judged when they arrived.

use serde::Serialize;
use serde_json::json;
use terrain_backend::{Device, DeviceKey, User, UserId, sqlite::WEB_DEVICE};
use utoipa::ToSchema;

use super::DASHBOARD_DEVICE;
use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// A user's devices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Devices {
    /// The user's id.
    pub user: UserId,
    /// Their user name.
    pub username: String,
    /// Their devices, the last to sync first.
    pub devices: Vec<Device>,
    /// Whether the caller may enrol a device for them (a QR code).
    pub may_enrol: bool,
}

/// Phones, tablets and tools; not the dashboard's own sessions and writer, which a password
/// change or a disabled account ends instead.
fn is_field_device(device: &Device) -> bool {
    !is_reserved(&device.device_id)
}

/// That no user is `who`: said as such only to an administrator, who could see them;
/// anyone else is told what they may see, so that ids and names are not disclosed.
fn no_owner(scope: &Scope, who: &str) -> Error {
    if scope.may_administer().is_ok() {
        Error::NotFound(format!("no user {who}"))
    } else {
        Error::forbidden("only the owner, their supervisor or an administrator may see their devices")
    }
}

/// The device ids of the server's own sessions and writer: no phone or tool may log in or
/// enrol under them, where it could be neither listed nor revoked.
pub(super) fn is_reserved(device_id: &str) -> bool {
    device_id == DASHBOARD_DEVICE || device_id == WEB_DEVICE
}

/// A device key from its hex form.
fn parse_key(hex: &str) -> Result<DeviceKey> {
    terrain_core::identity::parse_device_key(hex)
        .ok_or_else(|| Error::invalid(format!("`{hex}` is not a device key: give the 16 hexadecimal digits listed")))
}

impl Services {
    /// The user whose devices `scope` asks about: not found only for those who could see
    /// them, so that ids are not disclosed.
    pub(super) fn devices_owner(&self, scope: &Scope, user: UserId) -> Result<User> {
        self.backend.user(user)?.ok_or_else(|| no_owner(scope, &user.to_string()))
    }

    /// The id of the user named `username`, for a face that names people (the CLI); not
    /// found only for those who could see them.
    pub fn device_owner_id(&self, scope: &Scope, username: &str) -> Result<UserId> {
        Ok(self.backend.user_by_name(username)?.ok_or_else(|| no_owner(scope, &format!("`{username}`")))?.0.id)
    }

    /// `user`'s devices, the last to sync first.
    pub fn devices(&self, scope: &Scope, user: UserId) -> Result<Devices> {
        let owner = self.devices_owner(scope, user)?;
        scope.may_manage_devices_of(&owner)?;
        let mut devices = self.backend.devices(user)?;
        devices.retain(is_field_device);
        let may_enrol = scope.may_enrol_devices_for(&owner).is_ok();
        Ok(Devices { user, username: owner.username, devices, may_enrol })
    }

    /// Revokes `user`'s device `key` (hex): its tokens end now, and it may not log in
    /// again. Returns how many sessions ended.
    pub fn revoke_device(&self, scope: &Scope, user: UserId, key: &str) -> Result<u64> {
        let owner = self.devices_owner(scope, user)?;
        scope.may_manage_devices_of(&owner)?;
        let key = parse_key(key)?;
        let not_found = || Error::NotFound(format!("{} has no such device, or it is already revoked", owner.username));
        let device = self.backend.device(&key)?.filter(is_field_device).ok_or_else(not_found)?;
        let ended = self.backend.revoke_device(user, &key)?.ok_or_else(not_found)?;
        self.audit(
            scope,
            Action::DeviceRevoke,
            None,
            json!({ "user": owner.username, "device": device.device_id, "ended_sessions": ended }),
        )?;
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_hex_digits() {
        assert_eq!(parse_key("00ff10a0b0c0d0e0").unwrap(), [0, 0xff, 0x10, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0]);
        for bad in ["", "00ff", "00ff10a0b0c0d0eg", "éé10a0b0c0d0e0", "00ff10a0b0c0d0e0ff"] {
            assert!(matches!(parse_key(bad), Err(Error::Invalid(_))), "{bad}");
        }
    }
}
