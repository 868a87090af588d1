//! The store's keys, all derived from the one storage key, and the sealing of metadata values.
//!
//! Index keys are keyed BLAKE3 hashes of block ids and pin labels, so the index file names no block and
//! no label. Values that say anything about a block or a pin (where it is, its class, its hit count,
//! a pin's label and root) are sealed with XChaCha20-Poly1305: its 24-byte nonce is a random 16-byte
//! prefix drawn at open plus a counter, so nonces never repeat across the millions of re-seals a busy
//! store does over its life (a 12-byte random nonce would reach the birthday bound within days of
//! continuous writing). The associated data binds each value to its table and key, so a value cannot
//! be moved to another row unnoticed.

use std::sync::atomic::{AtomicU64, Ordering};

use gofast_core::block::BlockId;
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{
    TAG_LEN, XNONCE_LEN, xchacha20poly1305_open, xchacha20poly1305_seal,
};
use gofast_core::crypto::hash::keyed_hash;
use ring::aead::{AES_256_GCM, CHACHA20_POLY1305, LessSafeKey, UnboundKey};

use super::StoreError;
use super::arena::ArenaCipher;

/// BLAKE3 derivation contexts of the store, one per purpose. Like the core's (`crypto/contexts.rs`) they
/// are never edited, only added; they are local to a node's own disk, so they live here and in
/// `docs/spec/store.md` rather than in the protocol's list.
pub const STORE_CONTEXTS: [&str; 4] = [CTX_INDEX, CTX_LABEL, CTX_META, CTX_ARENA];
const CTX_INDEX: &str = "gofast 2026-11-27 store index key";
const CTX_LABEL: &str = "gofast 2026-11-27 store pin label key";
const CTX_META: &str = "gofast 2026-11-27 store metadata key";
const CTX_ARENA: &str = "gofast 2026-11-27 store arena key";

/// Bytes a sealed value adds to its plaintext: nonce and tag.
pub(crate) const SEAL_OVERHEAD: usize = XNONCE_LEN + TAG_LEN;

/// Which table a sealed value belongs to: the first byte of its associated data.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum Domain {
    Block = 1,
    CacheStats = 2,
    Pin = 3,
    Meta = 4,
}

/// An index key: the keyed hash of a block id.
pub(crate) type IndexKey = [u8; 32];

/// The derived keys of one open store.
pub(crate) struct StoreKeys {
    index: SecretBytes<32>,
    label: SecretBytes<32>,
    meta: SecretBytes<32>,
    arena: SecretBytes<32>,
    nonce_prefix: [u8; 16],
    counter: AtomicU64,
}

impl std::fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKeys(<redacted>)")
    }
}

fn derive(context: &str, storage_key: &SecretBytes<32>) -> SecretBytes<32> {
    SecretBytes::new(blake3::derive_key(context, storage_key.expose()))
}

/// Overwrites a buffer that held secret plaintext before it is freed. `black_box` keeps the compiler
/// from dropping the writes as dead stores.
pub(crate) fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

impl StoreKeys {
    pub(crate) fn new(storage_key: &SecretBytes<32>) -> Result<StoreKeys, StoreError> {
        let mut nonce_prefix = [0u8; 16];
        getrandom::fill(&mut nonce_prefix).map_err(|_| StoreError::Randomness)?;
        Ok(StoreKeys {
            index: derive(CTX_INDEX, storage_key),
            label: derive(CTX_LABEL, storage_key),
            meta: derive(CTX_META, storage_key),
            arena: derive(CTX_ARENA, storage_key),
            nonce_prefix,
            counter: AtomicU64::new(0),
        })
    }

    /// The index key of a block id.
    pub(crate) fn index_key(&self, id: &BlockId) -> IndexKey {
        keyed_hash(&self.index, id.as_bytes())
    }

    /// The index key of a pin label.
    pub(crate) fn label_key(&self, label: &str) -> [u8; 32] {
        keyed_hash(&self.label, label.as_bytes())
    }

    /// The record key of arena `number`, whose header holds `salt` and `cipher`. A fresh random salt per
    /// arena file gives every file its own key, so the offset can serve as the nonce; the cipher is in
    /// the derivation so that the two algorithms never share a key.
    pub(crate) fn arena_key(
        &self,
        number: u32,
        salt: &[u8; 32],
        cipher: ArenaCipher,
    ) -> Result<LessSafeKey, StoreError> {
        let mut material = [0u8; 4 + 32 + 1];
        let (n, rest) = material.split_at_mut(4);
        let (s, c) = rest.split_at_mut(32);
        n.copy_from_slice(&number.to_le_bytes());
        s.copy_from_slice(salt);
        c.fill(cipher as u8);
        let key = SecretBytes::new(keyed_hash(&self.arena, &material));
        let algorithm = match cipher {
            ArenaCipher::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            ArenaCipher::Aes256Gcm => &AES_256_GCM,
        };
        UnboundKey::new(algorithm, key.expose())
            .map(LessSafeKey::new)
            .map_err(|_| StoreError::Corrupt { what: "arena key" })
    }

    fn next_nonce(&self) -> [u8; XNONCE_LEN] {
        let mut nonce = [0u8; XNONCE_LEN];
        let (prefix, count) = nonce.split_at_mut(16);
        prefix.copy_from_slice(&self.nonce_prefix);
        count.copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        nonce
    }

    fn aad(domain: Domain, key: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + key.len());
        aad.push(domain as u8);
        aad.extend_from_slice(key);
        aad
    }

    /// Seals `plain` as the value of `key` in `domain`: nonce ‖ ciphertext ‖ tag.
    pub(crate) fn seal(
        &self,
        domain: Domain,
        key: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let nonce = self.next_nonce();
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + plain.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let body = out.get_mut(XNONCE_LEN..).ok_or(StoreError::Corrupt {
            what: "sealed value",
        })?;
        let tag = xchacha20poly1305_seal(&self.meta, &nonce, &Self::aad(domain, key), body)
            .map_err(|_| StoreError::Corrupt {
                what: "sealed value",
            })?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a value sealed by [`StoreKeys::seal`]. A value that does not authenticate is corrupt, or
    /// the store was opened with another key (told apart at open by the key check).
    pub(crate) fn open(
        &self,
        domain: Domain,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        const CORRUPT: StoreError = StoreError::Corrupt {
            what: "sealed metadata",
        };
        let (nonce, rest) = sealed.split_first_chunk::<XNONCE_LEN>().ok_or(CORRUPT)?;
        let (body, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(CORRUPT)?;
        let mut plain = body.to_vec();
        xchacha20poly1305_open(&self.meta, nonce, &Self::aad(domain, key), &mut plain, tag)
            .map_err(|_| CORRUPT)?;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place() {
        let keys = StoreKeys::new(&SecretBytes::new([9; 32])).unwrap();
        let sealed = keys.seal(Domain::Block, b"key", b"value").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(keys.open(Domain::Block, b"key", &sealed).unwrap(), b"value");
        assert!(keys.open(Domain::Block, b"other", &sealed).is_err());
        assert!(keys.open(Domain::Pin, b"key", &sealed).is_err());
        assert!(keys.open(Domain::Block, b"key", &sealed[..10]).is_err());
        let other = StoreKeys::new(&SecretBytes::new([8; 32])).unwrap();
        assert!(other.open(Domain::Block, b"key", &sealed).is_err());
    }

    #[test]
    fn nonces_do_not_repeat() {
        let keys = StoreKeys::new(&SecretBytes::new([9; 32])).unwrap();
        let a = keys.seal(Domain::Meta, b"k", b"v").unwrap();
        let b = keys.seal(Domain::Meta, b"k", b"v").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn contexts_are_in_the_spec() {
        let spec = include_str!("../../../docs/spec/store.md");
        for c in STORE_CONTEXTS {
            assert!(spec.contains(&format!("`{c}`")), "store.md lacks `{c}`");
        }
    }

    #[test]
    fn contexts_are_distinct() {
        let set: std::collections::HashSet<_> = STORE_CONTEXTS.iter().collect();
        assert_eq!(set.len(), STORE_CONTEXTS.len());
        // Nor may one be a context of the core's: a key derived for the store must never equal a
        // key the protocol derives from the same material.
        for c in gofast_core::crypto::KdfContext::ALL {
            assert!(!set.contains(&c.as_str()), "{} is both", c.as_str());
        }
    }
}
