//! `terrain serve`: the relay server with its embedded defaults. On a data directory with
//! no account yet, it creates the first administrator from `TERRAIN_ADMIN_PASSWORD`, or
//! prints a one-time link to create it in the browser, so a newcomer is never locked out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use terrain_server::{AppState, Settings};

/// Where to keep data and where to listen.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (SQLite files).
    #[arg(long, default_value = "terrain-data")]
    data: PathBuf,
    /// Address to listen on. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The first administrator's user name, when TERRAIN_ADMIN_PASSWORD creates it.
    #[arg(long, default_value = "admin")]
    admin: String,
    /// Most decoded bytes one pushed survey may cost (at most the built-in 8 MiB).
    #[arg(long)]
    max_survey_bytes: Option<u64>,
    /// Most decoded bytes all the surveys of one sync request may cost together.
    #[arg(long)]
    max_request_bytes: Option<u64>,
    /// Most decoded bytes one device may push per minute.
    #[arg(long)]
    max_device_bytes_per_minute: Option<u64>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let mut settings = Settings::default();
    let sync = &mut settings.services.sync;
    if let Some(n) = args.max_survey_bytes {
        sync.survey.decoded_bytes = n.min(sync.survey.decoded_bytes);
    }
    if let Some(n) = args.max_request_bytes {
        sync.request_decoded_bytes = n;
    }
    if let Some(n) = args.max_device_bytes_per_minute {
        sync.device_decoded_bytes_per_minute = n;
    }
    // A bounded pool for blocking work: every thread reserves its stack, and a flood of
    // requests must queue for threads rather than make the process ask for thousands.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let state = AppState::open(&args.data, settings)
            .with_context(|| format!("opening the data directory {}", args.data.display()))?;
        first_admin(&state, &args)?;
        let listener = terrain_server::bind(args.addr).await.with_context(|| format!("listening on {}", args.addr))?;
        if !args.addr.ip().is_loopback() {
            tracing::warn!(addr = %args.addr, "listening beyond loopback: put TLS in front of this server");
        }
        tracing::info!(addr = %args.addr, data = %args.data.display(), "Terrain relay listening");
        if let Some(secret) = state.services.setup_secret()? {
            let host = if args.addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { args.addr.ip().to_string() };
            eprintln!(
                "\nNo account yet. Create the first administrator in your browser:\n\n    http://{host}:{}/setup?token={secret}\n\n\
                 (or stop the server and run it with TERRAIN_ADMIN_PASSWORD set). The link works once.\n",
                args.addr.port()
            );
        }
        terrain_server::serve(listener, state, terrain_server::shutdown_signal()).await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Creates the first administrator from the environment, when the server has none.
fn first_admin(state: &AppState, args: &ServeArgs) -> anyhow::Result<()> {
    let Ok(password) = std::env::var("TERRAIN_ADMIN_PASSWORD") else { return Ok(()) };
    if state.services.needs_setup()? {
        let user = state.services.setup(None, &args.admin, &password)?;
        tracing::info!(user = %user.username, "created the first administrator from TERRAIN_ADMIN_PASSWORD");
    }
    Ok(())
}

/// Structured logs on stderr, `RUST_LOG` to tune (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
