//! The core's cryptography, behind types that say what each key is for.
//!
//! - [`hash`]: BLAKE3 hash, keyed hash (MAC) and key derivation; every derivation names a
//!   [`KdfContext`] from [`contexts`], the one list of context strings.
//! - [`aead`]: ChaCha20-Poly1305 and XChaCha20-Poly1305, in place on caller buffers.
//! - [`cipher`]: the raw ChaCha20 stream cipher, for content-addressed blocks whose integrity comes from
//!   their BLAKE3 id (see `ARCHITECTURE.md`, "Blocks are not AEAD-sealed").
//! - [`x25519`]: key agreement. [`sign`]: Ed25519 signatures, verified strictly.
//!
//! Secrets are zeroized on drop, print as `<redacted>`, and compare in constant time.

pub mod aead;
pub mod cipher;
pub mod contexts;
pub mod hash;
pub mod sign;
pub mod x25519;

mod secret;

pub use contexts::{KdfContext, SignatureDomain};
pub use secret::SecretBytes;
