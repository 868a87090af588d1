//! What this node serves on its exchange connections: its store's blocks, and to a peer it is
//! pushing a folder to, the pushed blocks as deltas against the versions that peer holds
//! (`docs/spec/exchange.md`, "Deltas").

use std::sync::{Arc, Weak};

use gofast_core::block::{BlockId, ConvergenceKey};
use gofast_core::exchange::DeltaWant;
use gofast_core::identity::PeerId;

use super::TreePushes;
use crate::exchange::{BlockSource, Served, serve_delta};
use crate::store::{BlockStore, StoreError};

/// The node's block source.
pub(crate) struct NodeBlocks {
    pub(crate) store: Arc<BlockStore>,
    /// The key this node seals its own blocks with: a delta is made only of a block it made.
    pub(crate) made_by: ConvergenceKey,
    pub(crate) pushes: Weak<TreePushes>,
}

impl BlockSource for NodeBlocks {
    fn block(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get_to_serve(id)
    }

    fn holds(&self, id: &BlockId) -> Result<bool, StoreError> {
        self.store.has(id)
    }

    fn delta(&self, peer: &PeerId, want: &DeltaWant) -> Result<Served, StoreError> {
        // Only while a push to this peer waits for its answer: deltas cost CPU, and a peer has
        // reason to ask for them only then.
        let pushing = self.pushes.upgrade().is_some_and(|p| p.is_pushing_to(peer));
        if !pushing {
            return self.store.delta(peer, want);
        }
        // Errors reading the store show as a block not held (answered DontHave), as for a want.
        Ok(serve_delta(
            |id| self.store.get(id).ok().flatten(),
            &self.made_by,
            want,
        ))
    }
}
