#!/usr/bin/env bash
# set_answer + evaluation from Kotlin against the same calls from Rust, on the same form and
# answers, in release mode. Prints both tables; the ratio goes to docs/benchmarks.md.
# Needs what bindings/test.sh needs (kotlinc, JNA, java).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_TARGET_DIR="$TARGET"
KOTLINC="${KOTLINC:-$ROOT/bindings/kotlin/node_modules/kotlin-compiler/bin/kotlinc}"
KOTLIN_STDLIB="${KOTLIN_STDLIB:-$(dirname "$KOTLINC")/../lib/kotlin-stdlib.jar}"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"
cd "$ROOT"
for tool in "$KOTLINC" "$KOTLIN_STDLIB" "$JNA_JAR"; do
    [ -e "$tool" ] || { echo "bindings/bench.sh: $tool is missing; see bindings/test.sh for the installs" >&2; exit 1; }
done

cargo build --release -p terrain-ffi
cargo bench -p terrain-ffi --bench set_answer
# The release library is stripped of the metadata bindgen reads; generate from a debug build
# of the same sources (identical interface and checksums).
cargo build -p terrain-ffi
OUT="$TARGET/bench/kotlin"
rm -rf "$OUT"
cargo run -q -p uniffi-bindgen -- generate --no-format --library "$TARGET/debug/libterrain_ffi.so" \
    --language kotlin --out-dir "$OUT"
"$KOTLINC" -nowarn "$OUT/uniffi/terrain_ffi/terrain_ffi.kt" bindings/bench/SetAnswerBench.kt -cp "$JNA_JAR" \
    -d "$OUT/bench.jar"
java -Djna.library.path="$TARGET/release" -cp "$OUT/bench.jar:$JNA_JAR:$KOTLIN_STDLIB" SetAnswerBenchKt \
    "$TARGET/bench/guinea_needs.json"
