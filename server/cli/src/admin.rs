//! `terrain admin`: bootstrap and manage accounts directly in a data directory, as the
//! server's operator.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use terrain_services::accounts::CreateUser;
use terrain_services::{Services, backup};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user. There is no default account: create the first admin with this (or
    /// let `terrain serve` create it from TERRAIN_ADMIN_PASSWORD, or from its setup link).
    CreateUser {
        /// Data directory.
        #[arg(long, default_value = "terrain-data")]
        data: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Role: admin, supervisor, enumerator or analyst.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from standard input (first line) instead of TERRAIN_PASSWORD.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Rewrite every survey's projection row (what exports and the map read instead of the
    /// merged documents) from its document, and say how many rows were missing or wrong.
    /// The server keeps the rows up to date itself; run this after restoring a backup.
    RebuildProjections {
        /// Data directory.
        #[arg(long, default_value = "terrain-data")]
        data: PathBuf,
    },
    /// Write a backup of everything (accounts, forms, surveys, the audit log) to one file,
    /// while the server keeps running. Check it with `verify-backup`.
    Backup {
        /// Data directory.
        #[arg(long, default_value = "terrain-data")]
        data: PathBuf,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a backup whole: its hashes, SQLite's integrity check, its counts, and that every
    /// survey's document loads.
    VerifyBackup {
        /// The backup file.
        file: PathBuf,
    },
    /// Restore a backup into a data directory whose server is stopped. The directory's
    /// current files are set aside, not deleted. The server starts a new epoch: at their
    /// next sync, devices offer again everything the backup lacks.
    Restore {
        /// Data directory.
        #[arg(long, default_value = "terrain-data")]
        data: PathBuf,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
}

pub fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::CreateUser { data, username, role, password_stdin } => {
            // Never on the command line, where other users of the machine can read it.
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("reading the password")?;
                line.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                match std::env::var("TERRAIN_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => {
                        bail!("give the password on standard input with --password-stdin, or in TERRAIN_PASSWORD")
                    }
                }
            };
            let services = Services::open_sqlite(&data, Default::default())
                .with_context(|| format!("opening {}", data.display()))?;
            let request = CreateUser { username, password, role, display_name: None };
            let user = services.create_user(&services.operator()?, &request)?;
            println!("created {} ({})", user.username, user.role);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Backup { data, out } => {
            let services = Services::open_sqlite(&data, Default::default())
                .with_context(|| format!("opening {}", data.display()))?;
            let created = services.backup(&services.operator()?, &out)?;
            let counts = created.manifest.counts;
            println!(
                "wrote {} ({} bytes): {} surveys, {} form versions, {} users, {} audit entries",
                created.path.display(),
                created.bytes,
                counts.surveys,
                counts.forms,
                counts.users,
                counts.audit
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::VerifyBackup { file } => {
            let checked = backup::verify(&file, &std::env::temp_dir())?;
            let counts = checked.manifest.counts;
            println!(
                "{} is whole: taken {} (epoch {}), {} surveys all load, {} form versions, {} users, {} audit entries",
                file.display(),
                checked.manifest.created_at.to_rfc3339(),
                checked.manifest.epoch,
                checked.verified.surveys,
                counts.forms,
                counts.users,
                counts.audit
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Restore { data, from } => {
            let restored = backup::restore(&from, &data, Default::default())?;
            println!(
                "restored {} (taken {}) into {}; the server starts epoch {} and devices offer again what it lacks",
                from.display(),
                restored.manifest.created_at.to_rfc3339(),
                data.display(),
                restored.identity.epoch
            );
            if let Some(aside) = restored.set_aside {
                println!("the files it replaced are in {}", aside.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::RebuildProjections { data } => {
            let services = Services::open_sqlite(&data, Default::default())
                .with_context(|| format!("opening {}", data.display()))?;
            let rebuilt = services.rebuild_projections(&services.operator()?)?;
            println!(
                "projected {} surveys from their documents; {} rows were missing, stale or wrong",
                rebuilt.surveys, rebuilt.differed
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
