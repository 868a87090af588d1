//! A provider that sends wrong blocks: the fetcher checks every block against its id, drops the
//! liar, and finishes from an honest provider with byte-identical data. The liar is a real peer on
//! real sockets (its own identity, DHT node and exchange listener) that announces the root and
//! serves every block with one byte flipped.

mod support;

use std::sync::Arc;
use std::time::Duration;

use gofast_core::block::BlockId;
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::Provider;
use gofast_core::identity::KeyPair;
use gofast_node::exchange::{BlockSource, serve};
use gofast_node::net::{NodeConfig, spawn};
use gofast_node::store::{BlockStore, StoreError};

const WAIT: Duration = Duration::from_secs(60);

/// Serves an honest store's blocks with their first byte flipped.
struct Corrupting(Arc<BlockStore>);

impl BlockSource for Corrupting {
    fn block(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(id)?.map(|mut b| {
            b[0] ^= 0x80;
            b
        }))
    }
    fn holds(&self, id: &BlockId) -> Result<bool, StoreError> {
        self.0.has(id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_provider_is_dropped_and_the_fetch_completes() {
    let base = tempfile::tempdir().unwrap();
    let honest = support::start_node(base.path(), "honest", vec![]).await;
    let entry = support::entry(&honest);
    let fetcher = support::start_node(base.path(), "fetcher", vec![entry]).await;
    fetcher.net().add_peer(entry).await.unwrap();

    let mut data = vec![0u8; 6 << 20];
    let mut x = 99u64;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let added = honest.add_bytes("data", data.clone()).await.unwrap();

    // The liar: its own identity and DHT node, an exchange listener on the same port, and a
    // provider record for the root.
    let liar_key = KeyPair::from_seed(&SecretBytes::new([66; 32]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = NodeConfig {
        listen: listener.local_addr().unwrap(),
        ..NodeConfig::default()
    };
    let liar = spawn(KeyPair::from_seed(&SecretBytes::new([66; 32])), config)
        .await
        .unwrap();
    liar.add_peer(entry).await.unwrap();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let record = Provider::sign(&liar_key, added.root.id.0, expires).unwrap();
    assert!(liar.add_provider(record).await.unwrap().stored >= 1);
    let source: Arc<dyn BlockSource> = Arc::new(Corrupting(Arc::clone(honest.store())));
    let serving = tokio::spawn(serve(listener, Arc::new(liar_key), source));

    let dest = base.path().join("copy");
    let report = tokio::time::timeout(
        WAIT,
        fetcher.get_to_file(&added.root, "copy", &dest, |_| {}),
    )
    .await
    .expect("the fetch finishes")
    .expect("the fetch succeeds without the liar");
    assert_eq!(report.providers, 2, "both providers were named");
    assert_eq!(
        report.fetch.penalised,
        vec![liar.peer_id()],
        "{:?}",
        report.fetch
    );
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");
    // Nothing the liar sent was stored: every block the fetcher holds is the honest one.
    let held = fetcher.store().stats().unwrap().permanent.blocks;
    assert_eq!(held, added.blocks);
    serving.abort();
}
