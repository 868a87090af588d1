//! `uniffi-bindgen generate --library target/…/libgofast_ffi.so --language kotlin …`: run through
//! `cargo xtask bindings`, which regenerates every language at once.

fn main() {
    uniffi::uniffi_bindgen_main()
}
