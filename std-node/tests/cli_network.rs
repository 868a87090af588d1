//! Real `gofast` processes on 127.0.0.1: `init`, `up` with bootstrap peers, `add` on one node and
//! `get` on another that finds the provider through the DHT alone; a provider killed with SIGKILL
//! in the middle of a fetch while the fetch completes from another; a node killed with SIGKILL in
//! the middle of an add restarts with every earlier add intact. Every wait is on a process's output
//! or exit, bounded.

mod procs;

use std::path::PathBuf;

use gofast_node::control::{Request, call};
use procs::{gofast, node_dir, ok, random_file, three_nodes, up};

#[test]
fn add_on_one_node_get_on_another_through_the_dht() {
    let base = tempfile::tempdir().unwrap();
    let ([a, _b, c], [_up_a, _up_b, _up_c]) = three_nodes(base.path());

    let input = base.path().join("photo.bin");
    let data = random_file(&input, 3 << 20, 7);
    let uri = ok(gofast(&a, &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();
    assert!(uri.starts_with("gofast:gfb1"), "{uri}");

    let dest = base.path().join("copy.bin");
    ok(gofast(&c, &["get", &uri, dest.to_str().unwrap()]));
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");

    // cat gives the same bytes; ls shows the pins; stats and peers answer.
    let out = gofast(&c, &["cat", &uri]);
    assert!(out.status.success());
    assert!(out.stdout == data, "cat differs");
    // cat streams over the control socket: no temporary file, and no pin left behind.
    assert!(!c.join("tmp").exists(), "cat wrote the data to a file");
    // The data directory (keys, control socket) is closed to other users.
    use std::os::unix::fs::PermissionsExt;
    for dir in [&a, &c] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} is open to others: {mode:o}",
            dir.display()
        );
    }
    let pins = ok(gofast(&c, &["ls"]));
    assert!(!pins.contains(".gofast/"), "cat or get left a pin: {pins}");
    assert!(ok(gofast(&a, &["ls"])).contains("photo.bin"));
    assert!(ok(gofast(&c, &["stats"])).contains("permanent_blocks="));
    assert!(ok(gofast(&c, &["peers"])).contains("gfp1"));

    // Clear errors with script-friendly exit codes.
    let bad = gofast(&c, &["get", "gofast:nonsense"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let missing = gofast(&a, &["add", "/definitely/not/here"]);
    assert_eq!(missing.status.code(), Some(3));
    let nobody = gofast(&base.path().join("nobody"), &["ls"]);
    assert_eq!(nobody.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("gofast up"));
    ok(gofast(&a, &["stop"]));
}

#[test]
fn a_provider_killed_mid_fetch_and_the_fetch_completes_from_another() {
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| node_dir(base.path(), n))
        .collect();
    let up_a = up(&dirs[0], &[]);
    let mut up_b = up(&dirs[1], &[&up_a.bootstrap]);
    let _up_c = up(&dirs[2], &[&up_a.bootstrap]);
    let up_d = up(&dirs[3], &[&up_a.bootstrap]);

    let input = base.path().join("big.bin");
    let data = random_file(&input, 24 << 20, 11);
    let uri = ok(gofast(&dirs[0], &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();
    // B fetches it and so becomes a second provider.
    ok(gofast(
        &dirs[1],
        &["get", &uri, base.path().join("b.bin").to_str().unwrap()],
    ));

    // D fetches from A and B. At its first progress D is frozen (SIGSTOP, so that the fetch cannot
    // run to its end meanwhile), B is killed (SIGKILL) and D thawed: D then finds its connection
    // to B gone (or, if it had not connected yet, cannot reach it) and must finish from A.
    let dest = base.path().join("d.bin");
    let d_pid = up_d.child.id().to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &d_pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut killed = false;
    let result = rt.block_on(call(
        &dirs[3],
        &Request::Get {
            uri: uri.clone(),
            dest: dest.clone(),
        },
        |done, total| {
            if !killed && done > 0 && total.is_some_and(|t| done < t) {
                signal("-STOP");
                up_b.child.kill().unwrap();
                up_b.child.wait().unwrap();
                signal("-CONT");
                killed = true;
            }
        },
    ));
    let v = result.expect("the fetch completes without the killed provider");
    assert!(killed, "the provider was killed mid-fetch");
    assert!(v["providers"].as_u64().unwrap() >= 2, "{v}");
    assert!(
        v["lost"].as_u64().unwrap() + v["unreached"].as_u64().unwrap() >= 1,
        "the killed provider was lost or unreached: {v}"
    );
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");
}

#[test]
fn a_node_killed_during_an_add_restarts_with_everything_flushed_before() {
    let base = tempfile::tempdir().unwrap();
    let a = node_dir(base.path(), "a");
    let notes = base.path().join("notes.txt");
    let data = random_file(&notes, 1 << 20, 3);
    let big = base.path().join("big.iso");
    let big_data = random_file(&big, 64 << 20, 5);
    let mut up_a = up(&a, &[]);
    let uri = ok(gofast(&a, &["add", notes.to_str().unwrap()]))
        .trim()
        .to_owned();

    // The second add is under way (it has read some of the file) when the node is killed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut killed = false;
    let result = rt.block_on(call(&a, &Request::Add { path: big.clone() }, |done, _| {
        if !killed && done > 0 {
            up_a.child.kill().unwrap();
            killed = true;
        }
    }));
    assert!(killed, "the node was killed mid-add");
    assert!(
        result.is_err(),
        "an add cut short by SIGKILL reported success"
    );
    drop(up_a);

    // Restarted: the store opens, the first add is whole, the cut-short one left no pin.
    let _up = up(&a, &[]);
    let listed = ok(gofast(&a, &["ls"]));
    assert!(listed.contains("notes.txt"), "{listed}");
    assert!(!listed.contains("big.iso"), "{listed}");
    let out = gofast(&a, &["cat", &uri]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "the flushed add changed");
    // The interrupted add can simply be done again.
    let big_uri = ok(gofast(&a, &["add", big.to_str().unwrap()]))
        .trim()
        .to_owned();
    let copy = base.path().join("big.copy");
    ok(gofast(&a, &["get", &big_uri, copy.to_str().unwrap()]));
    assert!(
        std::fs::read(&copy).unwrap() == big_data,
        "the re-added file differs"
    );
    ok(gofast(&a, &["gc"]));
}
