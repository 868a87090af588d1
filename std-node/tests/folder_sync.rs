//! Two devices each mirror a local folder with one volume (`Volumes::mirror`, the watcher of
//! `gofast sync`): a file written in one folder appears in the other, an edit there comes back, a
//! removal travels, and a file changed in both folders at once keeps both versions. Every wait is
//! on an event, bounded.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gofast_node::events::NodeEvent;
use gofast_node::node::Node;
use tokio::sync::broadcast::Receiver;

const WAIT: Duration = Duration::from_secs(60);
const VOL: &str = "docs";

/// Waits until `check` holds, looking again after each folder-sync pass of `events`' node.
async fn until(events: &mut Receiver<NodeEvent>, what: &str, check: impl Fn() -> bool) {
    let done = tokio::time::timeout(WAIT, async {
        while !check() {
            support::next_folder_pass(events).await;
        }
    })
    .await;
    assert!(done.is_ok(), "{what}: not within {WAIT:?}");
}

fn read(dir: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(name)).ok()
}

fn mirror(node: &Node, dir: &Path) -> tokio::task::JoinHandle<()> {
    let (volumes, dir) = (Arc::clone(node.volumes()), dir.to_path_buf());
    tokio::spawn(async move {
        volumes.mirror(VOL, &dir, |_| {}).await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_folders_mirror_one_volume_both_ways() {
    support::logs();
    let base = tempfile::tempdir().unwrap();
    let a = support::start_node(base.path(), "a", vec![]).await;
    let b = support::start_node(base.path(), "b", vec![support::entry(&a)]).await;
    b.net().add_peer(support::entry(&a)).await.unwrap();
    let (da, db) = (base.path().join("folder-a"), base.path().join("folder-b"));
    std::fs::create_dir_all(da.join("notes")).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    // A file from before the mirror starts goes up at its first pass.
    std::fs::write(da.join("notes/old.txt"), b"from before").unwrap();
    // In B's folder, `linked` is a link out of it: the mirror must not write through it.
    let outside = base.path().join("outside");
    std::fs::create_dir_all(da.join("linked")).unwrap();
    std::fs::write(da.join("linked/x.txt"), b"x").unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, db.join("linked")).unwrap();

    a.volumes().create(VOL).await.unwrap();
    let cap = a.volumes().capability(VOL).await.unwrap();
    b.volumes().join(VOL, &cap).await.unwrap();
    a.volumes().add_device(VOL, b.peer_id()).await.unwrap();
    let (mut ea, mut eb) = (a.subscribe(), b.subscribe());
    let ma = mirror(&a, &da);
    let mb = mirror(&b, &db);

    until(&mut eb, "A's old file reaches B's folder", || {
        read(&db, "notes/old.txt").as_deref() == Some(b"from before")
    })
    .await;
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "the mirror wrote through a link"
    );

    // A new file in A's folder shows in B's.
    std::fs::write(da.join("hello.txt"), b"hello from a").unwrap();
    until(&mut eb, "hello.txt in B's folder", || {
        read(&db, "hello.txt").as_deref() == Some(b"hello from a")
    })
    .await;

    // B edits it; the edit comes back to A's folder.
    std::fs::write(db.join("hello.txt"), b"hello from b, edited").unwrap();
    until(&mut ea, "B's edit in A's folder", || {
        read(&da, "hello.txt").as_deref() == Some(b"hello from b, edited")
    })
    .await;

    // A removes a file; it goes from B's folder (and its emptied folder with it).
    std::fs::remove_file(da.join("notes/old.txt")).unwrap();
    until(&mut eb, "old.txt gone from B's folder", || {
        !db.join("notes").exists()
    })
    .await;
    let listed = a.volumes().list_dir(VOL, "/", None).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["hello.txt", "linked"]
    );

    // The same file written in both folders at once: both versions stay, in both folders.
    std::fs::write(da.join("plan.md"), b"A's plan").unwrap();
    std::fs::write(db.join("plan.md"), b"B's plan").unwrap();
    let both = |dir: &Path| {
        let mut found: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| n == "plan.md" || (n.starts_with("plan.conflict-") && n.ends_with(".md")))
            .filter_map(|n| read(dir, &n))
            .collect();
        found.sort();
        found == [b"A's plan".to_vec(), b"B's plan".to_vec()]
    };
    until(&mut ea, "both plans in A's folder", || both(&da)).await;
    until(&mut eb, "both plans in B's folder", || both(&db)).await;

    // History keeps what the folders dropped.
    let log = a.volumes().log(VOL, 100).await.unwrap();
    let with_old = log
        .iter()
        .find(|l| l.note.starts_with("sync") && l.seq == 2)
        .expect("the first sync pass is a snapshot");
    assert_eq!(
        a.volumes()
            .read(VOL, "/notes/old.txt", Some(&with_old.id))
            .await
            .unwrap(),
        b"from before"
    );

    ma.abort();
    mb.abort();
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
