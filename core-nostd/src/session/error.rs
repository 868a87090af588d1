//! Why an input, a send or a call was refused. None of them carries key material or payload bytes.

use core::fmt;

use crate::codec::DecodeError;
use crate::noise::NoiseError;

use super::replay::ReplayError;

/// Why an incoming frame was dropped. The session stays usable after every one of these (a failed
/// handshake message leaves the handshake where it was); only [`InputError::Closed`] is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InputError {
    /// The frame does not parse.
    Malformed(DecodeError),
    /// A handshake message failed (bad keys, altered bytes, wrong turn).
    Handshake(NoiseError),
    /// The frame is of a kind this state does not take (a data frame before the handshake ended, a
    /// second first message, ...).
    Unexpected,
    /// The handshake payload names an identity whose key is not the static key of the handshake.
    IdentityMismatch,
    /// Authentication failed: altered, truncated, or sealed for another stream, epoch or session.
    Authentication,
    /// The frame's counter was seen before or is older than the replay window.
    Replay(ReplayError),
    /// The frame is sealed in an epoch whose keys this side does not hold (erased, or not yet made).
    UnknownEpoch,
    /// The frame is for a stream that is closed, or that the sender may not open.
    UnknownStream,
    /// The peer opened more streams than this side holds.
    StreamLimit,
    /// The frame's cipher was not offered by both peers (or the control stream not on ChaCha).
    CipherNotNegotiated,
    /// The peer sent past the credit this side granted.
    FlowControl,
    /// The frame is longer than this side accepts.
    TooLarge,
    /// The events of earlier inputs have not been drained with `poll_event`; the frame was not
    /// looked at. Drain and hand it in again.
    EventsNotDrained,
    /// The session is closed.
    Closed,
}

impl From<DecodeError> for InputError {
    fn from(e: DecodeError) -> Self {
        InputError::Malformed(e)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Malformed(e) => write!(f, "malformed frame: {e}"),
            InputError::Handshake(e) => write!(f, "handshake failed: {e}"),
            InputError::Unexpected => f.write_str("frame not expected in this state"),
            InputError::IdentityMismatch => {
                f.write_str("peer identity does not match its handshake key")
            }
            InputError::Authentication => f.write_str("frame failed authentication"),
            InputError::Replay(ReplayError::Replayed) => f.write_str("replayed frame"),
            InputError::Replay(_) => f.write_str("frame older than the replay window"),
            InputError::UnknownEpoch => f.write_str("frame sealed in an epoch without keys"),
            InputError::UnknownStream => f.write_str("frame for a closed or unknown stream"),
            InputError::StreamLimit => f.write_str("peer opened too many streams"),
            InputError::CipherNotNegotiated => f.write_str("cipher not negotiated"),
            InputError::FlowControl => f.write_str("peer exceeded its stream credit"),
            InputError::TooLarge => f.write_str("frame too large"),
            InputError::EventsNotDrained => f.write_str("session events not drained"),
            InputError::Closed => f.write_str("session closed"),
        }
    }
}

impl core::error::Error for InputError {}

/// Why a send or a stream operation was refused. Nothing was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The handshake has not finished (or the peer has not been approved).
    NotEstablished,
    /// No such stream is open for sending (never opened, finished, or reset).
    UnknownStream,
    /// The stream's credit is used up; wait for `Event::StreamWritable`.
    Blocked,
    /// The stream sent its epoch's maximum; wait for the rekey in progress (`Event::Rekeyed`).
    WaitForRekey,
    /// The payload is longer than the configured frame payload.
    TooLarge,
    /// The output buffer cannot hold the frame.
    BufferTooSmall,
    /// Both peers' stream capacity is in use.
    StreamLimit,
    /// The cipher was not offered by both peers.
    CipherNotNegotiated,
    /// The AEAD refused (the provider failed).
    Cipher,
    /// The session is closed.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::NotEstablished => "session not established",
            SendError::UnknownStream => "stream not open for sending",
            SendError::Blocked => "stream blocked by flow control",
            SendError::WaitForRekey => "stream must wait for the rekey",
            SendError::TooLarge => "payload larger than a frame",
            SendError::BufferTooSmall => "output buffer too small",
            SendError::StreamLimit => "stream limit reached",
            SendError::CipherNotNegotiated => "cipher not negotiated",
            SendError::Cipher => "cipher failure",
            SendError::Closed => "session closed",
        })
    }
}

impl core::error::Error for SendError {}

/// Why a session could not be started or a decision not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SetupError {
    /// The handshake could not be set up (a key is missing or invalid).
    Handshake(NoiseError),
    /// Early data longer than [`super::MAX_EARLY_DATA`].
    EarlyDataTooLong,
    /// The configuration is out of range (frame payload above the maximum, zero window, ...).
    InvalidConfig,
    /// No peer is waiting for a decision.
    NothingToApprove,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Handshake(e) => write!(f, "handshake setup failed: {e}"),
            SetupError::EarlyDataTooLong => f.write_str("early data too long"),
            SetupError::InvalidConfig => f.write_str("invalid session configuration"),
            SetupError::NothingToApprove => f.write_str("no peer awaits approval"),
        }
    }
}

impl core::error::Error for SetupError {}
