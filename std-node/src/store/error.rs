//! Why a store operation failed. No variant carries a key, a label, a block id or block bytes: errors
//! end up in logs.

use gofast_core::block::BlockError;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("store I/O failed ({what}): {source}")]
    Io {
        /// What the store was doing.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The index database failed.
    #[error("the store's index failed: {0}")]
    Index(#[source] Box<redb::Error>),
    /// A block offered to `put` is not the block its id names (or is too long): it was not stored.
    #[error("block refused: {0}")]
    Block(#[source] BlockError),
    /// The storage key is not the one the store was created with.
    #[error("wrong storage key for this store")]
    WrongKey,
    /// A stored block does not authenticate or does not match its id: the disk altered it.
    #[error("stored block in arena {arena} at offset {offset} is corrupt")]
    CorruptBlock {
        /// The arena file's number.
        arena: u32,
        /// The record's offset in it.
        offset: u64,
    },
    /// A stored structure does not decode or authenticate.
    #[error("the store is corrupt ({what})")]
    Corrupt {
        /// Which structure.
        what: &'static str,
    },
    /// The index points into an arena file that is gone or whose header is unreadable.
    #[error("arena {0} is missing or unreadable")]
    ArenaUnavailable(u32),
    /// The store was written by another format version.
    #[error("store format version {found} is not supported")]
    UnsupportedFormat {
        /// The version found.
        found: u32,
    },
    /// A pin label longer than [`super::MAX_LABEL_LEN`].
    #[error("pin label of {len} bytes is longer than {max}")]
    LabelTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A configuration value out of its range.
    #[error("invalid store configuration: {0}")]
    Config(&'static str),
    /// The operating system's randomness failed.
    #[error("the OS random number generator failed")]
    Randomness,
}

macro_rules! from_redb {
    ($($t:ty),*) => {
        $(impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Index(Box::new(redb::Error::from(e)))
            }
        })*
    };
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
