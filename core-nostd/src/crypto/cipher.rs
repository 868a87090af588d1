//! The raw ChaCha20 stream cipher of RFC 8439 (96-bit nonce, 32-bit block counter).
//!
//! Unauthenticated on purpose: it is used only where something else already authenticates the
//! ciphertext, namely content-addressed blocks, whose BLAKE3 id is checked before any decryption.
//! Anything else uses [`super::aead`].

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use core::fmt;

use super::SecretBytes;

/// ChaCha20 key length.
pub const KEY_LEN: usize = 32;
/// ChaCha20 nonce length.
pub const NONCE_LEN: usize = 12;

/// The keystream would run past its 2^32 blocks of 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeystreamExhausted;

impl fmt::Display for KeystreamExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the ChaCha20 keystream would wrap its block counter")
    }
}

impl core::error::Error for KeystreamExhausted {}

/// XORs the ChaCha20 keystream for (`key`, `nonce`), starting at block `initial_counter`, into `buf`.
/// Encryption and decryption are the same operation.
pub fn chacha20_xor(
    key: &SecretBytes<KEY_LEN>,
    nonce: &[u8; NONCE_LEN],
    initial_counter: u32,
    buf: &mut [u8],
) -> Result<(), KeystreamExhausted> {
    let mut cipher = chacha20::ChaCha20::new(key.expose().into(), nonce.into());
    if initial_counter != 0 {
        cipher
            .try_seek(u64::from(initial_counter) * 64)
            .map_err(|_| KeystreamExhausted)?;
    }
    cipher
        .try_apply_keystream(buf)
        .map_err(|_| KeystreamExhausted)
}

/// XORs the ChaCha20 keystream for (`key`, `nonce`) from byte `offset` of the stream into `input`,
/// writing the result to `output` (of the same length): [`chacha20_xor`] without copying the input
/// first, for a caller that wants the result somewhere else.
pub fn chacha20_xor_into(
    key: &SecretBytes<KEY_LEN>,
    nonce: &[u8; NONCE_LEN],
    offset: u64,
    input: &[u8],
    output: &mut [u8],
) -> Result<(), KeystreamExhausted> {
    let mut cipher = chacha20::ChaCha20::new(key.expose().into(), nonce.into());
    if offset != 0 {
        cipher.try_seek(offset).map_err(|_| KeystreamExhausted)?;
    }
    cipher
        .try_apply_keystream_b2b(input, output)
        .map_err(|_| KeystreamExhausted)
}
