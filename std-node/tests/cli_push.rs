//! `gofast push`, `gofast pull` and `gofast push-allow` across real `gofast` processes on
//! 127.0.0.1: a first push copies a tree; after edits only the changed files are read and only
//! their changed chunks travel; removed files go, files the receiver changed are kept; a pull
//! into a folder does the same from a URI; a peer not allowed is refused with exit code 2.

mod procs;

use std::path::Path;

use procs::{backdate, gofast, node_dir, ok, peer_of, random_file, tree_snapshot, up};
use serde_json::Value;

fn push(from: &Path, dir: &Path, to: &str) -> Value {
    let out = ok(gofast(from, &["push", dir.to_str().unwrap(), to, "--json"]));
    serde_json::from_str(out.trim()).unwrap()
}

fn same_tree(a: &Path, b: &Path) {
    assert!(
        tree_snapshot(a) == tree_snapshot(b),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

#[test]
fn pushes_move_only_what_changed_and_pulls_follow_a_tree() {
    let base = tempfile::tempdir().unwrap();
    let (a, b) = (node_dir(base.path(), "a"), node_dir(base.path(), "b"));
    let up_a = up(&a, &[]);
    let up_b = up(&b, &[&up_a.bootstrap]);
    let src = base.path().join("photos");
    std::fs::create_dir_all(src.join("2026/nov")).unwrap();
    for i in 0..8u64 {
        random_file(&src.join(format!("2026/nov/img{i}.raw")), 300_000, i);
    }
    random_file(&src.join("index.txt"), 2_000, 99);
    backdate(&src);
    let inbox = base.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();

    // Not allowed yet: refused, with the exit code of a refused input.
    let refused = gofast(&a, &["push", src.to_str().unwrap(), &up_b.bootstrap]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("push-allow"));

    ok(gofast(
        &b,
        &[
            "push-allow",
            peer_of(&up_a.bootstrap),
            inbox.to_str().unwrap(),
        ],
    ));
    assert!(ok(gofast(&b, &["push-allow"])).contains(peer_of(&up_a.bootstrap)));
    let first = push(&a, &src, &up_b.bootstrap);
    assert_eq!(first["files"], 9);
    // The refused attempt read the folder already, and its tree stayed pinned: nothing to read.
    assert_eq!(first["read"], 0);
    assert_eq!(first["written"], 9);
    let dest = inbox.join("photos");
    same_tree(&src, &dest);
    let blocks_first = first["blocks_fetched"].as_u64().unwrap();

    // An edit in one file, a new file, a removed one: two files read, only changed chunks fetched.
    let img3 = src.join("2026/nov/img3.raw");
    let mut data = std::fs::read(&img3).unwrap();
    data.splice(150_000..150_004, *b"EDIT");
    std::fs::write(&img3, &data).unwrap();
    std::fs::write(src.join("2026/new.txt"), b"a new file").unwrap();
    std::fs::remove_file(src.join("2026/nov/img5.raw")).unwrap();
    let second = push(&a, &src, peer_of(&up_b.bootstrap));
    assert_eq!(second["read"], 2, "{second}");
    assert_eq!(second["written"], 2, "{second}");
    assert_eq!(second["removed"], 1, "{second}");
    let fetched = second["blocks_fetched"].as_u64().unwrap();
    // The edited chunk or two, the file's tree node, the new file, three listings.
    assert!(
        fetched <= 8,
        "{fetched} blocks fetched for one small edit (the first push fetched {blocks_first})"
    );
    same_tree(&src, &dest);

    // A file the receiver changed itself is kept when the pusher removes it.
    std::fs::write(dest.join("index.txt"), b"edited at the receiver").unwrap();
    std::fs::remove_file(src.join("index.txt")).unwrap();
    let third = push(&a, &src, &up_b.bootstrap);
    assert_eq!(third["kept"], 1, "{third}");
    assert_eq!(
        std::fs::read(dest.join("index.txt")).unwrap(),
        b"edited at the receiver"
    );
    std::fs::remove_file(dest.join("index.txt")).unwrap();
    same_tree(&src, &dest);

    // A pull follows a tree from a URI the same way: the second pull writes only the change.
    let uri = ok(gofast(&a, &["add", src.to_str().unwrap()]))
        .trim()
        .to_owned();
    let copy = base.path().join("copy");
    ok(gofast(&b, &["pull", &uri, copy.to_str().unwrap()]));
    same_tree(&src, &copy);
    std::fs::write(src.join("2026/new.txt"), b"changed again").unwrap();
    let uri = ok(gofast(&a, &["add", src.to_str().unwrap()]))
        .trim()
        .to_owned();
    let out = gofast(
        &b,
        &[
            "pull",
            &uri,
            copy.to_str().unwrap(),
            "--from",
            &up_a.bootstrap,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 files written"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same_tree(&src, &copy);

    // Taken off the list: refused again.
    ok(gofast(
        &b,
        &["push-allow", "--remove", peer_of(&up_a.bootstrap)],
    ));
    let refused = gofast(&a, &["push", src.to_str().unwrap(), &up_b.bootstrap]);
    assert_eq!(refused.status.code(), Some(2));
    let bad_name = gofast(
        &a,
        &[
            "push",
            src.to_str().unwrap(),
            &up_b.bootstrap,
            "--as",
            "../up",
        ],
    );
    assert_eq!(bad_name.status.code(), Some(2));
}
