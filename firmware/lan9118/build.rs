//! Puts the firmware's `memory.x` (one directory up: the board's memory map, shared with the app) on
//! the linker's search path for this crate's examples only, so a firmware that depends on the crate
//! keeps its own.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=../memory.x");
    fs::copy("../memory.x", out.join("memory.x")).expect("copy ../memory.x");
    println!("cargo:rustc-link-arg-examples=-L{}", out.display());
}
