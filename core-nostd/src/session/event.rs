//! What a session reports: the value of each input, and the events to drain after it.

use crate::identity::PeerId;

/// A stream's number: 0 is the control stream, odd numbers are opened by the initiator, even ones
/// by the responder.
pub type StreamId = u32;

/// What one input frame gave the application.
#[derive(Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Nothing for the application (a handshake or control frame).
    Nothing,
    /// The peer proved this identity. The session waits for `approve_peer` or `refuse_peer` before
    /// anything else happens; `early_data` (IK only) may be replayed by an attacker, so act on it
    /// only in ways that are safe to repeat.
    PeerIdentified {
        /// The peer.
        peer: PeerId,
        /// Data the initiator sent with its first message (empty for XX).
        early_data: &'a [u8],
    },
    /// Bytes of a stream, decrypted in place in the input buffer.
    Data {
        /// The stream.
        stream: StreamId,
        /// The bytes.
        data: &'a [u8],
        /// Whether this was the peer's last frame on the stream.
        fin: bool,
    },
}

/// Why a session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseReason {
    /// This side called `close`.
    Local,
    /// The peer sent a close with this code.
    Peer(u8),
    /// This side refused the peer's identity.
    Refused,
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// A rekey did not finish in time.
    RekeyTimeout,
    /// The epoch counter ran out (after 2^32 rekeys).
    EpochsExhausted,
}

/// Something that happened, drained with `poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The handshake finished; streams may be used.
    Established {
        /// The authenticated peer.
        peer: PeerId,
    },
    /// The peer opened a stream (its first frame is returned as `Input::Data`).
    StreamOpened(StreamId),
    /// The peer finished its direction of a stream.
    StreamFinished(StreamId),
    /// The peer reset a stream; it is gone in both directions.
    StreamReset(StreamId),
    /// A stream that returned `SendError::Blocked` may send again.
    StreamWritable(StreamId),
    /// Both directions now send in this epoch; earlier keys are erased after the grace time.
    Rekeyed {
        /// The new epoch.
        epoch: u32,
    },
    /// The session ended.
    Closed(CloseReason),
}
