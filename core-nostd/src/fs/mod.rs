//! The file system's formats: what a directory's data is. (Volumes, snapshots and devices, the
//! mutable side, build on these.)

pub mod dir;

#[cfg(feature = "alloc")]
pub use dir::encode_listing;
pub use dir::{
    DIR_MAGIC, DirEntry, DirListing, ENTRY_FIXED_LEN, EntryKind, MAX_DIR_ENTRIES, MAX_LISTING_LEN,
    MAX_NAME_LEN, check_name,
};
