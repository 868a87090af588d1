//! Streams: what a sensor publishes. A stream is a chain of signed entries, each one block whose
//! plaintext names the previous entry's block, and a signed record (the stream's head) that names
//! the newest entry. Anyone holding the head record reads the whole chain back and checks every
//! entry's signature, sequence number and link; the publisher's key is the record's. Layout and
//! rules: `docs/spec/stream.md`.
//!
//! Entries are sealed in a scope derived from the publisher and the stream's name (public: a
//! stream is readable by whoever reads its head record, which the DHT serves to anyone).

use core::fmt;

use crate::block::{BlockKind, BlockRef, ConvergenceKey, ScopeSecret, seal_in_place};
use crate::codec::{Decode, DecodeError, Reader, Writer};
use crate::crypto::hash::derive_key;
use crate::crypto::sign::{SIGNATURE_LEN, Signature};
use crate::crypto::{KdfContext, SignatureDomain};
use crate::identity::{DhtKey, KeyPair, PeerId};
use crate::record::{Record, RecordError};

/// The version byte of an entry and of a head value.
pub const STREAM_VERSION: u8 = 1;
/// Longest stream name.
pub const MAX_NAME_LEN: usize = 32;
/// Longest reading in one entry.
pub const MAX_READING_LEN: usize = 256;
/// What a head record's salt starts with; the stream's name follows.
pub const SALT_PREFIX: &[u8] = b"stream/";
/// Bytes of a head record's value: version, sequence, entry reference.
pub const HEAD_LEN: usize = 1 + 8 + 64;
/// Longest entry plaintext (without the block's kind byte): version, sequence, time, the previous
/// entry (flag and reference), the reading with its length, the signature.
pub const MAX_ENTRY_LEN: usize = 1 + 8 + 8 + 1 + 64 + 2 + MAX_READING_LEN + SIGNATURE_LEN;
/// Longest sealed entry block (kind byte and entry).
pub const MAX_ENTRY_BLOCK_LEN: usize = 1 + MAX_ENTRY_LEN;

/// Why a stream's entry or head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamError {
    /// The name is empty or longer than [`MAX_NAME_LEN`].
    BadName,
    /// The reading is longer than [`MAX_READING_LEN`].
    ReadingTooLong,
    /// The output buffer is shorter than the entry.
    BufferTooSmall,
    /// A version this build does not read.
    UnsupportedVersion(u8),
    /// The bytes do not decode as an entry or a head.
    Malformed(DecodeError),
    /// The entry's signature is not the publisher's over this stream's entry.
    BadSignature,
    /// The entry is not the one the chain expects (its sequence number, or its first entry names
    /// a previous one).
    OutOfSequence {
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The head record is not a stream head (another salt) or could not be made.
    NotAHead,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::BadName => write!(f, "a stream name is 1 to {MAX_NAME_LEN} bytes"),
            StreamError::ReadingTooLong => {
                write!(f, "a reading is at most {MAX_READING_LEN} bytes")
            }
            StreamError::BufferTooSmall => f.write_str("buffer too small for the entry"),
            StreamError::UnsupportedVersion(v) => write!(f, "unsupported stream version {v}"),
            StreamError::Malformed(e) => write!(f, "malformed stream entry: {e}"),
            StreamError::BadSignature => f.write_str("stream entry signature does not verify"),
            StreamError::OutOfSequence { expected, found } => write!(
                f,
                "stream entry out of sequence: expected {expected}, found {found}"
            ),
            StreamError::NotAHead => f.write_str("the record is not a stream head"),
        }
    }
}

impl core::error::Error for StreamError {}

impl From<DecodeError> for StreamError {
    fn from(e: DecodeError) -> Self {
        StreamError::Malformed(e)
    }
}

/// One reading of a stream, as its entry carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Its place in the stream: 1 for the first entry, then one more each time.
    pub seq: u64,
    /// When it was taken, in milliseconds of the publisher's clock (a device without a wall clock
    /// counts from its boot).
    pub time_ms: u64,
    /// The previous entry (none for the first).
    pub prev: Option<BlockRef>,
    /// The reading (at most [`MAX_READING_LEN`] bytes; its meaning is the stream's).
    pub reading: &'a [u8],
}

/// The newest entry of a stream, as its head record's value says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The newest entry's sequence number (also the record's).
    pub seq: u64,
    /// The newest entry's block.
    pub entry: BlockRef,
}

fn check_name(name: &[u8]) -> Result<(), StreamError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(StreamError::BadName);
    }
    Ok(())
}

/// The head record's salt of stream `name`: [`SALT_PREFIX`] then the name.
pub fn head_salt(name: &[u8]) -> Result<heapless::Vec<u8, { 7 + MAX_NAME_LEN }>, StreamError> {
    check_name(name)?;
    let mut salt = heapless::Vec::new();
    salt.extend_from_slice(SALT_PREFIX)
        .and_then(|()| salt.extend_from_slice(name))
        .map_err(|_| StreamError::BadName)?;
    Ok(salt)
}

/// Where `publisher`'s stream `name` has its head record in the DHT.
pub fn head_key(publisher: &PeerId, name: &[u8]) -> Result<DhtKey, StreamError> {
    Record::slot_key(publisher, &head_salt(name)?).map_err(|_| StreamError::BadName)
}

/// The scope the entries of `publisher`'s stream `name` are sealed in (`name` checked by the caller).
fn scope(publisher: &PeerId, name: &[u8]) -> Result<ConvergenceKey, StreamError> {
    let mut material = [0u8; 32 + 1 + MAX_NAME_LEN];
    let mut w = Writer::new(&mut material);
    w.put_bytes(publisher.as_bytes())
        .map_err(|_| StreamError::BadName)?;
    put_name(&mut w, name)?;
    w.put_bytes(name).map_err(|_| StreamError::BadName)?;
    Ok(ConvergenceKey::derive(&ScopeSecret::from_secret(
        derive_key(KdfContext::StreamScope, w.written()),
    )))
}

/// Writes the name's length byte (the name is 1 to [`MAX_NAME_LEN`] bytes).
fn put_name(w: &mut Writer<'_>, name: &[u8]) -> Result<(), StreamError> {
    let len = u8::try_from(name.len()).map_err(|_| StreamError::BadName)?;
    w.put_u8(len).map_err(|_| StreamError::BadName)
}

/// Writes the signed part of an entry (everything but the signature).
fn write_body(w: &mut Writer<'_>, entry: &Entry<'_>) -> Result<(), StreamError> {
    let small = |_| StreamError::BufferTooSmall;
    w.put_u8(STREAM_VERSION).map_err(small)?;
    w.put_u64(entry.seq).map_err(small)?;
    w.put_u64(entry.time_ms).map_err(small)?;
    match &entry.prev {
        Some(prev) => {
            w.put_u8(1).map_err(small)?;
            w.put_bytes(&prev.id.0).map_err(small)?;
            w.put_bytes(prev.key.0.expose()).map_err(small)?;
        }
        None => w.put_u8(0).map_err(small)?,
    }
    // The reading's length was checked by the caller: only the buffer can be short here.
    w.put_bytes_u16_len(entry.reading, MAX_READING_LEN)
        .map_err(small)
}

/// What an entry's signature covers: the stream's name with its length, then the entry's body.
fn signed_message<'m>(
    name: &[u8],
    body: &[u8],
    buf: &'m mut [u8; 1 + MAX_NAME_LEN + MAX_ENTRY_LEN],
) -> Result<&'m [u8], StreamError> {
    let mut w = Writer::new(buf);
    put_name(&mut w, name)?;
    w.put_bytes(name)
        .and_then(|()| w.put_bytes(body))
        .map_err(|_| StreamError::BufferTooSmall)?;
    let n = w.position();
    buf.get(..n).ok_or(StreamError::BufferTooSmall)
}

/// Makes the block of `entry` of `key`'s stream `name`: signs it and seals it into `block` (at
/// least [`MAX_ENTRY_BLOCK_LEN`] bytes, or the entry's length). Returns the block's length and its
/// reference (which the next entry and the head record name).
pub fn seal_entry(
    key: &KeyPair,
    name: &[u8],
    entry: &Entry<'_>,
    block: &mut [u8],
) -> Result<(usize, BlockRef), StreamError> {
    check_name(name)?;
    if entry.reading.len() > MAX_READING_LEN {
        return Err(StreamError::ReadingTooLong);
    }
    let (kind, rest) = block.split_first_mut().ok_or(StreamError::BufferTooSmall)?;
    *kind = BlockKind::Data as u8;
    let mut w = Writer::new(rest);
    write_body(&mut w, entry)?;
    let mut msg = [0u8; 1 + MAX_NAME_LEN + MAX_ENTRY_LEN];
    let signature = key
        .sign(
            SignatureDomain::StreamEntry,
            signed_message(name, w.written(), &mut msg)?,
        )
        .map_err(|_| StreamError::BadSignature)?;
    w.put_bytes(&signature.0)
        .map_err(|_| StreamError::BufferTooSmall)?;
    let len = 1 + w.position();
    let sealed = block.get_mut(..len).ok_or(StreamError::BufferTooSmall)?;
    let r = seal_in_place(&scope(&key.peer_id(), name)?, sealed)
        .map_err(|_| StreamError::BufferTooSmall)?;
    Ok((len, r))
}

/// Reads an entry of `publisher`'s stream `name` from its opened block's data (the block's
/// plaintext after the kind byte): decodes it and checks its signature.
pub fn read_entry<'a>(
    publisher: &PeerId,
    name: &[u8],
    data: &'a [u8],
) -> Result<Entry<'a>, StreamError> {
    check_name(name)?;
    let body_len = data
        .len()
        .checked_sub(SIGNATURE_LEN)
        .ok_or(StreamError::Malformed(DecodeError::UnexpectedEnd {
            needed: SIGNATURE_LEN,
            remaining: data.len(),
        }))?;
    let (body, sig) = data.split_at(body_len);
    let mut r = Reader::new(body);
    let version = r.u8()?;
    if version != STREAM_VERSION {
        return Err(StreamError::UnsupportedVersion(version));
    }
    let seq = r.u64()?;
    let time_ms = r.u64()?;
    let prev = match r.u8()? {
        0 => None,
        1 => Some(BlockRef::decode(&mut r)?),
        tag => {
            return Err(StreamError::Malformed(DecodeError::InvalidTag {
                field: "stream.entry.prev",
                tag,
            }));
        }
    };
    let reading = r.bytes_u16_len("stream.entry.reading", MAX_READING_LEN)?;
    r.finish()?;
    let signature = Signature(sig.try_into().map_err(|_| StreamError::BadSignature)?);
    let mut msg = [0u8; 1 + MAX_NAME_LEN + MAX_ENTRY_LEN];
    publisher
        .verify(
            SignatureDomain::StreamEntry,
            signed_message(name, body, &mut msg)?,
            &signature,
        )
        .map_err(|_| StreamError::BadSignature)?;
    if (seq == 1) != prev.is_none() || seq == 0 {
        return Err(StreamError::OutOfSequence {
            expected: if prev.is_none() { 1 } else { seq.max(2) },
            found: seq,
        });
    }
    Ok(Entry {
        seq,
        time_ms,
        prev,
        reading,
    })
}

impl Head {
    /// The head record's value.
    pub fn to_bytes(&self) -> [u8; HEAD_LEN] {
        let mut out = [0u8; HEAD_LEN];
        let mut w = Writer::new(&mut out);
        // HEAD_LEN is exactly these fields: nothing can fail.
        let _ = w
            .put_u8(STREAM_VERSION)
            .and_then(|()| w.put_u64(self.seq))
            .and_then(|()| w.put_bytes(&self.entry.id.0))
            .and_then(|()| w.put_bytes(self.entry.key.0.expose()));
        out
    }

    /// Signs the head record of `key`'s stream `name` pointing at this entry.
    pub fn sign(&self, key: &KeyPair, name: &[u8]) -> Result<Record, StreamError> {
        Record::sign(key, &head_salt(name)?, self.seq, &self.to_bytes())
            .map_err(|_: RecordError| StreamError::NotAHead)
    }

    /// The head a stream's record names, checked to be the head of stream `name` (a record's own
    /// signature is checked when it is decoded).
    pub fn from_record(record: &Record, name: &[u8]) -> Result<Head, StreamError> {
        if record.salt() != head_salt(name)?.as_slice() {
            return Err(StreamError::NotAHead);
        }
        let mut r = Reader::new(record.value());
        let version = r.u8()?;
        if version != STREAM_VERSION {
            return Err(StreamError::UnsupportedVersion(version));
        }
        let seq = r.u64()?;
        let entry = BlockRef::decode(&mut r)?;
        r.finish()?;
        if seq != record.seq() {
            return Err(StreamError::OutOfSequence {
                expected: record.seq(),
                found: seq,
            });
        }
        Ok(Head { seq, entry })
    }
}
