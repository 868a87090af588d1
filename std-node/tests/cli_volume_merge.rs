//! One volume on three real `gofast` processes on 127.0.0.1: edits of different files made at once
//! on A and B both survive everywhere; C, stopped while A makes 20 changes, catches up when it
//! comes back; the same file changed on A and on B, neither having seen the other's change, keeps
//! both versions on both. Every step waits on a command's end, bounded; none sleeps.

mod procs;

use std::path::Path;
use std::process::{Command, Stdio};

use procs::{gofast, ok, peer_of, three_nodes, up};

/// `gofast fs put` of `data` (written to a local file first) at `home:PATH`, started, not waited.
fn start_put(dir: &Path, local: &Path, data: &[u8], path: &str) -> std::process::Child {
    std::fs::write(local, data).unwrap();
    Command::new(env!("CARGO_BIN_EXE_gofast"))
        .arg("--data-dir")
        .arg(dir)
        .args([
            "fs",
            "put",
            local.to_str().unwrap(),
            &format!("home:{path}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn put(dir: &Path, local: &Path, data: &[u8], path: &str) {
    let out = start_put(dir, local, data, path)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "put {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cat(dir: &Path, path: &str) -> Option<Vec<u8>> {
    let out = gofast(dir, &["fs", "cat", &format!("home:{path}")]);
    out.status.success().then_some(out.stdout)
}

fn names(dir: &Path) -> Vec<String> {
    ok(gofast(dir, &["fs", "ls", "home:/"]))
        .lines()
        .filter_map(|l| l.split('\t').next_back().map(str::to_owned))
        .collect()
}

#[test]
fn three_processes_merge_catch_up_and_keep_both_sides_of_a_conflict() {
    let base = tempfile::tempdir().unwrap();
    let ([a, b, c], [up_a, up_b, up_c]) = three_nodes(base.path());
    let local = |name: &str| base.path().join(format!("local-{name}"));

    ok(gofast(&a, &["fs", "create", "home"]));
    put(&a, &local("first"), b"first", "/first.txt");
    let cap = ok(gofast(&a, &["fs", "share", "home"])).trim().to_owned();
    for (dir, other) in [(&b, &up_b), (&c, &up_c)] {
        ok(gofast(dir, &["fs", "join", "home", &cap]));
        ok(gofast(
            &a,
            &["fs", "allow", "home", peer_of(&other.bootstrap)],
        ));
    }

    // A and B write different files at the same time: after a sync each has both, and so has C.
    let on_a = start_put(&a, &local("a"), b"from a", "/a.txt");
    let on_b = start_put(&b, &local("b"), b"from b", "/b.txt");
    for child in [on_a, on_b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for dir in [&a, &b, &c] {
        ok(gofast(dir, &["fs", "sync", "home"]));
    }
    // A's sync merged (or took) B's file before B's and C's syncs read A's head.
    for dir in [&a, &b, &c] {
        assert_eq!(cat(dir, "/a.txt").as_deref(), Some(&b"from a"[..]));
        assert_eq!(cat(dir, "/b.txt").as_deref(), Some(&b"from b"[..]));
        assert_eq!(cat(dir, "/first.txt").as_deref(), Some(&b"first"[..]));
    }

    // C is stopped while A makes 20 changes; back, it catches up to the newest.
    drop(up_c);
    for i in 0..20 {
        put(&a, &local("counter"), format!("{i}").as_bytes(), "/counter");
    }
    let up_c = up(&c, &[&up_a.bootstrap]);
    ok(gofast(&c, &["fs", "sync", "home"]));
    assert_eq!(cat(&c, "/counter").as_deref(), Some(&b"19"[..]));
    drop(up_c);

    // A and B change one file, each without having seen the other's change: B and C are down
    // while A writes; then A is down while B writes. Taken in, both versions stay.
    drop(up_b);
    put(&a, &local("plan-a"), b"A's plan", "/plan.md");
    drop(up_a);
    let up_b = up(&b, &[]);
    put(&b, &local("plan-b"), b"B's plan", "/plan.md");
    let _up_a = up(&a, &[&up_b.bootstrap]);
    ok(gofast(&a, &["fs", "sync", "home"]));
    ok(gofast(&b, &["fs", "sync", "home"]));
    for dir in [&a, &b] {
        let names = names(dir);
        let conflicts: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("plan.conflict-"))
            .collect();
        assert!(
            names.contains(&"plan.md".to_owned()) && conflicts.len() == 1,
            "{names:?}"
        );
        let mut both = [
            cat(dir, "/plan.md").unwrap(),
            cat(dir, &format!("/{}", conflicts[0])).unwrap(),
        ];
        both.sort();
        assert_eq!(both, [b"A's plan".to_vec(), b"B's plan".to_vec()]);
    }
}
