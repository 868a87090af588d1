//! Helpers shared by the node's in-process tests.

#![allow(dead_code)] // Each test file uses its own part.

use std::path::Path;
use std::sync::Arc;

use gofast_core::block::BlockId;
use gofast_node::exchange::BlockSource;
use gofast_node::net::BootstrapPeer;
use gofast_node::node::{Node, NodeOptions};
use gofast_node::store::{BlockStore, StoreError};

/// A fresh node in `base/name` joining through `bootstrap`.
pub(crate) async fn start_node(base: &Path, name: &str, bootstrap: Vec<BootstrapPeer>) -> Node {
    let dir = base.join(name);
    Node::init(&dir).unwrap();
    let mut o = NodeOptions::new(&dir);
    o.net.bootstrap = bootstrap;
    Node::start(o).await.unwrap()
}

/// `node` as a bootstrap peer for others.
pub(crate) fn entry(node: &Node) -> BootstrapPeer {
    BootstrapPeer {
        peer: Some(node.peer_id()),
        addr: node.local_addr(),
    }
}

/// Logs to the test's output when `RUST_LOG` is set (e.g. `RUST_LOG=gofast_node=debug`).
#[allow(dead_code)] // Not every test file asks for logs.
pub(crate) fn logs() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// Bytes that do not repeat (xorshift from `seed`): repeating data would share its chunks.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Waits for the next `FolderSynced` event of `events` (a folder-sync pass that moved something).
pub(crate) async fn next_folder_pass(
    events: &mut tokio::sync::broadcast::Receiver<gofast_node::events::NodeEvent>,
) {
    loop {
        match events.recv().await {
            Ok(gofast_node::events::NodeEvent::FolderSynced { .. }) => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events ended: {e}"),
        }
    }
}

/// Serves a store's blocks with their first byte flipped: a provider that lies.
pub(crate) struct Corrupting(pub(crate) Arc<BlockStore>);

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
