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
    /// The key, if one was given: from the file, else from the environment.
    pub fn read(&self) -> anyhow::Result<Option<StoreKey>> {
        if let Some(file) = &self.db_key_file {
            return read_key_file(file).map(Some);
        }
        match std::env::var(KEY_ENV) {
            Ok(value) => {
                let value = Zeroizing::new(value);
                Ok(Some(StoreKey::from_hex(&value).with_context(|| format!("reading the key in {KEY_ENV}"))?))
            }
            Err(_) => Ok(None),
        }
    }
}

impl DataArgs {
    /// The services of this data directory, opened with its key.
    pub fn open(&self) -> anyhow::Result<Services> {
        Services::open_sqlite_keyed(&self.data, self.key.read()?.as_ref(), Default::default())
            .with_context(|| format!("opening {}", self.data.display()))
    }
}

/// The key written in `file` (`terrain admin store-key`'s).
pub fn read_key_file(file: &Path) -> anyhow::Result<StoreKey> {
    let text = Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?);
    StoreKey::from_hex(&text).with_context(|| format!("reading the key in {}", file.display()))
}
