//! `terrain export`: a form's merged dataset straight from a server's data directory (works
//! while the server runs), with every survey visible, as the operator sees them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use terrain_services::exports::ExportQuery;

use crate::data_dir::DataArgs;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataArgs,
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
    /// Put the attached photos, recordings and files in the zip, under media/ (csv only).
    #[arg(long)]
    media: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let services = args.data.open()?;
    let operator = services.operator()?;
    let query = ExportQuery {
        format: Some(args.format),
        review: Some(args.review),
        from: args.from,
        to: args.to,
        team: None,
        team_name: args.team,
        version: args.version,
        since: Some(args.since),
        labels: args.labels,
        bom: Some(args.bom),
        media: Some(args.media),
    };
    let (request, _) = services.export_request(&operator, &args.form, query)?;
    // Written next to the target and renamed at the end: never a half-written export.
    let dir = args.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let outcome = services.export(&operator, request, None, temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.cursor_file {
        std::fs::write(path, format!("{}\n", outcome.cursor)).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("exported {} surveys to {}", outcome.surveys, args.out.display());
    println!("cursor {}", outcome.cursor);
    Ok(ExitCode::SUCCESS)
}
