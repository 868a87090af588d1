//! One user's volume on three devices (in-process nodes on loopback, real sockets and stores): a
//! write on one shows on the others through pushed heads; concurrent edits of different files
//! both survive; the same file changed on two devices keeps both versions; a device that was off
//! catches up from the DHT; history can be listed and restored; a removed device's writes are
//! ignored, and what is written after its removal is sealed with keys it is not granted. Every wait is on an event or a state, bounded.

mod support;

use std::time::Duration;

use gofast_node::events::NodeEvent;
use gofast_node::node::Node;
use gofast_node::volume::FsEntry;
use tokio::sync::broadcast::Receiver;

const WAIT: Duration = Duration::from_secs(60);
const VOL: &str = "home";

/// Waits until `check` holds for `node`'s volume, looking again after each of its volume events.
async fn until<F>(node: &Node, events: &mut Receiver<NodeEvent>, what: &str, check: F)
where
    F: AsyncFn(&Node) -> bool,
{
    let done = tokio::time::timeout(WAIT, async {
        loop {
            if check(node).await {
                return;
            }
            loop {
                match events.recv().await {
                    Ok(
                        NodeEvent::VolumeChanged { .. } | NodeEvent::VolumeDevicesChanged { .. },
                    ) => {
                        break;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("events ended: {e}"),
                }
            }
        }
    })
    .await;
    assert!(done.is_ok(), "{what}: not in {WAIT:?}");
}

async fn names(node: &Node, dir: &str) -> Vec<String> {
    match node.volumes().list_dir(VOL, dir, None).await {
        Ok(entries) => entries.into_iter().map(|e: FsEntry| e.name).collect(),
        Err(_) => Vec::new(),
    }
}

async fn read(node: &Node, path: &str) -> Option<Vec<u8>> {
    node.volumes().read(VOL, path, None).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_share_one_volume() {
    let base = tempfile::tempdir().unwrap();
    let a = support::start_node(base.path(), "a", vec![]).await;
    let b = support::start_node(base.path(), "b", vec![support::entry(&a)]).await;
    let c = support::start_node(base.path(), "c", vec![support::entry(&a)]).await;
    for n in [&b, &c] {
        n.net().add_peer(support::entry(&a)).await.unwrap();
    }
    let (mut ea, mut eb, mut ec) = (a.subscribe(), b.subscribe(), c.subscribe());

    // A makes the volume and a first file; B and C join and are let in.
    a.volumes().create(VOL).await.unwrap();
    a.volumes()
        .put_bytes(VOL, "/notes/todo.txt", b"milk".to_vec())
        .await
        .unwrap();
    let cap = a.volumes().capability(VOL).await.unwrap();
    for n in [&b, &c] {
        a.volumes().add_device(VOL, n.peer_id()).await.unwrap();
    }
    for n in [&b, &c] {
        n.volumes().join(VOL, &cap).await.unwrap();
    }
    until(&b, &mut eb, "B has A's first file", async |n| {
        read(n, "/notes/todo.txt").await.as_deref() == Some(b"milk")
    })
    .await;
    until(&c, &mut ec, "C has A's first file", async |n| {
        read(n, "/notes/todo.txt").await.as_deref() == Some(b"milk")
    })
    .await;
    assert!(b.volumes().info(VOL).await.unwrap().may_write);

    // A write on A shows on B and C.
    a.volumes()
        .put_bytes(VOL, "/notes/todo.txt", b"milk, eggs".to_vec())
        .await
        .unwrap();
    for (n, e) in [(&b, &mut eb), (&c, &mut ec)] {
        until(n, e, "A's edit", async |n| {
            read(n, "/notes/todo.txt").await.as_deref() == Some(b"milk, eggs")
        })
        .await;
    }

    // Concurrent edits of different files on A and B: both survive everywhere.
    let (ra, rb) = tokio::join!(
        a.volumes().put_bytes(VOL, "/a.txt", b"from a".to_vec()),
        b.volumes().put_bytes(VOL, "/b.txt", b"from b".to_vec()),
    );
    ra.unwrap();
    rb.unwrap();
    for (n, e, who) in [(&a, &mut ea, "A"), (&b, &mut eb, "B"), (&c, &mut ec, "C")] {
        until(n, e, &format!("{who} has both edits"), async |n| {
            read(n, "/a.txt").await.as_deref() == Some(b"from a")
                && read(n, "/b.txt").await.as_deref() == Some(b"from b")
                && read(n, "/notes/todo.txt").await.as_deref() == Some(b"milk, eggs")
        })
        .await;
    }

    // A and B merged each other's edits into the same tree: they settle on one snapshot.
    let head = async |n: &Node| n.volumes().info(VOL).await.unwrap().head;
    until(&a, &mut ea, "A and B on one snapshot", async |a| {
        head(a).await == head(&b).await
    })
    .await;

    // The same file changed on A and B: both versions stay, the older under a conflict name.
    let (ra, rb) = tokio::join!(
        a.volumes().put_bytes(VOL, "/plan.md", b"A's plan".to_vec()),
        b.volumes().put_bytes(VOL, "/plan.md", b"B's plan".to_vec()),
    );
    ra.unwrap();
    rb.unwrap();
    for (n, e, who) in [(&a, &mut ea, "A"), (&b, &mut eb, "B")] {
        until(n, e, &format!("{who} keeps both plans"), async |n| {
            let names = names(n, "/").await;
            let conflicts: Vec<_> = names
                .iter()
                .filter(|n| n.starts_with("plan.conflict-"))
                .collect();
            names.contains(&"plan.md".to_owned()) && conflicts.len() == 1
        })
        .await;
    }
    let kept = read(&a, "/plan.md").await.unwrap();
    let other = names(&a, "/")
        .await
        .into_iter()
        .find(|n| n.starts_with("plan.conflict-"))
        .unwrap();
    let other = read(&a, &format!("/{other}")).await.unwrap();
    let mut both = [kept, other];
    both.sort();
    assert_eq!(both, [b"A's plan".to_vec(), b"B's plan".to_vec()]);

    // History: every change is a snapshot; a removed file comes back from one.
    let log = a.volumes().log(VOL, 100).await.unwrap();
    assert!(log.len() >= 5, "{log:?}");
    let before_rm = log[0].id.clone();
    a.volumes().remove(VOL, "/a.txt").await.unwrap();
    assert!(read(&a, "/a.txt").await.is_none());
    assert_eq!(
        a.volumes()
            .read(VOL, "/a.txt", Some(&before_rm))
            .await
            .unwrap(),
        b"from a"
    );
    a.volumes()
        .restore(VOL, "/a.txt", &before_rm)
        .await
        .unwrap();
    assert_eq!(read(&a, "/a.txt").await.as_deref(), Some(&b"from a"[..]));
    a.volumes()
        .rename(VOL, "/a.txt", "/notes/a.txt")
        .await
        .unwrap();
    assert_eq!(
        names(&a, "/notes").await,
        vec!["a.txt".to_owned(), "todo.txt".to_owned()]
    );

    // C is off while A makes 20 changes; back, it catches up from the DHT.
    c.shutdown().await.unwrap();
    drop(c);
    for i in 0..20 {
        a.volumes()
            .put_bytes(VOL, "/counter", format!("{i}").into_bytes())
            .await
            .unwrap();
    }
    let mut o = gofast_node::node::NodeOptions::new(base.path().join("c"));
    o.net.bootstrap = vec![support::entry(&a)];
    let c = Node::start(o).await.unwrap();
    c.net().add_peer(support::entry(&a)).await.unwrap();
    let report = c.volumes().sync(VOL).await.unwrap();
    assert!(report.heads >= 1, "{report:?}");
    assert_eq!(read(&c, "/counter").await.as_deref(), Some(&b"19"[..]));
    assert_eq!(
        read(&c, "/notes/a.txt").await.as_deref(),
        Some(&b"from a"[..])
    );

    // B is off while A removes C: the volume's keys move to epoch 1, granted to A and B only.
    b.shutdown().await.unwrap();
    drop(b);
    a.volumes().remove_device(VOL, c.peer_id()).await.unwrap();
    assert_eq!(a.volumes().info(VOL).await.unwrap().key_epoch, 1);
    let mut ec = c.subscribe();
    until(&c, &mut ec, "C sees it was removed", async |n| {
        !n.volumes().info(VOL).await.unwrap().may_write
    })
    .await;
    assert_eq!(c.volumes().info(VOL).await.unwrap().key_epoch, 0);

    // What C writes afterwards is not taken in by A.
    c.volumes()
        .put_bytes(VOL, "/from-c.txt", b"intruder".to_vec())
        .await
        .unwrap();
    // C pushes its head to A anyway (it still lists A); A refuses it.
    let c_id = c.peer_id();
    tokio::time::timeout(WAIT, async {
        loop {
            match ea.recv().await {
                Ok(NodeEvent::VolumeHeadRefused { device, .. }) if device == c_id => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("A refuses C's head in time");
    let report = a.volumes().sync(VOL).await.unwrap();
    assert_eq!(report.fast_forwards + report.merges, 0, "{report:?}");
    assert!(read(&a, "/from-c.txt").await.is_none());

    // What A writes in epoch 1 reaches B (back, through the grant in the DHT), never C.
    a.volumes()
        .put_bytes(VOL, "/after.txt", b"not for C".to_vec())
        .await
        .unwrap();
    let mut o = gofast_node::node::NodeOptions::new(base.path().join("b"));
    o.net.bootstrap = vec![support::entry(&a)];
    let b = Node::start(o).await.unwrap();
    b.net().add_peer(support::entry(&a)).await.unwrap();
    b.volumes().sync(VOL).await.unwrap();
    assert_eq!(b.volumes().info(VOL).await.unwrap().key_epoch, 1);
    assert_eq!(
        read(&b, "/after.txt").await.as_deref(),
        Some(&b"not for C"[..])
    );
    // B writes in epoch 1 too; A opens its head and takes it in.
    b.volumes()
        .put_bytes(VOL, "/from-b.txt", b"epoch 1".to_vec())
        .await
        .unwrap();
    until(&a, &mut ea, "A has B's epoch-1 write", async |n| {
        read(n, "/from-b.txt").await.as_deref() == Some(b"epoch 1")
    })
    .await;
    // C cannot open the new device list or heads: its sync says why, and it reads none of it.
    let err = c.volumes().sync(VOL).await.unwrap_err().to_string();
    assert!(err.contains("not granted"), "{err}");
    assert!(read(&c, "/after.txt").await.is_none());
    assert!(read(&c, "/from-b.txt").await.is_none());

    // D joins after the rotation with the volume's capability: that alone no longer reads new
    // data. Once A adds it, its envelope in the grant does.
    let d = support::start_node(base.path(), "d", vec![support::entry(&a)]).await;
    d.net().add_peer(support::entry(&a)).await.unwrap();
    let mut ed = d.subscribe();
    d.volumes().join(VOL, &cap).await.unwrap();
    assert!(read(&d, "/after.txt").await.is_none());
    a.volumes().add_device(VOL, d.peer_id()).await.unwrap();
    until(
        &d,
        &mut ed,
        "D, added, reads what A wrote in epoch 1",
        async |n| read(n, "/after.txt").await.as_deref() == Some(b"not for C"),
    )
    .await;
    assert_eq!(d.volumes().info(VOL).await.unwrap().key_epoch, 1);

    for n in [a, b, c, d] {
        n.shutdown().await.unwrap();
    }
}
