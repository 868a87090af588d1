//! The frames a session puts on the wire, and the length prefix that carries them over byte streams.
//!
//! Every frame starts with a type byte. Handshake frames carry one Noise message each; data frames carry
//! one sealed piece of one stream. Layouts are in `docs/spec/session.md`.

use crate::codec::{DecodeError, Reader};
use crate::crypto::aead::{NONCE_LEN, TAG_LEN};

use super::cipher::CipherId;

/// The type byte of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FrameType {
    /// XX message 1 (`-> e`), initiator's first contact.
    Xx1 = 0x01,
    /// XX message 2 (`<- e, ee, s, es`).
    Xx2 = 0x02,
    /// XX message 3 (`-> s, se`).
    Xx3 = 0x03,
    /// IK message 1 (`-> e, es, s, ss`), may carry early data.
    Ik1 = 0x04,
    /// IK message 2 (`<- e, ee, se`).
    Ik2 = 0x05,
    /// A sealed piece of a stream.
    Data = 0x10,
}

impl FrameType {
    /// The frame type of this byte.
    pub const fn from_u8(byte: u8) -> Option<FrameType> {
        Some(match byte {
            0x01 => FrameType::Xx1,
            0x02 => FrameType::Xx2,
            0x03 => FrameType::Xx3,
            0x04 => FrameType::Ik1,
            0x05 => FrameType::Ik2,
            0x10 => FrameType::Data,
            _ => return None,
        })
    }
}

/// Longest handshake frame (type byte and Noise message); bounds the copy kept for retransmission.
pub const MAX_HANDSHAKE_FRAME: usize = 512;
/// Shortest frame payload limit a side may configure (room for every control message).
pub const MIN_FRAME_PAYLOAD: usize = 64;
/// Longest payload of one data frame.
pub const MAX_FRAME_PAYLOAD: usize = 65536;
/// Bytes of a data frame's header (type, flags, stream, epoch, counter), also its associated data.
pub const DATA_HEADER_LEN: usize = 18;
/// Bytes a data frame adds to its payload.
pub const DATA_OVERHEAD: usize = DATA_HEADER_LEN + TAG_LEN;
/// Longest frame of any kind.
pub const MAX_FRAME_LEN: usize = MAX_FRAME_PAYLOAD + DATA_OVERHEAD;
/// Bytes of the length prefix in front of each frame on a byte stream.
pub const LENGTH_PREFIX_LEN: usize = 4;

const FLAG_FIN: u8 = 0x01;

/// Writes the byte-stream length prefix of a `len`-byte frame at the front of `out` (nothing when
/// `prefix` is 0, for datagrams). Frame lengths are bounded by [`MAX_FRAME_LEN`], so `len` fits.
pub(crate) fn put_length_prefix(out: &mut [u8], prefix: usize, len: usize) {
    let bytes = u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes();
    if let (Some(dst), Some(src)) = (out.get_mut(..prefix), bytes.get(..prefix)) {
        dst.copy_from_slice(src);
    }
}

/// The clear header of a data frame; all of it is authenticated as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataHeader {
    /// The last frame of this direction of the stream.
    pub fin: bool,
    /// The stream's cipher.
    pub cipher: CipherId,
    /// The stream (0: control).
    pub stream: u32,
    /// The key epoch the frame is sealed in.
    pub epoch: u32,
    /// The frame's number within its stream and direction, never reused; the AEAD nonce.
    pub counter: u64,
}

impl DataHeader {
    /// The header's wire bytes.
    pub fn encode(&self) -> [u8; DATA_HEADER_LEN] {
        let mut out = [0u8; DATA_HEADER_LEN];
        out[0] = FrameType::Data as u8;
        out[1] = (self.cipher as u8) << 4 | if self.fin { FLAG_FIN } else { 0 };
        out[2..6].copy_from_slice(&self.stream.to_le_bytes());
        out[6..10].copy_from_slice(&self.epoch.to_le_bytes());
        out[10..18].copy_from_slice(&self.counter.to_le_bytes());
        out
    }

    /// Parses the header at the front of a data frame and checks that a tag follows.
    pub fn decode(frame: &[u8]) -> Result<DataHeader, DecodeError> {
        let mut r = Reader::new(frame);
        let kind = r.u8()?;
        if kind != FrameType::Data as u8 {
            return Err(DecodeError::InvalidTag {
                field: "frame type",
                tag: kind,
            });
        }
        let flags = r.u8()?;
        if flags & 0x0e != 0 {
            return Err(DecodeError::InvalidValue {
                field: "data flags",
                reason: "reserved bits set",
            });
        }
        let cipher = CipherId::from_u8(flags >> 4).ok_or(DecodeError::InvalidTag {
            field: "cipher",
            tag: flags >> 4,
        })?;
        let stream = r.u32()?;
        let epoch = r.u32()?;
        let counter = r.u64()?;
        if r.remaining() < TAG_LEN {
            return Err(DecodeError::UnexpectedEnd {
                needed: TAG_LEN,
                remaining: r.remaining(),
            });
        }
        if r.remaining() > MAX_FRAME_PAYLOAD + TAG_LEN {
            return Err(DecodeError::LengthTooLarge {
                field: "data frame",
                max: MAX_FRAME_LEN,
                found: frame.len(),
            });
        }
        Ok(DataHeader {
            fin: flags & FLAG_FIN != 0,
            cipher,
            stream,
            epoch,
            counter,
        })
    }

    /// The AEAD nonce: 32 zero bits, then the counter in little-endian (as Noise's ChaChaPoly).
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        crate::noise::cipher_nonce(self.counter)
    }
}

/// Why the byte-stream deframer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeframeError {
    /// A length prefix announces a frame longer than [`MAX_FRAME_LEN`] or than the buffer: the stream
    /// is not a gofast session (or is corrupt) and must be closed.
    FrameTooLong {
        /// The announced length.
        len: u32,
    },
    /// A length prefix of zero.
    EmptyFrame,
}

impl core::fmt::Display for DeframeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeframeError::FrameTooLong { len } => {
                write!(
                    f,
                    "frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN}"
                )
            }
            DeframeError::EmptyFrame => f.write_str("empty frame"),
        }
    }
}

impl core::error::Error for DeframeError {}

/// Cuts a byte stream (TCP) into frames, buffering in storage the caller provides.
///
/// Feed it what the socket gave with [`push`](Self::push); take each complete frame with
/// [`next_frame`](Self::next_frame) and hand it to the session. The buffer must hold the longest
/// frame the session accepts plus the prefix; a longer announced frame is an error, never an
/// allocation.
#[derive(Debug)]
pub struct Deframer<B> {
    buf: B,
    filled: usize,
    /// Bytes of the frame handed out last, dropped from the front before the next push or frame.
    consumed: usize,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Deframer<B> {
    /// A deframer over `buf`.
    pub fn new(buf: B) -> Self {
        Deframer {
            buf,
            filled: 0,
            consumed: 0,
        }
    }

    fn compact(&mut self) {
        if self.consumed > 0 {
            self.buf.as_mut().copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }

    /// Copies as much of `bytes` as fits; returns how many were taken (feed the rest after taking
    /// frames out).
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        self.compact();
        let free = self.buf.as_mut().get_mut(self.filled..).unwrap_or(&mut []);
        let n = free.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (free.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.filled += n;
        n
    }

    /// The next complete frame (without its prefix), if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<&mut [u8]>, DeframeError> {
        self.compact();
        let capacity = self.buf.as_ref().len();
        let Some(prefix) = self.buf.as_ref().get(..LENGTH_PREFIX_LEN) else {
            return Ok(None);
        };
        if self.filled < LENGTH_PREFIX_LEN {
            return Ok(None);
        }
        let mut len_bytes = [0u8; LENGTH_PREFIX_LEN];
        len_bytes.copy_from_slice(prefix);
        let len = u32::from_le_bytes(len_bytes);
        if len == 0 {
            return Err(DeframeError::EmptyFrame);
        }
        // Checked before any arithmetic, so that no prefix overflows on 32-bit targets.
        if len as usize > MAX_FRAME_LEN || len as usize > capacity.saturating_sub(LENGTH_PREFIX_LEN)
        {
            return Err(DeframeError::FrameTooLong { len });
        }
        let total = LENGTH_PREFIX_LEN + len as usize;
        if self.filled < total {
            return Ok(None);
        }
        self.consumed = total;
        Ok(self.buf.as_mut().get_mut(LENGTH_PREFIX_LEN..total))
    }
}
