#!/usr/bin/env bash
# Builds terrain-ffi, the terrain server and uniffi-bindgen (debug), generates the Kotlin,
# Swift and Python bindings in library mode into $TARGET/bindings/, and runs the Kotlin and
# Python tests, each against its own real server on loopback. No arguments.
#
# Needs: python3; java (17+); kotlinc (npm install kotlin-compiler@2.4.20 in bindings/kotlin,
# or KOTLINC=/path/to/kotlinc); JNA (apt-get install libjna-java, or JNA_JAR=/path/to/jna.jar).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/bindings"
# The npm package puts only kotlinc-js in node_modules/.bin; the JVM compiler is in its bin/.
KOTLIN_HOME="$ROOT/bindings/kotlin/node_modules/kotlin-compiler"
KOTLINC="${KOTLINC:-$KOTLIN_HOME/bin/kotlinc}"
KOTLIN_STDLIB="${KOTLIN_STDLIB:-$(dirname "$KOTLINC")/../lib/kotlin-stdlib.jar}"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"
cd "$ROOT"

missing=""
[ -x "$KOTLINC" ] || missing="$missing\n  kotlinc: (cd bindings/kotlin && npm install --save-exact kotlin-compiler@2.4.20), or set KOTLINC"
[ -f "$KOTLIN_STDLIB" ] || missing="$missing\n  kotlin-stdlib.jar: comes with kotlin-compiler, or set KOTLIN_STDLIB"
[ -f "$JNA_JAR" ] || missing="$missing\n  JNA: apt-get install libjna-java, or set JNA_JAR"
command -v java >/dev/null || missing="$missing\n  java: apt-get install openjdk-17-jdk-headless"
command -v python3 >/dev/null || missing="$missing\n  python3"
if [ -n "$missing" ]; then
    printf "bindings/test.sh: missing tools:%b\n" "$missing" >&2
    exit 1
fi

echo "--- build terrain-ffi, terrain and uniffi-bindgen (debug)"
# The workspace's libraries and binaries with its tests: the same feature resolution as
# `cargo test --workspace`, so after the test command this builds next to nothing. `-p
# terrain-ffi` would resolve features anew and rebuild dozens of dependencies (4 minutes on
# 2 cores). `--lib` is what makes the cdylib: built only as a dependency of the tests, the
# library is an rlib, and the `.so` here would be missing or stale.
cargo build --workspace --lib --bins --tests
LIB="$TARGET/debug/libterrain_ffi.so"
TERRAIN="$TARGET/debug/terrain"

echo "--- generate Kotlin, Swift and Python"
rm -rf "$OUT/kotlin" "$OUT/swift" "$OUT/python"
for lang in kotlin swift python; do
    "$TARGET/debug/uniffi-bindgen" generate --no-format --library "$LIB" --language "$lang" --out-dir "$OUT/$lang"
done
test -s "$OUT/swift/terrain_ffi.swift" && test -s "$OUT/swift/terrain_ffiFFI.h"
# The Python module loads the library from its own directory.
cp "$LIB" "$OUT/python/"

SERVER_PID=""
SERVER_DIR=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [ -n "$SERVER_DIR" ]; then
        rm -rf "$SERVER_DIR"
        SERVER_DIR=""
    fi
}
trap stop_server EXIT

# Starts a fresh server with an admin account on a free loopback port; sets TERRAIN_URL.
# With `tls`, the server has a self-signed certificate made for the run, as a pilot's relay
# would, and TERRAIN_CERT_SHA256 is its fingerprint (lower-case hex) for the apps to pin.
start_server() {
    stop_server
    SERVER_DIR="$(mktemp -d)"
    export TERRAIN_ADMIN_PASSWORD="admin-password-$RANDOM$RANDOM"
    TERRAIN_PASSWORD="$TERRAIN_ADMIN_PASSWORD" "$TERRAIN" admin create-user --data "$SERVER_DIR" --username admin >/dev/null
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local tls_args=() scheme=http
    unset TERRAIN_CERT_SHA256
    if [ "${1:-}" = tls ]; then
        local made
        made="$("$TERRAIN" admin tls-certificate --cert "$SERVER_DIR/relay.crt" --key "$SERVER_DIR/relay.key" --name 127.0.0.1)"
        TERRAIN_CERT_SHA256="$(printf '%s\n' "$made" | sed -n 's/.*(devices pin this): //p' | tr -d ':' | tr 'A-F' 'a-f')"
        export TERRAIN_CERT_SHA256
        tls_args=(--tls-cert "$SERVER_DIR/relay.crt" --tls-key "$SERVER_DIR/relay.key" --pin-certificate)
        scheme=https
    fi
    "$TERRAIN" serve --data "$SERVER_DIR" --addr "127.0.0.1:$port" "${tls_args[@]}" >"$SERVER_DIR/server.log" 2>&1 &
    SERVER_PID=$!
    export TERRAIN_URL="$scheme://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        # Up when the port answers (over TLS too: any answer will do).
        if python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()" "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$SERVER_DIR/server.log" >&2
    exit 1
}
export TERRAIN_FORMS="$ROOT/forms"

passed=0
echo "--- Python tests (over TLS, the certificate pinned)"
for test in bindings/tests/python/test_*.py; do
    start_server tls
    PYTHONPATH="$OUT/python:$ROOT/bindings/tests/python" python3 "$test"
    passed=$((passed + 1))
done

echo "--- Python analysts' client (terrain_client, with pandas from PyPI)"
VENV="$TARGET/terrain-client-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pandas" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "pandas>=2"
fi
# Installed as a user would (pip install bindings/client-python), from a copy: building
# writes build/ and egg-info beside the sources.
rm -rf "$TARGET/client-python-src"
cp -r bindings/client-python "$TARGET/client-python-src"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$TARGET/client-python-src"
for test in bindings/client-python/tests/test_*.py; do
    start_server
    PYTHONPATH="$OUT/python:$ROOT/bindings/tests/python" "$VENV/bin/python" "$test"
    passed=$((passed + 1))
done

echo "--- Kotlin tests (over TLS, the certificate pinned)"
JAR="$OUT/kotlin-tests.jar"
"$KOTLINC" -nowarn "$OUT/kotlin/uniffi/terrain_ffi/terrain_ffi.kt" bindings/tests/kotlin/*.kt -cp "$JNA_JAR" -d "$JAR"
for test in bindings/tests/kotlin/*Test.kt; do
    start_server tls
    main="$(basename "$test" .kt)Kt"
    java -Djna.library.path="$TARGET/debug" -cp "$JAR:$JNA_JAR:$KOTLIN_STDLIB" "$main"
    passed=$((passed + 1))
done
stop_server

echo "bindings: $passed passed, 0 failed"
