//! A get of several trees over one [`Connections`] opens one connection per provider, not one per
//! tree: a directory's get fetches every listing and file as a tree of its own. A provider it
//! dropped for a wrong block is not asked again by its later fetches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod support;

use std::net::SocketAddr;

use gofast_core::block::{BlockRef, ChunkerParams, FileEncoder, ScopeSecret, read_tree};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_node::exchange::{
    BlockSource, Connections, FetchReport, fetch_tree, fetch_tree_over, serve,
};
use gofast_node::store::{BlockStore, Class, StoreConfig};
use support::Corrupting;

/// Encodes `len` bytes made from `seed` into `store`; the tree's root.
fn add(store: &BlockStore, len: usize, seed: u8) -> BlockRef {
    let data: Vec<u8> = (0..len)
        .map(|i| (i * 7 + usize::from(seed) * 131) as u8)
        .collect();
    let scope = ScopeSecret::from_secret(SecretBytes::new([seed; 32]));
    let mut put = |id: &_, bytes: &[u8]| store.put(id, bytes, Class::Permanent).map(|_| ());
    let mut enc = FileEncoder::new(&scope, ChunkerParams::DEFAULT);
    enc.write(&data, &mut put).unwrap();
    enc.finish(&mut put).unwrap().root
}

fn open(dir: &std::path::Path, seed: u8) -> Arc<BlockStore> {
    Arc::new(BlockStore::open(dir, &SecretBytes::new([seed; 32]), StoreConfig::default()).unwrap())
}

fn key(seed: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([seed; 32]))
}

/// Serves `source` as `key` on a port of its own; its address.
async fn provider(key: KeyPair, source: Arc<dyn BlockSource>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        Arc::new(key),
        source,
        tokio::sync::watch::channel(false).1,
    ));
    addr
}

/// Fetches `root` into `fetcher` over `pool`, and checks that every block of it is held.
async fn fetch(
    pool: &mut Connections,
    fetcher: &Arc<BlockStore>,
    root: &BlockRef,
    providers: &[(PeerId, SocketAddr)],
) -> FetchReport {
    let report = fetch_tree_over(
        pool,
        Arc::clone(fetcher),
        root.clone(),
        providers.to_vec(),
        Class::Permanent,
        None,
        u64::MAX,
        None,
        Box::new(|_| {}),
    )
    .await
    .expect("the fetch completes");
    // Every block of the tree is held: it reads back whole from the store alone.
    read_tree(
        root,
        u64::MAX,
        |id| fetcher.get(id).unwrap().ok_or(*id),
        |_| Ok(()),
    )
    .expect("every block of the tree is held");
    report
}

/// A proxy in front of `to` that counts the connections it accepts.
async fn counting_proxy(to: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_fetched_over_one_pool_share_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let provider_store = open(&dir.path().join("provider"), 1);
    let roots: Vec<BlockRef> = (0..5u8)
        .map(|i| add(&provider_store, 100_000 + usize::from(i) * 5_000, i + 10))
        .collect();
    let provider = (
        key(2).peer_id(),
        provider(key(2), provider_store.clone()).await,
    );
    let (proxy, accepted) = counting_proxy(provider.1).await;
    let me = Arc::new(key(3));

    // Without a pool, a connection per tree (the proxy counts correctly).
    let alone = open(&dir.path().join("alone"), 4);
    for root in roots.iter().take(2) {
        fetch_tree(
            Arc::clone(&me),
            Arc::clone(&alone),
            root.clone(),
            vec![(provider.0, proxy)],
            Class::Permanent,
            None,
            u64::MAX,
            None,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // With one, a connection for all five.
    let fetcher = open(&dir.path().join("fetcher"), 5);
    let mut pool = Connections::new(Arc::clone(&me), Arc::clone(&fetcher));
    for root in &roots {
        let report = fetch(&mut pool, &fetcher, root, &[(provider.0, proxy)]).await;
        assert!(report.lost.is_empty() && report.unreached.is_empty());
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "one more connection, for five trees"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_dropped_for_a_wrong_block_is_not_dialled_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("provider"), 1);
    // About 100 blocks each: once its connection is up, the liar is asked for some (a fetch that
    // ends before then does not ask it, and the next one does).
    let roots: Vec<BlockRef> = (0..4u8)
        .map(|i| add(&store, 2_000_000 + usize::from(i) * 50_000, i + 20))
        .collect();
    let honest = provider(key(6), store.clone()).await;
    let liar = provider(key(7), Arc::new(Corrupting(store.clone()))).await;
    let (liar_proxy, liar_accepted) = counting_proxy(liar).await;
    let providers = vec![(key(6).peer_id(), honest), (key(7).peer_id(), liar_proxy)];
    let me = Arc::new(key(8));
    let fetcher = open(&dir.path().join("fetcher"), 9);
    let mut pool = Connections::new(me, Arc::clone(&fetcher));
    let mut penalised = Vec::new();
    for root in &roots {
        // The honest provider completes every fetch.
        penalised.extend(fetch(&mut pool, &fetcher, root, &providers).await.penalised);
    }
    assert_eq!(
        penalised,
        vec![key(7).peer_id()],
        "dropped once, asked no more"
    );
    assert_eq!(
        liar_accepted.load(Ordering::SeqCst),
        1,
        "and not dialled again"
    );
}
