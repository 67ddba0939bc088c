#!/usr/bin/env bash
# Builds terrain-fuzz in release and fuzzes TARGET (or all targets) for SECONDS each,
# under an address-space cap, so that an allocation bomb fails as a finding (the
# allocation fails and the worker aborts) instead of making the machine swap or calling
# the OOM killer. Extra arguments go to terrain-fuzz (--seed N, --slow-ms N, ...).
#
#   core/fuzz/run.sh all 60
#   core/fuzz/run.sh front-door 300 --seed 7
#
# TERRAIN_FUZZ_CAP_KIB overrides the cap (default 4 GiB). TERRAIN_FUZZ_PROFILE=debug uses the
# debug build instead, which `cargo test --workspace` has already made: slower inputs, but no
# release build (tests/all.sh runs a short budget this way).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: core/fuzz/run.sh TARGET|all SECONDS [terrain-fuzz options]" >&2
    exit 2
fi

cd "$(dirname "$0")/../.."
profile="${TERRAIN_FUZZ_PROFILE:-release}"
case "$profile" in
    release) cargo build --release -p terrain-fuzz ;;
    # As `cargo test --workspace` resolves features, so that its build is reused whole.
    debug) cargo build --workspace --lib --bins --tests ;;
    *) echo "TERRAIN_FUZZ_PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac

# 4 GiB of address space, not of memory: glibc reserves 64 MiB of address space per malloc
# arena and 8 MiB per thread stack, so arenas are kept to two. With that, the largest
# honest input (a 64 MiB sync body inflated) peaks far below the cap, and a claim of
# gigabytes fails at once.
cap_kib="${TERRAIN_FUZZ_CAP_KIB:-4194304}"
export MALLOC_ARENA_MAX=2
(
    ulimit -v "$cap_kib"
    exec "${CARGO_TARGET_DIR:-target}/$profile/terrain-fuzz" "$@"
)
