//! `terrain`: the command-line entry point of Terrain's server and tools.

mod cli;

fn main() -> std::process::ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("terrain: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
