//! X25519 key agreement (RFC 7748).

use core::fmt;
use rand_core::CryptoRng;

use super::SecretBytes;

/// Length of X25519 keys and shared secrets.
pub const KEY_LEN: usize = 32;

/// An X25519 secret key (clamped on use, zeroized on drop).
#[derive(Clone)]
pub struct X25519Secret(x25519_dalek::StaticSecret);

/// An X25519 public key: a Montgomery u-coordinate, as bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct X25519Public(pub [u8; KEY_LEN]);

/// The shared secret of a key agreement; use it only as input to a key derivation.
pub type SharedSecret = SecretBytes<KEY_LEN>;

/// The peer's public key has small order, so the "shared" secret would be all zeros and known to anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NonContributory;

impl fmt::Display for NonContributory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the peer's X25519 key has small order; the shared secret would be zero")
    }
}

impl core::error::Error for NonContributory {}

impl X25519Secret {
    /// A fresh secret from a cryptographic RNG.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        X25519Secret(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    /// The secret with these bytes (a stored key, or a test vector).
    pub fn from_bytes(bytes: &SecretBytes<KEY_LEN>) -> Self {
        X25519Secret(x25519_dalek::StaticSecret::from(*bytes.expose()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> X25519Public {
        X25519Public(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519(self, peer). Refuses a result of all zeros, which a small-order peer key forces.
    pub fn diffie_hellman(&self, peer: &X25519Public) -> Result<SharedSecret, NonContributory> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0));
        if shared.was_contributory() {
            Ok(SecretBytes::new(shared.to_bytes()))
        } else {
            Err(NonContributory)
        }
    }
}

impl fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519Secret(<redacted>)")
    }
}

impl fmt::Debug for X25519Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Public(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
