//! Snapshots: one state of a volume, one block (`docs/spec/volume.md`).
//!
//! A snapshot names the volume's root directory and the snapshots it follows (none for the first,
//! one for an edit, two or more for a merge), so a volume's history is a chain of blocks that share
//! every unchanged block of the trees they name. The writing device signs it over the volume's id,
//! so a snapshot cannot be moved into another volume, and whoever walks the history knows who wrote
//! each step.
//!
//! ```text
//! snapshot = "GFS1" | seq: u64 | time_ns: i64 | device: [32] | root: id[32] key[32]
//!          | parents: u8 (0..=4) | ref × parents | note_len: u16 | note (UTF-8) | signature: [64]
//! ```

use core::fmt;

use crate::block::{BlockKind, BlockRef, seal_in_place};
use crate::codec::{Decode, DecodeError, Reader, Writer};
use crate::crypto::SignatureDomain;
use crate::crypto::sign::{SIGNATURE_LEN, Signature};
use crate::identity::{KeyPair, PeerId};

use super::volume::VolumeKeys;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"GFS1";
/// The most snapshots one snapshot follows.
pub const MAX_PARENTS: usize = 4;
/// The longest note.
pub const MAX_NOTE_LEN: usize = 256;
/// The longest snapshot body (what the signature covers besides the volume id).
pub const MAX_SNAPSHOT_BODY_LEN: usize =
    4 + 8 + 8 + 32 + 64 + 1 + MAX_PARENTS * 64 + 2 + MAX_NOTE_LEN;
/// The longest snapshot block: kind byte, body, signature.
pub const MAX_SNAPSHOT_BLOCK_LEN: usize = 1 + MAX_SNAPSHOT_BODY_LEN + SIGNATURE_LEN;

/// A reference to a snapshot's block (a newtype, so that a snapshot is not taken for a tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRef(pub BlockRef);

/// Why a snapshot was refused or could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SnapshotError {
    /// The bytes do not decode as a snapshot.
    Malformed(DecodeError),
    /// The signature is not the named device's over this volume's snapshot.
    BadSignature,
    /// Making one: the key is not the device's, the note is too long, or there are too many parents.
    Invalid(&'static str),
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Malformed(e) => write!(f, "malformed snapshot: {e}"),
            SnapshotError::BadSignature => f.write_str("the snapshot's signature does not verify"),
            SnapshotError::Invalid(why) => write!(f, "invalid snapshot: {why}"),
            SnapshotError::BufferTooSmall => f.write_str("buffer too small for the snapshot"),
        }
    }
}

impl core::error::Error for SnapshotError {}

impl From<DecodeError> for SnapshotError {
    fn from(e: DecodeError) -> Self {
        SnapshotError::Malformed(e)
    }
}

/// One state of a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<'a> {
    /// Its height: 1 for a first snapshot, else one more than its highest parent's.
    pub seq: u64,
    /// When it was made, nanoseconds since the Unix epoch by the writer's clock.
    pub time_ns: i64,
    /// The device that made and signed it.
    pub device: PeerId,
    /// The root directory's listing tree.
    pub root: BlockRef,
    /// The snapshots it follows, in the writer's order (the writer's own previous one first).
    pub parents: heapless::Vec<SnapshotRef, MAX_PARENTS>,
    /// What changed, for people reading the history (`put /notes/a.txt`, `merge`); free text.
    pub note: &'a str,
}

fn small(_: crate::codec::EncodeError) -> SnapshotError {
    SnapshotError::BufferTooSmall
}

impl Snapshot<'_> {
    fn write_body(&self, w: &mut Writer<'_>) -> Result<(), SnapshotError> {
        if self.note.len() > MAX_NOTE_LEN {
            return Err(SnapshotError::Invalid("the note is longer than 256 bytes"));
        }
        if self.seq == 0 || (self.seq == 1) != self.parents.is_empty() {
            return Err(SnapshotError::Invalid(
                "seq is 1 exactly for a snapshot without parents",
            ));
        }
        w.put_bytes(&SNAPSHOT_MAGIC).map_err(small)?;
        w.put_u64(self.seq).map_err(small)?;
        w.put_u64(self.time_ns.cast_unsigned()).map_err(small)?;
        w.put_bytes(self.device.as_bytes()).map_err(small)?;
        w.put_bytes(&self.root.to_bytes()).map_err(small)?;
        // At most MAX_PARENTS (4): the heapless Vec's capacity.
        w.put_u8(self.parents.len() as u8).map_err(small)?;
        for p in &self.parents {
            w.put_bytes(&p.0.to_bytes()).map_err(small)?;
        }
        w.put_bytes_u16_len(self.note.as_bytes(), MAX_NOTE_LEN)
            .map_err(small)
    }

    /// Signs the snapshot with `device` (which must be [`Self::device`]) and seals it into `block`
    /// (at least [`MAX_SNAPSHOT_BLOCK_LEN`] bytes, or the snapshot's length) in the volume's scope.
    /// Returns the block's length and its reference.
    pub fn seal(
        &self,
        device: &KeyPair,
        keys: &VolumeKeys,
        block: &mut [u8],
    ) -> Result<(usize, SnapshotRef), SnapshotError> {
        if device.peer_id() != self.device {
            return Err(SnapshotError::Invalid(
                "signed by another key than its device",
            ));
        }
        let (kind, rest) = block
            .split_first_mut()
            .ok_or(SnapshotError::BufferTooSmall)?;
        *kind = BlockKind::Data as u8;
        let mut w = Writer::new(rest);
        self.write_body(&mut w)?;
        let signature = sign_body(device, keys, w.written())?;
        w.put_bytes(&signature.0).map_err(small)?;
        let len = 1 + w.position();
        let sealed = block.get_mut(..len).ok_or(SnapshotError::BufferTooSmall)?;
        let r = seal_in_place(&keys.convergence(), sealed)
            .map_err(|_| SnapshotError::BufferTooSmall)?;
        Ok((len, SnapshotRef(r)))
    }
}

/// The message a snapshot's signature covers: the volume id, then the body.
fn signed_message<'m>(
    keys: &VolumeKeys,
    body: &[u8],
    buf: &'m mut [u8; 32 + MAX_SNAPSHOT_BODY_LEN],
) -> Result<&'m [u8], SnapshotError> {
    let mut w = Writer::new(buf);
    w.put_bytes(&keys.id().0)
        .and_then(|()| w.put_bytes(body))
        .map_err(small)?;
    let n = w.position();
    buf.get(..n).ok_or(SnapshotError::BufferTooSmall)
}

fn sign_body(device: &KeyPair, keys: &VolumeKeys, body: &[u8]) -> Result<Signature, SnapshotError> {
    let mut msg = [0u8; 32 + MAX_SNAPSHOT_BODY_LEN];
    device
        .sign(
            SignatureDomain::VolumeSnapshot,
            signed_message(keys, body, &mut msg)?,
        )
        .map_err(|_| SnapshotError::BadSignature)
}

/// Reads a snapshot of the volume from its opened block's data (the plaintext after the kind
/// byte): decodes it and checks its device's signature. Whether the device may write the volume is
/// the caller's question (the device list's).
pub fn read_snapshot<'a>(keys: &VolumeKeys, data: &'a [u8]) -> Result<Snapshot<'a>, SnapshotError> {
    let body_len = data
        .len()
        .checked_sub(SIGNATURE_LEN)
        .ok_or(DecodeError::UnexpectedEnd {
            needed: SIGNATURE_LEN,
            remaining: data.len(),
        })?;
    let (body, sig) = data.split_at(body_len);
    let mut r = Reader::new(body);
    if r.array::<4>()? != SNAPSHOT_MAGIC {
        return Err(DecodeError::InvalidValue {
            field: "snapshot.magic",
            reason: "not GFS1",
        }
        .into());
    }
    let seq = r.u64()?;
    let time_ns = r.u64()?.cast_signed();
    let device = PeerId::decode(&mut r)?;
    let root = BlockRef::decode(&mut r)?;
    let count = usize::from(r.u8()?);
    if count > MAX_PARENTS {
        return Err(DecodeError::LengthTooLarge {
            field: "snapshot.parents",
            max: MAX_PARENTS,
            found: count,
        }
        .into());
    }
    let mut parents = heapless::Vec::new();
    for _ in 0..count {
        parents
            .push(SnapshotRef(BlockRef::decode(&mut r)?))
            .map_err(|_| SnapshotError::Invalid("too many parents"))?;
    }
    let note = r.bytes_u16_len("snapshot.note", MAX_NOTE_LEN)?;
    let note = core::str::from_utf8(note).map_err(|_| DecodeError::InvalidValue {
        field: "snapshot.note",
        reason: "not UTF-8",
    })?;
    r.finish()?;
    if seq == 0 || (seq == 1) != parents.is_empty() {
        return Err(DecodeError::InvalidValue {
            field: "snapshot.seq",
            reason: "1 exactly for a snapshot without parents",
        }
        .into());
    }
    let signature = Signature(sig.try_into().map_err(|_| SnapshotError::BadSignature)?);
    let mut msg = [0u8; 32 + MAX_SNAPSHOT_BODY_LEN];
    device
        .verify(
            SignatureDomain::VolumeSnapshot,
            signed_message(keys, body, &mut msg)?,
            &signature,
        )
        .map_err(|_| SnapshotError::BadSignature)?;
    Ok(Snapshot {
        seq,
        time_ns,
        device,
        root,
        parents,
        note,
    })
}
