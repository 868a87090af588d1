//! Retention on one device (an in-process node, a real store): every snapshot is kept by default;
//! `retain` with "the newest 2" lets the older ones go (their own data becomes reclaimable, what
//! the kept ones use stays), later changes apply it by themselves, restoring from a kept snapshot
//! still works, and "keep all" stops it.

mod support;

use gofast_node::volume::Retention;
use support::noise;

const VOL: &str = "notes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_snapshots_go_and_what_the_kept_ones_use_stays() {
    let base = tempfile::tempdir().unwrap();
    let node = support::start_node(base.path(), "a", vec![]).await;
    let v = node.volumes();
    v.create(VOL).await.unwrap();
    // Two files: one rewritten five times (300 KB each version), one written once.
    let stays = noise(200_000, 99);
    v.put_bytes(VOL, "/stays.txt", stays.clone()).await.unwrap();
    for n in 0..5u64 {
        v.put_bytes(VOL, "/draft.txt", noise(300_000, n))
            .await
            .unwrap();
    }
    let before = v.log(VOL, 100).await.unwrap();
    assert!(before.len() >= 6, "{} snapshots", before.len());
    let permanent = |node: &gofast_node::node::Node| {
        let store = std::sync::Arc::clone(node.store());
        async move { store.stats().unwrap().permanent.bytes }
    };
    let bytes_before = permanent(&node).await;

    // The default keeps everything: applying it drops nothing.
    let r = v.retain(VOL, None).await.unwrap();
    assert_eq!(r.dropped, 0);

    let r = v
        .retain(
            VOL,
            Some(Retention {
                last: Some(2),
                days: None,
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.kept, 2);
    assert_eq!(r.dropped, before.len() - 2);
    let bytes_after = permanent(&node).await;
    assert!(
        bytes_after + 3 * 250_000 < bytes_before,
        "three old versions of the draft are reclaimable: {bytes_before} -> {bytes_after}"
    );
    // What the kept snapshots use stays pinned: the two newest drafts and the file written before
    // them (its blocks came with a snapshot let go).
    assert!(
        bytes_after >= 200_000 + 2 * 300_000,
        "kept data must stay permanent: {bytes_after}"
    );
    assert!(v.read(VOL, "/stays.txt", None).await.unwrap() == stays);
    let second_newest = &before[1].id;
    v.restore(VOL, "/draft.txt", second_newest).await.unwrap();
    // That restore was a change: the policy ran again by itself and let one more go.
    let log = v.log(VOL, 100).await.unwrap();
    let r = v.retain(VOL, None).await.unwrap();
    assert_eq!((r.kept, r.dropped), (2, 0), "the change applied it already");
    assert!(log.len() >= 2);
    // The policy survives a restart of the volume's state (it is in the state file).
    let state = gofast_node::volume::VolumeState::load(&base.path().join("a"), VOL).unwrap();
    assert_eq!(state.retention.last, Some(2));

    // Keep all again: nothing more goes.
    v.retain(VOL, Some(Retention::default())).await.unwrap();
    v.put_bytes(VOL, "/new.txt", b"new".to_vec()).await.unwrap();
    let r = v.retain(VOL, None).await.unwrap();
    assert_eq!(r.dropped, 0);
    node.shutdown().await.unwrap();
}
