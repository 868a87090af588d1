//! A node whose disk fills up during a get: the get fails with a message that says so, leaves no
//! file at the destination, and the node keeps running. The full disk is a file size limit on the
//! fetching node's process (`procs::up_with_file_limit`).

mod procs;

use procs::{gofast, node_dir, ok, random_file, up, up_with_file_limit};

#[test]
fn a_get_onto_a_full_disk_fails_clearly_and_the_node_stays_up() {
    let base = tempfile::tempdir().unwrap();
    let a = node_dir(base.path(), "a");
    let c = node_dir(base.path(), "c");
    let up_a = up(&a, &[]);
    // 8 MiB per file: the store's arena and the output file each pass it halfway through.
    let _up_c = up_with_file_limit(&c, &[&up_a.bootstrap], 8 << 10);

    let input = base.path().join("big.bin");
    random_file(&input, 16 << 20, 11);
    let uri = ok(gofast(&a, &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();

    let dest = base.path().join("copy.bin");
    let out = gofast(&c, &["get", &uri, dest.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the get succeeded on a full disk");
    assert!(
        stderr.contains("File too large") || stderr.contains("os error 27"),
        "the error says what the disk said: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dest.exists(), "a partial file was left at the destination");
    let leftovers: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("copy"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The node is still up and answers.
    ok(gofast(&c, &["stats"]));
}
