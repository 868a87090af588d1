//! Messages of the control stream (stream 0): rekeying, flow control, resets, close. One message per
//! control frame; each is sealed like any stream's data, so an observer sees only frames.

use crate::codec::{DecodeError, EncodeError, Reader, Writer};
use crate::crypto::x25519::X25519Public;

/// Longest encoded control message.
pub const MAX_CONTROL_LEN: usize = 1 + 4 + 32;

/// A control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Control {
    /// Proposes epoch `epoch` with a fresh ephemeral key.
    Rekey {
        /// The epoch proposed (current + 1).
        epoch: u32,
        /// The proposer's fresh X25519 key.
        ephemeral: X25519Public,
    },
    /// Accepts a proposal with the acceptor's fresh ephemeral key.
    RekeyAck {
        /// The epoch accepted.
        epoch: u32,
        /// The acceptor's fresh X25519 key.
        ephemeral: X25519Public,
    },
    /// Sent in a new epoch to show the keys are in use; `reply` asks the peer to answer with one.
    Confirm {
        /// The epoch it is sealed in.
        epoch: u32,
        /// Whether the sender wants a confirm back.
        reply: bool,
    },
    /// The sender may send frames with counters below `limit` on `stream`.
    Credit {
        /// The stream.
        stream: u32,
        /// Exclusive upper bound of the counters allowed.
        limit: u64,
    },
    /// The sender has data for `stream` but its credit ends at `limit`.
    Blocked {
        /// The stream.
        stream: u32,
        /// The limit it is held at.
        limit: u64,
    },
    /// The sender abandoned `stream` in both directions.
    Reset {
        /// The stream.
        stream: u32,
    },
    /// The sender ends the session.
    Close {
        /// Why (an application or protocol code; 0: normal).
        code: u8,
    },
}

const REKEY: u8 = 1;
const REKEY_ACK: u8 = 2;
const CONFIRM: u8 = 3;
const CREDIT: u8 = 4;
const BLOCKED: u8 = 5;
const RESET: u8 = 6;
const CLOSE: u8 = 7;

impl Control {
    /// Writes the message into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(buf);
        match *self {
            Control::Rekey { epoch, ephemeral } | Control::RekeyAck { epoch, ephemeral } => {
                w.put_u8(if matches!(self, Control::Rekey { .. }) {
                    REKEY
                } else {
                    REKEY_ACK
                })?;
                w.put_u32(epoch)?;
                w.put_bytes(&ephemeral.0)?;
            }
            Control::Confirm { epoch, reply } => {
                w.put_u8(CONFIRM)?;
                w.put_u32(epoch)?;
                w.put_u8(u8::from(reply))?;
            }
            Control::Credit { stream, limit } | Control::Blocked { stream, limit } => {
                w.put_u8(if matches!(self, Control::Credit { .. }) {
                    CREDIT
                } else {
                    BLOCKED
                })?;
                w.put_u32(stream)?;
                w.put_u64(limit)?;
            }
            Control::Reset { stream } => {
                w.put_u8(RESET)?;
                w.put_u32(stream)?;
            }
            Control::Close { code } => {
                w.put_u8(CLOSE)?;
                w.put_u8(code)?;
            }
        }
        Ok(w.position())
    }

    /// Parses one message that fills all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Control, DecodeError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8()?;
        let msg = match tag {
            REKEY | REKEY_ACK => {
                let epoch = r.u32()?;
                let ephemeral = X25519Public(r.array()?);
                if tag == REKEY {
                    Control::Rekey { epoch, ephemeral }
                } else {
                    Control::RekeyAck { epoch, ephemeral }
                }
            }
            CONFIRM => {
                let epoch = r.u32()?;
                let reply = match r.u8()? {
                    0 => false,
                    1 => true,
                    other => {
                        return Err(DecodeError::InvalidTag {
                            field: "confirm reply",
                            tag: other,
                        });
                    }
                };
                Control::Confirm { epoch, reply }
            }
            CREDIT | BLOCKED => {
                let stream = r.u32()?;
                let limit = r.u64()?;
                if tag == CREDIT {
                    Control::Credit { stream, limit }
                } else {
                    Control::Blocked { stream, limit }
                }
            }
            RESET => Control::Reset { stream: r.u32()? },
            CLOSE => Control::Close { code: r.u8()? },
            other => {
                return Err(DecodeError::InvalidTag {
                    field: "control message",
                    tag: other,
                });
            }
        };
        r.finish()?;
        Ok(msg)
    }
}
