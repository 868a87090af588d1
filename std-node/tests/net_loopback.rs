//! Real gofast nodes on 127.0.0.1 UDP sockets: they join through one bootstrap address, then
//! find each other, put and get signed records and provider records through the DHT, every message
//! on a secure session. A stranger's garbage datagrams change nothing.

use std::time::Duration;

use gofast_core::crypto::SecretBytes;
use gofast_core::dht::Provider;
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;
use gofast_node::net::{BootstrapPeer, NodeConfig, NodeHandle, spawn};

/// Every wait is on an answer, bounded so that a hang fails the test instead of stalling it.
const WAIT: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

fn key(i: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([i; 32]))
}

async fn network(n: u8) -> Vec<NodeHandle> {
    let first = spawn(key(1), NodeConfig::default()).await.unwrap();
    // The others know only the first one's address: the first contact learns its identity.
    let entry = BootstrapPeer {
        peer: None,
        addr: first.local_addr(),
    };
    let mut nodes = vec![first];
    for i in 2..=n {
        let node = spawn(key(i), NodeConfig::default()).await.unwrap();
        let found = within("join", node.add_peer(entry)).await.unwrap();
        assert!(found >= 1, "node {i} found no one when joining");
        nodes.push(node);
    }
    // A second round of joins fills the early nodes' tables with the later ones.
    for node in &nodes {
        within("refresh", node.add_peer(entry)).await.unwrap();
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_join_find_each_other_and_share_records_over_udp() {
    let nodes = network(8).await;

    // Every node finds every other.
    for a in [1usize, 4, 7] {
        for b in [0usize, 3, 6] {
            let found = within("find_peer", nodes[a].find_peer(nodes[b].peer_id()))
                .await
                .unwrap();
            assert_eq!(
                found,
                Some(nodes[b].local_addr()),
                "node {a} looking for node {b}"
            );
        }
    }

    // A record put by one node is got, verified, by another.
    let owner = key(42);
    let record = Record::sign(&owner, b"status", 3, b"online").unwrap();
    let report = within("put", nodes[2].put_record(record.clone()))
        .await
        .unwrap();
    assert!(report.stored >= 3, "too few storers: {report:?}");
    let got = within("get", nodes[6].get_record(record.dht_key()))
        .await
        .unwrap();
    assert_eq!(got, Some(record.clone()));

    // A newer version replaces it everywhere a get looks.
    let newer = Record::sign(&owner, b"status", 4, b"away").unwrap();
    within("put newer", nodes[5].put_record(newer.clone()))
        .await
        .unwrap();
    let got = within("get newer", nodes[1].get_record(newer.dht_key()))
        .await
        .unwrap();
    assert_eq!(got, Some(newer));

    // Provider records.
    let root = [9u8; 32];
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let provider = Provider::sign(&key(3), root, expires).unwrap();
    within("announce", nodes[2].add_provider(provider.clone()))
        .await
        .unwrap();
    let providers = within("providers", nodes[7].get_providers(root))
        .await
        .unwrap();
    assert_eq!(providers, vec![provider]);

    for n in &nodes {
        let stats = n.stats().await.unwrap();
        assert_eq!(stats.bad_messages, 0);
        assert!(stats.handshakes >= 1);
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_leave_sessions_working() {
    let nodes = network(3).await;
    let target = nodes[0].local_addr();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Random bytes, and random bytes behind each frame type a session knows. They go in bursts,
    // each waited for until the node has read it: the kernel drops what overflows a socket's
    // buffer, and the test is about what the node does, not about the kernel.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut sent = 0u64;
    let base = within("stats", nodes[0].stats())
        .await
        .unwrap()
        .datagrams_in;
    for i in 0..100_000u32 {
        if i % 100 == 0 && i > 0 {
            let expected = base + sent;
            within("the node reads a burst", async {
                while nodes[0].stats().await.unwrap().datagrams_in < expected {
                    tokio::task::yield_now().await;
                }
            })
            .await;
        }
        let len = (i % 700) as usize + 1;
        let mut d = vec![0u8; len];
        for b in &mut d {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        d[0] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x10, d[0]][(i % 7) as usize];
        socket.send_to(&d, target).await.unwrap();
        sent += 1;
    }
    // The node still answers, and its sessions to real peers work.
    let found = within("find after garbage", nodes[2].find_peer(nodes[1].peer_id()))
        .await
        .unwrap();
    assert_eq!(found, Some(nodes[1].local_addr()));
    let stats = within("stats", nodes[0].stats()).await.unwrap();
    assert!(
        stats.sessions <= 3 + 256,
        "sessions grew with garbage: {stats:?}"
    );
    assert!(
        stats.garbage + stats.refused_handshakes > 0,
        "{stats:?} after {sent}"
    );
    let record = Record::sign(&key(50), b"", 1, b"still here").unwrap();
    let report = within("put after garbage", nodes[0].put_record(record.clone()))
        .await
        .unwrap();
    assert!(report.stored >= 1, "{report:?}");
    let got = within("get after garbage", nodes[1].get_record(record.dht_key()))
        .await
        .unwrap();
    assert_eq!(got, Some(record));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_two_node_network_the_storer_finds_what_it_stores() {
    // The only peer that can store A's announcement is B; B's own lookup must count what B holds.
    let nodes = network(2).await;
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let provider = Provider::sign(&key(1), [5u8; 32], expires).unwrap();
    let report = within("announce", nodes[0].add_provider(provider.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
    let found = within("providers", nodes[1].get_providers([5u8; 32]))
        .await
        .unwrap();
    assert_eq!(found, vec![provider]);
    let record = Record::sign(&key(9), b"", 1, b"only here").unwrap();
    within("put", nodes[0].put_record(record.clone()))
        .await
        .unwrap();
    let got = within("get", nodes[1].get_record(record.dht_key()))
        .await
        .unwrap();
    assert_eq!(got, Some(record));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_crosses_the_session_both_ways_and_an_unknown_or_silent_peer_is_told_apart() {
    let nodes = network(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    for (from, to) in [(a, b), (b, a)] {
        let rtt = within("ping", from.ping(to.peer_id())).await.unwrap();
        assert!(rtt.is_some(), "{} did not answer a ping", to.peer_id());
    }
    let stranger = key(99).peer_id();
    match within("ping a stranger", a.ping(stranger)).await {
        Err(gofast_node::net::NodeError::UnknownPeer(p)) => assert_eq!(p, stranger),
        other => panic!("a stranger's ping gave {other:?}"),
    }
    // A peer whose address answers nothing (a socket that never reads): the ping ends at its
    // deadline without an answer.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mute = key(98).peer_id();
    let joined = within(
        "add a silent peer",
        a.add_peer(BootstrapPeer {
            peer: Some(mute),
            addr: silent.local_addr().unwrap(),
        }),
    )
    .await;
    assert!(joined.is_ok(), "{joined:?}");
    let rtt = within("ping a silent peer", a.ping(mute)).await.unwrap();
    assert_eq!(rtt, None);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
