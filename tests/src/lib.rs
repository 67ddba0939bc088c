//! End-to-end journeys across Terrain's crates live in `tests/tests/`: the demo's pilot at
//! a small size (`pilot.rs`), and one journey per role: the enumerator on a 2G link
//! (`enumerator.rs`), the supervisor reviewing through the API (`supervisor.rs`), the analyst's
//! nightly incremental export (`analyst.rs`). The seeded simulation of devices and the relay
//! over a faulty network is [`sim`], run by `simulation.rs` and by `tests/simulate.sh`.

pub mod sim;
