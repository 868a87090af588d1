//! The session ciphers on std: `ring`'s assembly implementations of the algorithms the core names.
//!
//! Same algorithms, same nonces, same associated data as the core's portable provider, so the bytes on
//! the wire are identical whichever side seals (`tests/aead_interop.rs`). On this machine `ring` is
//! 1.6× (ChaCha20-Poly1305) to 6× (AES-256-GCM) faster than the portable code (`docs/BENCHMARKS.md`).
//!
//! One difference in hygiene: `ring` does not wipe its expanded keys when they are dropped (it offers
//! no zeroize support), so a stream key's schedule can linger in freed memory until it is reused. The
//! raw 32-byte keys the core derives are wiped either way. See `ARCHITECTURE.md`, "Known gaps".

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{AeadError, NONCE_LEN, TAG_LEN};
use gofast_core::session::{AeadProvider, CipherId, CipherSet};
use ring::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

/// [`AeadProvider`] backed by `ring`: ChaCha20-Poly1305 and AES-256-GCM.
#[derive(Clone, Copy, Debug, Default)]
pub struct RingAead;

/// A prepared `ring` key.
pub struct RingKey(LessSafeKey);

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingKey(<redacted>)")
    }
}

impl AeadProvider for RingAead {
    type Key = RingKey;

    fn supported() -> CipherSet {
        CipherSet::CHACHA_ONLY.with(CipherId::Aes256Gcm)
    }

    fn prepare(cipher: CipherId, key: &SecretBytes<32>) -> Option<RingKey> {
        let algorithm = match cipher {
            CipherId::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            CipherId::Aes256Gcm => &AES_256_GCM,
        };
        UnboundKey::new(algorithm, key.expose())
            .ok()
            .map(|k| RingKey(LessSafeKey::new(k)))
    }

    fn seal(
        key: &RingKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        let tag = key
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| AeadError::TooLong)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn open(
        key: &RingKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        key.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| {
                buf.fill(0);
                AeadError::Authentication
            })
    }
}

/// Whether this CPU has AES and carry-less multiplication instructions, which `ring`'s AES-256-GCM
/// uses. Without them `ring` falls back to constant-time code several times slower than
/// ChaCha20-Poly1305, so AES-256-GCM is then not offered at all.
pub fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The ciphers this node offers in its handshakes: ChaCha20-Poly1305 always, AES-256-GCM where the
/// CPU has instructions for it ([`hardware_aes`]).
pub fn offered_ciphers() -> CipherSet {
    if hardware_aes() {
        CipherSet::CHACHA_ONLY.with(CipherId::Aes256Gcm)
    } else {
        CipherSet::CHACHA_ONLY
    }
}

/// The cipher for a stream of a session whose peers both offered `negotiated`: AES-256-GCM when both
/// did (each offers it only with hardware support, where `ring` seals and opens about 3× faster than
/// with ChaCha20-Poly1305: `docs/BENCHMARKS.md`), ChaCha20-Poly1305 otherwise.
pub fn stream_cipher(negotiated: CipherSet) -> CipherId {
    if negotiated.contains(CipherId::Aes256Gcm) {
        CipherId::Aes256Gcm
    } else {
        CipherId::ChaCha20Poly1305
    }
}
