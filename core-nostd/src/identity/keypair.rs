use core::fmt;
use rand_core::CryptoRng;

use super::PeerId;
use crate::crypto::sign::{SEED_LEN, Signature, SignatureError, SigningKey};
use crate::crypto::{SecretBytes, SignatureDomain};

/// A peer's identity: its Ed25519 signing key and the [`PeerId`] that names it.
///
/// The secret never leaves except through [`KeyPair::secret_seed`], which exists so the node can store
/// it; it is zeroized on drop and `Debug` shows only the peer id.
pub struct KeyPair {
    signing: SigningKey,
    peer_id: PeerId,
}

impl KeyPair {
    /// A new identity from a cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_signing_key(SigningKey::random(rng))
    }

    /// A new identity with at least `bits` of work ([`PeerId::work_bits`]): about `2^bits` key
    /// generations. `None` after `max_attempts` tries.
    pub fn generate_with_work<R: CryptoRng + ?Sized>(
        rng: &mut R,
        bits: u8,
        max_attempts: u64,
    ) -> Option<Self> {
        (0..max_attempts)
            .map(|_| Self::generate(rng))
            .find(|k| k.peer_id().work_bits() >= bits)
    }

    /// The identity with this 32-byte secret seed (as stored, or as configured on a device).
    pub fn from_seed(seed: &SecretBytes<SEED_LEN>) -> Self {
        Self::from_signing_key(SigningKey::from_seed(seed))
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        let peer_id = PeerId::from_verifying_key(&signing.verifying_key());
        KeyPair { signing, peer_id }
    }

    /// The public identity.
    pub const fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The secret seed, for persisting the identity. Keep it wrapped; it wipes itself.
    pub fn secret_seed(&self) -> SecretBytes<SEED_LEN> {
        self.signing.seed()
    }

    /// The X25519 static key of this identity's secure sessions (the birational map of the Ed25519
    /// key), so that a peer who knows the [`PeerId`] knows the session key too.
    pub fn x25519_secret(&self) -> crate::crypto::x25519::X25519Secret {
        self.signing.to_x25519()
    }

    /// Signs `domain || message`.
    pub fn sign(
        &self,
        domain: SignatureDomain,
        message: &[u8],
    ) -> Result<Signature, SignatureError> {
        self.signing.sign(domain, message)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}
