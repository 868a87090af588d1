//! Snapshots in the store: reading one back, making one, and the pin that keeps it.

use gofast_core::block::{Block, BlockRef, open_in_place};
use gofast_core::fs::snapshot::MAX_SNAPSHOT_BLOCK_LEN;
use gofast_core::fs::{Snapshot, SnapshotRef, VolumeKeys, read_snapshot};
use gofast_core::identity::{KeyPair, PeerId};

use crate::error::{Error, ErrorKind};
use crate::node::INTERNAL_PIN;
use crate::store::{BlockStore, Class, Writer};

/// A snapshot read back, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its block.
    pub at: SnapshotRef,
    /// Its height.
    pub seq: u64,
    /// When it was made (ns since the Unix epoch, the writer's clock).
    pub time_ns: i64,
    /// Who made it.
    pub device: PeerId,
    /// The root listing.
    pub root: BlockRef,
    /// What it follows.
    pub parents: Vec<SnapshotRef>,
    /// What changed.
    pub note: String,
}

/// Reads the snapshot `at` of the volume from the store (its block must be held).
pub(super) fn load(
    store: &BlockStore,
    keys: &VolumeKeys,
    at: &SnapshotRef,
) -> Result<SnapshotInfo, Error> {
    let mut block = store.get(&at.0.id)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("snapshot {} is not held here", short_id(&at.0.id)),
        )
    })?;
    let corrupt = |why: String| {
        Error::new(
            ErrorKind::Corrupt,
            format!("snapshot {}: {why}", short_id(&at.0.id)),
        )
    };
    let data = match open_in_place(&at.0, &mut block).map_err(|e| corrupt(e.to_string()))? {
        Block::Data(d) => d,
        Block::Tree(_) => return Err(corrupt("a tree node, not a snapshot".into())),
    };
    let s = read_snapshot(keys, data).map_err(|e| corrupt(e.to_string()))?;
    Ok(SnapshotInfo {
        at: at.clone(),
        seq: s.seq,
        time_ns: s.time_ns,
        device: s.device,
        root: s.root,
        parents: s.parents.iter().cloned().collect(),
        note: s.note.to_owned(),
    })
}

/// Makes a snapshot of `root` following `parents` (the writer's own first), signed by `device`,
/// into the batch of `writer` (not flushed). Returns its reference and height.
pub(super) fn make(
    writer: &mut Writer,
    device: &KeyPair,
    keys: &VolumeKeys,
    root: &BlockRef,
    parents: &[&SnapshotInfo],
    note: &str,
) -> Result<(SnapshotRef, u64), Error> {
    let seq = parents
        .iter()
        .map(|p| p.seq)
        .max()
        .map_or(1, |s| s.saturating_add(1));
    let mut ps = heapless::Vec::new();
    for p in parents {
        ps.push(p.at.clone())
            .map_err(|_| Error::new(ErrorKind::Internal, "too many parents for a snapshot"))?;
    }
    // A note is free text: cut at a character boundary to the format's limit.
    let mut cut = note.len().min(gofast_core::fs::snapshot::MAX_NOTE_LEN);
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    let snap = Snapshot {
        seq,
        time_ns: now_ns(),
        device: device.peer_id(),
        root: root.clone(),
        parents: ps,
        note: note.get(..cut).unwrap_or(""),
    };
    let mut block = vec![0u8; MAX_SNAPSHOT_BLOCK_LEN];
    let (len, at) = snap
        .seal(device, keys, &mut block)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("making a snapshot: {e}")))?;
    block.truncate(len);
    writer.put(&at.0.id, &block, Class::Permanent)?;
    Ok((at, seq))
}

/// What every pin of the volume's snapshots starts with.
pub(super) fn pin_prefix(keys: &VolumeKeys) -> String {
    format!(
        "{INTERNAL_PIN}volume/{}/",
        hex::encode(keys.id().0.get(..8).unwrap_or_default())
    )
}

/// The pin that keeps snapshot `at` of the volume and the blocks it brought.
pub(super) fn pin_label(keys: &VolumeKeys, at: &SnapshotRef) -> String {
    format!("{}{}", pin_prefix(keys), hex::encode(at.0.id.0))
}

pub(super) use crate::node::short_id;

/// Now, in ns since the Unix epoch.
pub(super) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A snapshot in a max-heap by (height, block id): history walks take the highest first.
pub(super) struct ByHeight(pub(super) SnapshotInfo);

impl ByHeight {
    fn key(&self) -> (u64, [u8; 32]) {
        (self.0.seq, self.0.at.0.id.0)
    }
}

impl PartialEq for ByHeight {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for ByHeight {}
impl PartialOrd for ByHeight {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByHeight {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
}
