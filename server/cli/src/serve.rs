//! `terrain serve`: the relay server with its embedded defaults. On a data directory with
//! no account yet, it creates the first administrator from `TERRAIN_ADMIN_PASSWORD`, or
//! prints a one-time link to create it in the browser, so a newcomer is never locked out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use terrain_server::{AppState, Settings, Tls, TlsFiles};

use crate::data_dir::DataArgs;

/// Where to keep data and where to listen.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM; read again on SIGHUP).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: believe its X-Forwarded-For and
    /// X-Forwarded-Proto (from --trusted-proxy addresses only).
    #[arg(long)]
    behind_proxy: bool,
    /// The proxy's address, for --behind-proxy (repeat for several; default loopback).
    #[arg(long = "trusted-proxy", requires = "behind_proxy")]
    trusted_proxies: Vec<IpAddr>,
    /// Enrolment QR codes pin the --tls-cert certificate: for a self-signed one (`terrain
    /// admin tls-certificate`), never for one a public authority renews.
    #[arg(long, requires = "tls_cert")]
    pin_certificate: bool,
    /// The address phones reach this server by (https://relay.example.org), for enrolment
    /// QR codes, when the dashboard is opened at another.
    #[arg(long)]
    public_url: Option<String>,
    /// Serve plain HTTP beyond loopback with neither TLS nor a proxy: passwords and answers
    /// then cross the network in clear. For a closed test network only.
    #[arg(long)]
    insecure_http: bool,
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
    /// How long a device's session token lives before the device renews it with its refresh
    /// token (one round trip): shorter limits what a copied token opens, longer saves
    /// round trips on a slow link.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    session_token_minutes: u32,
    /// The largest attached file (photo, recording, video, document) a device may upload, in
    /// MB; devices refuse to attach files over 50 MB themselves.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_media_mb: u64,
    /// The most attached files' bytes one device may upload in a day (UTC), in MB.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    max_media_mb_per_day: u64,
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
    settings.services.access_ttl = chrono::Duration::minutes(i64::from(args.session_token_minutes));
    settings.services.media.max_file_bytes = args.max_media_mb << 20;
    settings.services.media.device_bytes_per_day = args.max_media_mb_per_day << 20;
    if args.behind_proxy {
        settings.trusted_proxies = if args.trusted_proxies.is_empty() {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        } else {
            args.trusted_proxies.clone()
        };
    }
    settings.public_url = args.public_url.clone();
    settings.pin_certificate = args.pin_certificate;
    if args.behind_proxy && args.public_url.is_none() {
        tracing::warn!(
            "behind a proxy without --public-url: enrolment QR codes name the address the proxy forwards to"
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Tls::load(TlsFiles { cert: cert.clone(), key: key.clone() })?),
        _ => None,
    };
    if tls.is_none() && !args.addr.ip().is_loopback() && !args.behind_proxy && !args.insecure_http {
        anyhow::bail!(
            "refusing to serve plain HTTP on {}: passwords and answers would cross the network in clear. \
             Give --tls-cert and --tls-key (`terrain admin tls-certificate` makes a self-signed pair), or \
             --behind-proxy when a reverse proxy terminates TLS, or --insecure-http on a closed test network",
            args.addr
        );
    }
    // A bounded pool for blocking work: every thread reserves its stack, and a flood of
    // requests must queue for threads rather than make the process ask for thousands.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let state = AppState::open_keyed(&args.data.data, args.data.key.read()?.as_ref(), settings)
            .with_context(|| format!("opening the data directory {}", args.data.data.display()))?;
        first_admin(&state, &args)?;
        let listener = terrain_server::bind(args.addr).await.with_context(|| format!("listening on {}", args.addr))?;
        if args.insecure_http && tls.is_none() && !args.addr.ip().is_loopback() {
            tracing::warn!(addr = %args.addr, "serving plain HTTP beyond loopback (--insecure-http)");
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %args.addr, scheme, data = %args.data.data.display(), "Terrain relay listening");
        if let Some(tls) = &tls {
            // Listening for SIGHUP before the fingerprint says the server is up: a renewal
            // hook that signals then must not stop it (SIGHUP's default).
            reload_on_hangup(tls.clone())?;
            // Printed, not only logged: the operator hands it to the devices of a relay whose
            // certificate no public authority signed.
            eprintln!("TLS certificate SHA-256 fingerprint (devices pin this): {}", tls.pin());
        }
        if let Some(secret) = state.services.setup_secret()? {
            let host = if args.addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { args.addr.ip().to_string() };
            eprintln!(
                "\nNo account yet. Create the first administrator in your browser:\n\n    {scheme}://{host}:{}/setup?token={secret}\n\n\
                 (or stop the server and run it with TERRAIN_ADMIN_PASSWORD set). The link works once.\n",
                args.addr.port()
            );
        }
        let shutdown = terrain_server::shutdown_signal();
        match tls {
            Some(tls) => terrain_server::serve_tls(listener, state, tls, shutdown).await,
            None => terrain_server::serve(listener, state, shutdown).await,
        }
        .context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads the certificate and key again on each SIGHUP (after a renewal), in a task of its
/// own; a pair that fails to load is logged and the old one goes on. Must run inside the
/// runtime.
fn reload_on_hangup(tls: Tls) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP (certificate reloads)")?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match tls.reload() {
                    Ok(pin) => {
                        tracing::info!(%pin, "reloaded the TLS certificate");
                        eprintln!("TLS certificate SHA-256 fingerprint (devices pin this): {pin}");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reloading the TLS certificate failed; the old one is still served")
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
    Ok(())
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
