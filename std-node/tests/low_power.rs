//! The low-power profile is a DHT client: it leaves other peers' requests unanswered (and
//! counts them) but looks up, adds and fetches like any node.

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

    // Any lookup of the server's asks the phone, its only contact; it gets no answer.
    let before = phone.net_stats().await.unwrap().requests_ignored;
    let none = server.net().get_providers([9; 32]).await.unwrap();
    assert!(none.is_empty());
    let ignored = phone.net_stats().await.unwrap().requests_ignored;
    assert!(ignored > before, "the phone answered a DHT request");

    // As a client it still finds and fetches what the server provides.
    let added = server.add_bytes("data", vec![3u8; 200_000]).await.unwrap();
    let copy = phone.get_bytes(&added.root, "copy", 1 << 20).await.unwrap();
    assert_eq!(copy, vec![3u8; 200_000]);
    phone.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}
