//! A running node announces its pins again before their provider records expire: with records
//! that last 2 s, a root added by a node that keeps running is still found after several lifetimes,
//! while the root of a node that stopped is not (its record expired: the control that expiry works).

mod support;

use std::time::Duration;

use gofast_node::node::{Node, NodeOptions};

const WAIT: Duration = Duration::from_secs(60);

async fn start_short_lived(
    base: &std::path::Path,
    name: &str,
    entry: Option<gofast_node::net::BootstrapPeer>,
) -> Node {
    let dir = base.join(name);
    Node::init(&dir).unwrap();
    let mut o = NodeOptions::new(&dir);
    o.provider_ttl = Duration::from_secs(2);
    o.net.bootstrap = entry.into_iter().collect();
    Node::start(o).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_are_announced_again_before_their_records_expire() {
    let base = tempfile::tempdir().unwrap();
    let keeper = start_short_lived(base.path(), "keeper", None).await;
    let entry = support::entry(&keeper);
    let quitter = start_short_lived(base.path(), "quitter", Some(entry)).await;
    let asker = support::start_node(base.path(), "asker", vec![entry]).await;
    quitter.net().add_peer(entry).await.unwrap();
    asker.net().add_peer(entry).await.unwrap();

    let kept = keeper.add_bytes("kept", vec![1u8; 100_000]).await.unwrap();
    let dropped = quitter
        .add_bytes("dropped", vec![2u8; 100_000])
        .await
        .unwrap();
    assert!(kept.announced_to >= 1 && dropped.announced_to >= 1);
    quitter.shutdown().await.unwrap();

    // Three rounds take at least 3 s: the records made by the adds (2 s) are gone by then.
    let mut rounds = keeper.reannounce_rounds();
    tokio::time::timeout(WAIT, rounds.wait_for(|n| *n >= 3))
        .await
        .expect("three rounds of announcing in time")
        .unwrap();

    let found = asker.net().get_providers(kept.root.id.0).await.unwrap();
    assert!(
        found.iter().any(|p| *p.provider() == keeper.peer_id()),
        "the running node's pin is still announced"
    );
    let expired = asker.net().get_providers(dropped.root.id.0).await.unwrap();
    assert!(
        expired.is_empty(),
        "a stopped node's record outlived its lifetime"
    );
}
