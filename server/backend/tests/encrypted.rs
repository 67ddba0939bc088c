//! A data directory encrypted at rest: both databases unreadable on disk, opened only with
//! the key, backed up without a plain copy ever written, restored under the same key, and
//! encrypted or re-keyed from plain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use terrain_backend::backup::{self, BackupError, Key, Seal};
use terrain_backend::sqlite::SqliteBackend;
use terrain_backend::{Backend, BackendError, NewUser};
use terrain_core::{Role, StoreError, StoreKey};

const NAME: &str = "awa-traore";

fn with_a_user(dir: &Path, key: Option<&StoreKey>) -> SqliteBackend {
    let backend = SqliteBackend::open_keyed(dir, key).unwrap();
    let user = NewUser { username: NAME.into(), password_hash: "x".into(), role: Role::Enumerator, display_name: None };
    backend.create_user(&user).unwrap();
    backend
}

/// Whether any file under `dir` (the scratch directories of a backup too) holds `needle`.
fn found_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(found_in(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

fn passphrase() -> (Seal, Key) {
    let text = || backup::SecretString::from("sous le manguier de Kindia".to_owned());
    (Seal::Passphrase(text()), Key::Passphrase(text()))
}

fn wrong_key(e: &BackendError) -> bool {
    matches!(e, BackendError::Store(StoreError::WrongKey { .. } | StoreError::KeyRequired { .. }))
}

#[test]
fn an_encrypted_data_directory_opens_only_with_its_key_and_backs_up_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = StoreKey::generate().unwrap();
    let backend = with_a_user(&data, Some(&key));
    assert!(found_in(&data, NAME.as_bytes()).is_empty(), "no account name on disk");
    let file = dir.path().join("backup.age");
    let (seal, opens) = passphrase();
    let created = backend.backup(&file, &seal).unwrap();
    assert!(created.manifest.encrypted);
    drop(backend);

    for refused in [SqliteBackend::open(&data), SqliteBackend::open_keyed(&data, Some(&StoreKey::generate().unwrap()))]
    {
        let e = refused.map(|_| ()).unwrap_err();
        assert!(wrong_key(&e), "{e}");
    }

    // The backup's databases stay under the data key: checking it needs that key too.
    let e = backup::stage(&file, &opens, dir.path(), None).unwrap_err();
    assert!(matches!(e, BackupError::Key(ref why) if why.contains("--db-key-file")), "{e}");
    let staged = backup::stage(&file, &opens, dir.path(), Some(&key)).unwrap();
    assert!(found_in(staged.dir(), NAME.as_bytes()).is_empty(), "the staged copy is encrypted too");
    drop(staged);
    let staged = backup::stage(&file, &opens, &data, Some(&key)).unwrap();
    backup::swap_in(staged, &data).unwrap();
    let restored = SqliteBackend::open_keyed(&data, Some(&key)).unwrap();
    assert_eq!(restored.users().unwrap()[0].username, NAME);
}

#[test]
fn a_plain_data_directory_is_encrypted_then_rekeyed_and_a_plain_backup_restores_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = with_a_user(&data, None);
    let file = dir.path().join("plain-backup.age");
    let (seal, opens) = passphrase();
    assert!(!backend.backup(&file, &seal).unwrap().manifest.encrypted);

    let first = StoreKey::generate().unwrap();
    let refused = terrain_backend::rekey::change_key(&data, None, &first).unwrap_err();
    assert!(matches!(refused, BackupError::InUse(_)), "refused while open: {refused}");
    drop(backend);
    let done = terrain_backend::rekey::change_key(&data, None, &first).unwrap();
    assert_eq!(done.changed, ["server.db", "surveys.db"]);
    assert!(found_in(&data, NAME.as_bytes()).is_empty());
    // Run again (as after an interruption): nothing left to do.
    let again = terrain_backend::rekey::change_key(&data, None, &first).unwrap();
    assert_eq!((again.changed.len(), again.already.len()), (0, 2));

    let second = StoreKey::generate().unwrap();
    terrain_backend::rekey::change_key(&data, Some(&first), &second).unwrap();
    let e = SqliteBackend::open_keyed(&data, Some(&first)).map(|_| ()).unwrap_err();
    assert!(wrong_key(&e), "{e}");
    assert_eq!(SqliteBackend::open_keyed(&data, Some(&second)).unwrap().users().unwrap().len(), 1);

    // The backup taken before the encryption restores into the encrypted directory under
    // its key.
    let staged = backup::stage(&file, &opens, &data, Some(&second)).unwrap();
    assert!(found_in(staged.dir(), NAME.as_bytes()).is_empty());
    backup::swap_in(staged, &data).unwrap();
    assert_eq!(SqliteBackend::open_keyed(&data, Some(&second)).unwrap().users().unwrap()[0].username, NAME);
}

/// An encrypted server's attached files, and the thumbnails made of them, are sealed on
/// disk, in its backups too; restored under the same key, they read back whole.
#[test]
fn an_encrypted_server_seals_its_attached_files_and_restores_them() {
    use terrain_core::media::Digest;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = StoreKey::generate().unwrap();
    let backend = with_a_user(&data, Some(&key));
    let consent: Vec<u8> = format!("%PDF-1.7\n{}", "Consentement de Mariama Kouyate. ".repeat(4000)).into_bytes();
    let needle = b"Consentement de Mariama";
    let digest = Digest::of(&consent);
    let size = consent.len() as u64;
    // Uploaded in two pieces, as a device sends it.
    backend.blobs().append(&digest, size, 0, &consent[..50_000]).unwrap();
    backend.blobs().append(&digest, size, 50_000, &consent[50_000..]).unwrap();
    backend.blobs().keep_derived("thumbnail-of-it.jpg", needle).unwrap();
    assert_eq!(backend.blobs().read(&digest, 0, u64::MAX).unwrap().unwrap(), (consent.clone(), size));
    assert_eq!(backend.blobs().derived("thumbnail-of-it.jpg").unwrap().unwrap(), needle);
    assert!(found_in(&data, needle).is_empty(), "a file in the clear: {:?}", found_in(&data, needle));

    let file = dir.path().join("backup.age");
    let (seal, opens) = passphrase();
    backend.backup(&file, &seal).unwrap();
    drop(backend);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let staged = backup::stage(&file, &opens, &elsewhere, Some(&key)).unwrap();
    backup::swap_in(staged, &elsewhere).unwrap();
    assert!(found_in(&elsewhere, needle).is_empty());
    let restored = SqliteBackend::open_keyed(&elsewhere, Some(&key)).unwrap();
    assert_eq!(restored.blobs().read(&digest, 0, u64::MAX).unwrap().unwrap().0, consent);
}
