#!/usr/bin/env bash
# The phone library against a baseline commit, in one run: the clean build time of
# `terrain-ffi` and the size of the stripped `libterrain_ffi.so`, for BASE in release, and for
# this tree in release and in the `mobile` profile the apps ship, the last also with
# OpenSSL's libcrypto built in for SQLCipher, as Android needs (`--features vendored-openssl`;
# elsewhere SQLCipher links the system's libcrypto, or CommonCrypto on iOS). BASE defaults to 887fda0,
# the last commit before the XLSForm importer and the server-only code left the phone
# library. Each build starts from an empty target directory; the crates' sources are
# already in cargo's cache, so downloads are not timed.
#
#   bash bench/phone_library.sh [BASE]
#
# Prints a markdown table (also written to $TERRAIN_BENCH_TABLE if set). Takes four clean
# builds: about 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

base="${1:-887fda0}"
work=$(mktemp -d)
cleanup() {
    git worktree remove --force "$work/base" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

git worktree add --detach "$work/base" "$base" >/dev/null 2>&1

# Builds terrain-ffi with PROFILE (and cargo arguments after it) from an empty target
# directory; prints "seconds bytes".
measure() { # source_dir label profile [cargo args...]
    local dir=$1 label=$2 target="$work/target-$2" profile=$3 started ended lib
    shift 3
    (cd "$dir" && cargo fetch -q)
    started=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build -q --profile "$profile" -p terrain-ffi "$@" >&2)
    ended=$(date +%s.%N)
    lib="$target/$profile/libterrain_ffi.so"
    strip -o "$work/$label.so" "$lib"
    echo "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", b - a }') $(stat -c %s "$work/$label.so")"
    rm -rf "$target"
}

read -r base_s base_b < <(measure "$work/base" base release)
read -r now_s now_b < <(measure "$PWD" now release)
read -r mobile_s mobile_b < <(measure "$PWD" mobile mobile)
read -r android_s android_b < <(measure "$PWD" android mobile --features vendored-openssl)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
table="| phone library (\`terrain-ffi\`, stripped) | baseline $base, release | this tree, release | ratio | this tree, \`--profile mobile\` (what the apps ship) | ratio | \`mobile\` with OpenSSL built in (Android) | ratio |
|---|---|---|---|---|---|---|---|
| clean build time | ${base_s} s | ${now_s} s | $(ratio "$now_s" "$base_s")× | ${mobile_s} s | $(ratio "$mobile_s" "$base_s")× | ${android_s} s | $(ratio "$android_s" "$base_s")× |
| \`libterrain_ffi.so\` size | $(mib "$base_b") | $(mib "$now_b") | $(ratio "$now_b" "$base_b")× | $(mib "$mobile_b") | $(ratio "$mobile_b" "$base_b")× | $(mib "$android_b") | $(ratio "$android_b" "$base_b")× |"
echo "$table"
if [ -n "${TERRAIN_BENCH_TABLE:-}" ]; then echo "$table" >"$TERRAIN_BENCH_TABLE"; fi
