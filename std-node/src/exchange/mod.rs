//! Block exchange: fetching a tree's blocks from several providers at once over secure sessions,
//! and serving the blocks this node holds.
//!
//! A fetch ([`fetch_tree`]) opens a TCP connection with a secure session (Noise IK to the
//! provider's identity, byte-stream framing) to each provider, asks each for different blocks
//! ([`Fetch`] keeps a window per provider), checks every block against its id before it is stored,
//! drops a provider that sends a wrong block and moves a lost provider's blocks to the others. The
//! messages are the core's [`gofast_core::exchange::ExchangeMessage`].

use gofast_core::block::BlockId;
use gofast_core::exchange::DeltaWant;
use gofast_core::identity::PeerId;

use crate::store::{BlockStore, StoreError};

mod conn;
mod connections;
mod delta;
mod dir_diff;
mod fetch;
mod get;
mod leaf_stage;
mod output;
mod sink;

pub use conn::{ConnStats, Role, exchange_traffic};
pub use connections::Connections;
pub use delta::{RebuildError, Served, rebuild, serve as serve_delta};
pub use dir_diff::{DirFetch, fetch_dir_changes};
pub use fetch::{
    Accepted, Fetch, FetchError, FetchProgress, LOOKAHEAD, MAX_REPEATS, MAX_TREE_NODES, Placement,
};
pub use get::{FetchReport, GetError, MAX_SERVED_CONNECTIONS, fetch_tree, fetch_tree_over, serve};
pub use output::FileOutput;

/// Where a node's served blocks come from: its store. (A trait so that a test can stand up a
/// provider that lies, and check that fetchers drop it.)
pub trait BlockSource: Send + Sync + 'static {
    /// The block `id`, if held.
    fn block(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether the block `id` is held.
    fn holds(&self, id: &BlockId) -> Result<bool, StoreError>;
    /// How to answer `peer`'s request for a block as a delta: by default as a plain want (a
    /// source that may make deltas says when, `docs/spec/exchange.md`).
    fn delta(&self, peer: &PeerId, want: &DeltaWant) -> Result<Served, StoreError> {
        let _ = peer;
        Ok(match self.block(&want.target.id)? {
            Some(b) => Served::Block(b),
            None => Served::Missing,
        })
    }
}

impl BlockSource for BlockStore {
    fn block(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_to_serve(id)
    }

    fn holds(&self, id: &BlockId) -> Result<bool, StoreError> {
        self.has(id)
    }
}
