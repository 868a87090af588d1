//! Key grants: how a volume's devices learn the secret of a new key epoch (`docs/spec/volume.md`).
//!
//! Removing a device from a volume starts a new epoch: the owner draws a fresh secret, and every
//! block, head and device list written from then on is sealed with keys derived from it. The
//! removed device keeps what it could read (it held the old secret), but nothing new.
//!
//! The new secret reaches the remaining devices in the owner's **grant** record: one envelope per
//! device, the secret sealed (XChaCha20-Poly1305) under a key that only the owner and that device
//! can derive: X25519 of the owner's and the device's identity keys (the same birational map of
//! Ed25519 keys the secure sessions use), hashed with the volume id, the epoch, the grant's salt and
//! both keys. Envelopes are not labelled: a device tries each (at most [`MAX_DEVICES`]), so a
//! storer of the record learns how many devices there are, not which.
//!
//! An envelope's nonce is zero: its key is used for one plaintext only. The owner draws the salt
//! together with the epoch's secret and keeps both before publishing anything, so a key (which the
//! salt is part of) never seals a second, different secret.

use crate::codec::{Reader, Writer};
use crate::crypto::aead::{TAG_LEN, XNONCE_LEN, xchacha20poly1305_open, xchacha20poly1305_seal};
use crate::crypto::hash::derive_key;
use crate::crypto::{KdfContext, SecretBytes};
use crate::identity::{KeyPair, PeerId};
use crate::record::Record;

use super::volume::{
    MAX_DEVICES, VOLUME_SECRET_LEN, VOLUME_VERSION, VolumeError, VolumeId, VolumeSecret, salt,
};

/// What a grant record's salt starts with; the volume id follows.
pub const GRANT_SALT_PREFIX: &[u8] = b"volume-keys/";
/// Bytes of a grant's salt.
pub const GRANT_SALT_LEN: usize = 16;
/// Bytes of one envelope: the sealed secret and its tag.
pub const ENVELOPE_LEN: usize = VOLUME_SECRET_LEN + TAG_LEN;
/// Bytes of a grant's value in front of its envelopes: version, epoch, salt, count.
pub const GRANT_HEADER_LEN: usize = 1 + 4 + GRANT_SALT_LEN + 1;
/// Longest grant value.
pub const MAX_GRANT_VALUE_LEN: usize = GRANT_HEADER_LEN + MAX_DEVICES * ENVELOPE_LEN;

/// The salt of volume `id`'s grant records ([`VolumeKeys::grant_salt`](super::VolumeKeys::grant_salt)).
fn grant_salt(id: &VolumeId) -> [u8; 12 + 32] {
    salt(GRANT_SALT_PREFIX, id)
}

/// One epoch's secret, as the owner grants it to the volume's devices.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    /// The record's sequence number: one more each time the owner publishes a changed grant.
    pub seq: u64,
    /// The epoch (1 or more: epoch 0's secret is the volume capability's).
    pub epoch: u32,
    /// The epoch's secret.
    pub secret: &'a VolumeSecret,
    /// Drawn with the secret, kept with it.
    pub salt: [u8; GRANT_SALT_LEN],
    /// Who gets the secret (the owner among them); 1 to [`MAX_DEVICES`].
    pub devices: &'a [PeerId],
}

/// What a grant record tells one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedGrant {
    /// The record's sequence number.
    pub seq: u64,
    /// The epoch it grants.
    pub epoch: u32,
    /// The grant's salt (kept with the secret).
    pub salt: [u8; GRANT_SALT_LEN],
    /// The epoch's secret, if the record holds an envelope for this device; `None` if it does not
    /// (a device that was removed, or not added yet).
    pub secret: Option<VolumeSecret>,
}

impl Grant<'_> {
    /// Signs the owner's grant record of volume `id`.
    pub fn sign(&self, owner: &KeyPair, id: &VolumeId) -> Result<Record, VolumeError> {
        if self.epoch == 0 || self.devices.is_empty() || self.devices.len() > MAX_DEVICES {
            return Err(VolumeError::BadDeviceList);
        }
        let count = u8::try_from(self.devices.len()).map_err(|_| VolumeError::BadDeviceList)?;
        let mut value = [0u8; MAX_GRANT_VALUE_LEN];
        let mut w = Writer::new(&mut value);
        let bad = |_| VolumeError::WrongRecord;
        w.put_u8(VOLUME_VERSION).map_err(bad)?;
        w.put_u32(self.epoch).map_err(bad)?;
        w.put_bytes(&self.salt).map_err(bad)?;
        w.put_u8(count).map_err(bad)?;
        let secret = owner.x25519_secret();
        let me = owner.peer_id();
        for device in self.devices {
            let shared = secret
                .diffie_hellman(&device.x25519_public())
                .map_err(|_| VolumeError::BadDeviceList)?;
            let key = envelope_key(&shared, id, self.epoch, &self.salt, &me, device);
            // Holds the secret in the clear until sealed: wiped however this ends.
            let mut envelope = zeroize::Zeroizing::new([0u8; ENVELOPE_LEN]);
            let (body, tag_out) = envelope.split_at_mut(VOLUME_SECRET_LEN);
            body.copy_from_slice(self.secret.0.expose());
            let tag = xchacha20poly1305_seal(&key, &[0; XNONCE_LEN], &aad(id, self.epoch), body)
                .map_err(|_| VolumeError::NotOpened)?;
            tag_out.copy_from_slice(&tag);
            w.put_bytes(envelope.as_slice()).map_err(bad)?;
        }
        let len = w.position();
        let value = value.get(..len).ok_or(VolumeError::WrongRecord)?;
        Record::sign(owner, &grant_salt(id), self.seq, value).map_err(|_| VolumeError::WrongRecord)
    }
}

impl OpenedGrant {
    /// Reads `owner`'s grant record of volume `id` as device `me`: checks it is that record, and
    /// opens the envelope sealed for `me`, if there is one.
    pub fn open(
        record: &Record,
        owner: &PeerId,
        id: &VolumeId,
        me: &KeyPair,
    ) -> Result<OpenedGrant, VolumeError> {
        if record.public_key() != owner || record.salt() != grant_salt(id).as_slice() {
            return Err(VolumeError::WrongRecord);
        }
        let mut r = Reader::new(record.value());
        let version = r.u8()?;
        if version != VOLUME_VERSION {
            return Err(VolumeError::UnsupportedVersion(version));
        }
        let epoch = r.u32()?;
        let salt: [u8; GRANT_SALT_LEN] = r.array()?;
        let count = usize::from(r.u8()?);
        if epoch == 0 || count == 0 || count > MAX_DEVICES {
            return Err(VolumeError::BadDeviceList);
        }
        let shared = me
            .x25519_secret()
            .diffie_hellman(&owner.x25519_public())
            .map_err(|_| VolumeError::WrongRecord)?;
        let key = envelope_key(&shared, id, epoch, &salt, owner, &me.peer_id());
        let mut secret = None;
        for _ in 0..count {
            let envelope: [u8; ENVELOPE_LEN] = r.array()?;
            if secret.is_some() {
                continue;
            }
            let (body, tag) = envelope.split_at(VOLUME_SECRET_LEN);
            let mut plain = SecretBytes::new([0u8; VOLUME_SECRET_LEN]);
            plain.expose_mut().copy_from_slice(body);
            let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| VolumeError::NotOpened)?;
            if xchacha20poly1305_open(
                &key,
                &[0; XNONCE_LEN],
                &aad(id, epoch),
                plain.expose_mut(),
                &tag,
            )
            .is_ok()
            {
                secret = Some(VolumeSecret(plain));
            }
        }
        r.finish()?;
        Ok(OpenedGrant {
            seq: record.seq(),
            epoch,
            salt,
            secret,
        })
    }
}

/// The key of the envelope `owner` seals for `device`.
fn envelope_key(
    shared: &SecretBytes<32>,
    id: &VolumeId,
    epoch: u32,
    salt: &[u8; GRANT_SALT_LEN],
    owner: &PeerId,
    device: &PeerId,
) -> SecretBytes<32> {
    let mut material = SecretBytes::new([0u8; 32 + 32 + 4 + GRANT_SALT_LEN + 32 + 32]);
    let mut w = Writer::new(material.expose_mut());
    // Exactly the buffer's length.
    let _ = w
        .put_bytes(shared.expose())
        .and_then(|()| w.put_bytes(&id.0))
        .and_then(|()| w.put_u32(epoch))
        .and_then(|()| w.put_bytes(salt))
        .and_then(|()| w.put_bytes(owner.as_bytes()))
        .and_then(|()| w.put_bytes(device.as_bytes()));
    derive_key(KdfContext::VolumeGrant, material.expose())
}

/// An envelope's associated data: the volume id and the epoch.
fn aad(id: &VolumeId, epoch: u32) -> [u8; 36] {
    let mut out = [0u8; 36];
    let mut w = Writer::new(&mut out);
    let _ = w.put_bytes(&id.0).and_then(|()| w.put_u32(epoch));
    out
}
