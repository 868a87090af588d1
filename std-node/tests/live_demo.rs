//! The main job of the README, `gofast demo`, run as a user runs it: the real binary starts a live
//! network of nodes on 127.0.0.1, each with its own redb store, and checks every claim it prints.

use std::process::{Command, Output};

fn gofast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gofast"))
        .args(args)
        .output()
        .expect("run gofast")
}

#[test]
fn the_live_demo_passes_every_check() {
    let out = gofast(&["demo", "--size", "3000000", "--nodes", "5"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "[1] network up",
        "[2] node 1 added",
        "[3] node 4 asked the DHT",
        "[4] node 4 became a second provider",
        "[5] nodes 1 and 3 share a volume",
        "[6] node 1 pushed a folder of 4 MiB to node 3",
        "[7] every node stopped",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
    assert!(text.ends_with("demo: all checks passed\n"), "{text}");
    assert!(
        !text.contains("gfb1"),
        "the root capability must not be printed"
    );
}

#[test]
fn a_missing_input_file_is_a_clear_error() {
    let out = gofast(&["demo", "--file", "/definitely/not/here.bin"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/definitely/not/here.bin"), "{err}");
}
