//! Backups checked end to end: a whole one stages with its key and only with it, a damaged
//! one is refused before anything is touched, no answer is readable in the file, and
//! nothing swaps files under an open data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use terrain_backend::backup::{self, BackupError, Key, Seal};
use terrain_backend::sqlite::SqliteBackend;
use terrain_backend::{Backend, NewUser};
use terrain_core::Role;

fn backend_with_a_user(dir: &std::path::Path) -> SqliteBackend {
    let backend = SqliteBackend::open(dir).unwrap();
    let user = NewUser {
        username: "awa-traore".into(),
        password_hash: "x".into(),
        role: Role::Enumerator,
        display_name: None,
    };
    backend.create_user(&user).unwrap();
    backend
}

fn passphrase(text: &str) -> backup::SecretString {
    text.to_owned().into()
}

/// A key pair made for the test: what seals, and what opens.
fn recipient() -> (Seal, Key) {
    let identity = age::x25519::Identity::generate();
    let seal = Seal::recipients([identity.to_public().to_string().as_str()]).unwrap();
    (seal, Key::Identities(vec![Box::new(identity)]))
}

#[test]
fn a_backup_stages_whole_with_its_key_and_a_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = backend_with_a_user(&data);
    let file = dir.path().join("backup.age");
    let seal = Seal::Passphrase(passphrase("sous le manguier de Kindia"));
    let created = backend.backup(&file, &seal).unwrap();
    assert_eq!(created.manifest.counts.users, 1);
    assert_eq!(created.manifest.epoch, backend.identity().unwrap().epoch);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"), "sealed with age");
    assert!(!bytes.windows(10).any(|w| w == b"awa-traore"), "nothing readable in the file");

    let key = Key::Passphrase(passphrase("sous le manguier de Kindia"));
    let staged = backup::stage(&file, &key, dir.path(), None).unwrap();
    assert_eq!(staged.manifest, created.manifest);
    drop(staged);
    let wrong = backup::stage(&file, &Key::Passphrase(passphrase("sous le manguier de Labé")), dir.path(), None);
    assert!(matches!(wrong, Err(BackupError::Key(_))), "{wrong:?}");
    let (_, other) = recipient();
    assert!(matches!(backup::stage(&file, &other, dir.path(), None), Err(BackupError::Key(_))));

    // One byte changed in the middle of the file: the chunk holding it no longer
    // authenticates, and the check says so.
    let mut bytes = bytes;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = dir.path().join("damaged.age");
    std::fs::write(&damaged, &bytes).unwrap();
    let refused = backup::stage(&damaged, &key, dir.path(), None);
    assert!(matches!(refused, Err(BackupError::Damaged { .. })), "{refused:?}");
    let not_age = dir.path().join("notes.txt");
    std::fs::write(&not_age, b"not a backup").unwrap();
    assert!(matches!(backup::stage(&not_age, &key, dir.path(), None), Err(BackupError::Damaged { .. })));
    // Scratch directories go away with the failed checks.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".terrain-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn files_are_not_swapped_under_an_open_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = backend_with_a_user(&data);
    let file = dir.path().join("backup.age");
    let (seal, key) = recipient();
    backend.backup(&file, &seal).unwrap();
    let staged = backup::stage(&file, &key, &data, None).unwrap();
    let refused = backup::swap_in(staged, &data);
    assert!(matches!(refused, Err(BackupError::InUse(_))), "{refused:?}");
    assert!(!data.join(backup::SWAP_MARKER).exists());

    drop(backend);
    let staged = backup::stage(&file, &key, &data, None).unwrap();
    let swapped = backup::swap_in(staged, &data).unwrap();
    let aside = swapped.set_aside.unwrap();
    assert!(aside.join("server.db").exists() && aside.join("surveys.db").exists(), "the old files are kept");
    let reopened = SqliteBackend::open(&data).unwrap();
    assert_eq!(reopened.users().unwrap().len(), 1);

    // A swap cut off halfway leaves its marker, and the directory is not opened on it.
    drop(reopened);
    std::fs::write(data.join(backup::SWAP_MARKER), b"").unwrap();
    let interrupted = SqliteBackend::open(&data);
    assert!(interrupted.is_err(), "a half-swapped directory is not opened");
}

#[test]
fn attached_files_travel_in_the_backup_and_are_restored_beside_the_databases() {
    use terrain_core::media::Digest;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = backend_with_a_user(&data);
    let photo: Vec<u8> = (0..70_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let digest = Digest::of(&photo);
    backend.blobs().append(&digest, photo.len() as u64, 0, &photo).unwrap();
    // An upload in progress is not a file yet: it stays out.
    let partial = Digest::of(b"half a photo");
    backend.blobs().append(&partial, 100, 0, &[1; 10]).unwrap();
    let file = dir.path().join("backup.age");
    let (seal, key) = recipient();
    let created = backend.backup(&file, &seal).unwrap();
    assert_eq!(created.manifest.media, backup::MediaCount { files: 1, bytes: 70_000 });
    drop(backend);

    let elsewhere = dir.path().join("new-server");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let staged = backup::stage(&file, &key, &elsewhere, None).unwrap();
    backup::swap_in(staged, &elsewhere).unwrap();
    assert_eq!(std::fs::read(elsewhere.join("blobs").join(digest.to_hex())).unwrap(), photo);
    let reopened = SqliteBackend::open(&elsewhere).unwrap();
    assert_eq!(reopened.blobs().read(&digest, 0, 10).unwrap().unwrap().1, 70_000);
}
