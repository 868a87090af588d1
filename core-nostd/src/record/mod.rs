//! Signed mutable records: the one mutable thing in gofast (a volume's root, a name, a mailbox head, a
//! stream head), in the manner of BitTorrent's BEP 44.
//!
//! A record is a slot — (public key, salt) — holding a value at a sequence number, signed by the key.
//! Storers keep the highest sequence they have seen and refuse anything not newer ([`Record::check_update`]).
//! A [`Record`] value in memory always carries a valid signature: the only ways to get one are
//! [`Record::sign`] and decoding, which verifies. `docs/spec/record.md` is the byte-level specification.

use core::fmt;
use heapless::Vec;

use crate::codec::{
    Decode, DecodeError, Encode, EncodeError, Message, MessageType, Reader, Writer,
};
use crate::crypto::hash::derive_public;
use crate::crypto::sign::{SIGNATURE_LEN, Signature, SignatureError, VerifyingKey};
use crate::crypto::{KdfContext, SignatureDomain};
use crate::identity::{DhtKey, KeyPair, PeerId};

/// Longest salt: it tells apart the slots of one key.
pub const MAX_SALT_LEN: usize = 64;
/// Longest value. Larger things go into blocks, and the value holds their reference.
pub const MAX_VALUE_LEN: usize = 1000;
/// Longest encoded record body (everything the signature covers after the domain).
pub const MAX_BODY_LEN: usize = 32 + 1 + MAX_SALT_LEN + 8 + 2 + MAX_VALUE_LEN;
/// Longest encoded record.
pub const MAX_RECORD_LEN: usize = MAX_BODY_LEN + SIGNATURE_LEN;

/// A signed value in the slot (public key, salt), at a sequence number.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    public_key: PeerId,
    salt: Vec<u8, MAX_SALT_LEN>,
    seq: u64,
    value: Vec<u8, MAX_VALUE_LEN>,
    signature: Signature,
}

/// Why a record could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordError {
    /// The salt exceeds [`MAX_SALT_LEN`].
    SaltTooLong {
        /// Its length.
        len: usize,
    },
    /// The value exceeds [`MAX_VALUE_LEN`].
    ValueTooLong {
        /// Its length.
        len: usize,
    },
    /// Signing failed.
    Signature(SignatureError),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::SaltTooLong { len } => {
                write!(f, "record salt of {len} bytes exceeds {MAX_SALT_LEN}")
            }
            RecordError::ValueTooLong { len } => {
                write!(f, "record value of {len} bytes exceeds {MAX_VALUE_LEN}")
            }
            RecordError::Signature(e) => write!(f, "record signature: {e}"),
        }
    }
}

impl core::error::Error for RecordError {}

/// Why a storer refuses to replace its record with an offered one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UpdateError {
    /// The offered record is for another slot (other key or salt).
    DifferentSlot,
    /// The offered sequence is lower than the stored one.
    Stale {
        /// The stored sequence.
        current: u64,
        /// The offered sequence.
        offered: u64,
    },
    /// The offered record is the stored one.
    Duplicate,
    /// Same sequence, different value: the key signed two values for one sequence number. Both are
    /// validly signed; keep the stored one and treat the pair as evidence of equivocation.
    Conflict {
        /// The sequence signed twice.
        seq: u64,
    },
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::DifferentSlot => f.write_str("record is for another key or salt"),
            UpdateError::Stale { current, offered } => {
                write!(
                    f,
                    "record sequence {offered} is older than the stored {current}"
                )
            }
            UpdateError::Duplicate => f.write_str("record is already stored"),
            UpdateError::Conflict { seq } => {
                write!(f, "two different values were signed with sequence {seq}")
            }
        }
    }
}

impl core::error::Error for UpdateError {}

impl Record {
    /// Signs `value` into the slot (`keypair`'s key, `salt`) at sequence `seq`.
    pub fn sign(
        keypair: &KeyPair,
        salt: &[u8],
        seq: u64,
        value: &[u8],
    ) -> Result<Record, RecordError> {
        let salt =
            Vec::from_slice(salt).map_err(|_| RecordError::SaltTooLong { len: salt.len() })?;
        let value =
            Vec::from_slice(value).map_err(|_| RecordError::ValueTooLong { len: value.len() })?;
        let mut record = Record {
            public_key: keypair.peer_id(),
            salt,
            seq,
            value,
            signature: Signature([0; 64]),
        };
        let mut body = [0u8; MAX_BODY_LEN];
        let len = record.encode_body(&mut body);
        record.signature = keypair
            .sign(SignatureDomain::Record, body.get(..len).unwrap_or(&[]))
            .map_err(RecordError::Signature)?;
        Ok(record)
    }

    /// The key that signed the record and owns its slot.
    pub const fn public_key(&self) -> &PeerId {
        &self.public_key
    }
    /// The salt that names the slot among the key's slots.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }
    /// The sequence number; higher replaces lower.
    pub const fn seq(&self) -> u64 {
        self.seq
    }
    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
    /// The Ed25519 signature over the domain and body.
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Where the slot lives in the DHT: `derive("… record dht key", public key || salt)`.
    pub fn dht_key(&self) -> DhtKey {
        slot_key_of(&self.public_key, &self.salt)
    }

    /// The DHT key of the slot (`public_key`, `salt`), for looking a record up before having it. A salt
    /// longer than [`MAX_SALT_LEN`] names no slot and is refused.
    pub fn slot_key(public_key: &PeerId, salt: &[u8]) -> Result<DhtKey, RecordError> {
        let salt: Vec<u8, MAX_SALT_LEN> =
            Vec::from_slice(salt).map_err(|_| RecordError::SaltTooLong { len: salt.len() })?;
        Ok(slot_key_of(public_key, &salt))
    }

    /// Whether a storer holding `self` should replace it with `offered` (both already verified).
    ///
    /// Only a strictly higher sequence replaces; a lower one is [`UpdateError::Stale`], the same record
    /// [`UpdateError::Duplicate`], and the same sequence with another value [`UpdateError::Conflict`].
    pub fn check_update(&self, offered: &Record) -> Result<(), UpdateError> {
        if self.public_key != offered.public_key || self.salt != offered.salt {
            return Err(UpdateError::DifferentSlot);
        }
        match offered.seq.cmp(&self.seq) {
            core::cmp::Ordering::Greater => Ok(()),
            core::cmp::Ordering::Less => Err(UpdateError::Stale {
                current: self.seq,
                offered: offered.seq,
            }),
            core::cmp::Ordering::Equal if self.value == offered.value => {
                Err(UpdateError::Duplicate)
            }
            core::cmp::Ordering::Equal => {
                warn!(
                    "record conflict: one key signed two values at sequence {}",
                    self.seq
                );
                Err(UpdateError::Conflict { seq: self.seq })
            }
        }
    }

    /// Writes the signed body into `buf` (which holds [`MAX_BODY_LEN`]); returns its length.
    fn encode_body(&self, buf: &mut [u8; MAX_BODY_LEN]) -> usize {
        let mut w = Writer::new(buf);
        // Cannot fail: the fields are bounded by their types and the buffer holds the largest body.
        let _ = self.write_body(&mut w);
        w.position()
    }

    fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.public_key.encode(w)?;
        w.put_bytes_u8_len(&self.salt, MAX_SALT_LEN)?;
        w.put_u64(self.seq)?;
        w.put_bytes_u16_len(&self.value, MAX_VALUE_LEN)
    }

    fn body_len(&self) -> usize {
        32 + 1 + self.salt.len() + 8 + 2 + self.value.len()
    }
}

/// `derive("… record dht key", public key || salt)` for a salt already known to be in bounds.
fn slot_key_of(public_key: &PeerId, salt: &Vec<u8, MAX_SALT_LEN>) -> DhtKey {
    let mut material = [0u8; 32 + MAX_SALT_LEN];
    let (pk, rest) = material.split_at_mut(32);
    pk.copy_from_slice(public_key.as_bytes());
    rest.iter_mut().zip(salt.iter()).for_each(|(d, s)| *d = *s);
    DhtKey(derive_public(
        KdfContext::RecordDhtKey,
        material.get(..32 + salt.len()).unwrap_or(&[]),
    ))
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value may be a capability (a block reference): show its length, not its bytes.
        f.debug_struct("Record")
            .field("public_key", &self.public_key.short())
            .field("salt_len", &self.salt.len())
            .field("seq", &self.seq)
            .field("value_len", &self.value.len())
            .finish_non_exhaustive()
    }
}

impl Encode for Record {
    fn encoded_len(&self) -> usize {
        self.body_len() + SIGNATURE_LEN
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.write_body(w)?;
        w.put_bytes(&self.signature.0)
    }
}

impl<'a> Decode<'a> for Record {
    /// Decodes and verifies: a record that does not verify is [`DecodeError::BadSignature`].
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let start = r.rest();
        // Validate the key once and verify with it (PeerId::verify would decompress the point again).
        let key = VerifyingKey::from_bytes(&r.array()?).map_err(|_| DecodeError::InvalidValue {
            field: "record.public_key",
            reason: "not a valid Ed25519 public key of large order",
        })?;
        let public_key = PeerId::from_verifying_key(&key);
        let salt = r.bytes_u8_len("record.salt", MAX_SALT_LEN)?;
        let seq = r.u64()?;
        let value = r.bytes_u16_len("record.value", MAX_VALUE_LEN)?;
        let body = start.get(..start.len() - r.remaining()).unwrap_or(&[]);
        let signature = Signature(r.array()?);
        key.verify(SignatureDomain::Record, body, &signature)
            .map_err(|_| DecodeError::BadSignature)?;
        Ok(Record {
            public_key,
            // The length checks above guarantee both fit.
            salt: Vec::from_slice(salt).map_err(|_| DecodeError::LengthTooLarge {
                field: "record.salt",
                max: MAX_SALT_LEN,
                found: salt.len(),
            })?,
            seq,
            value: Vec::from_slice(value).map_err(|_| DecodeError::LengthTooLarge {
                field: "record.value",
                max: MAX_VALUE_LEN,
                found: value.len(),
            })?,
            signature,
        })
    }
}

impl Message for Record {
    const TYPE: MessageType = MessageType::Record;
}
