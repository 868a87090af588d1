//! `gofast-node`: the full gofast peer for laptops, servers, routers and (through the bindings) phones.
//!
//! It is the only crate that does IO: it reads clocks, files and sockets and feeds the sans-IO machines
//! of `gofast-core`. Today it holds the OS randomness source, the fast session ciphers and the demo; the
//! transports, the redb block store and the long-running node arrive with their issues.

pub mod aead;
pub mod demo;
pub mod net;
pub mod rng;
pub mod store;
