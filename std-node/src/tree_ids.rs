//! Listing the block ids of a tree held in the store: what a pin takes.
//!
//! The listings stream: a pin takes the ids as the walk finds them (a batch at a time), so no list
//! of a tree's blocks is ever held, whatever its size. A walk holds its stack, the tree nodes it
//! opened (a few hundred per GiB of data) and, for a directory, the roots of the files and listings
//! it walked.
//!
//! Only tree nodes are read and opened (to learn their children): a data leaf is looked up at
//! most, never read, so listing a large file's blocks costs its tree nodes, not its data (a
//! re-pin after a push or pull names every block of a tree that is mostly unchanged). A subtree
//! the tree names several times is opened once; a leaf comes once for every time a tree node
//! names it (the pin counts each block once).

use std::collections::HashSet;

use gofast_core::block::{Block, BlockId, BlockRef, open_in_place};

use crate::dirs::{MAX_DEPTH, count_entries, read_listing_uncounted, too_deep};
use crate::error::{Error, ErrorKind};
use crate::store::{BlockStore, StoreError};
use gofast_core::fs::EntryKind;

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

impl From<TreeIdsError> for Error {
    fn from(e: TreeIdsError) -> Error {
        match e {
            TreeIdsError::Missing(id) => Error::new(
                ErrorKind::NotFound,
                format!("block {id} of the tree is not held: fetch it with `gofast get`"),
            ),
            TreeIdsError::Corrupt { .. } => Error::new(ErrorKind::Corrupt, e.to_string()),
            TreeIdsError::TooLarge => Error::new(ErrorKind::InvalidInput, e.to_string()),
            TreeIdsError::Store(e) => Error::from(e),
        }
    }
}

/// The block ids of the tree under `root` as a walk finds them: the root first, each tree node
/// once, a data leaf once for every time a tree node names it; its data leaves checked or trusted
/// as `leaves` says. Ends after its first error.
pub(crate) struct TreeIds<'s> {
    store: &'s BlockStore,
    leaves: Leaves,
    /// Tree nodes met: a subtree named again is not walked again.
    opened: HashSet<BlockId>,
    /// Blocks to open (their parents say they are tree nodes, or the root, which may be either).
    nodes: Vec<BlockRef>,
    /// The leaves of the last level-1 node opened, not yet given out.
    data: Vec<BlockId>,
    /// References met so far.
    met: usize,
    failed: bool,
}

impl<'s> TreeIds<'s> {
    /// A walk of the tree under `root`.
    pub(crate) fn new(store: &'s BlockStore, root: &BlockRef, leaves: Leaves) -> TreeIds<'s> {
        TreeIds {
            store,
            leaves,
            opened: HashSet::from([root.id]),
            nodes: vec![root.clone()],
            data: Vec::new(),
            met: 1,
            failed: false,
        }
    }

    fn step(&mut self) -> Result<Option<BlockId>, TreeIdsError> {
        if let Some(id) = self.data.pop() {
            if self.leaves == Leaves::Check && !self.store.has(&id)? {
                return Err(TreeIdsError::Missing(id));
            }
            return Ok(Some(id));
        }
        let Some(r) = self.nodes.pop() else {
            return Ok(None);
        };
        // Not counted as a use: this runs inside a pin, under the store's commit lock.
        let mut bytes = self
            .store
            .get_uncounted(&r.id)?
            .ok_or(TreeIdsError::Missing(r.id))?;
        let block = open_in_place(&r, &mut bytes).map_err(|e| TreeIdsError::Corrupt {
            id: r.id,
            reason: e.to_string(),
        })?;
        if let Block::Tree(node) = block {
            self.met = self.met.saturating_add(node.entries().len());
            if self.met > MAX_TREE_BLOCKS {
                return Err(TreeIdsError::TooLarge);
            }
            if node.level() == 1 {
                self.data.extend(node.entries().map(|e| e.child.id));
            } else {
                for e in node.entries() {
                    if self.opened.insert(e.child.id) {
                        self.nodes.push(e.child);
                    }
                }
            }
        }
        Ok(Some(r.id))
    }
}

impl Iterator for TreeIds<'_> {
    type Item = Result<BlockId, TreeIdsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.step().transpose();
        ended_by_error(&mut self.failed, next)
    }
}

/// Notes in `failed` whether a walk's `next` item is an error: the walk ends after it.
fn ended_by_error<T, E>(failed: &mut bool, next: Option<Result<T, E>>) -> Option<Result<T, E>> {
    *failed = matches!(next, Some(Err(_)));
    next
}

/// The block ids under the directories `roots` together: their listings' trees and their files'
/// trees, as [`TreeIds`] gives them. A file or listing they name several times is walked once (the
/// snapshots of a volume share most of theirs). Ends after its first error.
pub(crate) struct DirTreeIds<'s> {
    store: &'s BlockStore,
    leaves: Leaves,
    /// The tree being walked.
    current: Option<TreeIds<'s>>,
    /// Listings (with their depth) and files (`None`) still to walk.
    todo: Vec<(BlockRef, Option<usize>)>,
    /// Roots of the listings and files walked or queued.
    seen: HashSet<BlockId>,
    entries: u64,
    failed: bool,
}

impl<'s> DirTreeIds<'s> {
    /// A walk of the directories under `roots` (their listings' roots).
    pub(crate) fn new(store: &'s BlockStore, roots: &[BlockRef], leaves: Leaves) -> DirTreeIds<'s> {
        DirTreeIds {
            store,
            leaves,
            current: None,
            todo: roots.iter().map(|r| (r.clone(), Some(0))).collect(),
            seen: HashSet::new(),
            entries: 0,
            failed: false,
        }
    }

    fn step(&mut self) -> Result<Option<BlockId>, Error> {
        loop {
            if let Some(walk) = &mut self.current {
                match walk.next() {
                    Some(id) => return Ok(Some(id?)),
                    None => self.current = None,
                }
            }
            let Some((root, depth)) = self.todo.pop() else {
                return Ok(None);
            };
            // A listing or file named by many entries is walked once: its blocks are the same
            // each time.
            if !self.seen.insert(root.id) {
                continue;
            }
            if let Some(depth) = depth {
                let listed = read_listing_uncounted(self.store, &root)?;
                count_entries(&mut self.entries, listed.len())?;
                for e in listed {
                    match e.kind {
                        EntryKind::Dir if depth >= MAX_DEPTH => return Err(too_deep()),
                        EntryKind::Dir => self.todo.push((e.target, Some(depth + 1))),
                        EntryKind::File => self.todo.push((e.target, None)),
                    }
                }
            }
            self.current = Some(TreeIds::new(self.store, &root, self.leaves));
        }
    }
}

impl Iterator for DirTreeIds<'_> {
    type Item = Result<BlockId, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.step().transpose();
        ended_by_error(&mut self.failed, next)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gofast_core::block::{ChunkerParams, FileEncoder, ScopeSecret};
    use gofast_core::crypto::SecretBytes;

    use super::*;
    use crate::node::pin_tree;
    use crate::store::{Class, StoreConfig};

    /// A pin's walk reads the tree's nodes inside the pin's transaction, under the store's commit
    /// lock. Reading a cache block counted a hit, and a full hit buffer wrote the counts under
    /// that same lock: the pin waited on itself. Here every block is a cache block and the
    /// buffer holds one hit.
    #[test]
    fn a_pin_of_cache_blocks_does_not_wait_on_itself() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            hit_buffer: 1,
            ..StoreConfig::default()
        };
        let store = BlockStore::open(dir.path(), &SecretBytes::new([1; 32]), config).unwrap();
        // Small chunks: a tree of several levels from little data.
        let params = ChunkerParams::new(64, 128, 256).unwrap();
        let scope = ScopeSecret::from_secret(SecretBytes::new([2; 32]));
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut enc = FileEncoder::new(&scope, params);
        let mut put = |id: &BlockId, b: &[u8]| store.put(id, b, Class::Cache).map(|_| ());
        enc.write(&data, &mut put).unwrap();
        let root = enc.finish(&mut put).unwrap().root;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pin_tree(&store, "cached", &root, Leaves::Check).map(|p| p.blocks));
        });
        let pinned = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the pin finishes")
            .unwrap();
        assert!(pinned > 100, "the tree's blocks are pinned: {pinned}");
    }
}
