//! Noise's CipherState with ChaCha20-Poly1305 (Noise §5.1, §12.3).

use crate::crypto::SecretBytes;
use crate::crypto::aead::{self, NONCE_LEN};

use super::{NoiseError, TAG_LEN};

/// A key (or none yet) and the nonce counter that goes with it.
#[derive(Clone, Default)]
pub struct CipherState {
    key: Option<SecretBytes<32>>,
    nonce: u64,
}

/// The ChaChaPoly nonce of Noise: 32 zero bits, then the counter in little-endian.
pub fn nonce_bytes(n: u64) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    nonce
}

impl CipherState {
    /// A cipher state with key `key` and nonce 0.
    pub fn new(key: SecretBytes<32>) -> Self {
        CipherState {
            key: Some(key),
            nonce: 0,
        }
    }

    /// Whether a key is set (before the first DH of a handshake there is none, and payloads travel in
    /// the clear, still hashed into the transcript).
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Encrypts `buf[..len]` in place and appends the tag; `buf` must have room for it. Without a key
    /// the plaintext is left as it is. Returns the length written.
    pub fn encrypt_with_ad(
        &mut self,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, NoiseError> {
        let Some(key) = &self.key else {
            return Ok(len);
        };
        if self.nonce == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let out_len = len.checked_add(TAG_LEN).ok_or(NoiseError::BufferTooSmall)?;
        let (body, rest) = buf
            .get_mut(..out_len)
            .ok_or(NoiseError::BufferTooSmall)?
            .split_at_mut(len);
        let tag = aead::chacha20poly1305_seal(key, &nonce_bytes(self.nonce), ad, body)
            .map_err(|_| NoiseError::BufferTooSmall)?;
        rest.copy_from_slice(&tag);
        self.nonce += 1;
        Ok(out_len)
    }

    /// Decrypts `buf` (ciphertext and tag) in place; returns the plaintext length. Without a key the
    /// bytes are the plaintext. The nonce advances only on success.
    pub fn decrypt_with_ad(&mut self, ad: &[u8], buf: &mut [u8]) -> Result<usize, NoiseError> {
        let Some(key) = &self.key else {
            return Ok(buf.len());
        };
        if self.nonce == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let len = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(NoiseError::Truncated)?;
        let (body, tag) = buf.split_at_mut(len);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| NoiseError::Truncated)?;
        aead::chacha20poly1305_open(key, &nonce_bytes(self.nonce), ad, body, tag)
            .map_err(|_| NoiseError::Decrypt)?;
        self.nonce += 1;
        Ok(len)
    }
}

impl core::fmt::Debug for CipherState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CipherState")
            .field("has_key", &self.key.is_some())
            .field("nonce", &self.nonce)
            .finish()
    }
}
