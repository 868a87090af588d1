//! Fuzzing with cargo-fuzz (libFuzzer) on the nightly toolchain.
//!
//! Nothing here is assumed silently: a missing nightly toolchain is installed through rustup, a missing
//! cargo-fuzz is installed into `target/tools` (project-local), and each step says what it does. The
//! corpus of each target is seeded from the golden vectors so that runs start from valid encodings.

use std::path::{Path, PathBuf};

use std::process::{Command, Stdio};

use crate::run::{CommandExt, cargo};

pub(crate) const TARGETS: &[&str] = &[
    "record",
    "tree_node",
    "block_open",
    "messages",
    "text",
    "chunker",
    "session_frame",
    "handshake",
    "dht_message",
    "exchange_message",
    "dir_listing",
    "stream_entry",
    "volume",
];
const TOOLS: &str = "target/tools";

fn ensure_tools() -> Result<PathBuf, String> {
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_nightly {
        println!(
            "the nightly toolchain is missing (cargo-fuzz needs it); installing it with rustup"
        );
        Command::new("rustup")
            .args(["toolchain", "install", "nightly", "--profile", "minimal"])
            .status_ok("rustup toolchain install nightly")?;
    }
    let bin = Path::new(TOOLS).join("bin/cargo-fuzz");
    if !bin.exists() {
        println!("installing cargo-fuzz into {TOOLS}");
        cargo(&[
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            "0.13.2",
            "--root",
            TOOLS,
        ])
        .status_ok("cargo install cargo-fuzz")?;
    }
    Ok(bin)
}

/// Writes valid encodings from the golden file into each target's corpus directory.
fn seed_corpus() -> Result<(), String> {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("core-nostd/tests/vectors/gofast-golden.json")
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    let hex_of = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| hex::decode(s).ok())
            .unwrap_or_default()
    };
    for r in golden["records"].as_array().into_iter().flatten() {
        seeds.push(("record", hex_of(&r["encoded"])));
        seeds.push(("record", hex_of(&r["message"])));
    }
    for b in golden["blocks"].as_array().into_iter().flatten() {
        let plain = hex_of(&b["plaintext"]);
        if b["kind"] == "tree" {
            seeds.push(("tree_node", plain.get(1..).unwrap_or_default().to_vec()));
        }
        let mut open = vec![0u8];
        open.extend(hex_of(&b["id"]));
        open.extend(hex_of(&b["key"]));
        open.extend(hex_of(&b["ciphertext"]));
        seeds.push(("block_open", open));
    }
    for m in golden["messages"].as_array().into_iter().flatten() {
        seeds.push(("messages", hex_of(&m["message"])));
    }
    for m in golden["dht_messages"].as_array().into_iter().flatten() {
        seeds.push(("dht_message", hex_of(&m["message"])));
    }
    for m in golden["exchange_messages"].as_array().into_iter().flatten() {
        seeds.push(("exchange_message", hex_of(&m["message"])));
    }
    for d in golden["dir_listings"].as_array().into_iter().flatten() {
        seeds.push(("dir_listing", hex_of(&d["listing"])));
    }
    for i in golden["identities"].as_array().into_iter().flatten() {
        seeds.push((
            "text",
            i["text"].as_str().unwrap_or_default().as_bytes().to_vec(),
        ));
        seeds.push(("messages", hex_of(&i["peer_id"])));
    }
    seeds.push(("chunker", vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    // Session frames: a data header with an empty payload and its tag; each control message; two
    // length-prefixed frames for the deframer.
    let mut data_frame = vec![0x10, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    data_frame.extend([0u8; 16]);
    seeds.push(("session_frame", data_frame.clone()));
    seeds.push(("session_frame", [&[1u8, 1, 0, 0, 0][..], &[9; 32]].concat()));
    seeds.push((
        "session_frame",
        vec![4, 3, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0],
    ));
    seeds.push(("session_frame", vec![3, 1, 0, 0, 0, 1]));
    seeds.push(("session_frame", vec![7, 0]));
    seeds.push((
        "session_frame",
        [&[4u8, 5, 0, 0, 0, 1, 2, 3, 4, 5][..], &[2, 0, 0, 0, 9, 9]].concat(),
    ));
    // Handshake stages (selector byte, then the frame or the payload): valid hellos in the
    // wrapped mode, a data frame for the established session.
    let hello = [1u8, 3, 8, 0, 64, 0, 0, 64, 0, 0];
    for stage in [0x80u8, 0x81, 0x84] {
        seeds.push(("handshake", [&[stage][..], &hello].concat()));
    }
    seeds.push((
        "handshake",
        [&[0x83u8][..], &hello, &[5; 32], b"early"].concat(),
    ));
    seeds.push(("handshake", vec![0x82, 5, 5, 5]));
    seeds.push(("handshake", [&[0x05u8][..], &data_frame].concat()));
    for (i, (target, bytes)) in seeds.iter().enumerate() {
        let dir = Path::new("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("golden-{i}")), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `cargo +nightly fuzz run`, with the project-local cargo-fuzz first on `PATH` so that rustup's proxy
/// picks the nightly toolchain and cargo finds the subcommand.
fn run_target(bin: &Path, target: &str, libfuzzer_args: &[String]) -> Result<(), String> {
    let corpus = format!("fuzz/corpus/{target}");
    std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
    let tools = std::fs::canonicalize(bin.parent().unwrap_or(Path::new(TOOLS)))
        .map_err(|e| e.to_string())?;
    let path = std::env::join_paths(std::iter::once(tools).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .map_err(|e| e.to_string())?;
    Command::new("cargo")
        .env("PATH", path)
        .args([
            "+nightly",
            "fuzz",
            "run",
            "--fuzz-dir",
            "fuzz",
            target,
            &corpus,
            "--",
        ])
        .args(libfuzzer_args)
        .status_ok(&format!("fuzz target {target}"))
}

/// Longest input for a target: whole blocks and full tree nodes where the decoder takes them (libFuzzer
/// still starts small and grows inputs only when coverage asks for it), short inputs elsewhere.
fn max_len(target: &str) -> usize {
    match target {
        "block_open" => 65 + 65_537,
        // A Block message of MAX_BLOCK_LEN bytes, and one more so the bound itself is met.
        "exchange_message" => 2 + 1 + 32 + 4 + 65_537,
        "tree_node" => 3 + 72 * 911,
        // A few hundred entries with long names.
        "dir_listing" => 100_000,
        "chunker" => 70_000,
        _ => 4096,
    }
}

/// Runs of a target in the smoke run. The handshake target does several X25519 operations and a
/// whole session set-up per input (about 4 ms each under the sanitizer, against microseconds for
/// the plain decoders), so it gets a fortieth of the runs to keep the test command's time in check;
/// longer runs are in the README's fuzzing section.
fn runs_for(target: &str, runs: u64) -> u64 {
    match target {
        "handshake" => (runs / 40).max(1000),
        // Each input signs and verifies an entry (about 1 ms).
        "stream_entry" => (runs / 20).max(1000),
        // Each input signs and verifies a snapshot and signs two records (about 1.5 ms).
        "volume" => (runs / 30).max(1000),
        _ => runs,
    }
}

/// A short run of every target: part of `cargo xtask test`.
pub(crate) fn smoke(runs: u64) -> Result<(), String> {
    let bin = ensure_tools()?;
    seed_corpus()?;
    for target in TARGETS {
        println!("--- fuzz {target}");
        run_target(
            &bin,
            target,
            &[
                format!("-runs={}", runs_for(target, runs)),
                format!("-max_len={}", max_len(target)),
                "-print_final_stats=1".into(),
            ],
        )?;
    }
    Ok(())
}

/// One target, with the caller's libFuzzer arguments (`cargo xtask fuzz record -- -max_total_time=600`).
pub(crate) fn one(args: &[String]) -> Result<(), String> {
    let Some(target) = args.first() else {
        return Err(format!("which target? one of {TARGETS:?}"));
    };
    if !TARGETS.contains(&target.as_str()) {
        return Err(format!(
            "unknown fuzz target `{target}`; the targets are {TARGETS:?}"
        ));
    }
    let rest: Vec<String> = args
        .iter()
        .skip(1)
        .skip_while(|a| *a == "--")
        .cloned()
        .collect();
    let bin = ensure_tools()?;
    seed_corpus()?;
    run_target(&bin, target, &rest)
}
