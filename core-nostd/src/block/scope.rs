use rand_core::CryptoRng;

use crate::crypto::hash::derive_key;
use crate::crypto::{KdfContext, SecretBytes};

/// The secret that defines a deduplication scope: a user's, or a volume's.
///
/// Within one scope, the same plaintext always becomes the same block (same key, same id); across scopes
/// it never does, so an outsider cannot confirm that a scope holds a file they can guess.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeSecret(SecretBytes<32>);

impl ScopeSecret {
    /// A fresh scope.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        ScopeSecret(SecretBytes::random(rng))
    }

    /// The scope with this secret (as stored).
    pub const fn from_secret(secret: SecretBytes<32>) -> Self {
        ScopeSecret(secret)
    }

    /// The secret, for storing it.
    pub const fn expose(&self) -> &SecretBytes<32> {
        &self.0
    }
}

/// The key of the keyed hash that gives each block of a scope its convergent key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvergenceKey(pub(crate) SecretBytes<32>);

impl ConvergenceKey {
    /// `derive_key("… block convergence key", scope secret)`.
    pub fn derive(scope: &ScopeSecret) -> Self {
        ConvergenceKey(derive_key(KdfContext::BlockConvergence, scope.0.expose()))
    }
}
