//! The hash functions of Noise, and HMAC/HKDF over them (Noise §4.3), written once.

use zeroize::Zeroize;

use crate::crypto::SecretBytes;

/// Output length of every hash used here (Noise's HASHLEN).
pub const HASH_LEN: usize = 32;
/// Block length of every hash used here (Noise's BLOCKLEN), the HMAC pad length.
pub const BLOCK_LEN: usize = 64;

/// A hash function for Noise with a 32-byte output and a 64-byte block.
///
/// The core implements it for BLAKE3 ([`Blake3`]); the tests implement it for BLAKE2s and SHA-256 to
/// run the published vectors through the same code.
pub trait NoiseHash {
    /// The name in the protocol name, for example `"BLAKE2s"`.
    const NAME: &'static str;

    /// The hash of the concatenation of `parts`.
    fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN];
}

/// BLAKE3 in its plain hash mode: gofast's production suite `Noise_XX_25519_ChaChaPoly_BLAKE3`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Blake3;

impl NoiseHash for Blake3 {
    const NAME: &'static str = "BLAKE3";

    fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN] {
        let mut h = blake3::Hasher::new();
        for part in parts {
            h.update(part);
        }
        *h.finalize().as_bytes()
    }
}

/// HMAC-HASH(key, a || b) (RFC 2104) with a 32-byte key.
pub(crate) fn hmac<H: NoiseHash>(key: &[u8; HASH_LEN], a: &[u8], b: &[u8]) -> [u8; HASH_LEN] {
    let mut ipad = [0x36u8; BLOCK_LEN];
    let mut opad = [0x5cu8; BLOCK_LEN];
    for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key) {
        *i ^= k;
        *o ^= k;
    }
    let mut inner = H::hash(&[&ipad, a, b]);
    let out = H::hash(&[&opad, &inner]);
    ipad.zeroize();
    opad.zeroize();
    inner.zeroize();
    out
}

/// HKDF(chaining_key, input_key_material, 2) of Noise §4.3.
pub(crate) fn hkdf2<H: NoiseHash>(
    chaining_key: &SecretBytes<HASH_LEN>,
    ikm: &[u8],
) -> (SecretBytes<HASH_LEN>, SecretBytes<HASH_LEN>) {
    let mut temp = hmac::<H>(chaining_key.expose(), ikm, &[]);
    let out1 = hmac::<H>(&temp, &[], &[1]);
    let out2 = hmac::<H>(&temp, &out1, &[2]);
    temp.zeroize();
    (SecretBytes::new(out1), SecretBytes::new(out2))
}
