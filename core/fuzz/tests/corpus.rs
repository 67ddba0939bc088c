//! The fuzz targets as regression tests in the normal suite: every corpus file, a few hundred
//! fresh inputs per target from fixed seeds, and checks that the generators really are
//! adversarial (their inputs pass the framing and reach the budget checks) and really start
//! from valid inputs (those are accepted).
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use terrain_core::intake::{self, Budget, IntakeError};
use terrain_fuzz::dice::Dice;
use terrain_fuzz::generators::{bundle, chunks, expression, form_files, wire, xlsx};
use terrain_fuzz::runner::{guarded, input_seed};
use terrain_fuzz::targets::front_door;
use terrain_fuzz::{Outcome, Target, corpus};

/// Debug builds are slow; an input is slow only past this.
const SLOW: Duration = Duration::from_secs(60);

fn findings(target: Target, inputs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, input) in inputs {
        if let Err(finding) = guarded(target, &input, SLOW).outcome {
            out.push(format!("{} {name}: {finding}", target.name()));
        }
    }
    out
}

#[test]
fn every_corpus_input_shows_no_finding() {
    let mut all = Vec::new();
    for target in Target::all() {
        let files = corpus::read(&corpus::default_dir(), target).unwrap();
        assert!(files.len() >= 10, "{} has only {} corpus files", target.name(), files.len());
        all.extend(findings(target, files.into_iter().map(|(p, b)| (p.display().to_string(), b))));
    }
    assert!(all.is_empty(), "corpus findings:\n{}", all.join("\n"));
}

#[test]
fn the_corpus_is_small() {
    let mut total = 0;
    for target in Target::all() {
        total += corpus::read(&corpus::default_dir(), target).unwrap().iter().map(|(_, b)| b.len()).sum::<usize>();
    }
    assert!(total < 2 << 20, "the corpus holds {total} bytes");
}

/// Fresh inputs from fixed seeds: the fuzzer's own sequence for seed 1, so a failure here
/// replays with `terrain-fuzz TARGET SECONDS --seed 1`.
#[test]
fn fresh_inputs_from_fixed_seeds_show_no_finding() {
    let counts = [
        (Target::FrontDoor, 300),
        (Target::Wire, 300),
        (Target::Bundle, 60),
        (Target::Xlsform, 60),
        (Target::Expression, 300),
        (Target::Media, 100),
        (Target::FormFiles, 60),
    ];
    let mut all = Vec::new();
    for (target, count) in counts {
        let inputs = (0..count).map(|n| (format!("seed 1 input {n}"), target.generate(input_seed(1, target, n))));
        all.extend(findings(target, inputs));
    }
    assert!(all.is_empty(), "findings:\n{}", all.join("\n"));
}

#[test]
fn generation_is_a_function_of_the_seed() {
    for target in Target::all() {
        for seed in [3, 99] {
            assert_eq!(target.generate(seed), target.generate(seed), "{} seed {seed}", target.name());
        }
    }
}

/// The point of building valid chunks first: the budget attacks pass the framing and the
/// structure checks and are refused for what they would cost.
#[test]
fn budget_attacks_reach_the_budget_checks() {
    let (mut over, mut framing, mut total) = (0, 0, 0);
    for (i, attack) in chunks::budget_attacks().iter().enumerate() {
        for seed in 0..20 {
            let input = chunks::generate_with(&mut Dice::new(1000 * i as u64 + seed), &[*attack]);
            total += 1;
            match intake::check(&input, &Budget::WRITE) {
                Err(e @ IntakeError::OverBudget { .. }) => {
                    over += 1;
                    assert!(front_door::kind(&e).starts_with("over budget"));
                }
                Err(e) if front_door::kind(&e) == "framing" => framing += 1,
                _ => {}
            }
        }
    }
    assert_eq!(framing, 0, "budget attacks failed the framing");
    assert!(over * 2 >= total, "only {over} of {total} budget attacks were refused for their cost");
}

/// And across every attack, most inputs get past the framing.
#[test]
fn most_front_door_inputs_pass_the_framing() {
    let (mut framing, mut kinds) = (0, std::collections::BTreeSet::new());
    let total = 300;
    for n in 0..total {
        let input = Target::FrontDoor.generate(input_seed(2, Target::FrontDoor, n));
        if let Ok(Outcome::Refused(kind)) = Target::FrontDoor.run(&input) {
            framing += u32::from(kind == "framing");
            kinds.insert(kind);
        }
    }
    assert!(framing * 4 < total as u32, "{framing} of {total} inputs failed the framing");
    for kind in ["over budget: operations", "over budget: decoded bytes", "malformed"] {
        assert!(kinds.contains(kind), "no input was refused as {kind}: {kinds:?}");
    }
}

fn accepted(target: Target, input: &[u8]) -> bool {
    matches!(guarded(target, input, SLOW).outcome, Ok(Outcome::Accepted))
}

/// The other half: the generators start from inputs the code accepts.
#[test]
fn valid_inputs_are_accepted() {
    for seed in 0..5 {
        let dice = &mut Dice::new(seed);
        for attack in [chunks::Attack::ValidDocument, chunks::Attack::ValidChanges] {
            assert!(accepted(Target::FrontDoor, &chunks::generate_with(dice, &[attack])), "{attack:?} {seed}");
        }
        assert!(accepted(Target::Wire, &wire::generate_with(dice, wire::Attack::Valid)), "wire {seed}");
        assert!(accepted(Target::Bundle, &bundle::generate_with(dice, &[bundle::Attack::Valid])), "bundle {seed}");
        for attack in [form_files::Attack::Valid, form_files::Attack::Parameters] {
            let input = form_files::generate_with(dice, attack);
            assert!(
                accepted(Target::FormFiles, &input),
                "{attack:?} {seed}: {:?}",
                guarded(Target::FormFiles, &input, SLOW)
            );
        }
        // Bombs and lies are refused, never read whole.
        for attack in [form_files::Attack::DeclaredSmall, form_files::Attack::DeclaredHuge] {
            let outcome = guarded(Target::FormFiles, &form_files::generate_with(dice, attack), SLOW).outcome;
            assert_eq!(outcome, Ok(Outcome::Refused("bundle".into())), "{attack:?} {seed}");
        }
        for attack in [xlsx::Attack::Valid, xlsx::Attack::ValidCsv] {
            let input = xlsx::generate_with(dice, attack);
            // Random expressions in the form may be invalid; the form is refused as invalid
            // then, never as unreadable.
            let outcome = guarded(Target::Xlsform, &input, SLOW).outcome;
            assert!(
                matches!(&outcome, Ok(Outcome::Accepted)) || outcome == Ok(Outcome::Refused("invalid form".into())),
                "{attack:?} {seed}: {outcome:?}"
            );
        }
    }
    let grammar: usize = (0..100)
        .filter(|s| {
            accepted(Target::Expression, &expression::generate_with(&mut Dice::new(*s), expression::Attack::Grammar))
        })
        .count();
    assert!(grammar >= 20, "only {grammar} of 100 grammar expressions parse");
}

#[test]
fn valid_xlsforms_import_whole() {
    // A form with no expressions at all must import: the workbook itself is valid.
    let mut imported = 0;
    for seed in 0..20 {
        let input = xlsx::generate_with(&mut Dice::new(seed), xlsx::Attack::Valid);
        imported += usize::from(accepted(Target::Xlsform, &input));
    }
    assert!(imported >= 5, "only {imported} of 20 valid workbooks imported");
}
