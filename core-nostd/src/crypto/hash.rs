//! BLAKE3: hash, keyed hash, key derivation, each with an extendable-output form.

use super::KdfContext;
use super::SecretBytes;

/// Length of a BLAKE3 output and of a BLAKE3 key.
pub const HASH_LEN: usize = 32;

/// The BLAKE3 hash of `data`.
pub fn hash(data: &[u8]) -> [u8; HASH_LEN] {
    *blake3::hash(data).as_bytes()
}

/// The BLAKE3 hash of `data`, `out.len()` bytes long (extendable output).
pub fn hash_xof(data: &[u8], out: &mut [u8]) {
    blake3::Hasher::new().update(data).finalize_xof().fill(out);
}

/// Incremental BLAKE3, for data that arrives in pieces.
#[derive(Clone, Default)]
pub struct Hasher(blake3::Hasher);

impl Hasher {
    /// An empty hash state.
    pub fn new() -> Self {
        Hasher(blake3::Hasher::new())
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.0.update(data);
        self
    }

    /// The hash of everything absorbed so far (the state stays usable).
    pub fn finalize(&self) -> [u8; HASH_LEN] {
        *self.0.finalize().as_bytes()
    }
}

impl core::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Hasher")
    }
}

/// BLAKE3 in keyed mode: a MAC or PRF of `data` under `key`. Compare MAC outputs with
/// [`subtle::ConstantTimeEq`], never with `==`.
pub fn keyed_hash(key: &SecretBytes<HASH_LEN>, data: &[u8]) -> [u8; HASH_LEN] {
    *blake3::keyed_hash(key.expose(), data).as_bytes()
}

/// Keyed BLAKE3 with extendable output.
pub fn keyed_hash_xof(key: &SecretBytes<HASH_LEN>, data: &[u8], out: &mut [u8]) {
    blake3::Hasher::new_keyed(key.expose())
        .update(data)
        .finalize_xof()
        .fill(out);
}

/// A 32-byte key derived from `material` for the purpose named by `context`.
pub fn derive_key(context: KdfContext, material: &[u8]) -> SecretBytes<HASH_LEN> {
    SecretBytes::new(blake3::derive_key(context.as_str(), material))
}

/// Key derivation with extendable output, for purposes that need more than 32 bytes.
pub fn derive_key_xof(context: KdfContext, material: &[u8], out: &mut [u8]) {
    derive_with_context_string(context.as_str(), material, out);
}

/// Derives from a public value (a public key, a salt) a public position such as a DHT key. Same
/// construction as [`derive_key`], returned as plain bytes because nothing about it is secret.
pub fn derive_public(context: KdfContext, material: &[u8]) -> [u8; HASH_LEN] {
    blake3::derive_key(context.as_str(), material)
}

fn derive_with_context_string(context: &str, material: &[u8], out: &mut [u8]) {
    blake3::Hasher::new_derive_key(context)
        .update(material)
        .finalize_xof()
        .fill(out);
}

#[cfg(test)]
mod tests {
    //! The published BLAKE3 test vectors, run through this module. They live here rather than in
    //! `tests/` because their derive_key context string is BLAKE3's own, which the public API (rightly)
    //! does not accept.
    extern crate std;
    use super::*;
    use serde::Deserialize;
    use std::vec::Vec;

    #[derive(Deserialize)]
    struct Vectors {
        key: std::string::String,
        context_string: std::string::String,
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        input_len: usize,
        hash: std::string::String,
        keyed_hash: std::string::String,
        derive_key: std::string::String,
    }

    #[test]
    fn blake3_published_vectors() {
        let v: Vectors =
            serde_json::from_str(include_str!("../../tests/vectors/blake3-test-vectors.json"))
                .unwrap();
        let key = SecretBytes::new(<[u8; 32]>::try_from(v.key.as_bytes()).unwrap());
        assert!(v.cases.len() >= 30, "the vector file looks truncated");
        for case in &v.cases {
            // The input is the byte sequence 0, 1, ..., 250, 0, 1, ... of the given length.
            let input: Vec<u8> = (0..case.input_len).map(|i| (i % 251) as u8).collect();
            let expect_hash = hex::decode(&case.hash).unwrap();
            let expect_keyed = hex::decode(&case.keyed_hash).unwrap();
            let expect_derive = hex::decode(&case.derive_key).unwrap();

            assert_eq!(
                hash(&input),
                expect_hash[..32],
                "hash, len {}",
                case.input_len
            );
            let mut out = std::vec![0u8; expect_hash.len()];
            hash_xof(&input, &mut out);
            assert_eq!(out, expect_hash, "hash xof, len {}", case.input_len);

            assert_eq!(
                keyed_hash(&key, &input),
                expect_keyed[..32],
                "keyed, len {}",
                case.input_len
            );
            keyed_hash_xof(&key, &input, &mut out);
            assert_eq!(out, expect_keyed, "keyed xof, len {}", case.input_len);

            derive_with_context_string(&v.context_string, &input, &mut out);
            assert_eq!(out, expect_derive, "derive_key xof, len {}", case.input_len);
        }
    }

    #[test]
    fn incremental_hashing_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = Hasher::new();
        for piece in data.chunks(777) {
            h.update(piece);
        }
        assert_eq!(h.finalize(), hash(&data));
    }

    #[test]
    fn derive_key_and_derive_public_agree_and_contexts_separate() {
        let a = derive_key(KdfContext::PeerDhtKey, b"material");
        assert_eq!(
            a.expose(),
            &derive_public(KdfContext::PeerDhtKey, b"material")
        );
        let mut xof = [0u8; 64];
        derive_key_xof(KdfContext::PeerDhtKey, b"material", &mut xof);
        assert_eq!(&xof[..32], a.expose());
        let b = derive_key(KdfContext::RecordDhtKey, b"material");
        assert_ne!(a, b);
    }
}
