//! Structure-aware fuzzing of Terrain's hostile-input surfaces, on stable Rust.
//!
//! Each [`Target`] pairs a generator with a property check. Generators build *valid* inputs
//! first (real Automerge documents, sync messages, bundles, workbooks, expressions) and then
//! make them adversarial where the code under test trusts them: run-length counts, column
//! lengths, compression, declared sizes, nesting. Mutating a few bytes of a real input cannot
//! reach those places; its checksums and lengths break first. Every generator is driven by
//! seeded dice ([`dice::Dice`]), so an input is a function of its seed.
//!
//! A target's [`Target::run`] returns how the code under test answered ([`Outcome`]), or the
//! [`Finding`] (a violated property) that the input shows. [`runner`] adds panics, slowness
//! and the time-boxed loop; [`supervisor`] runs that loop in a child process under an
//! address-space cap, so an allocation bomb or a stack overflow is a finding too.

pub mod corpus;
pub mod dice;
pub mod generators;
pub mod panics;
pub mod runner;
pub mod supervisor;
pub mod targets;

use dice::Dice;

/// A surface that bytes from outside reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `terrain_core::intake`: Automerge chunks from sync, bundles and disk.
    FrontDoor,
    /// `terrain_core::sync::wire`: sync request and response bodies.
    Wire,
    /// `terrain_core::sync::bundle`: bundle files, imported into a real SQLite store.
    Bundle,
    /// `terrain_xlsform`: uploaded `.xlsx` and `.csv` questionnaires.
    Xlsform,
    /// `terrain_core::form::expr`: XLSForm expressions, parsed and evaluated.
    Expression,
    /// `terrain_core::media`: attached files decoded for thumbnails and `max-pixels`, and
    /// answers' references.
    Media,
    /// `terrain_xlsform::bundle` and `terrain_core::form::attachments`: forms published
    /// with the CSV lists they read.
    FormFiles,
}

impl Target {
    /// Every target, in the order `all` runs them.
    pub fn all() -> [Target; 7] {
        [
            Target::FrontDoor,
            Target::Wire,
            Target::Bundle,
            Target::Xlsform,
            Target::Expression,
            Target::Media,
            Target::FormFiles,
        ]
    }

    /// The target's name on the command line and in the corpus and artifact folders.
    pub fn name(&self) -> &'static str {
        match self {
            Target::FrontDoor => "front-door",
            Target::Wire => "wire",
            Target::Bundle => "bundle",
            Target::Xlsform => "xlsform",
            Target::Expression => "expression",
            Target::Media => "media",
            Target::FormFiles => "form-files",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::all().into_iter().find(|t| t.name() == name)
    }

    /// The input of seed `seed`: always the same bytes for the same seed.
    pub fn generate(&self, seed: u64) -> Vec<u8> {
        let mut dice = Dice::new(seed);
        match self {
            Target::FrontDoor => generators::chunks::generate(&mut dice),
            Target::Wire => generators::wire::generate(&mut dice),
            Target::Bundle => generators::bundle::generate(&mut dice),
            Target::Xlsform => generators::xlsx::generate(&mut dice),
            Target::Expression => generators::expression::generate(&mut dice),
            Target::Media => generators::images::generate(&mut dice),
            Target::FormFiles => generators::form_files::generate(&mut dice),
        }
    }

    /// Runs one input through the code under test and checks the target's properties.
    /// Panics are not caught here: [`runner::guarded`] turns them into findings.
    pub fn run(&self, input: &[u8]) -> Result<Outcome, Finding> {
        match self {
            Target::FrontDoor => targets::front_door::run(input),
            Target::Wire => targets::wire::run(input),
            Target::Bundle => targets::bundle::run(input),
            Target::Xlsform => targets::xlsform::run(input),
            Target::Expression => targets::expression::run(input),
            Target::Media => targets::media::run(input),
            Target::FormFiles => targets::form_files::run(input),
        }
    }
}

/// How the code under test answered an input that showed no finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (decoded, imported, parsed).
    Accepted,
    /// Refused with an error; the string is the kind of refusal (`over budget: operations`,
    /// `framing`, `malformed`), few enough to count.
    Refused(String),
}

/// A violated property: what an input shows is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    /// The code under test panicked and nothing contained it.
    #[error("panicked: {0}")]
    Panic(String),
    /// A property of the target does not hold.
    #[error("{0}")]
    Violation(String),
    /// One input took longer than the runner allows (a hang, or work superlinear in the
    /// input).
    #[error("one input took {0} ms")]
    Slow(u64),
    /// The process running the input died: an abort (allocation failure under the
    /// address-space cap, stack overflow) or a signal, or it hung past its deadline.
    #[error("the process running it died: {0}")]
    Crash(String),
}

impl Finding {
    /// A violated property, said in words.
    pub fn violation(message: impl Into<String>) -> Finding {
        Finding::Violation(message.into())
    }
}
