//! Volumes: a user's mutable file system, shared by their devices (`docs/spec/volume.md`).
//!
//! A volume is named by its owner's key and a 32-byte secret that every device of the volume holds.
//! From the secret come the volume's id (public: it names the records), the scope its blocks are
//! sealed in, and the keys that encrypt its records' values. Two kinds of signed record carry the
//! volume through the DHT:
//!
//! - the **device list**, signed by the owner: which devices may write;
//! - one **head** per device, signed by that device: the newest snapshot it wrote or merged.
//!
//! Both values are encrypted (XChaCha20-Poly1305, the nonce a keyed hash of what is sealed, so the
//! core needs no randomness and the same value always seals to the same bytes): a storer learns
//! which keys write to some volume, never a snapshot's reference or a device list's members.

use core::fmt;

use crate::block::{ConvergenceKey, ScopeSecret};
use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto::aead::{TAG_LEN, XNONCE_LEN, xchacha20poly1305_open, xchacha20poly1305_seal};
use crate::crypto::hash::{derive_key, derive_public, keyed_hash};
use crate::crypto::{KdfContext, SecretBytes};
use crate::identity::{DhtKey, KeyPair, PeerId};
use crate::record::Record;

use super::snapshot::SnapshotRef;

/// The version byte of a head's and a device list's value.
pub const VOLUME_VERSION: u8 = 1;
/// Bytes of a volume secret.
pub const VOLUME_SECRET_LEN: usize = 32;
/// The most devices a volume's list holds.
pub const MAX_DEVICES: usize = 16;
/// What a head record's salt starts with; the volume id follows.
pub const HEAD_SALT_PREFIX: &[u8] = b"volume/";
/// What a device list record's salt starts with; the volume id follows.
pub const DEVICES_SALT_PREFIX: &[u8] = b"volume-devices/";
/// Bytes a sealed value adds to its plaintext: version, epoch, nonce, tag.
pub const SEALED_OVERHEAD: usize = 1 + 4 + XNONCE_LEN + TAG_LEN;
/// Bytes of a head's plaintext: sequence number, snapshot reference.
pub const HEAD_PLAIN_LEN: usize = 8 + 64;
/// Bytes of a head record's value.
pub const HEAD_VALUE_LEN: usize = SEALED_OVERHEAD + HEAD_PLAIN_LEN;
/// Longest device list plaintext: the count, then every device.
pub const MAX_DEVICES_PLAIN_LEN: usize = 1 + MAX_DEVICES * 32;
/// Longest device list record value.
pub const MAX_DEVICES_VALUE_LEN: usize = SEALED_OVERHEAD + MAX_DEVICES_PLAIN_LEN;

/// Why a volume's record was refused or could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VolumeError {
    /// A version this build does not read.
    UnsupportedVersion(u8),
    /// The value was sealed for another epoch of the volume's keys than the one given.
    OtherEpoch {
        /// The epoch of the keys given.
        expected: u32,
        /// The epoch the value names.
        found: u32,
    },
    /// The value does not open with this volume's keys (another volume, or altered bytes).
    NotOpened,
    /// The bytes do not decode.
    Malformed(DecodeError),
    /// The record is not this volume's head or device list (another salt or another signer), or
    /// its sequence number is not the one its value names.
    WrongRecord,
    /// More than [`MAX_DEVICES`] devices, or a device listed twice.
    BadDeviceList,
}

impl fmt::Display for VolumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VolumeError::UnsupportedVersion(v) => {
                write!(f, "unsupported volume record version {v}")
            }
            VolumeError::OtherEpoch { expected, found } => write!(
                f,
                "the value is sealed for key epoch {found}, not {expected}"
            ),
            VolumeError::NotOpened => f.write_str("the value does not open with the volume's keys"),
            VolumeError::Malformed(e) => write!(f, "malformed volume record: {e}"),
            VolumeError::WrongRecord => f.write_str("the record is not this volume's"),
            VolumeError::BadDeviceList => write!(
                f,
                "a device list holds 1 to {MAX_DEVICES} devices, each once"
            ),
        }
    }
}

impl core::error::Error for VolumeError {}

impl From<DecodeError> for VolumeError {
    fn from(e: DecodeError) -> Self {
        VolumeError::Malformed(e)
    }
}

/// A volume's id: public, derived from its secret; it names the volume's records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VolumeId(pub [u8; 32]);

impl fmt::Debug for VolumeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VolumeId(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

/// What a volume's keys come from: 32 random bytes, held by every device of the volume.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VolumeSecret(pub SecretBytes<VOLUME_SECRET_LEN>);

/// Everything derived from a volume's secret, for one epoch of its keys.
#[derive(Clone)]
pub struct VolumeKeys {
    id: VolumeId,
    epoch: u32,
    scope: ScopeSecret,
    value_key: SecretBytes<32>,
    nonce_key: SecretBytes<32>,
}

impl fmt::Debug for VolumeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VolumeKeys")
            .field("id", &self.id)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl VolumeKeys {
    /// Derives the volume's keys from its secret. `epoch` names the secret among the volume's
    /// successive secrets (0 for the first; revoking a device starts a new one with a fresh secret).
    /// The id is always the first secret's: pass it as `id` for a later epoch (`None` for epoch 0).
    pub fn derive(secret: &VolumeSecret, epoch: u32, id: Option<VolumeId>) -> VolumeKeys {
        let s = secret.0.expose();
        VolumeKeys {
            id: id.unwrap_or_else(|| VolumeId(derive_public(KdfContext::VolumeId, s))),
            epoch,
            scope: ScopeSecret::from_secret(derive_key(KdfContext::VolumeScope, s)),
            value_key: derive_key(KdfContext::VolumeValueKey, s),
            nonce_key: derive_key(KdfContext::VolumeValueNonce, s),
        }
    }

    /// The volume's id.
    pub const fn id(&self) -> &VolumeId {
        &self.id
    }

    /// The epoch of these keys.
    pub const fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The scope every block of the volume (listings, file data, snapshots) is sealed in: blocks
    /// are shared between the volume's snapshots, never with other volumes.
    pub const fn scope(&self) -> &ScopeSecret {
        &self.scope
    }

    /// The convergence key of [`Self::scope`].
    pub fn convergence(&self) -> ConvergenceKey {
        ConvergenceKey::derive(&self.scope)
    }

    /// Seals `plain` as a record value into `out` (at least [`SEALED_OVERHEAD`] more bytes than
    /// `plain`): version, epoch, nonce, ciphertext, tag. `signer` is bound in as associated data,
    /// so a value copied into another key's record does not open. Returns the value's length.
    fn seal(&self, signer: &PeerId, plain: &[u8], out: &mut [u8]) -> Result<usize, VolumeError> {
        let len = SEALED_OVERHEAD + plain.len();
        let value = out.get_mut(..len).ok_or(VolumeError::WrongRecord)?;
        let (header, rest) = value.split_at_mut(1 + 4 + XNONCE_LEN);
        let (body, tag_out) = rest.split_at_mut(plain.len());
        body.copy_from_slice(plain);
        let nonce = self.nonce(signer, plain);
        let mut w = Writer::new(header);
        w.put_u8(VOLUME_VERSION)
            .and_then(|()| w.put_u32(self.epoch))
            .and_then(|()| w.put_bytes(&nonce))
            .map_err(|_| VolumeError::WrongRecord)?;
        let aad = self.aad(signer);
        let tag = xchacha20poly1305_seal(&self.value_key, &nonce, &aad, body)
            .map_err(|_| VolumeError::NotOpened)?;
        tag_out.copy_from_slice(&tag);
        Ok(len)
    }

    /// Opens a value [`Self::seal`] made for `signer`, into `out`; returns the plaintext.
    fn open<'o>(
        &self,
        signer: &PeerId,
        value: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], VolumeError> {
        let epoch = sealed_epoch(value)?;
        let mut r = Reader::new(value);
        r.take(1 + 4)?;
        if epoch != self.epoch {
            return Err(VolumeError::OtherEpoch {
                expected: self.epoch,
                found: epoch,
            });
        }
        let nonce: [u8; XNONCE_LEN] = r.array()?;
        let body_len = r
            .remaining()
            .checked_sub(TAG_LEN)
            .ok_or(DecodeError::UnexpectedEnd {
                needed: TAG_LEN,
                remaining: r.remaining(),
            })?;
        let body = r.take(body_len)?;
        let tag: [u8; TAG_LEN] = r.array()?;
        let capacity = out.len();
        let plain = out.get_mut(..body_len).ok_or(DecodeError::LengthTooLarge {
            field: "volume.value",
            max: capacity,
            found: body_len,
        })?;
        plain.copy_from_slice(body);
        xchacha20poly1305_open(&self.value_key, &nonce, &self.aad(signer), plain, &tag)
            .map_err(|_| VolumeError::NotOpened)?;
        Ok(plain)
    }

    /// A sealed value's nonce: a keyed hash of the signer and the plaintext, so equal values seal
    /// equally and different ones never share a nonce.
    fn nonce(&self, signer: &PeerId, plain: &[u8]) -> [u8; XNONCE_LEN] {
        let mut input = [0u8; 32 + 4 + MAX_DEVICES_PLAIN_LEN];
        let mut w = Writer::new(&mut input);
        // The plaintexts sealed here are at most MAX_DEVICES_PLAIN_LEN bytes (checked by callers).
        let _ = w
            .put_bytes(signer.as_bytes())
            .and_then(|()| w.put_u32(self.epoch))
            .and_then(|()| w.put_bytes(plain));
        let full = keyed_hash(&self.nonce_key, w.written());
        let mut nonce = [0u8; XNONCE_LEN];
        for (n, f) in nonce.iter_mut().zip(full) {
            *n = f;
        }
        nonce
    }

    /// Associated data of a sealed value: the volume id and the signer's key.
    fn aad(&self, signer: &PeerId) -> [u8; 64] {
        let mut aad = [0u8; 64];
        let (id, key) = aad.split_at_mut(32);
        id.copy_from_slice(&self.id.0);
        key.copy_from_slice(signer.as_bytes());
        aad
    }

    /// The salt of this volume's head records.
    pub fn head_salt(&self) -> [u8; 7 + 32] {
        salt(HEAD_SALT_PREFIX, &self.id)
    }

    /// The salt of this volume's device list record.
    pub fn devices_salt(&self) -> [u8; 15 + 32] {
        salt(DEVICES_SALT_PREFIX, &self.id)
    }

    /// Where `device`'s head of this volume lives in the DHT.
    pub fn head_key(&self, device: &PeerId) -> DhtKey {
        // The salt is 39 bytes, under the record's limit: slot_key cannot fail.
        Record::slot_key(device, &self.head_salt()).unwrap_or(DhtKey([0; 32]))
    }

    /// Where `owner`'s device list of this volume lives in the DHT.
    pub fn devices_key(&self, owner: &PeerId) -> DhtKey {
        Record::slot_key(owner, &self.devices_salt()).unwrap_or(DhtKey([0; 32]))
    }

    /// The salt of this volume's grant records ([`super::grant`]).
    pub fn grant_salt(&self) -> [u8; 12 + 32] {
        salt(super::grant::GRANT_SALT_PREFIX, &self.id)
    }

    /// Where `owner`'s grant record of this volume lives in the DHT.
    pub fn grant_key(&self, owner: &PeerId) -> DhtKey {
        // The salt is 44 bytes, under the record's limit: slot_key cannot fail.
        Record::slot_key(owner, &self.grant_salt()).unwrap_or(DhtKey([0; 32]))
    }
}

/// The key epoch a head's or a device list's sealed value names, read without opening it.
pub fn sealed_epoch(value: &[u8]) -> Result<u32, VolumeError> {
    let mut r = Reader::new(value);
    let version = r.u8()?;
    if version != VOLUME_VERSION {
        return Err(VolumeError::UnsupportedVersion(version));
    }
    Ok(r.u32()?)
}

pub(super) fn salt<const N: usize>(prefix: &[u8], id: &VolumeId) -> [u8; N] {
    let mut out = [0u8; N];
    let mut w = Writer::new(&mut out);
    // N is the prefix's length plus 32 at both call sites.
    let _ = w.put_bytes(prefix).and_then(|()| w.put_bytes(&id.0));
    out
}

/// A device's newest snapshot of a volume, as its head record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeHead {
    /// The record's sequence number: one more each time the device publishes a head.
    pub seq: u64,
    /// The snapshot.
    pub snapshot: SnapshotRef,
}

impl VolumeHead {
    /// Signs `device`'s head record of the volume.
    pub fn sign(&self, device: &KeyPair, keys: &VolumeKeys) -> Result<Record, VolumeError> {
        let mut plain = [0u8; HEAD_PLAIN_LEN];
        let mut w = Writer::new(&mut plain);
        w.put_u64(self.seq)
            .and_then(|()| w.put_bytes(&self.snapshot.0.to_bytes()))
            .map_err(|_| VolumeError::WrongRecord)?;
        let mut value = [0u8; HEAD_VALUE_LEN];
        let len = keys.seal(&device.peer_id(), &plain, &mut value)?;
        let value = value.get(..len).ok_or(VolumeError::WrongRecord)?;
        Record::sign(device, &keys.head_salt(), self.seq, value)
            .map_err(|_| VolumeError::WrongRecord)
    }

    /// The head a record names, checked to be a head of this volume (the record's signature was
    /// checked when it was decoded; whether its signer may write is the device list's business).
    pub fn from_record(record: &Record, keys: &VolumeKeys) -> Result<VolumeHead, VolumeError> {
        if record.salt() != keys.head_salt().as_slice() {
            return Err(VolumeError::WrongRecord);
        }
        let mut out = [0u8; HEAD_PLAIN_LEN];
        let plain = keys.open(record.public_key(), record.value(), &mut out)?;
        let mut r = Reader::new(plain);
        let seq = r.u64()?;
        let snapshot = SnapshotRef(crate::block::BlockRef::from_bytes(&r.array()?));
        r.finish()?;
        if seq != record.seq() {
            return Err(VolumeError::WrongRecord);
        }
        Ok(VolumeHead { seq, snapshot })
    }
}

/// The devices that may write a volume, as its owner signed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList {
    /// The record's sequence number: one more each time the owner changes the list.
    pub seq: u64,
    /// The devices, the owner among them; at most [`MAX_DEVICES`], each once.
    pub devices: heapless::Vec<PeerId, MAX_DEVICES>,
}

impl DeviceList {
    /// Whether `device` may write.
    pub fn contains(&self, device: &PeerId) -> bool {
        self.devices.contains(device)
    }

    fn check(&self) -> Result<(), VolumeError> {
        let mut seen = self.devices.iter();
        while let Some(d) = seen.next() {
            if seen.clone().any(|other| other == d) {
                return Err(VolumeError::BadDeviceList);
            }
        }
        if self.devices.is_empty() {
            return Err(VolumeError::BadDeviceList);
        }
        Ok(())
    }

    /// Signs the owner's device list record of the volume.
    pub fn sign(&self, owner: &KeyPair, keys: &VolumeKeys) -> Result<Record, VolumeError> {
        self.check()?;
        let mut plain = [0u8; MAX_DEVICES_PLAIN_LEN];
        let mut w = Writer::new(&mut plain);
        let count = u8::try_from(self.devices.len()).map_err(|_| VolumeError::BadDeviceList)?;
        w.put_u8(count).map_err(|_| VolumeError::BadDeviceList)?;
        for d in &self.devices {
            w.put_bytes(d.as_bytes())
                .map_err(|_| VolumeError::BadDeviceList)?;
        }
        let mut value = [0u8; MAX_DEVICES_VALUE_LEN];
        let len = keys.seal(&owner.peer_id(), w.written(), &mut value)?;
        let value = value.get(..len).ok_or(VolumeError::WrongRecord)?;
        Record::sign(owner, &keys.devices_salt(), self.seq, value)
            .map_err(|_| VolumeError::WrongRecord)
    }

    /// The list a record holds, checked to be `owner`'s list of this volume.
    pub fn from_record(
        record: &Record,
        owner: &PeerId,
        keys: &VolumeKeys,
    ) -> Result<DeviceList, VolumeError> {
        if record.public_key() != owner || record.salt() != keys.devices_salt().as_slice() {
            return Err(VolumeError::WrongRecord);
        }
        let mut out = [0u8; MAX_DEVICES_PLAIN_LEN];
        let plain = keys.open(owner, record.value(), &mut out)?;
        let mut r = Reader::new(plain);
        let count = usize::from(r.u8()?);
        if count > MAX_DEVICES {
            return Err(VolumeError::BadDeviceList);
        }
        let mut devices = heapless::Vec::new();
        for _ in 0..count {
            let id = PeerId::from_bytes(&r.array()?).map_err(|_| DecodeError::InvalidValue {
                field: "volume.devices",
                reason: "not a public key",
            })?;
            devices.push(id).map_err(|_| VolumeError::BadDeviceList)?;
        }
        r.finish()?;
        let list = DeviceList {
            seq: record.seq(),
            devices,
        };
        list.check()?;
        Ok(list)
    }
}

/// The text form's prefix of a [`VolumeCapability`].
pub const CAPABILITY_PREFIX: &str = "gfv";

/// What a device needs to join a volume: its owner (who signs the device list) and its secret.
/// Whoever holds it reads the volume; writing also takes a place on the owner's device list. Its
/// text form is `gfv1…` (bech32m of `owner[32] ‖ secret[32]`), a secret to hand over like a key.
#[derive(Clone, PartialEq, Eq)]
pub struct VolumeCapability {
    /// The owner's key.
    pub owner: PeerId,
    /// The volume's first secret.
    pub secret: VolumeSecret,
}

impl fmt::Debug for VolumeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VolumeCapability")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl VolumeCapability {
    /// The `gfv1…` text (a secret: show it only to whoever should have the volume).
    pub fn display_secret(&self) -> CapabilityText<'_> {
        CapabilityText(self)
    }
}

/// A [`VolumeCapability`] in text form; see [`VolumeCapability::display_secret`].
pub struct CapabilityText<'a>(&'a VolumeCapability);

impl fmt::Display for CapabilityText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = zeroize::Zeroizing::new([0u8; 64]);
        let (owner, secret) = bytes.split_at_mut(32);
        owner.copy_from_slice(self.0.owner.as_bytes());
        secret.copy_from_slice(self.0.secret.0.expose());
        crate::text::write(f, CAPABILITY_PREFIX, bytes.as_slice())
    }
}

impl fmt::Debug for CapabilityText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CapabilityText(<redacted>)")
    }
}

/// The text was not a volume capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CapabilityParseError {
    /// Not a `gfv1…` text of 64 bytes.
    Text(crate::text::TextError),
    /// The owner is not a valid public key.
    BadOwner,
}

impl fmt::Display for CapabilityParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapabilityParseError::Text(e) => write!(f, "invalid volume capability: {e}"),
            CapabilityParseError::BadOwner => {
                f.write_str("invalid volume capability: the owner is not a public key")
            }
        }
    }
}

impl core::error::Error for CapabilityParseError {}

impl core::str::FromStr for VolumeCapability {
    type Err = CapabilityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = zeroize::Zeroizing::new(
            crate::text::read::<64>(CAPABILITY_PREFIX, s).map_err(CapabilityParseError::Text)?,
        );
        let (owner, secret) = bytes.split_at(32);
        let owner: [u8; 32] = owner
            .try_into()
            .map_err(|_| CapabilityParseError::BadOwner)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(secret);
        Ok(VolumeCapability {
            owner: PeerId::from_bytes(&owner).map_err(|_| CapabilityParseError::BadOwner)?,
            secret: VolumeSecret(SecretBytes::new(key)),
        })
    }
}
