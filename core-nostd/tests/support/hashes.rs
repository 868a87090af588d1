//! The standard Noise suites' hashes plugged into the core's generic Noise code (tests only).

use blake2::Digest as _;
use gofast_core::noise::NoiseHash;

pub struct Blake2s;
impl NoiseHash for Blake2s {
    const NAME: &'static str = "BLAKE2s";
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = blake2::Blake2s256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}

pub struct Sha256;
impl NoiseHash for Sha256 {
    const NAME: &'static str = "SHA256";
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}
