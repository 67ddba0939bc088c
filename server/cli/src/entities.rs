//! `terrain entities`: an entity list from a server's data directory, as the operator: seed
//! or update it from CSV (`import`), list its entities (`list`). Works while the server runs;
//! devices receive the changes at their next sync.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use terrain_core::store::EntityQuery;

use crate::data_dir::DataArgs;

#[derive(Debug, Subcommand)]
pub enum EntitiesCommand {
    /// Seed or update a list from a CSV file (`name`, `label`, one column per property);
    /// importing the same file again changes nothing. Bad rows are named by line.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// The list (`plots`): a form of the server must declare it.
        #[arg(long)]
        list: String,
        /// The CSV file.
        file: PathBuf,
    },
    /// List the entities of a list, as CSV on standard output.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// The list.
        #[arg(long)]
        list: String,
        /// Only entities whose label contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Only entities with competing values to settle.
        #[arg(long)]
        conflicted: bool,
    },
}

pub fn run(command: EntitiesCommand) -> anyhow::Result<ExitCode> {
    match command {
        EntitiesCommand::Import { data, list, file } => {
            let csv = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let services = data.open()?;
            let report = services.import_entities(&services.operator()?, &list, &csv)?;
            println!(
                "{list}: {} created, {} updated, {} unchanged, {} refused",
                report.created,
                report.updated,
                report.unchanged,
                report.refused.len()
            );
            for row in &report.refused {
                println!("  line {}: {}", row.line, row.reason);
            }
            Ok(if report.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        EntitiesCommand::List { data, list, search, conflicted } => {
            let services = data.open()?;
            let operator = services.operator()?;
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record(["name", "label", "has_conflicts", "deleted", "properties"])?;
            let mut after = None;
            loop {
                let query = EntityQuery {
                    search: search.clone(),
                    conflicted_only: conflicted,
                    limit: terrain_core::store::MAX_ENTITY_PAGE,
                    after,
                    ..EntityQuery::default()
                };
                let page = services.entities(&operator, &list, query)?;
                for entity in &page {
                    out.write_record([
                        entity.id.as_str(),
                        entity.label.as_str(),
                        if entity.has_conflicts { "true" } else { "false" },
                        if entity.deleted { "true" } else { "false" },
                        &serde_json::to_string(&entity.properties)?,
                    ])?;
                }
                if (page.len() as u32) < terrain_core::store::MAX_ENTITY_PAGE {
                    break;
                }
                after = page.last().map(|e| (e.label.clone(), e.id.clone()));
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
