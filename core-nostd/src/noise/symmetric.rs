//! Noise's SymmetricState (Noise §5.2): the chaining key, the transcript hash and the cipher.

use core::marker::PhantomData;

use crate::crypto::SecretBytes;

use super::hash::hkdf2;
use super::{CipherState, HASH_LEN, NoiseError, NoiseHash};

/// The chaining key `ck`, the handshake hash `h` and the current cipher.
pub struct SymmetricState<H> {
    ck: SecretBytes<HASH_LEN>,
    h: [u8; HASH_LEN],
    cipher: CipherState,
    hash: PhantomData<H>,
}

impl<H> Clone for SymmetricState<H> {
    fn clone(&self) -> Self {
        SymmetricState {
            ck: self.ck.clone(),
            h: self.h,
            cipher: self.cipher.clone(),
            hash: PhantomData,
        }
    }
}

impl<H: NoiseHash> SymmetricState<H> {
    /// InitializeSymmetric(protocol_name).
    pub fn new(protocol_name: &[u8]) -> Self {
        let mut h = [0u8; HASH_LEN];
        if let Some(prefix) = h.get_mut(..protocol_name.len()) {
            prefix.copy_from_slice(protocol_name);
        } else {
            h = H::hash(&[protocol_name]);
        }
        SymmetricState {
            ck: SecretBytes::new(h),
            h,
            cipher: CipherState::default(),
            hash: PhantomData,
        }
    }

    /// MixKey(input_key_material).
    pub fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, k) = hkdf2::<H>(&self.ck, ikm);
        self.ck = ck;
        self.cipher = CipherState::new(k);
    }

    /// MixHash(data).
    pub fn mix_hash(&mut self, data: &[u8]) {
        self.h = H::hash(&[&self.h, data]);
    }

    /// The handshake hash so far.
    pub fn handshake_hash(&self) -> [u8; HASH_LEN] {
        self.h
    }

    /// EncryptAndHash on `buf[..len]` in place; returns the length written (plus a tag once keyed).
    pub fn encrypt_and_hash(&mut self, buf: &mut [u8], len: usize) -> Result<usize, NoiseError> {
        let out = self.cipher.encrypt_with_ad(&self.h, buf, len)?;
        let written = buf.get(..out).ok_or(NoiseError::BufferTooSmall)?;
        self.h = H::hash(&[&self.h, written]);
        Ok(out)
    }

    /// DecryptAndHash on `buf` in place; returns the plaintext length.
    pub fn decrypt_and_hash(&mut self, buf: &mut [u8]) -> Result<usize, NoiseError> {
        let next_h = H::hash(&[&self.h, buf]);
        let len = self.cipher.decrypt_with_ad(&self.h, buf)?;
        self.h = next_h;
        Ok(len)
    }

    /// Whether a key has been mixed in (the `s` fields carry a tag from then on).
    pub fn has_key(&self) -> bool {
        self.cipher.has_key()
    }

    /// Split(): the two transport keys, initiator→responder first. The state is consumed so that the
    /// chaining key is wiped.
    pub fn split(self) -> (SecretBytes<32>, SecretBytes<32>) {
        hkdf2::<H>(&self.ck, &[])
    }
}

impl<H> core::fmt::Debug for SymmetricState<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SymmetricState").finish_non_exhaustive()
    }
}
