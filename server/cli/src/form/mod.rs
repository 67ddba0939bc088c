//! `terrain form`: check XLSForms, print them as Terrain reads them, and run their logic
//! against answers and scenarios (`eval`).

mod eval;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use terrain_core::form::{Form, Node};
use terrain_xlsform as xlsform;

#[derive(Debug, Subcommand)]
pub enum FormCommand {
    /// Import each file and print a one-line summary, or every error. Exit status 0 only
    /// when all import.
    Check {
        /// XLSForm files (.xlsx, .xls, .csv).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print an imported form.
    Show {
        /// An XLSForm file.
        path: PathBuf,
        /// As JSON (the definition devices download).
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a form against answers, as the phone does after every answer: what is
    /// shown, required and read-only, each value, each check, the choices offered, and
    /// whether the survey could be finalized. With --scenarios, check named scenarios
    /// against their expected evaluation (exit status 1 on any mismatch).
    Eval(eval::EvalArgs),
}

pub fn run(command: FormCommand) -> anyhow::Result<ExitCode> {
    match command {
        FormCommand::Eval(args) => eval::run(args),
        FormCommand::Check { paths } => {
            let mut all_ok = true;
            for path in paths {
                match xlsform::import_path(&path) {
                    Ok(form) => println!("{}: {}", path.display(), summary(&form)),
                    Err(e) => {
                        all_ok = false;
                        println!("{}: {e}", path.display());
                    }
                }
            }
            Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        FormCommand::Show { path, json } => match xlsform::import_path(&path) {
            Ok(form) if json => {
                println!("{}", serde_json::to_string_pretty(&form)?);
                Ok(ExitCode::SUCCESS)
            }
            Ok(form) => {
                println!("{}", summary(&form));
                print_tree(&form.children, 1);
                print_entities(&form);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// `id version · N questions · G groups · R repeats · languages`.
fn summary(form: &Form) -> String {
    let (mut questions, mut groups, mut repeats) = (0, 0, 0);
    fn count(nodes: &[Node], q: &mut usize, g: &mut usize, r: &mut usize) {
        for node in nodes {
            match node {
                Node::Question(_) => *q += 1,
                Node::Group(x) => {
                    *g += 1;
                    count(&x.children, q, g, r);
                }
                Node::Repeat(x) => {
                    *r += 1;
                    count(&x.children, q, g, r);
                }
            }
        }
    }
    count(&form.children, &mut questions, &mut groups, &mut repeats);
    let languages = if form.languages.is_empty() { "no language".to_owned() } else { form.languages.join(", ") };
    format!(
        "{} version {} · {questions} questions · {groups} groups · {repeats} repeats · {languages}",
        form.id, form.version
    )
}

/// What the form's surveys do to entity lists, and which answers they save.
fn print_entities(form: &Form) {
    for entity in &form.entities {
        let does = match (&entity.entity_id, &entity.create_if) {
            (None, _) => "creates",
            (Some(_), None) => "updates",
            (Some(_), Some(_)) => "creates or updates",
        };
        let which = entity.entity_id.as_ref().map(|id| format!(" (the one `{id}` names)")).unwrap_or_default();
        println!("  {does} entities of `{}`{which}", entity.list);
        for saved in &entity.properties {
            println!("    {} ← {}", saved.property, saved.question);
        }
    }
}

fn print_tree(nodes: &[Node], depth: usize) {
    for node in nodes {
        let indent = "  ".repeat(depth);
        match node {
            Node::Question(q) => println!("{indent}{} ({})", q.name, q.kind.xlsform_name()),
            Node::Group(g) => {
                println!("{indent}{}/ (group)", g.name);
                print_tree(&g.children, depth + 1);
            }
            Node::Repeat(g) => {
                println!("{indent}{}/ (repeat)", g.name);
                print_tree(&g.children, depth + 1);
            }
        }
    }
}
