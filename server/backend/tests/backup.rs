//! Backups checked end to end: a whole one stages, a damaged one is refused before anything
//! is touched, and nothing swaps files under an open data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use terrain_backend::backup::{self, BackupError};
use terrain_backend::sqlite::SqliteBackend;
use terrain_backend::{Backend, NewUser};
use terrain_core::Role;

fn backend_with_a_user(dir: &std::path::Path) -> SqliteBackend {
    let backend = SqliteBackend::open(dir).unwrap();
    let user =
        NewUser { username: "awa".into(), password_hash: "x".into(), role: Role::Enumerator, display_name: None };
    backend.create_user(&user).unwrap();
    backend
}

#[test]
fn a_backup_stages_whole_and_a_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = backend_with_a_user(&data);
    let file = dir.path().join("backup.zip");
    let created = backend.backup(&file).unwrap();
    assert_eq!(created.manifest.counts.users, 1);
    assert_eq!(created.manifest.epoch, backend.identity().unwrap().epoch);

    let staged = backup::stage(&file, dir.path()).unwrap();
    assert_eq!(staged.manifest, created.manifest);
    drop(staged);

    // One byte changed in the middle of the file: a database no longer hashes (or the zip
    // no longer inflates), and the check says so.
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x55;
    let damaged = dir.path().join("damaged.zip");
    std::fs::write(&damaged, &bytes).unwrap();
    let refused = backup::stage(&damaged, dir.path());
    assert!(matches!(refused, Err(BackupError::Damaged { .. })), "{refused:?}");
    let not_zip = dir.path().join("notes.txt");
    std::fs::write(&not_zip, b"not a backup").unwrap();
    assert!(matches!(backup::stage(&not_zip, dir.path()), Err(BackupError::Damaged { .. })));
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
    let file = dir.path().join("backup.zip");
    backend.backup(&file).unwrap();
    let staged = backup::stage(&file, &data).unwrap();
    let refused = backup::swap_in(staged, &data);
    assert!(matches!(refused, Err(BackupError::InUse(_))), "{refused:?}");
    assert!(!data.join(backup::SWAP_MARKER).exists());

    drop(backend);
    let staged = backup::stage(&file, &data).unwrap();
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
