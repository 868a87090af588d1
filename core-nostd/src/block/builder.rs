//! Building a Merkle tree of blocks from a stream of data (needs `alloc`).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroizing;

use super::tree::{encode_tree_node, is_node_boundary};
use super::{
    BlockError, BlockId, BlockKind, BlockRef, Chunker, ChunkerParams, ConvergenceKey,
    MAX_BLOCK_LEN, MAX_TREE_CHILDREN, MAX_TREE_DEPTH, ScopeSecret, TreeEntry, seal_in_place,
};

/// Why building failed.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildError<E> {
    /// The sink refused a block.
    Sink(E),
    /// A block could not be sealed (a bug, reported rather than hidden).
    Block(BlockError),
    /// More than `u64::MAX` bytes, or a tree deeper than [`MAX_TREE_DEPTH`].
    TooLarge,
}

impl<E: fmt::Display> fmt::Display for BuildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Sink(e) => write!(f, "could not store a block: {e}"),
            BuildError::Block(e) => write!(f, "could not seal a block: {e}"),
            BuildError::TooLarge => f.write_str("data too large for one tree"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for BuildError<E> {}

/// Groups child entries into tree nodes, level by level, and seals each node as it closes.
///
/// A node closes after a child whose id is a boundary ([`is_node_boundary`]) once it has two children,
/// or when it is full ([`MAX_TREE_CHILDREN`]). Requiring two children per closed node at least halves
/// each level, which bounds the depth; content-defined boundaries keep nodes stable under edits.
pub struct TreeBuilder {
    convergence: ConvergenceKey,
    /// `levels[i]`: the open node of level `i + 1`.
    levels: Vec<Vec<TreeEntry>>,
    scratch: Vec<u8>,
}

impl fmt::Debug for TreeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeBuilder")
            .field("levels", &self.levels.len())
            .finish_non_exhaustive()
    }
}

impl TreeBuilder {
    /// A builder that seals nodes under `convergence`.
    pub fn new(convergence: ConvergenceKey) -> Self {
        TreeBuilder {
            convergence,
            levels: Vec::new(),
            scratch: vec![0u8; MAX_BLOCK_LEN],
        }
    }

    /// Appends a data leaf (level-0 entry). Closed nodes go to `sink` as (id, ciphertext).
    pub fn push<E>(
        &mut self,
        leaf: TreeEntry,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<(), BuildError<E>> {
        self.push_at(0, leaf, sink)
    }

    fn push_at<E>(
        &mut self,
        mut idx: usize,
        mut entry: TreeEntry,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<(), BuildError<E>> {
        // Iterative: closing a node pushes its entry one level up, which may close that node too.
        loop {
            if idx >= usize::from(MAX_TREE_DEPTH) {
                return Err(BuildError::TooLarge);
            }
            if self.levels.len() <= idx {
                // Full capacity up front: a growing Vec would leave copies of child keys in freed memory.
                self.levels.push(Vec::with_capacity(MAX_TREE_CHILDREN));
            }
            let boundary = is_node_boundary(&entry.child.id);
            let Some(level) = self.levels.get_mut(idx) else {
                return Err(BuildError::TooLarge);
            };
            level.push(entry);
            let n = level.len();
            if n < MAX_TREE_CHILDREN && !(boundary && n >= 2) {
                return Ok(());
            }
            entry = self.close(idx, sink)?;
            idx += 1;
        }
    }

    /// Seals the open node of `levels[idx]` and returns the entry that points at it.
    fn close<E>(
        &mut self,
        idx: usize,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<TreeEntry, BuildError<E>> {
        let Some(entries) = self.levels.get_mut(idx) else {
            return Err(BuildError::TooLarge);
        };
        let mut size: u64 = 0;
        for e in entries.iter() {
            size = size.checked_add(e.size).ok_or(BuildError::TooLarge)?;
        }
        let level = u8::try_from(idx + 1).map_err(|_| BuildError::TooLarge)?;
        let len = encode_tree_node(level, entries, &mut self.scratch).map_err(BuildError::Block)?;
        entries.clear();
        let block =
            self.scratch
                .get_mut(..len)
                .ok_or(BuildError::Block(BlockError::BufferTooSmall {
                    needed: len,
                }))?;
        let child = seal_in_place(&self.convergence, block).map_err(BuildError::Block)?;
        sink(&child.id, block).map_err(BuildError::Sink)?;
        Ok(TreeEntry { child, size })
    }

    /// Closes every open node and returns the root entry, or `None` if nothing was pushed. A tree of
    /// one leaf is that leaf.
    pub fn finish<E>(
        mut self,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<Option<TreeEntry>, BuildError<E>> {
        let mut idx = 0;
        while idx < self.levels.len() {
            let is_top = idx + 1 == self.levels.len();
            let open = self.levels.get(idx).map_or(0, Vec::len);
            if is_top && open <= 1 {
                return Ok(self.levels.get_mut(idx).and_then(Vec::pop));
            }
            if open > 0 {
                let entry = self.close(idx, sink)?;
                self.push_at(idx + 1, entry, sink)?;
            }
            idx += 1;
        }
        Ok(None)
    }
}

/// The result of encoding a file or stream: its root and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFile {
    /// The root block (a data leaf for data of at most one chunk, a tree node otherwise).
    pub root: BlockRef,
    /// Data bytes in the file.
    pub size: u64,
    /// Data leaves written (including duplicates within the file).
    pub leaves: u64,
}

/// Encodes a stream of bytes into sealed blocks: chunk, seal each chunk, build the tree.
///
/// Feed it with [`FileEncoder::write`] in pieces of any size; every sealed block goes to the sink as
/// (id, ciphertext) as soon as it is final, so memory stays bounded by a chunk and one open node per
/// level. Identical data in the same scope gives an identical root.
pub struct FileEncoder {
    chunker: Chunker,
    convergence: ConvergenceKey,
    tree: TreeBuilder,
    /// Plaintext not yet sealed; wiped on drop.
    pending: Zeroizing<Vec<u8>>,
    /// Where each chunk is framed and sealed; wiped on drop.
    block: Zeroizing<Vec<u8>>,
    size: u64,
    leaves: u64,
}

impl fmt::Debug for FileEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileEncoder")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl FileEncoder {
    /// An encoder for data of `scope`, cut with `params`.
    pub fn new(scope: &ScopeSecret, params: ChunkerParams) -> Self {
        let convergence = ConvergenceKey::derive(scope);
        FileEncoder {
            chunker: Chunker::new(params, scope),
            tree: TreeBuilder::new(convergence.clone()),
            convergence,
            // `write` keeps `pending` at most one maximal chunk long, so it never reallocates (which would
            // leave plaintext in freed memory).
            pending: Zeroizing::new(Vec::with_capacity(2 * MAX_BLOCK_LEN)),
            block: Zeroizing::new(vec![0u8; MAX_BLOCK_LEN]),
            size: 0,
            leaves: 0,
        }
    }

    /// Data bytes accepted so far.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Appends `data`, sealing every chunk that is now final.
    pub fn write<E>(
        &mut self,
        mut data: &[u8],
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<(), BuildError<E>> {
        let max = self.chunker.params().max() as usize;
        while !data.is_empty() {
            // Top the pending buffer up to one maximal chunk, then cut; a cut is final once `max`
            // bytes are in view. (`pending` is below `max` here: the loop below drains it.)
            let room = max.saturating_sub(self.pending.len()).max(1);
            let (now, later) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = later;
            while self.pending.len() >= max {
                self.emit_next(sink)?;
            }
        }
        Ok(())
    }

    /// Cuts and seals the first chunk of `pending`.
    fn emit_next<E>(
        &mut self,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<(), BuildError<E>> {
        let cut = self.chunker.cut(&self.pending);
        let chunk = self.pending.get(..cut).unwrap_or(&[]);
        let leaf = seal_leaf(&self.convergence, chunk, &mut self.block, sink)?;
        self.size = self
            .size
            .checked_add(leaf.size)
            .ok_or(BuildError::TooLarge)?;
        self.leaves += 1;
        self.pending.drain(..cut);
        self.tree.push(leaf, sink)
    }

    /// Seals what is left and the open tree nodes; returns the root.
    pub fn finish<E>(
        mut self,
        sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
    ) -> Result<EncodedFile, BuildError<E>> {
        while !self.pending.is_empty() {
            self.emit_next(sink)?;
        }
        let (size, leaves) = (self.size, self.leaves);
        match self.tree.finish(sink)? {
            Some(root) => Ok(EncodedFile {
                root: root.child,
                size,
                leaves,
            }),
            None => {
                // Empty data is one empty leaf, so that every file has a root.
                let root = seal_leaf(&self.convergence, &[], &mut self.block, sink)?;
                Ok(EncodedFile {
                    root: root.child,
                    size: 0,
                    leaves: 1,
                })
            }
        }
    }
}

/// Seals `chunk` as a data leaf via `buf` and hands it to `sink`.
fn seal_leaf<E>(
    convergence: &ConvergenceKey,
    chunk: &[u8],
    buf: &mut [u8],
    sink: &mut impl FnMut(&BlockId, &[u8]) -> Result<(), E>,
) -> Result<TreeEntry, BuildError<E>> {
    let len = 1 + chunk.len();
    let block = buf
        .get_mut(..len)
        .ok_or(BuildError::Block(BlockError::TooLarge { len }))?;
    let (kind, payload) = block.split_at_mut(1);
    kind.fill(BlockKind::Data as u8);
    payload.copy_from_slice(chunk);
    let child = seal_in_place(convergence, block).map_err(BuildError::Block)?;
    sink(&child.id, block).map_err(BuildError::Sink)?;
    Ok(TreeEntry {
        child,
        size: chunk.len() as u64,
    })
}
