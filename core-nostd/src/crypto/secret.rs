use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` secret bytes: zeroized on drop, compared in constant time, never printed.
///
/// The building block of every key type in the core. It is deliberately not `Copy`, so that a secret
/// lives in one place and is wiped there.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> SecretBytes<N> {
    /// Takes ownership of `bytes`. The caller should wipe its own copy if it keeps one.
    pub const fn new(bytes: [u8; N]) -> Self {
        SecretBytes(bytes)
    }

    /// Fills a new secret from a cryptographic RNG.
    pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        // Filled in place, so that no copy of the secret is left on the stack.
        let mut secret = SecretBytes([0u8; N]);
        rng.fill_bytes(&mut secret.0);
        secret
    }

    /// The secret bytes. Use them, do not copy them out.
    pub const fn expose(&self) -> &[u8; N] {
        &self.0
    }

    /// The secret bytes, to fill in place (a secret decrypted where it will stay).
    pub const fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> ConstantTimeEq for SecretBytes<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for SecretBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl<const N: usize> Eq for SecretBytes<N> {}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for SecretBytes<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "<redacted>")
    }
}
