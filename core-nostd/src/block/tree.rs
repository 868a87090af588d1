use super::{BlockError, BlockId, BlockKey, BlockKind, BlockRef};
use super::{MAX_PAYLOAD_LEN, MAX_TREE_CHILDREN, MAX_TREE_DEPTH, TREE_ENTRY_LEN, TREE_HEADER_LEN};
use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};
use crate::crypto::SecretBytes;
use core::fmt;

/// One child of a tree node: its reference and the number of data bytes beneath it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// The child block.
    pub child: BlockRef,
    /// Data bytes in the child's subtree (a leaf: its payload length). Never zero.
    pub size: u64,
}

/// A validated tree node, borrowed from a block's plaintext.
///
/// Payload layout: `level: u8` (1 = children are data leaves, n = children are nodes of level n−1),
/// `count: u16 LE`, then `count` entries of `id[32] key[32] size: u64 LE`.
#[derive(Clone, Copy)]
pub struct TreeNode<'a> {
    level: u8,
    entries: &'a [u8],
    total_size: u64,
}

impl<'a> TreeNode<'a> {
    /// Parses and validates a tree node payload (the bytes after the kind byte).
    ///
    /// Refuses: a level of 0 or above [`MAX_TREE_DEPTH`]; no children or more than
    /// [`MAX_TREE_CHILDREN`]; a length that is not exactly header + count entries; a child of size 0; a
    /// leaf child larger than [`MAX_PAYLOAD_LEN`]; sizes whose sum overflows `u64`.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let level = r.u8()?;
        if level == 0 || level > MAX_TREE_DEPTH {
            return Err(DecodeError::InvalidValue {
                field: "tree.level",
                reason: "must be 1..=64",
            });
        }
        let count = usize::from(r.u16()?);
        if count == 0 {
            return Err(DecodeError::InvalidValue {
                field: "tree.count",
                reason: "a node has at least one child",
            });
        }
        if count > MAX_TREE_CHILDREN {
            return Err(DecodeError::LengthTooLarge {
                field: "tree.count",
                max: MAX_TREE_CHILDREN,
                found: count,
            });
        }
        let entries = r.take(count * TREE_ENTRY_LEN)?;
        r.finish()?;
        let mut total_size: u64 = 0;
        for chunk in entries.chunks_exact(TREE_ENTRY_LEN) {
            let size = entry_size(chunk);
            if size == 0 {
                return Err(DecodeError::InvalidValue {
                    field: "tree.entry.size",
                    reason: "a child holds at least one byte",
                });
            }
            if level == 1 && size > MAX_PAYLOAD_LEN as u64 {
                return Err(DecodeError::InvalidValue {
                    field: "tree.entry.size",
                    reason: "a data leaf holds at most 65535 bytes",
                });
            }
            total_size = total_size
                .checked_add(size)
                .ok_or(DecodeError::InvalidValue {
                    field: "tree.entry.size",
                    reason: "sizes overflow u64",
                })?;
        }
        Ok(TreeNode {
            level,
            entries,
            total_size,
        })
    }

    /// 1 if the children are data leaves, n if they are nodes of level n−1.
    pub const fn level(&self) -> u8 {
        self.level
    }

    /// Number of children (at least one).
    pub const fn len(&self) -> usize {
        self.entries.len() / TREE_ENTRY_LEN
    }

    /// Always false: a valid node has children. Present for API symmetry with `len`.
    pub const fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Data bytes beneath this node.
    pub const fn total_size(&self) -> u64 {
        self.total_size
    }

    /// The `i`-th child.
    pub fn get(&self, i: usize) -> Option<TreeEntry> {
        let start = i.checked_mul(TREE_ENTRY_LEN)?;
        self.entries
            .get(start..start.checked_add(TREE_ENTRY_LEN)?)
            .map(entry_at)
    }

    /// The children in order.
    pub fn entries(&self) -> TreeEntryIter<'a> {
        TreeEntryIter {
            chunks: self.entries.chunks_exact(TREE_ENTRY_LEN),
        }
    }
}

/// Shows level, child count and size: the entries hold child keys, which are secrets.
impl fmt::Debug for TreeNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeNode")
            .field("level", &self.level)
            .field("children", &self.len())
            .field("total_size", &self.total_size)
            .finish()
    }
}

/// Iterator over a [`TreeNode`]'s children.
#[derive(Clone)]
pub struct TreeEntryIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for TreeEntryIter<'_> {
    type Item = TreeEntry;
    fn next(&mut self) -> Option<TreeEntry> {
        self.chunks.next().map(entry_at)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for TreeEntryIter<'_> {}

impl fmt::Debug for TreeEntryIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeEntryIter({} left)", self.chunks.len())
    }
}

/// The `i`-th entry of a tree block's validated plaintext (kind byte, header, entries).
#[cfg(feature = "alloc")]
pub(super) fn entry_in_plaintext(plain: &[u8], i: usize) -> Option<TreeEntry> {
    let start = i
        .checked_mul(TREE_ENTRY_LEN)?
        .checked_add(1 + TREE_HEADER_LEN)?;
    plain
        .get(start..start.checked_add(TREE_ENTRY_LEN)?)
        .map(entry_at)
}

/// Reads an entry from exactly [`TREE_ENTRY_LEN`] validated bytes.
fn entry_at(chunk: &[u8]) -> TreeEntry {
    let mut id = [0u8; 32];
    let mut key = [0u8; 32];
    if let Some((i, rest)) = chunk.split_first_chunk::<32>() {
        id = *i;
        if let Some((k, _)) = rest.split_first_chunk::<32>() {
            key = *k;
        }
    }
    TreeEntry {
        child: BlockRef {
            id: BlockId(id),
            key: BlockKey(SecretBytes::new(key)),
        },
        size: entry_size(chunk),
    }
}

fn entry_size(chunk: &[u8]) -> u64 {
    chunk
        .get(64..72)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Whether a node ends after the child with this id: when the id's last byte is zero (one child in 256 on
/// average). The boundary depends only on the child, so an edit moves node boundaries only near it.
pub const fn is_node_boundary(child: &BlockId) -> bool {
    child.0[31] == 0
}

/// Writes a tree node's framed plaintext (kind byte, level, count, entries) into `out`; returns its length.
pub fn encode_tree_node(
    level: u8,
    entries: &[TreeEntry],
    out: &mut [u8],
) -> Result<usize, BlockError> {
    if entries.is_empty()
        || entries.len() > MAX_TREE_CHILDREN
        || level == 0
        || level > MAX_TREE_DEPTH
    {
        return Err(BlockError::MalformedTree(DecodeError::InvalidValue {
            field: "tree",
            reason: "level must be 1..=64 and children 1..=910",
        }));
    }
    let needed = 1 + TREE_HEADER_LEN + entries.len() * TREE_ENTRY_LEN;
    let mut w = Writer::new(out);
    let too_small = |_| BlockError::BufferTooSmall { needed };
    w.put_u8(BlockKind::Tree as u8).map_err(too_small)?;
    w.put_u8(level).map_err(too_small)?;
    // Checked above: at most MAX_TREE_CHILDREN (910) entries.
    w.put_u16(u16::try_from(entries.len()).unwrap_or(u16::MAX))
        .map_err(too_small)?;
    for e in entries {
        e.encode(&mut w).map_err(too_small)?;
    }
    Ok(w.position())
}

impl Encode for TreeEntry {
    fn encoded_len(&self) -> usize {
        TREE_ENTRY_LEN
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.child.encode(w)?;
        w.put_u64(self.size)
    }
}

impl<'a> Decode<'a> for TreeEntry {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let child = BlockRef::decode(r)?;
        let size = r.u64()?;
        Ok(TreeEntry { child, size })
    }
}
