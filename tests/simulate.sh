#!/usr/bin/env bash
# The seeded simulation at scale: `tests/simulate.sh [SCHEDULES] [FIRST_SEED]` runs that many
# schedules (default 10,000 from seed 1) of devices and the relay over a faulty network, in
# release, two at a time, and prints the figures docs/benchmarks.md records. A failure prints
# its seed and events; replay one with `TERRAIN_SIM_SEED=N cargo test -p terrain-tests --test simulation`.
set -euo pipefail
cd "$(dirname "$0")/.."
export TERRAIN_SIM_SCHEDULES="${1:-10000}"
export TERRAIN_SIM_FIRST="${2:-1}"
export TERRAIN_SIM_THREADS="${TERRAIN_SIM_THREADS:-2}"
# Schedules fsync thousands of small transactions: on tmpfs they measure the logic, not the disk.
if [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
cargo test --release --workspace --test simulation -- --nocapture
