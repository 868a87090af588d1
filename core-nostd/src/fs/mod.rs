//! The file system's formats: what a directory's data is, and the mutable side built on it:
//! volumes, their snapshots and the devices that write them.

pub mod dir;
pub mod grant;
#[cfg(feature = "alloc")]
pub mod merge;
pub mod snapshot;
pub mod volume;

#[cfg(feature = "alloc")]
pub use dir::encode_listing;
pub use dir::{
    DIR_MAGIC, DirEntry, DirListing, ENTRY_FIXED_LEN, EntryKind, MAX_DIR_ENTRIES, MAX_LISTING_LEN,
    MAX_NAME_LEN, check_name,
};
pub use grant::{Grant, OpenedGrant};
pub use snapshot::{
    MAX_PARENTS, SNAPSHOT_MAGIC, Snapshot, SnapshotError, SnapshotRef, read_snapshot,
};
pub use volume::{
    CapabilityParseError, DeviceList, MAX_DEVICES, VolumeCapability, VolumeError, VolumeHead,
    VolumeId, VolumeKeys, VolumeSecret, sealed_epoch,
};
