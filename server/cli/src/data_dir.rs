//! Where a command's data is: the data directory, and the key its databases are encrypted
//! under, read from a file or the environment, never from the command line (where the
//! machine's other users can read it).

use std::path::{Path, PathBuf};

use anyhow::Context;
use terrain_core::StoreKey;
use terrain_services::Services;
use zeroize::Zeroizing;

/// The environment variable holding the data key, for where a file will not do.
pub const KEY_ENV: &str = "TERRAIN_DB_KEY";

/// A data directory and its key.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Data directory (SQLite files).
    #[arg(long, default_value = "terrain-data")]
    pub data: PathBuf,
    #[command(flatten)]
    pub key: DbKeyArg,
}

/// Where the data key comes from.
#[derive(Debug, clap::Args)]
pub struct DbKeyArg {
    /// The databases are encrypted under the key in this file (64 hexadecimal digits, from
    /// `terrain admin store-key`); or give it in TERRAIN_DB_KEY. Without either, plain.
    #[arg(long)]
    db_key_file: Option<PathBuf>,
}

impl DbKeyArg {
    /// The key, if one was given.
    pub fn read(&self) -> anyhow::Result<Option<StoreKey>> {
        read_key(self.db_key_file.as_deref(), Some(KEY_ENV))
    }
}

impl DataArgs {
    /// The services of this data directory, opened with its key.
    pub fn open(&self) -> anyhow::Result<Services> {
        Services::open_sqlite_keyed(&self.data, self.key.read()?.as_ref(), Default::default())
            .with_context(|| format!("opening {}", self.data.display()))
    }
}

/// A key from `file` or else from the environment variable `env`.
pub fn read_key(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<Option<StoreKey>> {
    if let Some(file) = file {
        let text =
            Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?);
        return Ok(Some(StoreKey::from_hex(&text).with_context(|| format!("reading the key in {}", file.display()))?));
    }
    match env.and_then(|name| std::env::var(name).ok().map(|value| (name, Zeroizing::new(value)))) {
        Some((name, value)) => {
            Ok(Some(StoreKey::from_hex(&value).with_context(|| format!("reading the key in {name}"))?))
        }
        None => Ok(None),
    }
}
