#!/usr/bin/env bash
# Builds terrain-ffi for iOS (device and simulator) and lays out a Swift package:
#   $OUT/TerrainFFI.xcframework            (static libraries + C header + module map)
#   $OUT/Sources/Terrain/terrain_ffi.swift (the generated Swift)
#   $OUT/Package.swift
# Needs macOS with Xcode, and
# `rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios`.
# Usage: bindings/scripts/build-ios.sh [OUT]   (default: target/ios/TerrainFFI)
# See docs/mobile.md. Not run in CI: the project's machines are Linux, without Xcode.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${1:-$TARGET/ios/TerrainFFI}"
cd "$ROOT"
command -v xcodebuild >/dev/null || { echo "build-ios.sh needs macOS with Xcode" >&2; exit 1; }
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}"

# 1. Static libraries (the crate is a cdylib for Android; iOS links a staticlib), in the
#    size-first `mobile` profile (workspace Cargo.toml).
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo rustc -p terrain-ffi --lib --profile mobile --target "$target" --crate-type staticlib
done
SIM="$TARGET/ios-sim-universal"
mkdir -p "$SIM"
lipo -create "$TARGET/aarch64-apple-ios-sim/mobile/libterrain_ffi.a" \
    "$TARGET/x86_64-apple-ios/mobile/libterrain_ffi.a" -output "$SIM/libterrain_ffi.a"

# 2. The Swift bindings, C header and module map, generated from a host debug build (release
#    libraries are stripped of the metadata symbols bindgen reads; the interface is the same).
cargo build -p terrain-ffi
GEN="$TARGET/ios-gen"
rm -rf "$GEN" && mkdir -p "$GEN/headers"
cargo run -q -p uniffi-bindgen -- generate --library "$TARGET/debug/libterrain_ffi.dylib" \
    --language swift --out-dir "$GEN"
cp "$GEN/terrain_ffiFFI.h" "$GEN/headers/"
# The generated Swift imports the C module `terrain_ffiFFI`; an xcframework wants the map
# named module.modulemap.
cp "$GEN/terrain_ffiFFI.modulemap" "$GEN/headers/module.modulemap"

# 3. The xcframework and the Swift package around it.
rm -rf "$OUT" && mkdir -p "$OUT/Sources/Terrain"
xcodebuild -create-xcframework \
    -library "$TARGET/aarch64-apple-ios/mobile/libterrain_ffi.a" -headers "$GEN/headers" \
    -library "$SIM/libterrain_ffi.a" -headers "$GEN/headers" \
    -output "$OUT/TerrainFFI.xcframework"
cp "$GEN/terrain_ffi.swift" "$OUT/Sources/Terrain/"
cat >"$OUT/Package.swift" <<'SWIFT'
// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Terrain",
    platforms: [.iOS(.v15)],
    products: [.library(name: "Terrain", targets: ["Terrain"])],
    targets: [
        .binaryTarget(name: "terrain_ffiFFI", path: "TerrainFFI.xcframework"),
        .target(name: "Terrain", dependencies: ["terrain_ffiFFI"], path: "Sources/Terrain",
                linkerSettings: [.linkedFramework("SystemConfiguration")]),
    ]
)
SWIFT
echo "Swift package ready in $OUT"
