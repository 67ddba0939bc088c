//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), as PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;

/// Hashes a password for storage.
pub fn hash(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| format!("the system's random source failed: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the stored `hash` (constant-time inside argon2).
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of no one's password, to verify against when the user name is unknown: the answer
/// then takes as long as for a wrong password, so timing does not tell which names exist.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        // A fixed salt is fine here: this hash is never stored, only verified against.
        let salt = SaltString::encode_b64(b"terrain-decoy-16").map_err(|e| e.to_string());
        salt.and_then(|salt| {
            Argon2::default()
                .hash_password(b"no one's password", &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .unwrap_or_default()
    })
}

/// The longest password accepted: argon2 reads all of it, so a megabyte password would
/// cost the server for nothing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The rules a new password must follow, as a message if it does not.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err("a password needs at least 10 characters".into());
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("a password holds at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "wrong horse battery"));
        assert!(!verify("not a hash", "x"));
        assert!(decoy().starts_with("$argon2id$"));
        assert!(!verify(decoy(), "correct horse battery"));
    }
}
