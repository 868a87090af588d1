//! The quick check of `add_dir_since`: a file with the size and modification time an earlier add
//! recorded is taken unread, unless that time lies within the racy window before the earlier add:
//! a file written again within one tick of the file system's clock after it was read keeps its
//! time, and only reading it again finds the change (git's "racily clean" entries).

use std::fs::File;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gofast_core::block::{ScopeSecret, read_tree};
use gofast_core::crypto::SecretBytes;
use gofast_node::dirs::{EarlierAdd, RACY_WINDOW_SECS, add_dir_since, read_listing};
use gofast_node::store::{BlockStore, StoreConfig};

fn read_file(store: &BlockStore, root: &gofast_core::block::BlockRef, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    read_tree(
        root,
        size,
        |id| {
            store
                .get(id)
                .map_err(|e| e.to_string())?
                .ok_or("missing".to_string())
        },
        |d| {
            out.extend_from_slice(d);
            Ok::<_, String>(())
        },
    )
    .unwrap();
    out
}

/// Writes `bytes` to `path` and gives it the modification time `t`.
fn write_with_time(path: &std::path::Path, bytes: &[u8], t: SystemTime) {
    std::fs::write(path, bytes).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn a_file_rewritten_within_the_racy_window_is_read_again_an_older_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(
        &dir.path().join("store"),
        &SecretBytes::new([7; 32]),
        StoreConfig::default(),
    )
    .unwrap();
    let scope = ScopeSecret::from_secret(SecretBytes::new([4; 32]));
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let now = SystemTime::now();
    // `old` was last written an hour ago; `fresh` just now, as the first add reads it.
    let (old, fresh) = (tree.join("old.txt"), tree.join("fresh.txt"));
    let hour_ago = now - Duration::from_secs(3600);
    write_with_time(&old, b"old contents A", hour_ago);
    write_with_time(&fresh, b"fresh contents A", now);

    let first = add_dir_since(&store, &scope, &tree, None, |_| {}).unwrap();
    let made_at = now.duration_since(UNIX_EPOCH).unwrap().as_secs();

    // Both rewritten with the same size, their times put back: to the quick check they look
    // unchanged. For `fresh` that is what a write in the same clock tick looks like.
    write_with_time(&old, b"old contents B", hour_ago);
    write_with_time(&fresh, b"fresh contents B", now);

    let earlier = EarlierAdd {
        root: &first.encoded.root,
        made_at: Some(made_at),
    };
    let second = add_dir_since(&store, &scope, &tree, Some(earlier), |_| {}).unwrap();
    assert_eq!(
        (second.files, second.reused),
        (2, 1),
        "only `old` is taken unread"
    );
    let listing = read_listing(&store, &second.encoded.root).unwrap();
    let content = |name: &str| {
        let e = listing.iter().find(|e| e.name == name).unwrap();
        read_file(&store, &e.target, e.size)
    };
    assert_eq!(
        content("fresh.txt"),
        b"fresh contents B",
        "the racy file was read again"
    );
    // The quick check trusts the old time (that is its point, and its known blind spot).
    assert_eq!(content("old.txt"), b"old contents A");

    // Long after the add, the same times are trusted for both.
    let later = EarlierAdd {
        root: &second.encoded.root,
        made_at: Some(made_at + RACY_WINDOW_SECS + 1),
    };
    let third = add_dir_since(&store, &scope, &tree, Some(later), |_| {}).unwrap();
    assert_eq!(third.reused, 2);
    // An earlier add of unknown time trusts nothing.
    let unknown = EarlierAdd {
        root: &third.encoded.root,
        made_at: None,
    };
    assert_eq!(
        add_dir_since(&store, &scope, &tree, Some(unknown), |_| {})
            .unwrap()
            .reused,
        0
    );
}
