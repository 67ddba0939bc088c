//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), as PHC strings,
//! in memory the caller owns: each hashing slot keeps one [`Memory`], so the server's hashing
//! memory is the slot count times 19 MiB however many logins arrive. (Left to the allocator,
//! glibc serves repeated 19 MiB requests from its heaps once the first is freed, and a login
//! flood grew the relay by hundreds of megabytes.)

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::TryRngCore;

/// The working memory of one hash: sized on first use, then reused.
#[derive(Debug, Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        if self.0.len() < params.block_count() {
            self.0.resize(params.block_count(), Block::default());
        }
        &mut self.0[..params.block_count()]
    }
}

/// The parameters of new hashes: argon2's recommended defaults.
const PARAMS: Params = Params::DEFAULT;

/// The most memory a stored hash may ask for to be checked (new hashes use 19 MiB): a hash
/// with larger parameters is refused rather than allowed to size the buffer.
const MAX_VERIFY_BLOCKS: usize = 64 * 1024;

/// Hashes a password for storage.
pub fn hash(password: &str, memory: &mut Memory) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut salt).map_err(|e| format!("the system's random source failed: {e}"))?;
    hash_with_salt(password.as_bytes(), &salt, memory)
}

fn hash_with_salt(password: &[u8], salt: &[u8], memory: &mut Memory) -> Result<String, String> {
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
        .hash_password_into_with_memory(password, salt, &mut out, memory.blocks(&PARAMS))
        .map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&PARAMS).try_into().map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored `hash`: argon2id or argon2i/d PHC strings, compared
/// in constant time.
pub fn verify(hash: &str, password: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Some(expected), Some(salt)) = (version, parsed.hash, parsed.salt) else { return false };
    if params.block_count() > MAX_VERIFY_BLOCKS {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else { return false };
    let argon = Argon2::new(algorithm, version, params.clone());
    argon.hash_password_into_with_memory(password.as_bytes(), salt, out, memory.blocks(&params)).is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(out).is_ok_and(|computed| computed == expected)
}

/// A hash of no one's password, to verify against when the user name is unknown: the answer
/// then takes as long as for a wrong password, so timing does not tell which names exist.
pub fn decoy(memory: &mut Memory) -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // A fixed salt is fine here: this hash is never stored, only verified against.
    DECOY.get_or_init(|| hash_with_salt(b"no one's password", b"terrain-decoy-16", memory).unwrap_or_default())
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
        let memory = &mut Memory::default();
        let h = hash("correct horse battery", memory).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&h, "correct horse battery", memory));
        assert!(!verify(&h, "wrong horse battery", memory));
        assert!(!verify("not a hash", "x", memory));
        let decoy = decoy(memory);
        assert!(decoy.starts_with("$argon2id$"));
        assert!(!verify(decoy, "correct horse battery", memory));
    }

    #[test]
    fn hashes_are_the_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let memory = &mut Memory::default();
        // Hashes stored before hashing used its own memory still verify, and new ones verify
        // with the crate's own verifier.
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let old = Argon2::default().hash_password(b"correct horse battery", &salt).unwrap().to_string();
        assert!(verify(&old, "correct horse battery", memory));
        assert!(!verify(&old, "correct horse batter", memory));
        let new = hash("correct horse battery", memory).unwrap();
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
    }

    #[test]
    fn a_stored_hash_cannot_ask_for_unbounded_memory() {
        let memory = &mut Memory::default();
        let huge =
            "$argon2id$v=19$m=4194304,t=1,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify(huge, "x", memory));
        assert!(memory.0.is_empty(), "nothing was allocated for it");
    }
}
