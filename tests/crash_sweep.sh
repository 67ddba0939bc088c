#!/usr/bin/env bash
# The crash sweep at scale: `tests/crash_sweep.sh [POINTS] [SEED]` kills a device writer, the
# relay taking pushes and the relay taking reviews with SIGKILL at POINTS points each
# (default 400, so 1,200 kill points), and checks each restart (see tests/tests/crash_sweep.rs).
# A kill -9 loses what the process had not yet handed to the kernel; the page cache survives
# it, so tmpfs proves the same as a disk here, faster. (Power loss is another matter: that is
# what the relay's `synchronous = FULL`, and the phone's synced sync writes, are for, and no
# test here can cut the power.)
if [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
set -euo pipefail
cd "$(dirname "$0")/.."
export TERRAIN_CRASH_POINTS="${1:-400}"
export TERRAIN_CRASH_SEED="${2:-1}"
cargo test --release --workspace --test crash_sweep -- --nocapture --test-threads=1 kill_9
