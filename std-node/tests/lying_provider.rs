//! A provider that sends wrong blocks: the fetcher checks every block against its id, drops the
//! liar, and finishes from the honest provider with byte-identical data.
//!
//! The honest provider and the fetcher are real `gofast` processes. The liar is this test's own
//! process, a real peer on real sockets: its own identity, DHT node, block store and exchange
//! listener. It fetches the tree from the honest provider like any peer, announces the root, and
//! then serves every block with one byte flipped.

mod procs;
mod support;

use std::sync::Arc;
use std::time::Duration;

use gofast_core::crypto::SecretBytes;
use gofast_core::dht::Provider;
use gofast_core::identity::KeyPair;
use gofast_node::control::{Request, call};
use gofast_node::exchange::{BlockSource, fetch_tree, serve};
use gofast_node::net::{BootstrapPeer, NodeConfig, spawn};
use gofast_node::node::parse_root_uri;
use gofast_node::store::{BlockStore, Class, StoreConfig};
use procs::{WAIT, gofast, node_dir, ok, random_file, up};
use support::Corrupting;

fn permanent_blocks(stats: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix("permanent_blocks="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no permanent_blocks in {stats}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_provider_is_dropped_and_the_fetch_completes() {
    let base = tempfile::tempdir().unwrap();
    let (honest, fetcher) = (
        node_dir(base.path(), "honest"),
        node_dir(base.path(), "fetcher"),
    );
    let up_honest = up(&honest, &[]);
    let _up_fetcher = up(&fetcher, &[&up_honest.bootstrap]);
    let input = base.path().join("data.bin");
    let data = random_file(&input, 6 << 20, 99);
    let uri = ok(gofast(&honest, &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();
    let root = parse_root_uri(&uri).unwrap();
    let entry: BootstrapPeer = up_honest.bootstrap.parse().unwrap();

    // The liar gets the blocks the honest way first.
    let liar_key = || KeyPair::from_seed(&SecretBytes::new([66; 32]));
    let store = Arc::new(
        BlockStore::open(
            &base.path().join("liar"),
            &SecretBytes::new([67; 32]),
            StoreConfig::default(),
        )
        .unwrap(),
    );
    fetch_tree(
        Arc::new(liar_key()),
        Arc::clone(&store),
        root.clone(),
        vec![(entry.peer.unwrap(), entry.addr)],
        Class::Permanent,
        None,
        u64::MAX,
        None,
        Box::new(|_| {}),
    )
    .await
    .expect("the liar fetches the tree");
    // Then it joins the DHT, announces the root and serves every block wrong.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = NodeConfig {
        listen: listener.local_addr().unwrap(),
        ..NodeConfig::default()
    };
    let liar = spawn(liar_key(), config).await.unwrap();
    liar.add_peer(entry).await.unwrap();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let record = Provider::sign(&liar_key(), root.id.0, expires).unwrap();
    assert!(liar.add_provider(record).await.unwrap().stored >= 1);
    let source: Arc<dyn BlockSource> = Arc::new(Corrupting(store));
    let serving = tokio::spawn(serve(
        listener,
        Arc::new(liar_key()),
        source,
        tokio::sync::watch::channel(false).1,
    ));

    let dest = base.path().join("copy");
    let get = Request::Get {
        uri,
        dest: dest.clone(),
    };
    let v = tokio::time::timeout(
        WAIT + Duration::from_secs(5),
        call(&fetcher, &get, |_, _| {}),
    )
    .await
    .expect("the fetch finishes")
    .expect("the fetch succeeds without the liar");
    assert_eq!(
        v["providers"].as_u64(),
        Some(2),
        "both providers were named: {v}"
    );
    assert_eq!(
        v["penalised"].as_u64(),
        Some(1),
        "the liar was dropped: {v}"
    );
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");
    // Nothing the liar sent was stored: the fetcher holds exactly the honest node's blocks.
    assert_eq!(
        permanent_blocks(&ok(gofast(&fetcher, &["stats"]))),
        permanent_blocks(&ok(gofast(&honest, &["stats"]))),
    );
    serving.abort();
}
