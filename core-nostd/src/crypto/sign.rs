//! Ed25519 signatures (RFC 8032), always over a [`SignatureDomain`] prefix and verified strictly.
//!
//! Strict verification (`verify_strict`) refuses small-order public keys and small-order `R` points, so a
//! signature is valid for one message and one key only; public keys that are not the canonical encoding of
//! a curve point, or have small order, are refused when a [`VerifyingKey`] is made.

use core::fmt;
use ed25519_dalek::Signer;
use rand_core::CryptoRng;

use super::{SecretBytes, SignatureDomain};

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 secret seed.
pub const SEED_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Longest message (domain included) that gofast signs or verifies. Everything signed in gofast is a
/// small, bounded structure; large content is signed through its hash.
pub const MAX_SIGNED_LEN: usize = 2048;

/// An Ed25519 signing key. Zeroized on drop; never printed.
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A validated Ed25519 public key: a canonical curve point of large order.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

/// Why a key or signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignatureError {
    /// The public key bytes are not the encoding of a curve point.
    InvalidPublicKey,
    /// The public key has small order, so signatures under it prove nothing.
    WeakPublicKey,
    /// The public key has a small-order (torsion) component: `A + T` for a key `A`. Its holder could
    /// use the same secret under up to 8 such keys, and they share one X25519 session key.
    MixedOrderPublicKey,
    /// The signature does not verify for this key, domain and message.
    Invalid,
    /// The message (with its domain) exceeds [`MAX_SIGNED_LEN`].
    MessageTooLong,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::InvalidPublicKey => "the public key is not a valid Ed25519 point",
            SignatureError::WeakPublicKey => "the public key has small order",
            SignatureError::MixedOrderPublicKey => "the public key has a small-order component",
            SignatureError::Invalid => "the signature does not verify",
            SignatureError::MessageTooLong => "the message is too long to sign",
        })
    }
}

impl core::error::Error for SignatureError {}

impl SigningKey {
    /// A fresh key from a cryptographic RNG.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        SigningKey(ed25519_dalek::SigningKey::generate(rng))
    }

    /// The key with this secret seed (RFC 8032's 32-byte private key).
    pub fn from_seed(seed: &SecretBytes<SEED_LEN>) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed.expose()))
    }

    /// The secret seed, for storing the key. Keep it in the returned wrapper.
    pub fn seed(&self) -> SecretBytes<SEED_LEN> {
        SecretBytes::new(self.0.to_bytes())
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// The X25519 secret that matches this key (the scalar half of SHA-512(seed), as libsodium's
    /// `crypto_sign_ed25519_sk_to_curve25519`). Its public key is [`VerifyingKey::to_x25519`]; see
    /// `docs/spec/session.md` for why one key pair serves both.
    pub fn to_x25519(&self) -> crate::crypto::x25519::X25519Secret {
        let scalar = SecretBytes::new(self.0.to_scalar_bytes());
        crate::crypto::x25519::X25519Secret::from_bytes(&scalar)
    }

    /// Signs `domain || message`.
    pub fn sign(
        &self,
        domain: SignatureDomain,
        message: &[u8],
    ) -> Result<Signature, SignatureError> {
        with_domain(domain, message, |m| Ok(self.sign_raw(m)))
    }

    /// Signs exactly `message`, with no domain. Only for published test vectors and interop.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl VerifyingKey {
    /// Validates `bytes` as a public key: the canonical encoding of a point on the curve in the
    /// prime-order subgroup (not of small order, no small-order component).
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<Self, SignatureError> {
        if !is_canonical_y(bytes) {
            return Err(SignatureError::InvalidPublicKey);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| SignatureError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(SignatureError::WeakPublicKey);
        }
        if !key.to_edwards().is_torsion_free() {
            return Err(SignatureError::MixedOrderPublicKey);
        }
        Ok(VerifyingKey(key))
    }

    /// Decompresses bytes that [`VerifyingKey::from_bytes`] accepted before (a `PeerId`'s), without
    /// repeating its checks (the subgroup check costs a scalar multiplication).
    pub(crate) fn from_validated_bytes(
        bytes: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Self, SignatureError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(VerifyingKey)
            .map_err(|_| SignatureError::InvalidPublicKey)
    }

    /// The encoded public key.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    /// The same point in Montgomery form: the X25519 public key of [`SigningKey::to_x25519`].
    pub fn to_x25519(&self) -> crate::crypto::x25519::X25519Public {
        crate::crypto::x25519::X25519Public(self.0.to_montgomery().to_bytes())
    }

    /// Verifies `signature` over `domain || message`, strictly.
    pub fn verify(
        &self,
        domain: SignatureDomain,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        with_domain(domain, message, |m| self.verify_raw(m, signature))
    }

    /// Verifies `signature` over exactly `message`, strictly. Only for test vectors and interop.
    pub(crate) fn verify_raw(
        &self,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// Whether the encoded y coordinate (the low 255 bits, little-endian) is below p = 2^255 − 19.
///
/// ed25519-dalek accepts the 19 values from p to 2^255 − 1 as their reductions mod p, which would give one
/// key two encodings, and one peer two ids and two DHT positions. p is `ed ff … ff 7f` in little-endian
/// bytes, so y ≥ p exactly when bytes 1..=30 are `ff`, the top byte (sign bit masked) is `7f` and the
/// first byte is at least `ed`.
fn is_canonical_y(bytes: &[u8; PUBLIC_KEY_LEN]) -> bool {
    let [first, middle @ .., last] = bytes;
    !(last & 0x7f == 0x7f && middle.iter().all(|&b| b == 0xff) && *first >= 0xed)
}

/// Runs `f` on `domain || message` laid out in a stack buffer (strict verification needs one slice).
fn with_domain<T>(
    domain: SignatureDomain,
    message: &[u8],
    f: impl FnOnce(&[u8]) -> Result<T, SignatureError>,
) -> Result<T, SignatureError> {
    let prefix = domain.as_bytes();
    let total = prefix.len() + message.len();
    let mut buf = [0u8; MAX_SIGNED_LEN];
    let Some(dst) = buf.get_mut(..total) else {
        return Err(SignatureError::MessageTooLong);
    };
    let (head, tail) = dst.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    tail.copy_from_slice(message);
    f(dst)
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey(")?;
        for b in self.0.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

#[cfg(test)]
mod tests {
    //! RFC 8032 §7.1 and Wycheproof vectors. In-crate because they sign and verify raw messages, which
    //! the public API (always domain-separated) does not offer.
    extern crate std;
    use super::*;
    use serde::Deserialize;
    use std::string::String;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        h(s).try_into().unwrap()
    }

    /// RFC 8032, section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
    #[test]
    fn rfc8032_section_7_1() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
            (
                "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
                "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
            ),
        ];
        for (seed, public, msg, sig) in cases {
            let key = SigningKey::from_seed(&SecretBytes::new(arr(seed)));
            assert_eq!(key.verifying_key().to_bytes(), arr::<32>(public));
            let signature = key.sign_raw(&h(msg));
            assert_eq!(signature.0, arr::<64>(sig));
            let vk = VerifyingKey::from_bytes(&arr(public)).unwrap();
            vk.verify_raw(&h(msg), &signature).unwrap();
            let mut bad = h(msg);
            bad.push(0);
            assert_eq!(
                vk.verify_raw(&bad, &signature),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[derive(Deserialize)]
    struct Wycheproof {
        #[serde(rename = "testGroups")]
        groups: Vec<Group>,
    }
    #[derive(Deserialize)]
    struct Group {
        #[serde(rename = "publicKey")]
        public_key: PublicKey,
        tests: Vec<Test>,
    }
    #[derive(Deserialize)]
    struct PublicKey {
        pk: String,
    }
    #[derive(Deserialize)]
    struct Test {
        #[serde(rename = "tcId")]
        id: u32,
        msg: String,
        sig: String,
        result: String,
    }

    #[test]
    fn wycheproof_ed25519() {
        let w: Wycheproof = serde_json::from_str(include_str!(
            "../../tests/vectors/wycheproof-ed25519_test.json"
        ))
        .unwrap();
        let mut count = 0;
        for group in &w.groups {
            let pk: [u8; 32] = h(&group.public_key.pk).try_into().unwrap();
            let vk = VerifyingKey::from_bytes(&pk);
            for t in &group.tests {
                count += 1;
                let msg = h(&t.msg);
                let sig = h(&t.sig);
                let accepted = match (&vk, <[u8; 64]>::try_from(sig.as_slice())) {
                    (Ok(vk), Ok(sig)) => vk.verify_raw(&msg, &Signature(sig)).is_ok(),
                    _ => false,
                };
                match t.result.as_str() {
                    "valid" => assert!(accepted, "tcId {} should verify", t.id),
                    "invalid" => assert!(!accepted, "tcId {} should be refused", t.id),
                    other => panic!("tcId {}: unexpected result {other}", t.id),
                }
            }
        }
        assert!(count > 100, "only {count} Wycheproof cases ran");
    }

    #[test]
    fn domains_separate_signatures() {
        let key = SigningKey::from_seed(&SecretBytes::new([7; 32]));
        let sig = key.sign(SignatureDomain::Record, b"hello").unwrap();
        let vk = key.verifying_key();
        vk.verify(SignatureDomain::Record, b"hello", &sig).unwrap();
        // The same bytes without the domain are not what was signed.
        assert_eq!(vk.verify_raw(b"hello", &sig), Err(SignatureError::Invalid));
        assert_eq!(
            key.sign(SignatureDomain::Record, &[0u8; MAX_SIGNED_LEN]),
            Err(SignatureError::MessageTooLong)
        );
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        // y = p + k for k in 0..19, with either sign bit: the encodings ed25519-dalek would reduce mod p.
        for k in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + k;
                bytes[31] = 0x7f | sign;
                assert_eq!(
                    VerifyingKey::from_bytes(&bytes).err(),
                    Some(SignatureError::InvalidPublicKey),
                    "y = p + {k}, sign {sign:#x}"
                );
            }
        }
        // p − 1 is canonical (this rule lets it through; decompression decides the rest).
        let mut below = [0xffu8; 32];
        below[0] = 0xec;
        below[31] = 0x7f;
        assert!(is_canonical_y(&below));
        // Every real key is canonical.
        let key = SigningKey::from_seed(&SecretBytes::new([3; 32]));
        assert!(VerifyingKey::from_bytes(&key.verifying_key().to_bytes()).is_ok());
    }

    #[test]
    fn small_order_public_keys_are_refused() {
        // The identity point (y = 1): canonical, on the curve, order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerifyingKey::from_bytes(&identity).err(),
            Some(SignatureError::WeakPublicKey)
        );
    }

    #[test]
    fn mixed_order_public_keys_are_refused() {
        // A + T for each torsion point T: the holder of A's secret could claim all eight, and they
        // share one Montgomery u, so one X25519 session key.
        use curve25519_dalek::constants::EIGHT_TORSION;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let a = SigningKey::from_seed(&SecretBytes::new([7; 32])).verifying_key();
        let point = CompressedEdwardsY(a.to_bytes()).decompress().unwrap();
        for t in &EIGHT_TORSION[1..] {
            let mixed = (point + t).compress().to_bytes();
            assert_eq!(
                VerifyingKey::from_bytes(&mixed).err(),
                Some(SignatureError::MixedOrderPublicKey)
            );
            // X25519 clamps scalars to multiples of 8, which cancel T: a DH against A + T equals one
            // against A, so a handshake could not tell the two identities apart.
            let e = crate::crypto::x25519::X25519Secret::from_bytes(&SecretBytes::new([3; 32]));
            let with_t =
                crate::crypto::x25519::X25519Public((point + t).to_montgomery().to_bytes());
            let without = crate::crypto::x25519::X25519Public(point.to_montgomery().to_bytes());
            assert_eq!(
                e.diffie_hellman(&with_t).unwrap(),
                e.diffie_hellman(&without).unwrap()
            );
        }
        assert!(VerifyingKey::from_bytes(&a.to_bytes()).is_ok());
    }
}
