//! A device killed with SIGKILL while it takes in another device's change loses nothing it had:
//! two real `gofast` processes share a volume; A puts a large file, B starts fetching it at once
//! (A pushes its head), and B is killed part-way. Restarted, B still has every earlier file of
//! the volume, its store opens, and a sync brings the large file in whole. Every wait is on a
//! process's output or a control answer, bounded.

mod procs;

use std::time::Instant;

use gofast_node::control::{Request, call};
use procs::{WAIT, gofast, node_dir, ok, peer_of, random_file, up};

fn permanent_bytes(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> u64 {
    let v = rt
        .block_on(call(dir, &Request::Stats, |_, _| {}))
        .expect("stats");
    v["permanent_bytes"].as_u64().unwrap()
}

#[test]
fn a_device_killed_while_taking_in_a_change_keeps_what_it_had_and_catches_up() {
    let base = tempfile::tempdir().unwrap();
    let (a, b) = (node_dir(base.path(), "a"), node_dir(base.path(), "b"));
    let up_a = up(&a, &[]);
    let mut up_b = up(&b, &[&up_a.bootstrap]);
    let small = base.path().join("small.txt");
    let small_data = random_file(&small, 20_000, 1);
    ok(gofast(&a, &["fs", "create", "home"]));
    ok(gofast(
        &a,
        &["fs", "put", small.to_str().unwrap(), "home:/small.txt"],
    ));
    let cap = ok(gofast(&a, &["fs", "share", "home"])).trim().to_owned();
    ok(gofast(&b, &["fs", "join", "home", &cap]));
    ok(gofast(
        &a,
        &["fs", "allow", "home", peer_of(&up_b.bootstrap)],
    ));
    ok(gofast(&b, &["fs", "sync", "home"]));
    assert!(gofast(&b, &["fs", "cat", "home:/small.txt"]).stdout == small_data);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let before = permanent_bytes(&rt, &b);
    let big = base.path().join("big.bin");
    let big_len = 64usize << 20;
    let big_data = random_file(&big, big_len, 2);
    // A's put returns once its head is pushed to B (and in the DHT): B is fetching by then.
    ok(gofast(
        &a,
        &["fs", "put", big.to_str().unwrap(), "home:/big.bin"],
    ));
    let deadline = Instant::now() + WAIT;
    let mut seen = before;
    while seen < before + (4 << 20) {
        assert!(
            Instant::now() < deadline,
            "B never started fetching the change"
        );
        seen = permanent_bytes(&rt, &b);
    }
    up_b.child.kill().unwrap();
    up_b.child.wait().unwrap();
    let part_way = seen < before + big_len as u64;
    eprintln!(
        "B killed with {} of {} bytes of the change stored{}",
        seen - before,
        big_len,
        if part_way { "" } else { " (it had them all)" }
    );
    drop(up_b);

    // Restarted: the store opens, the volume has everything it had before the change.
    let _up_b = up(&b, &[&up_a.bootstrap]);
    let listed = ok(gofast(&b, &["fs", "ls", "home:/"]));
    assert!(listed.contains("small.txt"), "{listed}");
    assert!(gofast(&b, &["fs", "cat", "home:/small.txt"]).stdout == small_data);
    // And it catches up: the change comes in whole (what was stored before the kill is not
    // fetched again).
    ok(gofast(&b, &["fs", "sync", "home"]));
    let out = gofast(&b, &["fs", "cat", "home:/big.bin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == big_data, "the large file differs on B");
}
