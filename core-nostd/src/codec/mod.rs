//! One versioned, bounded binary encoding for everything gofast puts on the wire or on disk.
//!
//! The byte-level rules are in `docs/spec/codec.md`. In short: integers are fixed-width little-endian,
//! variable-length fields carry a length prefix whose width is part of the field's definition and whose
//! value is checked against the field's maximum *before* anything is read, and a top-level message starts
//! with a format version byte and a message type byte.
//!
//! Decoding works on a borrowed `&[u8]` and never allocates: fields either borrow from the input or
//! land in fixed-capacity `heapless` containers. Bad input gets a [`DecodeError`], never a panic.

mod error;
mod reader;
mod writer;

pub use error::{DecodeError, EncodeError};
pub use reader::Reader;
pub use writer::Writer;

/// The version byte that starts every top-level message. A decoder refuses any other value.
pub const FORMAT_VERSION: u8 = 1;

/// Length of the header (version, type) in front of every top-level message.
pub const MESSAGE_HEADER_LEN: usize = 2;

/// A value with a defined encoding.
pub trait Encode {
    /// Exactly the number of bytes [`Encode::encode`] writes.
    fn encoded_len(&self) -> usize;
    /// Appends the encoding to `w`.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// A value that can be read back from its encoding, possibly borrowing from the input.
pub trait Decode<'a>: Sized {
    /// Reads one value from the front of `r`.
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError>;
}

/// The registry of top-level message types: one byte each, never reused.
///
/// Later protocol layers (sessions, DHT RPCs, block exchange) add their messages here so that the whole
/// registry stays in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
#[non_exhaustive]
pub enum MessageType {
    /// A [`crate::record::Record`].
    Record = 0x01,
    /// A [`crate::block::BlockRef`].
    BlockRef = 0x02,
    /// A [`crate::identity::PeerId`].
    PeerId = 0x03,
    /// A [`crate::dht::DhtMessage`]: a DHT request or answer.
    Dht = 0x04,
    /// A [`crate::exchange::ExchangeMessage`]: a block-exchange request, answer or block.
    Exchange = 0x05,
}

/// A type that is sent or stored on its own, behind the message header.
pub trait Message: Encode {
    /// This message's entry in the registry.
    const TYPE: MessageType;
}

/// Encodes `value` into the front of `buf`, returning the number of bytes written.
pub fn encode_to_slice<T: Encode + ?Sized>(
    value: &T,
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(buf);
    value.encode(&mut w)?;
    Ok(w.position())
}

/// Encodes `value` into a new vector of exactly [`Encode::encoded_len`] bytes.
///
/// For values whose encoding cannot fail but for room. A value the encoder can refuse (an
/// [`crate::exchange::ExchangeMessage`] with an empty id list) goes through [`encode_to_slice`] or
/// [`encode_message`], which report the refusal.
#[cfg(feature = "alloc")]
pub fn encode_to_vec<T: Encode + ?Sized>(value: &T) -> alloc::vec::Vec<u8> {
    let mut buf = alloc::vec![0u8; value.encoded_len()];
    // The buffer is exactly `encoded_len` long, which is all an encoder can fail on; an encoder that
    // disagrees with its own length is a bug, caught by the round-trip tests (and here in debug builds).
    let written = encode_to_slice(value, &mut buf);
    debug_assert_eq!(written, Ok(buf.len()), "encoded_len disagrees with encode");
    buf.truncate(written.unwrap_or(0));
    buf
}

/// Decodes one `T` that must span all of `bytes`.
pub fn decode_exact<'a, T: Decode<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Encodes `value` behind the message header (version, type) into the front of `buf`.
pub fn encode_message<T: Message>(value: &T, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(buf);
    w.put_u8(FORMAT_VERSION)?;
    w.put_u8(T::TYPE as u8)?;
    value.encode(&mut w)?;
    Ok(w.position())
}

/// The size of `value` behind the message header.
pub fn message_len<T: Message>(value: &T) -> usize {
    MESSAGE_HEADER_LEN + value.encoded_len()
}

/// Decodes a whole message of type `T`: header, body, and nothing after it.
pub fn decode_message<'a, T: Message + Decode<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { version });
    }
    let ty = r.u8()?;
    if ty != T::TYPE as u8 {
        return Err(DecodeError::UnexpectedMessageType {
            expected: T::TYPE as u8,
            found: ty,
        });
    }
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Fixed-size byte arrays encode as themselves, with no prefix.
impl<const N: usize> Encode for [u8; N] {
    fn encoded_len(&self) -> usize {
        N
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(self)
    }
}

impl<'a, const N: usize> Decode<'a> for [u8; N] {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.array()
    }
}

macro_rules! int_codec {
    ($($t:ty => $put:ident, $get:ident;)*) => {$(
        impl Encode for $t {
            fn encoded_len(&self) -> usize {
                core::mem::size_of::<$t>()
            }
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.$put(*self)
            }
        }
        impl<'a> Decode<'a> for $t {
            fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
                r.$get()
            }
        }
    )*};
}

int_codec! {
    u8 => put_u8, u8;
    u16 => put_u16, u16;
    u32 => put_u32, u32;
    u64 => put_u64, u64;
}
