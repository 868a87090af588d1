//! The payloads of the handshake messages: what each side offers, and who it is.

use crate::codec::{DecodeError, EncodeError, Reader, Writer};
use crate::identity::PeerId;

use super::cipher::{CipherId, CipherSet};

/// Version of the session protocol spoken in the handshake.
pub const SESSION_VERSION: u8 = 1;
/// Bytes of an encoded [`Hello`].
pub const HELLO_LEN: usize = 10;
/// Longest early data an IK first message may carry.
pub const MAX_EARLY_DATA: usize = 256;

/// What a side offers: protocol version, ciphers, how many streams and how much credit per stream it
/// grants. Hashed into the handshake transcript, so a change in transit fails the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hello {
    /// Ciphers offered (always with ChaCha20-Poly1305).
    pub ciphers: CipherSet,
    /// Streams the sender holds at once (both directions, the control stream excluded).
    pub max_streams: u16,
    /// Frames a peer may send on a stream ahead of the sender's credit updates.
    pub window: u16,
    /// Longest frame payload the sender accepts.
    pub max_payload: u32,
}

impl Hello {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_u8(SESSION_VERSION)?;
        w.put_u8(self.ciphers.bits())?;
        w.put_u16(self.max_streams)?;
        w.put_u16(self.window)?;
        w.put_u32(self.max_payload)
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Hello, DecodeError> {
        let version = r.u8()?;
        if version != SESSION_VERSION {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let bits = r.u8()?;
        let ciphers = CipherSet::from_bits(bits).ok_or(DecodeError::InvalidValue {
            field: "ciphers",
            reason: "unknown cipher bit",
        })?;
        if !ciphers.contains(CipherId::ChaCha20Poly1305) {
            return Err(DecodeError::InvalidValue {
                field: "ciphers",
                reason: "ChaCha20-Poly1305 is mandatory",
            });
        }
        let max_streams = r.u16()?;
        let window = r.u16()?;
        if window == 0 {
            return Err(DecodeError::InvalidValue {
                field: "window",
                reason: "zero",
            });
        }
        let max_payload = r.u32()?;
        if (max_payload as usize) < super::frame::MIN_FRAME_PAYLOAD {
            return Err(DecodeError::InvalidValue {
                field: "max_payload",
                reason: "below the minimum frame payload",
            });
        }
        Ok(Hello {
            ciphers,
            max_streams,
            window,
            max_payload,
        })
    }
}

/// Reads the 32-byte identity field and validates it as a peer id.
pub(crate) fn decode_identity(r: &mut Reader<'_>) -> Result<PeerId, DecodeError> {
    PeerId::from_bytes(&r.array()?).map_err(|_| DecodeError::InvalidValue {
        field: "identity",
        reason: "not a valid Ed25519 public key",
    })
}
