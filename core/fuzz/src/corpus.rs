//! The checked-in corpus: for each target, small inputs of every attack class, written from
//! fixed seeds so that `terrain-fuzz corpus` always writes the same files, and read back by
//! the regression test.
//!
//! Some classes make large inputs with some seeds (a chain of 200,000 operators, 60,000 zip
//! entries); the corpus keeps the first seeds whose input is small, so the whole corpus
//! stays well under 2 MB. Classes with no small input are left out (the fuzzer still makes
//! them).

use std::path::{Path, PathBuf};

use crate::Target;
use crate::dice::Dice;
use crate::generators;

/// The largest corpus file: bombs compress 80 MiB to about 80 kB.
pub const MAX_FILE_BYTES: usize = 128 << 10;

/// The name prefix of corpus files copied from the artifacts of fixed findings.
pub const FOUND_PREFIX: &str = "found-";

/// Seeds tried per class before giving up on a small input.
const TRIES: u64 = 40;

/// The corpus of `target`: file names and contents, in a fixed order.
pub fn entries(target: Target) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut class = |name: &str, index: usize, keep: usize, make: &mut dyn FnMut(&mut Dice) -> Vec<u8>| {
        let mut kept = 0;
        for attempt in 0..TRIES {
            let seed = 0xC0A9_0000 + index as u64 * 1000 + attempt;
            let input = make(&mut Dice::new(seed));
            if input.len() <= MAX_FILE_BYTES {
                out.push((format!("{name}-{seed}.bin"), input));
                kept += 1;
                if kept == keep {
                    break;
                }
            }
        }
    };
    match target {
        Target::FrontDoor => {
            for (i, attack) in generators::chunks::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 1, &mut |d| generators::chunks::generate_with(d, &[*attack]));
            }
        }
        Target::Wire => {
            for (i, attack) in generators::wire::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 2, &mut |d| generators::wire::generate_with(d, *attack));
            }
        }
        Target::Bundle => {
            for (i, attack) in generators::bundle::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 2, &mut |d| generators::bundle::generate_with(d, &[*attack]));
            }
        }
        Target::Xlsform => {
            for (i, attack) in generators::xlsx::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 1, &mut |d| generators::xlsx::generate_with(d, *attack));
            }
        }
        Target::Expression => {
            for (i, attack) in generators::expression::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 3, &mut |d| generators::expression::generate_with(d, *attack));
            }
        }
        Target::Media => {
            for (i, attack) in generators::images::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 2, &mut |d| generators::images::generate_with(d, *attack));
            }
        }
        Target::FormFiles => {
            for (i, attack) in generators::form_files::Attack::ALL.iter().enumerate() {
                class(attack.name(), i, 2, &mut |d| generators::form_files::generate_with(d, *attack));
            }
        }
    }
    out
}

/// The corpus folder of this crate.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Writes the corpus of every target under `dir`, replacing the generated `.bin` files there
/// (not the `found-*.bin` ones); returns how many files and bytes were written.
pub fn write(dir: &Path) -> std::io::Result<(usize, usize)> {
    let (mut files, mut bytes) = (0, 0);
    for target in Target::all() {
        let folder = dir.join(target.name());
        std::fs::create_dir_all(&folder)?;
        for old in std::fs::read_dir(&folder)?.flatten() {
            // `found-*.bin` are inputs of fixed findings, kept by hand: never regenerated.
            let kept = old.file_name().to_string_lossy().starts_with(FOUND_PREFIX);
            if !kept && old.path().extension().is_some_and(|e| e == "bin") {
                std::fs::remove_file(old.path())?;
            }
        }
        for (name, input) in entries(target) {
            std::fs::write(folder.join(name), &input)?;
            files += 1;
            bytes += input.len();
        }
    }
    Ok((files, bytes))
}

/// The corpus files of `target` under `dir`, sorted by name.
pub fn read(dir: &Path, target: Target) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join(target.name()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| std::fs::read(&p).map(|bytes| (p, bytes))).collect()
}
