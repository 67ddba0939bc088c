#!/usr/bin/env bash
# Runs every benchmark and regenerates the measured blocks of docs/benchmarks.md: the
# header (date, machine, command), one table per benchmark with the command that
# reproduces it, and the binary sizes. Prose outside the `<!-- bench:NAME -->` …
# `<!-- /bench:NAME -->` markers is kept; a block whose markers are missing is appended.
#
#   bash bench/report.sh                 # every benchmark, default sizes (about 20 minutes)
#   bash bench/report.sh --only sizes    # one block: store, validate, encryption, entities, sync, entity_sync, form_delivery, tls, media, field_link, export, dashboard, hostile, webhooks, phone, demo, sizes
#   CARGO="flock /tmp/terrain-cargo.lock cargo" bash bench/report.sh   # on a shared machine
#
# Each bench binary writes its markdown table to $TERRAIN_BENCH_TABLE; resize with the
# benches' own variables (TERRAIN_BENCH_SURVEYS, TERRAIN_BENCH_RUNS).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
DOC=${DOC:-docs/benchmarks.md}
ONLY=""
if [[ "${1:-}" == "--only" ]]; then
    ONLY=${2:?"--only needs a block name"}
fi
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
today=$(date -u +%Y-%m-%d)
target=$($CARGO metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

# One benchmark: run it, keep its table as the block NAME with its command.
bench() {
    local name=$1 package=$2 bench=$3
    local command="cargo bench -p $package --bench $bench"
    echo "--- $command" >&2
    # `--workspace --bench NAME` rather than `-p PACKAGE`: every bench then shares one feature
    # resolution, and so one release build of the dependencies.
    if ! TERRAIN_BENCH_TABLE="$work/$name.table" $CARGO bench -q --workspace --bench "$bench" >"$work/$name.log" 2>&1; then
        tail -20 "$work/$name.log" >&2
        echo "bench/report.sh: \`$command\` failed (log above); $DOC is unchanged" >&2
        exit 1
    fi
    # Benches that do not write $TERRAIN_BENCH_TABLE print their table on stdout.
    [[ -s "$work/$name.table" ]] || grep '^|' "$work/$name.log" >"$work/$name.table"
    {
        echo "Command: \`$command\`. Measured $today by \`bash bench/report.sh\`."
        echo
        cat "$work/$name.table"
    } >"$work/$name.block"
}

# The header: when, where, how (only when every block is regenerated).
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
if [[ -z "$ONLY" ]]; then {
    echo "Measured $today on $(nproc) cores (${cpu:-unknown CPU}), ${mem:-unknown memory}, $(uname -sr)."
    echo "Regenerate every figure with \`bash bench/report.sh\` (about 20 minutes); each table below"
    echo "also names the one command that reproduces it alone. Every figure comes with a baseline"
    echo "measured in the same run, as a ratio."
} >"$work/header.block"; fi

want store && bench store terrain-core store
want validate && bench validate terrain-core validate
want encryption && bench encryption terrain-core encryption
want entities && bench entities terrain-core entities
want sync && bench sync terrain-server sync
want entity_sync && bench entity_sync terrain-server entity_sync
want form_delivery && bench form_delivery terrain-server form_delivery
want tls && bench tls terrain-server tls
want media && bench media terrain-server media
want field_link && bench field_link terrain-server field_link
if want export && [[ -f server/benches/export.rs ]]; then
    bench export terrain-server export
fi
if want dashboard && [[ -f server/benches/dashboard.rs ]]; then
    bench dashboard terrain-server dashboard
fi
want hostile && bench hostile terrain-server hostile
want webhooks && bench webhooks terrain-server webhooks

# The phone library against the commit before the importer and server code left it: two
# clean release builds in one run (about 10 minutes).
if want phone; then
    echo "--- bash bench/phone_library.sh" >&2
    {
        echo "Command: \`bash bench/phone_library.sh\`. Measured $today."
        echo
        TERRAIN_BENCH_TABLE="$work/phone.table" bash bench/phone_library.sh >&2
        cat "$work/phone.table"
    } >"$work/phone.block"
fi

# The demo's pilot at its default size: bytes on the wire against the gzip'd JSON of the
# same final answers, from one `terrain demo --json` (top-level keys read from its output).
if want demo; then
    echo "--- terrain demo --json (release)" >&2
    $CARGO build -q --release --bin terrain >&2
    "$target/release/terrain" demo --json --data "$work/demo" >"$work/demo.json" || [[ $? -eq 2 ]]
    val() { sed -n "s/^  \"$1\": \([^,]*\),\{0,1\}$/\1/p" "$work/demo.json" | head -1; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'; }
    kib() { awk -v a="$1" 'BEGIN { printf "%.1f KiB", a / 1024 }'; }
    traffic() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])" "$work/demo.json" "$1" "$2"; }
    gz=$(val json_gzip_bytes)
    {
        echo "Command: \`cargo run --release --bin terrain -- demo --json\` (default size). Measured $today."
        echo
        echo "| demo pilot ($(val surveys) surveys, $(val replicas) replicas) | result | ratio to baseline |"
        echo "|---|---|---|"
        echo "| baseline: final answers as compact JSON, gzip'd as one stream | $(kib "$gz") | |"
        echo "| bytes sent by the enumerators' phones | $(kib "$(val enumerator_upload_bytes)") | $(ratio "$(val enumerator_upload_bytes)" "$gz")× |"
        echo "| bytes through the phones' links, both ways | $(kib "$(val enumerator_bytes)") | $(ratio "$(val enumerator_bytes)" "$gz")× |"
        for part in bodies_sent:"pushes (sync request bodies)" bodies_received:"acknowledgements and pulls (response bodies)" \
            framing:"HTTP request and status lines, headers" cut:"syncs cut mid-way (done again later)"; do
            bytes=$(traffic enumerator_traffic "${part%%:*}")
            echo "|   phones: ${part#*:} | $(kib "$bytes") | $(ratio "$bytes" "$gz")× |"
        done
        echo "|   phones: syncs, round trips | $(traffic enumerator_traffic syncs), $(traffic enumerator_traffic rounds) | |"
        per_sync=$(traffic enumerator_traffic json_per_sync)
        echo "| the phones' pushes as JSON, gzip'd sync by sync (not sent: this sync pattern's floor for JSON) | $(kib "$per_sync") | $(ratio "$per_sync" "$gz")×; the pushes are $(ratio "$(traffic enumerator_traffic bodies_sent)" "$per_sync")× that |"
        echo "| bytes through every device's link (tablets' pulls included) | $(kib "$(val bytes_on_wire)") | $(ratio "$(val bytes_on_wire)" "$gz")× |"
        echo "| converged / acknowledged values lost | $(val converged) / $(val lost_answers) | |"
        echo "| conflicts raised / resolved; syncs cut mid-way | $(val conflicts_raised) / $(val conflicts_resolved); $(val cut_syncs) | |"
        echo "| wall time | $(val seconds | cut -c1-5) s | |"
    } >"$work/demo.block"
fi

# Sizes: the release `terrain` binary and the stripped cdylib the apps embed, against an
# empty Rust program built with the same optimisation and stripping in the same run.
if want sizes; then
    echo "--- sizes (release builds)" >&2
    $CARGO build -q --release --bin terrain >&2
    printf 'fn main() {}\n' >"$work/empty.rs"
    rustc -C opt-level=3 -C strip=symbols -o "$work/empty" "$work/empty.rs"
    empty=$(stat -c %s "$work/empty")
    size_row() { # what, file
        local bytes
        bytes=$(stat -c %s "$2")
        awk -v what="$1" -v b="$bytes" -v e="$empty" \
            'BEGIN { printf "| %s | %.1f MiB | %.0f× the empty program (%.0f KiB) |\n", what, b / 1048576, b / e, e / 1024 }'
    }
    {
        echo "Command: \`cargo build --release --bin terrain\` (and \`-p terrain-ffi\`), sizes from \`stat\`. Measured $today."
        echo
        echo "| binary (release, stripped) | size | ratio to baseline |"
        echo "|---|---|---|"
        size_row "\`terrain\` (server, dashboard, CLI; SQLite bundled)" "$target/release/terrain"
        if grep -q cdylib bindings/Cargo.toml 2>/dev/null && $CARGO build -q --release -p terrain-ffi >&2; then
            lib=$(ls "$target"/release/libterrain_ffi.{so,dylib} 2>/dev/null | head -1 || true)
            if [[ -n "$lib" ]]; then
                strip -o "$work/ffi" "$lib" 2>/dev/null || cp "$lib" "$work/ffi"
                size_row "\`libterrain_ffi\` cdylib for the apps (host target)" "$work/ffi"
            fi
        else
            echo "| \`libterrain_ffi\` cdylib | not built | bindings/ has no cdylib target |"
        fi
    } >"$work/sizes.block"
fi

# Splice the blocks into the document.
for block in "$work"/*.block; do
    name=$(basename "$block" .block)
    if grep -q "<!-- bench:$name -->" "$DOC"; then
        awk -v name="$name" -v file="$block" '
            $0 == "<!-- bench:" name " -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == "<!-- /bench:" name " -->" { skip = 0 }
            !skip { print }
        ' "$DOC" >"$work/doc" && cp "$work/doc" "$DOC"
    else
        printf '\n## Benchmark: %s\n\n<!-- bench:%s -->\n%s\n<!-- /bench:%s -->\n' \
            "$name" "$name" "$(cat "$block")" "$name" >>"$DOC"
    fi
done
echo "updated $DOC" >&2
