//! `terrain export`: a form's merged dataset straight from a server's data directory (works
//! while the server runs), with every survey visible, as an administrator sees them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use terrain_server::backend::Backend;
use terrain_server::backend::sqlite::SqliteBackend;
use terrain_server::export::{self, ExportRequest, Format, ReviewFilter, parse_time};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Data directory.
    #[arg(long, default_value = "terrain-data")]
    data: PathBuf,
    /// The form id.
    #[arg(long)]
    form: String,
    /// csv (a zip of CSV files), xlsx, json, ndjson, geojson or dictionary.
    #[arg(long, default_value = "csv")]
    format: String,
    /// The file to write (replaced only once the export is complete).
    #[arg(long)]
    out: PathBuf,
    /// Review statuses, comma-separated (approved,received), or any.
    #[arg(long, default_value = "any")]
    review: String,
    /// Surveys started at or after this date (2026-11-01) or RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Surveys started before this date or time.
    #[arg(long)]
    to: Option<String>,
    /// Only surveys started by members of this team (zone), by name.
    #[arg(long)]
    team: Option<String>,
    /// Only surveys of this form version.
    #[arg(long)]
    version: Option<String>,
    /// Only surveys changed after this cursor (printed by the previous export).
    #[arg(long, default_value_t = 0)]
    since: u64,
    /// Also write the new cursor to this file (for nightly pipelines).
    #[arg(long)]
    cursor_file: Option<PathBuf>,
    /// Choice labels in this language (fr) instead of codes.
    #[arg(long)]
    labels: Option<String>,
    /// Start CSV files with a UTF-8 byte order mark, for Excel.
    #[arg(long)]
    bom: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let backend = SqliteBackend::open(&args.data).with_context(|| format!("opening {}", args.data.display()))?;
    let mut req = ExportRequest::new(args.form.clone(), Format::parse(&args.format)?);
    req.review = ReviewFilter::parse(&args.review)?;
    req.from = args.from.as_deref().map(parse_time).transpose()?;
    req.to = args.to.as_deref().map(parse_time).transpose()?;
    req.version = args.version;
    req.since = args.since;
    req.labels = args.labels;
    req.bom = args.bom;
    if let Some(name) = &args.team {
        let project = backend.form_project(&args.form)?;
        let Some(team) = backend.teams()?.into_iter().find(|t| &t.name == name && Some(t.project_id) == project) else {
            bail!("no team `{name}` in the project of form `{}`", args.form);
        };
        let members: BTreeSet<String> = backend.team_members(team.id)?.into_iter().map(|u| u.username).collect();
        req.creators = Some(members);
    }
    // Written next to the target and renamed at the end: never a half-written export.
    let dir = args.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let outcome = export::export(&backend as &dyn Backend, &req, &|_| true, temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.cursor_file {
        std::fs::write(path, format!("{}\n", outcome.cursor)).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("exported {} surveys to {}", outcome.surveys, args.out.display());
    println!("cursor {}", outcome.cursor);
    Ok(ExitCode::SUCCESS)
}
