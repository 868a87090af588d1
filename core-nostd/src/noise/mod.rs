//! The Noise Protocol Framework (revision 34), written once and generic over the hash function.
//!
//! Only what gofast uses: X25519 for DH, ChaCha20-Poly1305 for the cipher, a 32-byte hash with a
//! 64-byte block (BLAKE2s, SHA-256, or BLAKE3 for gofast's own suite), and the patterns in
//! [`pattern`]. The code follows the specification's objects one to one — [`CipherState`],
//! [`SymmetricState`], [`HandshakeState`] — so that it can be checked against the published cacophony
//! vectors with BLAKE2s and SHA-256 and then run with BLAKE3 (`tests/noise_vectors.rs`).
//!
//! Nothing here allocates; messages are written into and read from caller buffers. Ephemeral keys
//! come in from the caller, so the module draws no randomness of its own.

mod cipher_state;
mod error;
mod handshake;
mod hash;
pub mod pattern;
mod symmetric;

pub use cipher_state::{CipherState, nonce_bytes as cipher_nonce};
pub use error::NoiseError;
pub use handshake::{HandshakeState, SplitKeys};
pub use hash::{BLOCK_LEN, Blake3, HASH_LEN, NoiseHash};
pub use pattern::{Pattern, Token};
pub use symmetric::SymmetricState;

/// Longest Noise message (the specification's limit).
pub const MAX_MESSAGE_LEN: usize = 65535;
/// Length of a DH public key (X25519).
pub const DH_LEN: usize = 32;
/// Length of an AEAD tag.
pub const TAG_LEN: usize = 16;
