//! `terrain admin`: bootstrap and manage accounts directly in a data directory, as the
//! server's operator.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use terrain_services::accounts::CreateUser;
use terrain_services::backup;

use crate::data_dir::{DataArgs, DbKeyArg, read_key_file};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user. There is no default account: create the first admin with this (or
    /// let `terrain serve` create it from TERRAIN_ADMIN_PASSWORD, or from its setup link).
    CreateUser {
        #[command(flatten)]
        data: DataArgs,
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
    /// Remove attached files no survey references any more (photos replaced or removed,
    /// uploads of files no answer kept, uploads abandoned midway), once untouched for the
    /// grace period, so that a file sent before its survey's answers is not lost.
    CollectMedia {
        #[command(flatten)]
        data: DataArgs,
        /// Keep anything written within this many days.
        #[arg(long, default_value_t = 7)]
        grace_days: u64,
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Rewrite every survey's projection row (what exports and the map read instead of the
    /// merged documents) from its document, and say how many rows were missing or wrong.
    /// The server keeps the rows up to date itself; run this after restoring a backup.
    RebuildProjections {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write a backup of everything (accounts, forms, surveys, the audit log) to one file,
    /// while the server keeps running. Check it with `verify-backup`.
    /// It is always encrypted with age: to recipients' public keys (`--recipient`, from
    /// `age-keygen`; the server never holds what opens it), or with a passphrase.
    Backup {
        #[command(flatten)]
        data: DataArgs,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
        /// An age recipient (`age1…`) who may open the backup; repeat for several. Without
        /// one, the passphrase is used.
        #[arg(long = "recipient")]
        recipients: Vec<String>,
        #[command(flatten)]
        passphrase: PassphraseArg,
    },
    /// Check a backup whole: its hashes, SQLite's integrity check, its counts, and that every
    /// survey's document loads.
    VerifyBackup {
        /// The backup file.
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        db_key: DbKeyArg,
    },
    /// Restore a backup into a data directory whose server is stopped. The directory's
    /// current files are set aside, not deleted. The server starts a new epoch: at their
    /// next sync, devices offer again everything the backup lacks.
    Restore {
        #[command(flatten)]
        data: DataArgs,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// List a user's devices (phones, tablets, tools) with their last sync and app.
    Devices {
        #[command(flatten)]
        data: DataArgs,
        /// The user's login name.
        #[arg(long)]
        user: String,
    },
    /// Revoke a user's device that was lost, stolen or replaced (works while the server
    /// runs): its next sync is refused, and it may not log in again. Audited.
    RevokeDevice {
        #[command(flatten)]
        data: DataArgs,
        /// The user's login name.
        #[arg(long)]
        user: String,
        /// The device key `terrain admin devices` lists (16 hexadecimal digits).
        #[arg(long)]
        device: String,
    },
    /// Write a new random key for encrypting a data directory's databases (64 hexadecimal
    /// digits, readable by its owner only). Give it to `rekey`, then to every command and
    /// `terrain serve` with --db-key-file. Keep a copy apart from the backups: without it,
    /// neither the data nor its backups open.
    StoreKey {
        /// Where to write it (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Encrypt a data directory's databases under a new key, or rotate their key, while
    /// the server is stopped (the current key, if any, from --db-key-file or
    /// TERRAIN_DB_KEY). Audited; if interrupted, run it again.
    Rekey {
        #[command(flatten)]
        data: DataArgs,
        /// The file with the new key (`terrain admin store-key`).
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// Make a self-signed TLS certificate for a pilot's relay, for `terrain serve --tls-cert
    /// --tls-key`, and print the fingerprint its devices pin. Where a public authority can
    /// sign for the relay's name, use its certificate instead.
    TlsCertificate {
        /// Where to write the certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Where to write the private key (PEM, readable by its owner only).
        #[arg(long)]
        key: PathBuf,
        /// A host name or IP address devices reach the relay by (repeat for several).
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// How many days the certificate is valid (at most 3650).
        #[arg(long, default_value_t = 825, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
}

/// Where a backup's passphrase comes from: never the command line, where other users of the
/// machine can read it.
#[derive(Debug, clap::Args)]
pub struct PassphraseArg {
    /// Read the passphrase from this file's first line instead of TERRAIN_BACKUP_PASSPHRASE.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// What opens a backup: an identity file, or the passphrase.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// An age identity file (`age-keygen`'s) of one of the backup's recipients. Without it,
    /// the passphrase is used.
    #[arg(long)]
    identity: Option<PathBuf>,
    #[command(flatten)]
    passphrase: PassphraseArg,
}

impl PassphraseArg {
    fn read(&self) -> anyhow::Result<backup::SecretString> {
        let passphrase = match &self.passphrase_file {
            Some(file) => {
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                text.lines().next().unwrap_or_default().to_owned()
            }
            None => std::env::var("TERRAIN_BACKUP_PASSPHRASE").map_err(|_| {
                anyhow::anyhow!(
                    "backups are always encrypted: give --recipient (or --identity), or a passphrase in \
                     TERRAIN_BACKUP_PASSPHRASE or --passphrase-file"
                )
            })?,
        };
        if passphrase.chars().count() < 12 {
            bail!("a backup's passphrase has at least 12 characters");
        }
        Ok(passphrase.into())
    }
}

impl KeyArgs {
    fn key(&self) -> anyhow::Result<backup::Key> {
        Ok(match &self.identity {
            Some(file) => backup::Key::identity_file(file)?,
            None => backup::Key::Passphrase(self.passphrase.read()?),
        })
    }
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
            let services = data.open()?;
            let request = CreateUser { username, password, role, display_name: None };
            let user = services.create_user(&services.operator()?, &request)?;
            println!("created {} ({})", user.username, user.role);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Backup { data, out, recipients, passphrase } => {
            let seal = if recipients.is_empty() {
                backup::Seal::Passphrase(passphrase.read()?)
            } else {
                backup::Seal::recipients(recipients.iter().map(String::as_str))?
            };
            let services = data.open()?;
            let created = services.backup(&services.operator()?, &out, &seal)?;
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
        AdminCommand::VerifyBackup { file, key, db_key } => {
            let checked = backup::verify(&file, &key.key()?, &std::env::temp_dir(), db_key.read()?.as_ref())?;
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
        AdminCommand::Restore { data, from, key } => {
            let restored =
                backup::restore(&from, &key.key()?, &data.data, data.key.read()?.as_ref(), Default::default())?;
            println!(
                "restored {} (taken {}) into {}; the server starts epoch {} and devices offer again what it lacks",
                from.display(),
                restored.manifest.created_at.to_rfc3339(),
                data.data.display(),
                restored.identity.epoch
            );
            if let Some(aside) = restored.set_aside {
                println!("the files it replaced are in {}", aside.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Devices { data, user } => {
            let services = data.open()?;
            let scope = services.operator()?;
            let listed = services.devices(&scope, services.device_owner_id(&scope, &user)?)?;
            if listed.devices.is_empty() {
                println!("{user} has no device yet");
            }
            for d in &listed.devices {
                let key = terrain_core::identity::device_key_hex(&d.key);
                let last = d
                    .last_sync_at
                    .map_or_else(|| "never synced".to_owned(), |t| format!("last sync {}", t.to_rfc3339()));
                let state = d.revoked_at.map_or_else(|| "active".to_owned(), |t| format!("revoked {}", t.to_rfc3339()));
                println!("{key}  {}  {last}  {state}  {}", d.device_id, d.client.as_deref().unwrap_or(""));
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::RevokeDevice { data, user, device } => {
            let services = data.open()?;
            let scope = services.operator()?;
            let ended = services.revoke_device(&scope, services.device_owner_id(&scope, &user)?, &device)?;
            println!("revoked {user}'s device {device}; {ended} session(s) ended, its next sync is refused");
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::StoreKey { out } => {
            let key = terrain_core::StoreKey::generate()?;
            let mut text = key.to_hex();
            text.push('\n');
            write_new(&out, text.as_bytes(), 0o600)?;
            println!("wrote a new data key to {}; keep a copy apart from the backups", out.display());
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Rekey { data, new_key_file } => {
            let new = read_key_file(&new_key_file)?;
            let rekeyed = backup::rekey(&data.data, data.key.read()?.as_ref(), &new, Default::default())?;
            println!(
                "{} now encrypted under the key in {} ({} re-encrypted, {} already were); start the server with \
                 --db-key-file {}",
                data.data.display(),
                new_key_file.display(),
                rekeyed.changed.join(" and "),
                rekeyed.already.join(" and "),
                new_key_file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::TlsCertificate { cert, key, names, days } => {
            if let Some(existing) = [&cert, &key].into_iter().find(|p| p.exists()) {
                anyhow::bail!(
                    "{} exists: a certificate or key is never overwritten, move it first",
                    existing.display()
                );
            }
            let made = terrain_server::http::tls::self_signed(&names, days)?;
            write_new(&key, made.key_pem.as_bytes(), 0o600)?;
            write_new(&cert, made.cert_pem.as_bytes(), 0o644)?;
            println!("wrote {} and {}, valid {days} days for {}", cert.display(), key.display(), names.join(", "));
            println!("certificate SHA-256 fingerprint (devices pin this): {}", made.pin);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::CollectMedia { data, grace_days, dry_run } => {
            let services = data.open()?;
            let grace = std::time::Duration::from_secs(grace_days.saturating_mul(86_400));
            let collected = services.collect_media(&services.operator()?, grace, dry_run)?;
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} files ({} bytes) no survey references; kept {}",
                collected.removed, collected.bytes, collected.kept
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::RebuildProjections { data } => {
            let services = data.open()?;
            let rebuilt = services.rebuild_projections(&services.operator()?)?;
            println!(
                "projected {} surveys from their documents; {} rows were missing, stale or wrong",
                rebuilt.surveys, rebuilt.differed
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `bytes` to a file that must not exist yet (a certificate or key is never
/// overwritten by mistake), with permissions `mode` where the system has them.
fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| {
        format!("creating {} (an existing file is never overwritten: move it first)", path.display())
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))
}
