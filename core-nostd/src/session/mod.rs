//! Secure sessions: every byte between two gofast peers goes through one.
//!
//! A [`Session`] runs a Noise handshake (XX for first contact, IK when the peer's [`PeerId`] is
//! known; suite `Noise_XX_25519_ChaChaPoly_BLAKE3`), learns and lets the application approve the
//! peer's identity, then carries many streams. Each stream has its own key per direction and epoch,
//! derived one-way from the handshake; the control stream (0) carries fresh X25519 keys that move
//! every stream to a new epoch on a bound of time and of frames, and old keys are erased after a
//! short grace time. A key taken from one stream in one epoch opens nothing else.
//!
//! The machine is sans-IO, in the style of quinn-proto:
//!
//! - [`Session::connect`], [`Session::connect_known`] or [`Session::accept`] make one;
//! - [`Session::handle_input`] takes each frame that arrives (a datagram, or a frame a [`Deframer`]
//!   cut from a byte stream) and returns stream data decrypted in place;
//! - [`Session::poll_transmit`] gives the frames the session itself sends (handshake, control);
//! - [`Session::send`] / [`Session::send_in_place`] seal application data into caller buffers;
//! - [`Session::poll_timeout`] / [`Session::handle_timeout`] drive retransmissions and rekeys;
//! - [`Session::poll_event`] drains what happened.
//!
//! The byte layouts are in `docs/spec/session.md`.
//!
//! [`PeerId`]: crate::identity::PeerId

mod cipher;
mod config;
mod control;
mod data;
mod error;
mod event;
mod frame;
mod handshake;
mod hello;
mod keys;
mod machine;
mod rekey;
mod replay;
mod stream;
#[cfg(feature = "test-export-keys")]
mod test_keys;

pub use cipher::{AeadProvider, CipherId, CipherSet, PortableAead, PortableKey};
pub use config::{Config, Framing};
pub use control::{Control, MAX_CONTROL_LEN};
pub use error::{InputError, SendError, SetupError};
pub use event::{CloseReason, Event, Input, StreamId};
pub use frame::{
    DATA_HEADER_LEN, DATA_OVERHEAD, DataHeader, DeframeError, Deframer, FrameType,
    LENGTH_PREFIX_LEN, MAX_FRAME_LEN, MAX_FRAME_PAYLOAD, MAX_HANDSHAKE_FRAME, MIN_FRAME_PAYLOAD,
};
pub use hello::{HELLO_LEN, Hello, MAX_EARLY_DATA, SESSION_VERSION};
pub use machine::{PROLOGUE, Session};
pub use replay::{REPLAY_WINDOW, ReplayError, ReplayWindow};
