//! `terrain serve`: the relay server with its embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use terrain_server::{Settings, serve};

/// Where to keep data and where to listen.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (SQLite files).
    #[arg(long, default_value = "terrain-data")]
    data: PathBuf,
    /// Address to listen on. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let state = serve::state(&args.data, Settings::default())
            .with_context(|| format!("opening the data directory {}", args.data.display()))?;
        let listener = serve::bind(args.addr).await.with_context(|| format!("listening on {}", args.addr))?;
        if !args.addr.ip().is_loopback() {
            tracing::warn!(addr = %args.addr, "listening beyond loopback: put TLS in front of this server");
        }
        tracing::info!(addr = %args.addr, data = %args.data.display(), "Terrain relay listening");
        serve::serve(listener, state, serve::shutdown_signal()).await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Structured logs on stderr, `RUST_LOG` to tune (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
