//! Reading a Merkle tree of blocks back into data (needs `alloc`).

use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroizing;

use super::tree::entry_in_plaintext;
use super::{Block, BlockError, BlockId, BlockRef, open_in_place};

/// Why reading failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError<E> {
    /// The block source failed (missing block, IO error).
    Fetch(E),
    /// The output refused the data.
    Output(E),
    /// A block failed verification, decryption or parsing.
    Block {
        /// The block at fault.
        id: BlockId,
        /// What was wrong.
        error: BlockError,
    },
    /// The tree declares more data than the caller accepts. A tree may reference one child many times,
    /// so a few small blocks can declare exabytes; the limit is checked before any data is produced.
    TooLarge {
        /// Bytes the root declares.
        declared: u64,
        /// The caller's limit.
        max: u64,
    },
    /// A block does not fit where its parent put it (wrong kind, level or size): the tree was built
    /// wrongly or on purpose to mislead.
    Inconsistent {
        /// The block at fault.
        id: BlockId,
        /// The rule it breaks.
        reason: &'static str,
    },
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Fetch(e) => write!(f, "could not fetch a block: {e}"),
            ReadError::Output(e) => write!(f, "could not write the data: {e}"),
            ReadError::Block { id, error } => write!(f, "block {id}: {error}"),
            ReadError::TooLarge { declared, max } => {
                write!(
                    f,
                    "the tree declares {declared} bytes, more than the {max} accepted"
                )
            }
            ReadError::Inconsistent { id, reason } => {
                write!(f, "block {id} does not fit its tree: {reason}")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for ReadError<E> {}

struct Open {
    plain: Zeroizing<Vec<u8>>,
    level: u8,
    next: usize,
    count: usize,
}

/// Walks the tree under `root` depth-first, verifying every block, and passes the data to `out` in
/// order. Returns the number of data bytes, which is at most `max_size`: a tree that declares more is
/// refused before any data is produced ([`ReadError::TooLarge`]). Since every child must hold what its
/// parent says, the root's size is exactly what will be read, and fetches are bounded by it too.
///
/// Each child must be what its parent says: a data leaf of the stated size under a level-1 node, a
/// node one level lower with the stated total size otherwise. Memory is one plaintext block per
/// level (the depth is bounded by the tree format).
pub fn read_tree<E>(
    root: &BlockRef,
    max_size: u64,
    mut fetch: impl FnMut(&BlockId) -> Result<Vec<u8>, E>,
    mut out: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    let mut stack: Vec<Open> = Vec::new();
    let mut total: u64 = 0;

    // Plaintext (tree nodes hold child keys) is wiped when each buffer is dropped.
    let mut plain = Zeroizing::new(fetch(&root.id).map_err(ReadError::Fetch)?);
    match open_in_place(root, &mut plain)
        .map_err(|error| ReadError::Block { id: root.id, error })?
    {
        Block::Data(data) => {
            let declared = data.len() as u64;
            if declared > max_size {
                return Err(ReadError::TooLarge {
                    declared,
                    max: max_size,
                });
            }
            out(data).map_err(ReadError::Output)?;
            return Ok(declared);
        }
        Block::Tree(node) => {
            if node.total_size() > max_size {
                return Err(ReadError::TooLarge {
                    declared: node.total_size(),
                    max: max_size,
                });
            }
            let (level, count) = (node.level(), node.len());
            stack.push(Open {
                plain,
                level,
                next: 0,
                count,
            });
        }
    }

    while let Some(top) = stack.last_mut() {
        if top.next == top.count {
            stack.pop();
            continue;
        }
        let i = top.next;
        top.next += 1;
        let parent_level = top.level;
        // The node was validated when it was pushed, so its entries can be read in place.
        let entry = entry_in_plaintext(&top.plain, i).ok_or(ReadError::Inconsistent {
            id: root.id,
            reason: "tree node entry out of range",
        })?;
        let id = entry.child.id;
        let mut child = Zeroizing::new(fetch(&id).map_err(ReadError::Fetch)?);
        match open_in_place(&entry.child, &mut child)
            .map_err(|error| ReadError::Block { id, error })?
        {
            Block::Data(data) => {
                if parent_level != 1 {
                    return Err(ReadError::Inconsistent {
                        id,
                        reason: "a data leaf below a node above level 1",
                    });
                }
                if data.len() as u64 != entry.size {
                    return Err(ReadError::Inconsistent {
                        id,
                        reason: "leaf size differs from its entry",
                    });
                }
                out(data).map_err(ReadError::Output)?;
                total += entry.size;
            }
            Block::Tree(node) => {
                if node.level() + 1 != parent_level {
                    return Err(ReadError::Inconsistent {
                        id,
                        reason: "node level is not its parent's minus one",
                    });
                }
                if node.total_size() != entry.size {
                    return Err(ReadError::Inconsistent {
                        id,
                        reason: "node size differs from its entry",
                    });
                }
                let (level, count) = (node.level(), node.len());
                stack.push(Open {
                    plain: child,
                    level,
                    next: 0,
                    count,
                });
            }
        }
    }
    Ok(total)
}
