//! The core demo (`gofast demo --core`), run as a user runs it: the real `gofast` binary in a child process.

use std::io::Write;
use std::process::{Command, Output};

fn gofast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gofast"))
        .args(args)
        .output()
        .expect("run gofast")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn demo_on_random_data_passes_every_check() {
    let out = gofast(&["demo", "--core", "--size", "300000"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.ends_with("demo: all checks passed\n"), "{text}");
    assert_eq!(text.matches("gfp1").count(), 2, "two identities shown");
    assert!(text.contains("300000 bytes ->"));
    assert!(
        !text.contains("gfb1"),
        "the root capability must not be printed"
    );
}

#[test]
fn demo_on_a_file_reads_it_back_identically() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let line = b"gofast keeps every byte encrypted, on the wire and at rest.\n";
    for _ in 0..5000 {
        file.write_all(line).unwrap();
    }
    file.flush().unwrap();
    let path = file.path().to_str().unwrap();
    let out = gofast(&["demo", "--core", "--file", path]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains(path));
    assert!(text.contains("identical to the input"));
    assert!(text.contains("appears in a stored block"));
}

#[test]
fn a_missing_file_is_a_clear_error_with_exit_code_1() {
    let out = gofast(&["demo", "--core", "--file", "/definitely/not/here.bin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/definitely/not/here.bin") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn a_wrong_command_line_exits_with_2() {
    assert_eq!(
        gofast(&["demo", "--core", "--bogus"]).status.code(),
        Some(2)
    );
    assert_eq!(
        gofast(&["demo", "--core", "--size", "-1"]).status.code(),
        Some(2)
    );
    assert_eq!(
        gofast(&["demo", "--core", "--size", "5", "--file", "x"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn oversized_inputs_are_refused_before_any_work() {
    let out = gofast(&["demo", "--core", "--size", &(300u64 << 20).to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most"));
}
