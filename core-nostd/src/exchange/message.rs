//! The block-exchange messages: WANT, CANCEL, WANT_HAVE, HAVE, DONT_HAVE, BLOCK, WANT_DELTA, DELTA.
//!
//! Each is one top-level message (type `Exchange`, behind the codec's header): a kind byte, then
//! either a list of 1..=[`MAX_IDS`] block ids, one block (its id and 1..=[`MAX_BLOCK_LEN`] bytes of
//! ciphertext), a list of 1..=[`MAX_DELTA_WANTS`] delta requests (a block's reference and the
//! references of 1..=[`MAX_DELTA_BASES`] blocks to build it from), or one delta (the id of the block
//! it rebuilds and 1..=[`MAX_BLOCK_LEN`] bytes). There is no request id: every answer names the block it is about, and a block
//! proves itself by hashing to its id. The byte layout is `docs/spec/exchange.md`.

use crate::block::{BlockId, BlockRef, MAX_BLOCK_LEN};
use crate::codec::{
    Decode, DecodeError, Encode, EncodeError, FORMAT_VERSION, MESSAGE_HEADER_LEN, Message,
    MessageType, Reader, Writer,
};

/// Most block ids in one Want / Cancel / DontHave / WantHave / Have.
///
/// 64 ids are 2 KiB on the wire, small next to one block, and a list of this size fits a
/// microcontroller's stack. The count is one byte; larger values are refused before any id is read.
pub const MAX_IDS: usize = 64;

/// Most delta requests in one `WantDelta`: the longest such message (1,930 bytes) stays under the
/// longest id list's.
pub const MAX_DELTA_WANTS: usize = 6;
/// Most blocks one delta is built from.
pub const MAX_DELTA_BASES: usize = 4;

/// One delta request: send `target` as a delta against `bases` (their framed plaintexts, in this
/// order, concatenated), or as the block itself. It carries read keys: ask only a peer that may
/// read these blocks anyway (the one that made them). `Debug` shows ids only.
#[derive(Clone, PartialEq, Eq)]
pub struct DeltaWant {
    /// The block wanted.
    pub target: BlockRef,
    /// Blocks the asker holds that resemble it (1..=[`MAX_DELTA_BASES`]).
    pub bases: heapless::Vec<BlockRef, MAX_DELTA_BASES>,
}

impl core::fmt::Debug for DeltaWant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut bases: heapless::Vec<BlockId, MAX_DELTA_BASES> = heapless::Vec::new();
        for b in &self.bases {
            let _ = bases.push(b.id);
        }
        f.debug_struct("DeltaWant")
            .field("target", &self.target.id)
            .field("bases", &bases)
            .finish()
    }
}

/// Bytes of a `Block` message in front of its data: the message header, the kind byte, the block id
/// and the data length (`u32`). What [`encode_block_header`] writes.
pub const BLOCK_MESSAGE_HEADER_LEN: usize = MESSAGE_HEADER_LEN + 1 + 32 + 4;

/// Longest encoded exchange message (header included): a Block with [`MAX_BLOCK_LEN`] bytes of data
/// plus its fields. Every list message is shorter (at most `2 + 1 + 1 + 64 × 32 = 2052` bytes).
pub const MAX_EXCHANGE_MESSAGE_LEN: usize = BLOCK_MESSAGE_HEADER_LEN + MAX_BLOCK_LEN;

/// A block-exchange message.
///
/// The encoder refuses what the decoder would refuse (an empty id list, a block of 0 or more than
/// [`MAX_BLOCK_LEN`] bytes) with an [`EncodeError`], so encode such values with
/// [`crate::codec::encode_message`], which reports it, rather than `encode_to_vec`, which assumes
/// success.
#[derive(Clone, PartialEq, Eq)]
pub enum ExchangeMessage<'a> {
    /// Send me these blocks (each answered by Block or DontHave, in any order).
    Want {
        /// The blocks wanted (1..=[`MAX_IDS`]).
        ids: heapless::Vec<BlockId, MAX_IDS>,
    },
    /// I no longer want these (answers in flight may still arrive).
    Cancel {
        /// The blocks no longer wanted (1..=[`MAX_IDS`]).
        ids: heapless::Vec<BlockId, MAX_IDS>,
    },
    /// Which of these do you hold? (answered by Have and/or DontHave)
    WantHave {
        /// The blocks asked about (1..=[`MAX_IDS`]).
        ids: heapless::Vec<BlockId, MAX_IDS>,
    },
    /// I hold these.
    Have {
        /// The blocks held (1..=[`MAX_IDS`]).
        ids: heapless::Vec<BlockId, MAX_IDS>,
    },
    /// I do not hold these.
    DontHave {
        /// The blocks not held (1..=[`MAX_IDS`]).
        ids: heapless::Vec<BlockId, MAX_IDS>,
    },
    /// A block: its id and its ciphertext (1..=MAX_BLOCK_LEN bytes). The decoder checks the length
    /// only; the receiver checks the id with `block::verify` before it stores or forwards it.
    Block {
        /// The id the sender claims for `data`.
        id: BlockId,
        /// The block's ciphertext, borrowed from the input.
        data: &'a [u8],
    },
    /// Send me these blocks, each as a delta against the blocks named with it if you can (each
    /// answered by Delta, Block or DontHave, in any order).
    WantDelta {
        /// The requests (1..=[`MAX_DELTA_WANTS`]).
        wants: heapless::Vec<DeltaWant, MAX_DELTA_WANTS>,
    },
    /// A block as a delta (librsync's format) against the bases its request named: applied to
    /// their plaintexts it gives the block's framed plaintext, which the receiver seals with the
    /// block's key and checks against `id`.
    Delta {
        /// The block it rebuilds.
        id: BlockId,
        /// The delta (1..=MAX_BLOCK_LEN bytes), borrowed from the input.
        data: &'a [u8],
    },
}

// Kind bytes (docs/spec/exchange.md). Never reused.
const WANT: u8 = 1;
const CANCEL: u8 = 2;
const WANT_HAVE: u8 = 3;
const HAVE: u8 = 4;
const DONT_HAVE: u8 = 5;
const BLOCK: u8 = 6;
const WANT_DELTA: u8 = 7;
const DELTA: u8 = 8;

const IDS_FIELD: &str = "exchange.ids";
const DATA_FIELD: &str = "exchange.block.data";
const WANTS_FIELD: &str = "exchange.want_delta.wants";
const BASES_FIELD: &str = "exchange.want_delta.bases";

impl ExchangeMessage<'_> {
    /// The ids of an id-list message, `None` for the others.
    pub fn ids(&self) -> Option<&[BlockId]> {
        match self {
            ExchangeMessage::Want { ids }
            | ExchangeMessage::Cancel { ids }
            | ExchangeMessage::WantHave { ids }
            | ExchangeMessage::Have { ids }
            | ExchangeMessage::DontHave { ids } => Some(ids),
            ExchangeMessage::Block { .. }
            | ExchangeMessage::WantDelta { .. }
            | ExchangeMessage::Delta { .. } => None,
        }
    }

    fn kind(&self) -> u8 {
        match self {
            ExchangeMessage::Want { .. } => WANT,
            ExchangeMessage::Cancel { .. } => CANCEL,
            ExchangeMessage::WantHave { .. } => WANT_HAVE,
            ExchangeMessage::Have { .. } => HAVE,
            ExchangeMessage::DontHave { .. } => DONT_HAVE,
            ExchangeMessage::Block { .. } => BLOCK,
            ExchangeMessage::WantDelta { .. } => WANT_DELTA,
            ExchangeMessage::Delta { .. } => DELTA,
        }
    }
}

/// The encoder's side of the decoder's rules on a block's length, shared by the message encoder and
/// [`encode_block_header`] so that the two cannot disagree.
fn check_data_len(len: usize) -> Result<u32, EncodeError> {
    if len == 0 {
        return Err(EncodeError::InvalidValue {
            field: DATA_FIELD,
            reason: "a block is at least one byte",
        });
    }
    if len > MAX_BLOCK_LEN {
        return Err(EncodeError::TooLong {
            max: MAX_BLOCK_LEN,
            len,
        });
    }
    // MAX_BLOCK_LEN (65,536) fits a u32; it does not fit a u16, hence the wider prefix.
    u32::try_from(len).map_err(|_| EncodeError::TooLong {
        max: MAX_BLOCK_LEN,
        len,
    })
}

/// The kind byte, id and length of a Block (or a Delta), everything in front of its data.
fn put_block_fields(
    w: &mut Writer<'_>,
    kind: u8,
    id: &BlockId,
    len: u32,
) -> Result<(), EncodeError> {
    w.put_u8(kind)?;
    w.put_bytes(&id.0)?;
    w.put_u32(len)
}

/// Writes the message header and fields of a `Block` message up to, not including, its data, and
/// returns the bytes written ([`BLOCK_MESSAGE_HEADER_LEN`]).
///
/// For every valid `id` and `data`, the header followed by `data` is byte for byte
/// `encode_message(&ExchangeMessage::Block { id, data })`: a sender writes the header and then the
/// block straight from where it lies (a store, a memory map), without copying the block into a
/// message buffer. Refuses `data_len` 0 ([`EncodeError::InvalidValue`]) and above
/// [`MAX_BLOCK_LEN`] ([`EncodeError::TooLong`]), as the message encoder does.
pub fn encode_block_header(
    id: &BlockId,
    data_len: usize,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let len = check_data_len(data_len)?;
    let mut w = Writer::new(out);
    w.put_u8(FORMAT_VERSION)?;
    w.put_u8(MessageType::Exchange as u8)?;
    put_block_fields(&mut w, BLOCK, id, len)?;
    Ok(w.position())
}

impl Encode for ExchangeMessage<'_> {
    fn encoded_len(&self) -> usize {
        match self {
            ExchangeMessage::Block { data, .. } | ExchangeMessage::Delta { data, .. } => {
                1 + 32 + 4 + data.len()
            }
            ExchangeMessage::WantDelta { wants } => {
                1 + 1
                    + wants
                        .iter()
                        .map(|w| 64 + 1 + 64 * w.bases.len())
                        .sum::<usize>()
            }
            _ => 1 + 1 + 32 * self.ids().map_or(0, <[BlockId]>::len),
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            ExchangeMessage::Block { id, data } | ExchangeMessage::Delta { id, data } => {
                let len = check_data_len(data.len())?;
                put_block_fields(w, self.kind(), id, len)?;
                return w.put_bytes(data);
            }
            ExchangeMessage::WantDelta { wants } => return encode_wants(wants, w),
            _ => {}
        }
        let ids = self.ids().unwrap_or_default();
        // The decoder refuses an empty list (a message that asks or says nothing is a peer's
        // mistake, or a way to make us do work for nothing); so does the encoder, rather than write
        // bytes no peer accepts.
        if ids.is_empty() {
            return Err(EncodeError::InvalidValue {
                field: IDS_FIELD,
                reason: "an id list holds at least one id",
            });
        }
        w.put_u8(self.kind())?;
        // A heapless list holds at most MAX_IDS (64), so the count fits a byte.
        w.put_u8(u8::try_from(ids.len()).unwrap_or(u8::MAX))?;
        ids.iter().try_for_each(|id| w.put_bytes(&id.0))
    }
}

fn encode_wants(wants: &[DeltaWant], w: &mut Writer<'_>) -> Result<(), EncodeError> {
    // Refused like the decoder refuses them: an empty list, a request without bases.
    if wants.is_empty() {
        return Err(EncodeError::InvalidValue {
            field: WANTS_FIELD,
            reason: "a delta request list holds at least one request",
        });
    }
    if wants.iter().any(|w| w.bases.is_empty()) {
        return Err(EncodeError::InvalidValue {
            field: BASES_FIELD,
            reason: "a delta request names at least one base",
        });
    }
    w.put_u8(WANT_DELTA)?;
    // At most MAX_DELTA_WANTS (6) and MAX_DELTA_BASES (4): the heapless capacities.
    w.put_u8(u8::try_from(wants.len()).unwrap_or(u8::MAX))?;
    for want in wants {
        w.put_bytes(&want.target.to_bytes())?;
        w.put_u8(u8::try_from(want.bases.len()).unwrap_or(u8::MAX))?;
        for b in &want.bases {
            w.put_bytes(&b.to_bytes())?;
        }
    }
    Ok(())
}

/// Reads a count byte, refusing more than `max` and then 0 (`reason`) before anything it counts.
fn nonzero_count(
    r: &mut Reader<'_>,
    field: &'static str,
    max: usize,
    reason: &'static str,
) -> Result<usize, DecodeError> {
    match r.count_u8(field, max)? {
        0 => Err(DecodeError::InvalidValue { field, reason }),
        n => Ok(n),
    }
}

fn decode_wants(
    r: &mut Reader<'_>,
) -> Result<heapless::Vec<DeltaWant, MAX_DELTA_WANTS>, DecodeError> {
    let count = nonzero_count(r, WANTS_FIELD, MAX_DELTA_WANTS, "at least one request")?;
    let mut wants = heapless::Vec::new();
    for _ in 0..count {
        let target = BlockRef::decode(r)?;
        let n = nonzero_count(r, BASES_FIELD, MAX_DELTA_BASES, "at least one base")?;
        let mut bases = heapless::Vec::new();
        for _ in 0..n {
            // Room was checked by the count.
            let _ = bases.push(BlockRef::decode(r)?);
        }
        let _ = wants.push(DeltaWant { target, bases });
    }
    Ok(wants)
}

fn decode_ids(r: &mut Reader<'_>) -> Result<heapless::Vec<BlockId, MAX_IDS>, DecodeError> {
    // The bound first, before anything is read, as for every prefix in the codec.
    let count = nonzero_count(r, IDS_FIELD, MAX_IDS, "an id list holds at least one id")?;
    let mut ids = heapless::Vec::new();
    for _ in 0..count {
        // Room was checked by the count.
        let _ = ids.push(BlockId::decode(r)?);
    }
    Ok(ids)
}

impl<'a> Decode<'a> for ExchangeMessage<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let kind = r.u8()?;
        Ok(match kind {
            WANT => ExchangeMessage::Want {
                ids: decode_ids(r)?,
            },
            CANCEL => ExchangeMessage::Cancel {
                ids: decode_ids(r)?,
            },
            WANT_HAVE => ExchangeMessage::WantHave {
                ids: decode_ids(r)?,
            },
            HAVE => ExchangeMessage::Have {
                ids: decode_ids(r)?,
            },
            DONT_HAVE => ExchangeMessage::DontHave {
                ids: decode_ids(r)?,
            },
            BLOCK | DELTA => {
                let id = BlockId::decode(r)?;
                // A length above the bound is refused before the data is looked at.
                let data = r.bytes_u32_len(DATA_FIELD, MAX_BLOCK_LEN)?;
                if data.is_empty() {
                    return Err(DecodeError::InvalidValue {
                        field: DATA_FIELD,
                        reason: "a block is at least one byte",
                    });
                }
                if kind == BLOCK {
                    ExchangeMessage::Block { id, data }
                } else {
                    ExchangeMessage::Delta { id, data }
                }
            }
            WANT_DELTA => ExchangeMessage::WantDelta {
                wants: decode_wants(r)?,
            },
            other => {
                return Err(DecodeError::InvalidTag {
                    field: "exchange.kind",
                    tag: other,
                });
            }
        })
    }
}

impl Message for ExchangeMessage<'_> {
    const TYPE: MessageType = MessageType::Exchange;
}

/// Shows kinds, ids and lengths; a block's bytes are left out (64 KiB in a log line helps no one).
impl core::fmt::Debug for ExchangeMessage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExchangeMessage::Want { ids } => f.debug_struct("Want").field("ids", ids).finish(),
            ExchangeMessage::Cancel { ids } => f.debug_struct("Cancel").field("ids", ids).finish(),
            ExchangeMessage::WantHave { ids } => {
                f.debug_struct("WantHave").field("ids", ids).finish()
            }
            ExchangeMessage::Have { ids } => f.debug_struct("Have").field("ids", ids).finish(),
            ExchangeMessage::DontHave { ids } => {
                f.debug_struct("DontHave").field("ids", ids).finish()
            }
            ExchangeMessage::Block { id, data } => f
                .debug_struct("Block")
                .field("id", id)
                .field("len", &data.len())
                .finish(),
            ExchangeMessage::WantDelta { wants } => {
                f.debug_struct("WantDelta").field("wants", wants).finish()
            }
            ExchangeMessage::Delta { id, data } => f
                .debug_struct("Delta")
                .field("id", id)
                .field("len", &data.len())
                .finish(),
        }
    }
}
