//! `gofast-core`: the part of gofast that every peer runs, from a Cortex-M sensor to a server.
//!
//! It holds the cryptography, the identities, the encrypted block format, signed mutable records, the
//! wire codec and the core's notion of time. Everything here is `#![no_std]`; the `alloc` feature adds
//! heap-backed helpers (the tree builder and reader) that small devices can do without.
//!
//! What this crate never does is as important as what it does: it performs no IO, reads no clock,
//! sleeps never, spawns nothing and draws no ambient randomness. Time comes in as [`time::Instant`]
//! values, randomness as a `&mut impl CryptoRng`, bytes as caller-owned buffers.
//!
//! ```
//! use gofast_core::block::{Block, BlockKind, ConvergenceKey, ScopeSecret, open_in_place, seal_in_place, verify};
//! use gofast_core::crypto::SecretBytes;
//! use gofast_core::identity::KeyPair;
//! use gofast_core::record::Record;
//!
//! // An identity from a stored seed (a node would use `KeyPair::generate` with the OS RNG).
//! let alice = KeyPair::from_seed(&SecretBytes::new([7; 32]));
//! let text = alice.peer_id().to_string(); // "gfp1…", with a checksum
//! assert_eq!(text.parse::<gofast_core::identity::PeerId>().unwrap(), alice.peer_id());
//!
//! // A block: the kind byte, then the payload, sealed in place in the caller's buffer.
//! let scope = ScopeSecret::from_secret(SecretBytes::new([1; 32]));
//! let mut block = [BlockKind::Data as u8, b'h', b'i'];
//! let r = seal_in_place(&ConvergenceKey::derive(&scope), &mut block).unwrap();
//! verify(&r.id, &block).unwrap(); // what a peer without the key can check
//! let Block::Data(plain) = open_in_place(&r, &mut block).unwrap() else { unreachable!() };
//! assert_eq!(plain, b"hi");
//!
//! // A signed record pointing at the block. Record values are public: publish the id, not the key.
//! let record = Record::sign(&alice, b"greeting", 1, &r.id.0).unwrap();
//! assert_eq!(record.seq(), 1);
//! ```
#![no_std]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        missing_docs
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod log;

pub mod block;
pub mod codec;
pub mod crypto;
pub mod dht;
pub mod exchange;
pub mod fs;
pub mod identity;
pub mod noise;
pub mod record;
pub mod session;
pub mod stream;
mod text;
pub mod time;

pub use text::TextError;

/// Re-exported so that callers name the same RNG traits as the core (rand_core 0.10).
pub use rand_core;
