#!/usr/bin/env bash
# `terrain form eval` on the generated 400-question form (the validation benchmark's), timed
# as a form author runs it: a new process each time, start-up, import and printing included.
# The baseline, measured in the same run, is `terrain --version`: the process start alone.
#
#   bash bench/form_eval.sh [RUNS]      # default 200 runs each; prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

cargo build --release --bin terrain -q
TERRAIN_BENCH_WRITE_FORM="$dir" cargo bench -q -p terrain-core --bench validate >/dev/null
terrain="target/release/terrain"

python3 - "$terrain" "$dir" "$runs" <<'PY'
import subprocess, sys, time
terrain, d, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def timed(args):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]
base = timed([terrain, "--version"])
tree = timed([terrain, "form", "eval", f"{d}/generated.json", "--answers", f"{d}/generated.answers.json", "--lang", "fr"])
js = timed([terrain, "form", "eval", f"{d}/generated.json", "--answers", f"{d}/generated.answers.json", "--json"])
print(f"| `terrain form eval` ({runs} runs each, a new process each) | p50 / p99 | ratio (p50) | notes |")
print("|---|---|---|---|")
print(f"| baseline: `terrain --version` (process start) | {base[0]:.1f} ms / {base[1]:.1f} ms | 1.0× | |")
print(f"| generated form (402 questions, 10-member repeat), tree | {tree[0]:.1f} ms / {tree[1]:.1f} ms | {tree[0]/base[0]:.1f}× | target < 50 ms |")
print(f"| generated form, `--json` | {js[0]:.1f} ms / {js[1]:.1f} ms | {js[0]/base[0]:.1f}× | target < 50 ms |")
PY
