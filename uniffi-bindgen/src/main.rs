//! The uniffi binding generator, pinned to the uniffi version terrain-ffi is built with.
//!
//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libterrain_ffi.so --language kotlin --out-dir DIR`

fn main() {
    uniffi::uniffi_bindgen_main()
}
