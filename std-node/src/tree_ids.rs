//! Listing the distinct block ids of a tree held in the store: what a pin takes.
//!
//! Only the tree nodes are read and opened (to learn their children): a data leaf is looked up at
//! most, never read, so listing a large file's blocks costs its tree nodes, not its data (a
//! re-pin after a push or pull names every block of a tree that is mostly unchanged). A subtree
//! the tree names several times is opened once.

use std::collections::HashSet;

use gofast_core::block::{Block, BlockId, BlockRef, open_in_place};

use crate::store::{BlockStore, StoreError};

/// Block references one listing may meet (a 1 TiB file of 16 KiB chunks has 2^26 blocks).
pub(crate) const MAX_TREE_BLOCKS: usize = 1 << 27;

/// How a listing of a tree's blocks treats its data leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leaves {
    /// Each must be held (a user's pin of something fetched before).
    Check,
    /// Known to be held (the tree was just written or fetched whole): not looked up, which is
    /// most of the cost of listing a large tree.
    Trust,
}

/// Why a tree's blocks could not be listed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeIdsError {
    /// A block of the tree is not held.
    #[error("block {0} of the tree is not held")]
    Missing(BlockId),
    /// A tree node does not open with its key.
    #[error("block {id} of the tree: {reason}")]
    Corrupt {
        /// The block.
        id: BlockId,
        /// What was wrong.
        reason: String,
    },
    /// More than [`MAX_TREE_BLOCKS`] references.
    #[error("the tree has more than {MAX_TREE_BLOCKS} blocks")]
    TooLarge,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every distinct block id of the tree under `root` (the root included), in no particular order;
/// its data leaves checked or trusted as `leaves` says.
pub(crate) fn tree_block_ids(
    store: &BlockStore,
    root: &BlockRef,
    leaves: Leaves,
) -> Result<Vec<BlockId>, TreeIdsError> {
    // Sorted and deduplicated at the end: 32 bytes a block, not a set's ~60 (a 1 GiB file has
    // some 54,000 blocks).
    let mut data_ids = Vec::new();
    let mut opened = HashSet::from([root.id]);
    // Blocks to open (their parents say they are tree nodes, or the root, which may be either).
    let mut nodes = vec![root.clone()];
    while let Some(r) = nodes.pop() {
        let mut data = store.get(&r.id)?.ok_or(TreeIdsError::Missing(r.id))?;
        let block = open_in_place(&r, &mut data).map_err(|e| TreeIdsError::Corrupt {
            id: r.id,
            reason: e.to_string(),
        })?;
        let Block::Tree(node) = block else {
            continue;
        };
        if node.level() == 1 {
            data_ids.extend(node.entries().map(|e| e.child.id));
        } else {
            for e in node.entries() {
                if opened.insert(e.child.id) {
                    nodes.push(e.child);
                }
            }
        }
        if data_ids.len().saturating_add(opened.len()) > MAX_TREE_BLOCKS {
            return Err(TreeIdsError::TooLarge);
        }
    }
    data_ids.sort_unstable();
    data_ids.dedup();
    if leaves == Leaves::Check {
        for id in &data_ids {
            if !store.has(id)? {
                return Err(TreeIdsError::Missing(*id));
            }
        }
    }
    data_ids.retain(|id| !opened.contains(id));
    data_ids.extend(opened);
    Ok(data_ids)
}
