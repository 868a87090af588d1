//! The low-power profile is a DHT client: its messages say so, so other nodes keep it out of their
//! tables; it leaves requests unanswered (and counts them) but looks up, adds and fetches like any
//! node.

mod support;

use gofast_node::node::{Node, NodeOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_power_node_asks_but_does_not_answer() {
    let base = tempfile::tempdir().unwrap();
    let server = support::start_node(base.path(), "server", vec![]).await;
    let entry = support::entry(&server);
    let dir = base.path().join("phone");
    Node::init(&dir).unwrap();
    let mut options = NodeOptions::new(&dir);
    options.low_power = true;
    options.net.bootstrap = vec![entry];
    let phone = Node::start(options).await.unwrap();
    phone.net().add_peer(entry).await.unwrap();

    // Its messages say it is a DHT client: the server, which took it as a contact when their
    // session came up, dropped it, so no lookup of the server's asks it or names it.
    let server_peers = server.net().peers().await.unwrap();
    assert!(
        server_peers.iter().all(|p| p.peer != phone.peer_id()),
        "the server keeps the phone in its table"
    );
    // Asked directly, it does not answer (and counts what it ignored).
    let before = phone.net_stats().await.unwrap().requests_ignored;
    let pong = server.net().ping(phone.peer_id()).await.unwrap();
    assert_eq!(pong, None, "the phone answered a DHT request");
    let ignored = phone.net_stats().await.unwrap().requests_ignored;
    assert!(ignored > before, "the ping was not counted as ignored");

    // As a client it still finds and fetches what the server provides.
    let added = server.add_bytes("data", vec![3u8; 200_000]).await.unwrap();
    let copy = phone.get_bytes(&added.root, "copy", 1 << 20).await.unwrap();
    assert_eq!(copy, vec![3u8; 200_000]);
    phone.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}
