//! Directories through real `gofast` processes: `add` of a tree (nested directories, an empty
//! file and an empty directory, a name that is not ASCII, a file repeated, a symbolic link that is
//! left out) on one node, `get` of its `/` URI on another through the DHT, the copy compared entry
//! by entry; `ls`, `pin` and `cat` treat the URI as a directory's.

mod procs;

use std::path::Path;

use procs::{gofast, node_dir, ok, random_file, tree_snapshot as snapshot, up};

fn write(path: &Path, len: usize, seed: u64) {
    random_file(path, len, seed);
}

#[test]
fn a_directory_added_on_one_node_is_fetched_whole_on_another() {
    let base = tempfile::tempdir().unwrap();
    let (a, c) = (node_dir(base.path(), "a"), node_dir(base.path(), "c"));
    let up_a = up(&a, &[]);
    let _up_c = up(&c, &[&up_a.bootstrap]);

    let tree = base.path().join("holiday");
    std::fs::create_dir_all(tree.join("photos/raw")).unwrap();
    std::fs::create_dir_all(tree.join("empty")).unwrap();
    write(&tree.join("notes.txt"), 1_000, 1);
    write(&tree.join("photos/été.jpg"), 3 << 20, 2);
    write(&tree.join("photos/raw/big.raw"), 5 << 20, 3);
    write(&tree.join("photos/raw/copy.raw"), 5 << 20, 3);
    std::fs::write(tree.join("zero.bin"), b"").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", tree.join("link")).unwrap();
    let original = snapshot(&tree);

    let out = gofast(&a, &["add", tree.to_str().unwrap()]);
    let uri = ok(out.clone()).trim().to_owned();
    assert!(
        uri.starts_with("gofast:gfb1") && uri.ends_with('/'),
        "{uri}"
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("in 5 files"), "{said}");
    assert!(said.contains("left out") && said.contains("link"), "{said}");
    let listed = ok(gofast(&a, &["ls"]));
    assert!(
        listed.contains("holiday/") && listed.contains(&uri),
        "{listed}"
    );

    // Fetched on C, found through the DHT: the same entries with the same bytes, the link not
    // among them.
    let copy = base.path().join("copy");
    ok(gofast(&c, &["get", &uri, copy.to_str().unwrap()]));
    let fetched = snapshot(&copy);
    let names: Vec<&str> = fetched.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"link"), "{names:?}");
    let without_link: Vec<_> = original.into_iter().filter(|(n, _)| n != "link").collect();
    assert_eq!(fetched.len(), without_link.len(), "{names:?}");
    assert!(fetched == without_link, "the copy differs: {names:?}");
    // File times come along.
    let t = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(t(&copy.join("notes.txt")), t(&tree.join("notes.txt")));

    // A directory's URI: get refuses to write over what exists, cat asks for get.
    let again = gofast(&c, &["get", &uri, copy.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Someone's directory that happens to be named like the partial copy is never touched.
    let theirs = base.path().join("other.partial");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("keep.txt"), b"mine").unwrap();
    let blocked = gofast(
        &c,
        &["get", &uri, base.path().join("other").to_str().unwrap()],
    );
    assert_eq!(blocked.status.code(), Some(2));
    assert_eq!(std::fs::read(theirs.join("keep.txt")).unwrap(), b"mine");
    let cat = gofast(&c, &["cat", &uri]);
    assert_eq!(cat.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&cat.stderr).contains("directory"));
    // C holds the whole tree now: pinned under the copy's name, and pinned again by URI.
    let c_listed = ok(gofast(&c, &["ls"]));
    assert!(c_listed.contains("copy/"), "{c_listed}");
    ok(gofast(&c, &["pin", "--label", "again", &uri]));
    assert!(ok(gofast(&c, &["ls"])).contains("again/"));
}
