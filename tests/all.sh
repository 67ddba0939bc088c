#!/usr/bin/env bash
# Every test of Terrain, in one command that passes by itself on a fresh machine with only
# the Rust toolchain, Python, Node and Java: it first installs what the tests need, then
# runs them. It is the README's test command, and `.ci/run` calls it.
#
#   bash tests/all.sh                  # install what is missing, then every test
#   TERRAIN_FUZZ_SECONDS=0 bash tests/all.sh   # skip the short fuzz run (TERRAIN_FUZZ_SEED: its seed)
#
# What it installs, each only when missing (so a second run installs nothing):
#   - OpenSSL's headers (Debian's libssl-dev), which SQLCipher, the stores' encryption,
#     is compiled against;
#   - Chromium and its WebDriver (Debian), for the dashboard's browser tests;
#   - JNA (Debian) and kotlinc 2.4.20 (npm, into bindings/kotlin/), for the Kotlin bindings;
#   - pandas (pip, into a venv under target/; `bindings/test.sh` does it), for the analysts'
#     Python client.
# It needs root or sudo for apt-get on a machine that lacks the Debian packages.
#
# Then it runs, in order, stopping at the first failure:
#   1. `cargo test --workspace` (unit, integration and journey tests; the fuzz corpus);
#   2. `bindings/test.sh` (Kotlin on the JVM and Python against a real server);
#   3. every fuzz target for TERRAIN_FUZZ_SECONDS seconds each (default 20) under an
#      address-space cap, on the debug build step 1 made (`core/fuzz/run.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() { # packages...
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

echo "--- tools the tests need"
if [ ! -f /usr/include/openssl/evp.h ]; then
    apt_install libssl-dev
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver fonts-dejavu-core
fi
if [ ! -f /usr/share/java/jna.jar ]; then
    apt_install libjna-java
fi
if [ ! -x bindings/kotlin/node_modules/kotlin-compiler/bin/kotlinc ]; then
    (cd bindings/kotlin && npm install --no-audit --no-fund --save-exact kotlin-compiler@2.4.20)
fi
chromium --version
java -version 2>&1 | head -1

echo "--- cargo test --workspace"
cargo test --workspace

echo "--- bindings: Kotlin (JVM) and Python against a real server"
bash bindings/test.sh

# A fixed seed, so that a failure here replays exactly; longer runs of run.sh draw new ones.
seconds="${TERRAIN_FUZZ_SECONDS:-20}"
if [ "$seconds" -gt 0 ]; then
    echo "--- fuzz: every target for ${seconds}s on the debug build"
    TERRAIN_FUZZ_PROFILE=debug bash core/fuzz/run.sh all "$seconds" --seed "${TERRAIN_FUZZ_SEED:-1}"
fi
