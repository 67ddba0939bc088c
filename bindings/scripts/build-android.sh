#!/usr/bin/env bash
# Builds terrain-ffi for Android and lays out a Gradle library module:
#   $OUT/src/main/jniLibs/<abi>/libterrain_ffi.so   (arm64-v8a, armeabi-v7a, x86_64)
#   $OUT/src/main/java/uniffi/terrain_ffi/terrain_ffi.kt
#   $OUT/build.gradle.kts (written once; depends on net.java.dev.jna:jna:5.14.0@aar)
# Needs: the Android NDK (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
# `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`.
# Usage: bindings/scripts/build-android.sh [OUT]   (default: target/android/terrain)
# See docs/mobile.md. Not run in CI: the project's machines have no NDK.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${1:-$TARGET/android/terrain}"
cd "$ROOT"
command -v cargo-ndk >/dev/null || { echo "install cargo-ndk: cargo install cargo-ndk" >&2; exit 1; }
[ -n "${ANDROID_NDK_HOME:-}" ] || { echo "set ANDROID_NDK_HOME to the NDK (r26 or later)" >&2; exit 1; }

# 1. The native libraries, one per ABI, straight into jniLibs (min SDK 24), in the size-first
#    `mobile` profile (workspace Cargo.toml), with OpenSSL's libcrypto built in for SQLCipher
#    (Android has none to link; building it needs perl and make).
cargo ndk --platform 24 -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$OUT/src/main/jniLibs" \
    build -p terrain-ffi --profile mobile --features vendored-openssl

# 2. The Kotlin bindings, generated in library mode from a host debug build: release
#    libraries are stripped of the metadata symbols bindgen reads; the interface is the same.
cargo build -p terrain-ffi
rm -rf "$OUT/src/main/java/uniffi/terrain_ffi"
cargo run -q -p uniffi-bindgen -- generate --library "$TARGET/debug/libterrain_ffi.so" \
    --language kotlin --out-dir "$OUT/src/main/java"

# 3. The Gradle module around them, unless the app team already has one.
if [ ! -f "$OUT/build.gradle.kts" ]; then
    cat >"$OUT/build.gradle.kts" <<'GRADLE'
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.terrain.ffi"
    compileSdk = 35
    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }
}

dependencies {
    // uniffi's Kotlin calls the library through JNA; the AAR carries JNA's own .so files.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
}
GRADLE
    cat >"$OUT/consumer-rules.pro" <<'RULES'
# JNA and the generated bindings are reached by reflection: keep them whole.
-keep class com.sun.jna.** { *; }
-keep class * implements com.sun.jna.** { *; }
-keep class uniffi.terrain_ffi.** { *; }
RULES
fi
echo "Android module ready in $OUT"
