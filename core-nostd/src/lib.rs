//! `gofast-core`: the part of gofast that every peer runs, from a Cortex-M sensor to a server.
//!
//! It holds the cryptography, the identities, the encrypted block format, signed mutable records, the
//! wire codec and the core's notion of time. Everything here is `#![no_std]`; the `alloc` feature adds
//! heap-backed helpers (the tree builder and reader) that small devices can do without.
//!
//! What this crate never does is as important as what it does: it performs no IO, reads no clock,
//! sleeps never, spawns nothing and draws no ambient randomness. Time comes in as [`time::Instant`]
//! values, randomness as a `&mut impl CryptoRng`, bytes as caller-owned buffers.
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
pub mod identity;
pub mod record;
mod text;
pub mod time;

pub use text::TextError;

/// Re-exported so that callers name the same RNG traits as the core (rand_core 0.10).
pub use rand_core;
