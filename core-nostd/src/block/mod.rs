//! Encrypted, content-addressed blocks: the "Venti" layer of gofast.
//!
//! A block is at most [`MAX_BLOCK_LEN`] bytes of ciphertext. Its [`BlockId`] is the BLAKE3 hash of that
//! ciphertext, so any peer can verify and cache a block it cannot read. Its [`BlockKey`] is convergent
//! within a scope: a keyed BLAKE3 of the plaintext under a key derived from the [`ScopeSecret`], so
//! identical data deduplicates inside the scope and nobody outside it can confirm a guess. A
//! [`BlockRef`] = (id, key) is both the address and the capability to read.
//!
//! Inside, the plaintext starts with one [`BlockKind`] byte: a data leaf, or a tree node that lists
//! child refs with the byte size under each, so data of any size is a Merkle tree of blocks. Data is cut
//! into leaves by a keyed FastCDC [`chunker`], and tree nodes end at content-defined points too, so an
//! edit changes only the blocks around it.
//!
//! `docs/spec/block.md` is the byte-level specification.

pub mod chunker;
mod id;
mod scope;
mod seal;
mod tree;

#[cfg(feature = "alloc")]
mod builder;
#[cfg(feature = "alloc")]
mod reader;

pub use chunker::{Chunker, ChunkerParams, ChunkerParamsError};
pub use id::{BLOCK_REF_PREFIX, BlockId, BlockKey, BlockRef, BlockRefParseError, BlockRefText};
pub use scope::{ConvergenceKey, ScopeSecret};
pub use seal::{
    Block, BlockError, open_in_place, open_verified_data_into, open_verified_in_place,
    reseal_in_place, seal_in_place, verify,
};
pub use tree::{TreeEntry, TreeEntryIter, TreeNode, encode_tree_node, is_node_boundary};

#[cfg(feature = "alloc")]
pub use builder::{BuildError, EncodedFile, FileEncoder, TreeBuilder};
#[cfg(feature = "alloc")]
pub use reader::{ReadError, read_tree};

/// Largest block, in bytes of ciphertext (equal to the framed plaintext's length).
pub const MAX_BLOCK_LEN: usize = 65_536;
/// Length of the plaintext header: the kind byte.
pub const BLOCK_HEADER_LEN: usize = 1;
/// Largest payload behind the kind byte.
pub const MAX_PAYLOAD_LEN: usize = MAX_BLOCK_LEN - BLOCK_HEADER_LEN;
/// Longest path from a root to a data leaf. The tree builder's minimum fan-out of two per node (except a
/// level's last) keeps real trees far below it; readers use it to bound their walk.
pub const MAX_TREE_DEPTH: u8 = 64;
/// Length of one child entry in a tree node: id, key, size.
pub const TREE_ENTRY_LEN: usize = 32 + 32 + 8;
/// Length of a tree node's header: level, child count.
pub const TREE_HEADER_LEN: usize = 1 + 2;
/// Most children a tree node can list within [`MAX_PAYLOAD_LEN`].
pub const MAX_TREE_CHILDREN: usize = (MAX_PAYLOAD_LEN - TREE_HEADER_LEN) / TREE_ENTRY_LEN;

/// The first plaintext byte of a block: what the rest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum BlockKind {
    /// A leaf: the payload is a piece of the data.
    Data = 0x01,
    /// A tree node: the payload lists children (see [`TreeNode`]).
    Tree = 0x02,
}

impl BlockKind {
    /// The kind named by `byte`, if any.
    pub const fn from_byte(byte: u8) -> Option<BlockKind> {
        match byte {
            0x01 => Some(BlockKind::Data),
            0x02 => Some(BlockKind::Tree),
            _ => None,
        }
    }
}
