//! ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305, sealing and opening in place.
//!
//! The tag is detached so that callers lay out frames as their format says. On a failed open the buffer
//! is wiped, so unauthenticated plaintext never reaches the caller.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag, XChaCha20Poly1305, XNonce};
use core::fmt;

use super::SecretBytes;

/// Key length of both AEADs.
pub const KEY_LEN: usize = 32;
/// Nonce length of ChaCha20-Poly1305.
pub const NONCE_LEN: usize = 12;
/// Nonce length of XChaCha20-Poly1305 (long enough to be drawn at random).
pub const XNONCE_LEN: usize = 24;
/// Tag length of both AEADs.
pub const TAG_LEN: usize = 16;

/// A key for either AEAD.
pub type AeadKey = SecretBytes<KEY_LEN>;

/// Why sealing or opening failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AeadError {
    /// The tag does not match: wrong key, wrong nonce, wrong associated data, or altered bytes.
    Authentication,
    /// The message is longer than the algorithm allows (2^38 bytes for ChaCha20-Poly1305).
    TooLong,
}

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AeadError::Authentication => "authentication failed",
            AeadError::TooLong => "message too long for the AEAD",
        })
    }
}

impl core::error::Error for AeadError {}

/// Seals `buf` in place under any of the RustCrypto ChaCha-Poly AEADs; the public functions fix the
/// algorithm and the nonce length.
fn seal<C: AeadInOut + KeyInit>(
    key: &AeadKey,
    nonce: &chacha20poly1305::aead::Nonce<C>,
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError>
where
    chacha20poly1305::aead::Tag<C>: Into<[u8; TAG_LEN]>,
{
    let cipher = C::new_from_slice(key.expose()).map_err(|_| AeadError::TooLong)?;
    let tag = cipher
        .encrypt_inout_detached(nonce, aad, buf.into())
        .map_err(|_| AeadError::TooLong)?;
    Ok(tag.into())
}

/// Opens `buf` in place; on failure wipes it, so unauthenticated plaintext never leaves.
fn open<C: AeadInOut + KeyInit>(
    key: &AeadKey,
    nonce: &chacha20poly1305::aead::Nonce<C>,
    aad: &[u8],
    buf: &mut [u8],
    tag: &chacha20poly1305::aead::Tag<C>,
) -> Result<(), AeadError> {
    let cipher = C::new_from_slice(key.expose()).map_err(|_| AeadError::Authentication)?;
    cipher
        .decrypt_inout_detached(nonce, aad, (&mut *buf).into(), tag)
        .map_err(|_| {
            buf.fill(0);
            AeadError::Authentication
        })
}

/// Encrypts `buf` in place with ChaCha20-Poly1305 and returns the tag.
pub fn chacha20poly1305_seal(
    key: &AeadKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError> {
    seal::<ChaCha20Poly1305>(key, &Nonce::from(*nonce), aad, buf)
}

/// Authenticates and decrypts `buf` in place with ChaCha20-Poly1305. On failure `buf` is zeroed.
pub fn chacha20poly1305_open(
    key: &AeadKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError> {
    open::<ChaCha20Poly1305>(key, &Nonce::from(*nonce), aad, buf, &Tag::from(*tag))
}

/// Encrypts `buf` in place with XChaCha20-Poly1305 and returns the tag.
pub fn xchacha20poly1305_seal(
    key: &AeadKey,
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError> {
    seal::<XChaCha20Poly1305>(key, &XNonce::from(*nonce), aad, buf)
}

/// Authenticates and decrypts `buf` in place with XChaCha20-Poly1305. On failure `buf` is zeroed.
pub fn xchacha20poly1305_open(
    key: &AeadKey,
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError> {
    open::<XChaCha20Poly1305>(key, &XNonce::from(*nonce), aad, buf, &Tag::from(*tag))
}
