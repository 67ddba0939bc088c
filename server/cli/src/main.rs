//! `terrain`: the command-line entry point of Terrain's server and tools: argument
//! parsing, and dispatch to one module per command. Each command calls the services (or
//! the server, or the demo); none has rules of its own.

mod admin;
mod data_dir;
mod demo;
mod entities;
mod export;
mod form;
mod serve;

use clap::{Parser, Subcommand};

/// Terrain: offline-first field surveys.
#[derive(Debug, Parser)]
#[command(name = "terrain", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the relay server.
    Serve(serve::ServeArgs),
    /// Administer a server's data directory (works while the server is stopped or running).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Run a seeded field pilot end to end on this machine (loopback only) and check it.
    Demo(demo::DemoArgs),
    /// Export a form's merged dataset from a data directory (CSV zip, XLSX, JSON, GeoJSON…).
    Export(export::ExportArgs),
    /// Seed and list entity lists (plots, households, villages) in a data directory.
    Entities {
        #[command(subcommand)]
        command: entities::EntitiesCommand,
    },
    /// Check and inspect XLSForm questionnaires.
    Form {
        #[command(subcommand)]
        command: form::FormCommand,
    },
}

/// Runs the command line; the process exit code comes from the result.
fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin { command } => admin::run(command),
        Command::Export(args) => export::run(args),
        Command::Entities { command } => entities::run(command),
        Command::Form { command } => form::run(command),
        Command::Demo(args) => demo::run(args),
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("terrain: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
