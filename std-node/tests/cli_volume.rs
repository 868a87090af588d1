//! A volume across three real `gofast` processes on 127.0.0.1: created on A, joined by B and C,
//! written on A and B and read everywhere; A killed with SIGKILL in the middle of a put restarts
//! with every earlier change of the volume intact and goes on; a revoked device's writes are refused
//! and it reads nothing written after; wrong commands get the documented exit codes. Every wait is on a process's output or exit, bounded.

mod procs;

use gofast_node::control::{Request, call};
use gofast_node::fs_control::FsRequest;
use procs::{gofast, ok, peer_of, random_file, three_nodes, up};

#[test]
fn a_volume_across_three_processes_survives_a_kill_during_a_put() {
    let base = tempfile::tempdir().unwrap();
    let ([a, b, c], [mut up_a, up_b, up_c]) = three_nodes(base.path());
    let notes = base.path().join("notes.txt");
    let notes_data = random_file(&notes, 100_000, 1);
    let todo = base.path().join("todo.txt");
    let todo_data = random_file(&todo, 3_000, 2);

    ok(gofast(&a, &["fs", "create", "home"]));
    ok(gofast(
        &a,
        &["fs", "put", notes.to_str().unwrap(), "home:/docs/notes.txt"],
    ));
    let cap = ok(gofast(&a, &["fs", "share", "home"])).trim().to_owned();
    assert!(cap.starts_with("gfv1"), "{cap}");
    for dir in [&b, &c] {
        ok(gofast(dir, &["fs", "join", "home", &cap]));
    }
    for other in [&up_b, &up_c] {
        ok(gofast(
            &a,
            &["fs", "allow", "home", peer_of(&other.bootstrap)],
        ));
    }
    ok(gofast(
        &a,
        &["fs", "put", todo.to_str().unwrap(), "home:/todo.txt"],
    ));

    // B and C read A's changes (from the DHT, where A's put left its head before returning).
    for dir in [&b, &c] {
        ok(gofast(dir, &["fs", "sync", "home"]));
        let out = gofast(dir, &["fs", "cat", "home:/todo.txt"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == todo_data, "todo.txt differs");
        let out = gofast(dir, &["fs", "cat", "home:/docs/notes.txt"]);
        assert!(out.stdout == notes_data, "notes.txt differs");
    }
    // B, allowed now, writes; A takes it in.
    let from_b = base.path().join("from-b.txt");
    let from_b_data = random_file(&from_b, 5_000, 3);
    ok(gofast(
        &b,
        &["fs", "put", from_b.to_str().unwrap(), "home:/from-b.txt"],
    ));
    ok(gofast(&a, &["fs", "sync", "home"]));
    assert!(gofast(&a, &["fs", "cat", "home:/from-b.txt"]).stdout == from_b_data);

    // A is killed while it reads a big file into the volume.
    let big = base.path().join("big.iso");
    let big_data = random_file(&big, 24 << 20, 4);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut killed = false;
    let put = Request::Fs(FsRequest::Put {
        local: big.clone(),
        volume: "home".into(),
        path: "/big.iso".into(),
    });
    let result = rt.block_on(call(&a, &put, |done, _| {
        if !killed && done > 0 {
            up_a.child.kill().unwrap();
            killed = true;
        }
    }));
    assert!(killed, "the node was killed mid-put");
    assert!(
        result.is_err(),
        "a put cut short by SIGKILL reported success"
    );
    drop(up_a);

    // Restarted: every earlier change is there, the cut-short put is not, and work goes on.
    let _up_a = up(&a, &[&up_b.bootstrap]);
    let listed = ok(gofast(&a, &["fs", "ls", "home:/"]));
    for name in ["docs/", "todo.txt", "from-b.txt"] {
        assert!(listed.contains(name), "{name} missing: {listed}");
    }
    assert!(!listed.contains("big.iso"), "{listed}");
    assert!(gofast(&a, &["fs", "cat", "home:/docs/notes.txt"]).stdout == notes_data);
    let log = ok(gofast(&a, &["fs", "log", "home"]));
    assert!(log.lines().count() >= 4, "{log}");
    ok(gofast(
        &a,
        &["fs", "put", big.to_str().unwrap(), "home:/big.iso"],
    ));
    ok(gofast(&c, &["fs", "sync", "home"]));
    assert!(
        gofast(&c, &["fs", "cat", "home:/big.iso"]).stdout == big_data,
        "the big file differs on C"
    );

    // `gofast sync` on C mirrors a folder: a file dropped in it reaches A.
    let folder = base.path().join("c-folder");
    std::fs::create_dir(&folder).unwrap();
    let mut sync = std::process::Command::new(env!("CARGO_BIN_EXE_gofast"))
        .arg("--data-dir")
        .arg(&c)
        .args(["sync", folder.to_str().unwrap(), "home"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(sync.stdout.take().unwrap()));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Its first pass brings the volume's files down into the folder.
    loop {
        let line = rx
            .recv_timeout(procs::WAIT)
            .expect("the first pass of gofast sync");
        if line == "↓ /todo.txt" {
            break;
        }
    }
    assert!(std::fs::read(folder.join("todo.txt")).unwrap() == todo_data);
    std::fs::write(folder.join("dropped.txt"), b"dropped in C's folder").unwrap();
    loop {
        let line = rx
            .recv_timeout(procs::WAIT)
            .expect("gofast sync puts the new file");
        if line == "↑ /dropped.txt" {
            break;
        }
    }
    let _ = sync.kill();
    let _ = sync.wait();
    ok(gofast(&a, &["fs", "sync", "home"]));
    assert_eq!(
        gofast(&a, &["fs", "cat", "home:/dropped.txt"]).stdout,
        b"dropped in C's folder"
    );

    // A revokes C: the volume's keys move to epoch 1. C's later writes are not taken in; what A
    // writes after reaches B and not C.
    let revoked = ok(gofast(
        &a,
        &["fs", "revoke", "home", peer_of(&up_c.bootstrap)],
    ));
    assert!(revoked.contains("key epoch 1"), "{revoked}");
    ok(gofast(
        &c,
        &["fs", "put", todo.to_str().unwrap(), "home:/from-c.txt"],
    ));
    ok(gofast(&a, &["fs", "sync", "home"]));
    assert_eq!(
        gofast(&a, &["fs", "cat", "home:/from-c.txt"]).status.code(),
        Some(3),
        "a revoked device's write was taken in"
    );
    ok(gofast(
        &a,
        &["fs", "put", from_b.to_str().unwrap(), "home:/after.txt"],
    ));
    ok(gofast(&b, &["fs", "sync", "home"]));
    assert!(gofast(&b, &["fs", "cat", "home:/after.txt"]).stdout == from_b_data);
    let refused = gofast(&c, &["fs", "sync", "home"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("not granted"),
        "{said}"
    );
    assert!(
        !gofast(&c, &["fs", "cat", "home:/after.txt"])
            .status
            .success()
    );

    // Clear errors with script-friendly exit codes.
    let missing = gofast(&a, &["fs", "ls", "nosuch:/"]);
    assert_eq!(
        missing.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let no_colon = gofast(&a, &["fs", "ls", "home"]);
    assert_eq!(no_colon.status.code(), Some(2));
    let not_there = gofast(&a, &["fs", "cat", "home:/nothing"]);
    assert_eq!(not_there.status.code(), Some(3));
    let stranger = gofast(&b, &["fs", "allow", "home", peer_of(&up_c.bootstrap)]);
    assert_eq!(
        stranger.status.code(),
        Some(2),
        "only the owner allows devices"
    );
}
