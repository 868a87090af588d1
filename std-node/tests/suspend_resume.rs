//! A suspended node is silent: while it is suspended a peer's requests to it get no answer and it
//! sends nothing (its datagram counters stand still), its own DHT operations are refused with
//! `Busy`, and its events say so. After `resume` it answers and fetches again.

mod support;

use std::time::Duration;

use gofast_node::error::ErrorKind;
use gofast_node::events::NodeEvent;
use tokio::sync::broadcast::Receiver;

const WAIT: Duration = Duration::from_secs(60);

/// Waits for the first event that `want` picks, skipping others.
async fn wait_for(events: &mut Receiver<NodeEvent>, want: impl Fn(&NodeEvent) -> bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(e) if want(&e) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the event in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_node_sends_nothing_and_resumes() {
    let base = tempfile::tempdir().unwrap();
    let phone = support::start_node(base.path(), "phone", vec![]).await;
    let mut events = phone.subscribe();
    let server = support::start_node(base.path(), "server", vec![support::entry(&phone)]).await;
    server.net().add_peer(support::entry(&phone)).await.unwrap();
    let server_id = server.peer_id();
    wait_for(
        &mut events,
        |e| matches!(e, NodeEvent::PeerConnected { peer, .. } if *peer == server_id),
    )
    .await;
    let held = phone.add_bytes("held", vec![7u8; 300_000]).await.unwrap();
    wait_for(
        &mut events,
        |e| matches!(e, NodeEvent::Added { size, .. } if *size == 300_000),
    )
    .await;

    phone.suspend().await.unwrap();
    wait_for(&mut events, |e| *e == NodeEvent::Suspended).await;
    assert!(phone.is_suspended());
    let before = phone.net_stats().await.unwrap();
    let refused = phone.net().find_peer(server_id).await.unwrap_err();
    assert_eq!(
        gofast_node::error::Error::from(refused).kind(),
        ErrorKind::Busy
    );
    // The server asks the phone (its only contact) and gets nothing back; its fetch fails.
    let lookup = server.net().find_peer(phone.peer_id()).await.unwrap();
    assert!(
        lookup.is_some(),
        "the table still names the phone's address"
    );
    let fetched = server.get_bytes(&held.root, "copy", 1 << 20).await;
    assert!(fetched.is_err(), "a suspended node served a block");
    let during = phone.net_stats().await.unwrap();
    assert_eq!(
        (during.datagrams_in, during.datagrams_out),
        (before.datagrams_in, before.datagrams_out),
        "traffic while suspended"
    );

    phone.resume().await.unwrap();
    wait_for(&mut events, |e| *e == NodeEvent::Resumed).await;
    assert!(!phone.is_suspended());
    let copy = server.get_bytes(&held.root, "copy", 1 << 20).await.unwrap();
    assert_eq!(copy, vec![7u8; 300_000]);
    assert!(phone.net_stats().await.unwrap().datagrams_out > during.datagrams_out);
    server.shutdown().await.unwrap();
    phone.shutdown().await.unwrap();
}
