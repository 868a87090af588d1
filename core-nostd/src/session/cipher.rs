//! The per-stream ciphers: named by the core, implemented by a pluggable [`AeadProvider`].
//!
//! The core owns every byte of a frame; a provider only turns (key, nonce, associated data, bytes)
//! into ciphertext and tag for a named algorithm. Two providers of the same algorithm therefore put
//! identical bytes on the wire: the std node seals with `ring`, a phone or a sensor opens with the
//! portable RustCrypto code here.

use core::fmt;

use crate::crypto::SecretBytes;
use crate::crypto::aead::{AeadError, NONCE_LEN, TAG_LEN};

/// An AEAD algorithm a stream may use. The byte is on the wire and in the key derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum CipherId {
    /// ChaCha20-Poly1305 (RFC 8439). Every peer offers it; the control stream always uses it.
    ChaCha20Poly1305 = 1,
    /// AES-256-GCM (NIST SP 800-38D), where both peers offer it.
    Aes256Gcm = 2,
}

impl CipherId {
    /// Every algorithm, in the order of their wire bytes.
    pub const ALL: [CipherId; 2] = [CipherId::ChaCha20Poly1305, CipherId::Aes256Gcm];

    /// The algorithm with this wire byte.
    pub const fn from_u8(byte: u8) -> Option<CipherId> {
        match byte {
            1 => Some(CipherId::ChaCha20Poly1305),
            2 => Some(CipherId::Aes256Gcm),
            _ => None,
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8 - 1)
    }
}

impl fmt::Display for CipherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherId::ChaCha20Poly1305 => "ChaCha20-Poly1305",
            CipherId::Aes256Gcm => "AES-256-GCM",
        })
    }
}

/// A set of algorithms: what a peer offers in its handshake, or what both offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CipherSet(u8);

impl CipherSet {
    /// ChaCha20-Poly1305 alone: what every peer offers at least.
    pub const CHACHA_ONLY: CipherSet = CipherSet(1);

    /// The set with the wire bits `bits`; `None` if an unknown bit is set.
    pub const fn from_bits(bits: u8) -> Option<CipherSet> {
        if bits & !0b11 == 0 {
            Some(CipherSet(bits))
        } else {
            None
        }
    }

    /// The wire bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// This set with `cipher` added.
    #[must_use]
    pub const fn with(self, cipher: CipherId) -> CipherSet {
        CipherSet(self.0 | cipher.bit())
    }

    /// This set with every algorithm of `other` added.
    #[must_use]
    pub const fn with_all(self, other: CipherSet) -> CipherSet {
        CipherSet(self.0 | other.0)
    }

    /// Whether `cipher` is in the set.
    pub const fn contains(self, cipher: CipherId) -> bool {
        self.0 & cipher.bit() != 0
    }

    /// The algorithms in both sets.
    #[must_use]
    pub const fn intersect(self, other: CipherSet) -> CipherSet {
        CipherSet(self.0 & other.0)
    }
}

/// An implementation of the stream AEADs. The session calls it with a fresh 32-byte key per stream
/// and epoch, a 96-bit nonce that never repeats under a key, and the frame header as associated data.
pub trait AeadProvider {
    /// A key prepared for repeated use (a key schedule, for AES). It must wipe itself on drop.
    type Key;

    /// The algorithms this provider implements.
    fn supported() -> CipherSet;

    /// Prepares `key` for `cipher`; `None` if the provider lacks the algorithm.
    fn prepare(cipher: CipherId, key: &SecretBytes<32>) -> Option<Self::Key>;

    /// Encrypts `buf` in place and returns the tag.
    fn seal(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError>;

    /// Authenticates and decrypts `buf` in place. On failure the provider must not leave unverified
    /// plaintext behind (the session wipes the buffer too).
    fn open(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError>;
}

/// The portable provider: RustCrypto's constant-time software implementations. The only one on
/// microcontrollers; AES-256-GCM only with the `aes-gcm` feature.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortableAead;

/// A prepared key of [`PortableAead`]; the RustCrypto types wipe their keys on drop.
// The AES variant holds the expanded key schedule; without `alloc` it cannot be boxed, and each
// stream holds at most three keys.
#[allow(clippy::large_enum_variant)]
pub enum PortableKey {
    /// ChaCha20-Poly1305.
    ChaCha(chacha20poly1305::ChaCha20Poly1305),
    /// AES-256-GCM.
    #[cfg(feature = "aes-gcm")]
    Aes(aes_gcm::Aes256Gcm),
}

impl fmt::Debug for PortableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PortableKey(<redacted>)")
    }
}

impl AeadProvider for PortableAead {
    type Key = PortableKey;

    fn supported() -> CipherSet {
        let set = CipherSet::CHACHA_ONLY;
        #[cfg(feature = "aes-gcm")]
        let set = set.with(CipherId::Aes256Gcm);
        set
    }

    fn prepare(cipher: CipherId, key: &SecretBytes<32>) -> Option<PortableKey> {
        use chacha20poly1305::KeyInit;
        match cipher {
            CipherId::ChaCha20Poly1305 => Some(PortableKey::ChaCha(
                chacha20poly1305::ChaCha20Poly1305::new(&(*key.expose()).into()),
            )),
            #[cfg(feature = "aes-gcm")]
            CipherId::Aes256Gcm => Some(PortableKey::Aes(aes_gcm::Aes256Gcm::new(
                &(*key.expose()).into(),
            ))),
            #[cfg(not(feature = "aes-gcm"))]
            CipherId::Aes256Gcm => None,
        }
    }

    fn seal(
        key: &PortableKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        use chacha20poly1305::aead::AeadInOut;
        let tag = match key {
            PortableKey::ChaCha(c) => c.encrypt_inout_detached(&(*nonce).into(), aad, buf.into()),
            #[cfg(feature = "aes-gcm")]
            PortableKey::Aes(c) => c.encrypt_inout_detached(&(*nonce).into(), aad, buf.into()),
        };
        tag.map(Into::into).map_err(|_| AeadError::TooLong)
    }

    fn open(
        key: &PortableKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        use chacha20poly1305::aead::AeadInOut;
        let result = match key {
            PortableKey::ChaCha(c) => {
                c.decrypt_inout_detached(&(*nonce).into(), aad, (&mut *buf).into(), &(*tag).into())
            }
            #[cfg(feature = "aes-gcm")]
            PortableKey::Aes(c) => {
                c.decrypt_inout_detached(&(*nonce).into(), aad, (&mut *buf).into(), &(*tag).into())
            }
        };
        result.map_err(|_| {
            buf.fill(0);
            AeadError::Authentication
        })
    }
}
