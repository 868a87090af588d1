//! The deterministic network simulator: one thread, virtual time, a binary-heap event queue, and a
//! network model with per-link latency, loss, duplication, reordering and partitions. A single `u64`
//! seed drives every choice, so a run is reproduced by its seed. (Models: smoltcp's netsim,
//! TigerBeetle's VOPR.)
//!
//! So far the queue and the network model; the DHT nodes, churn and adversaries that run on them
//! come with the DHT node machine (issue 4).

mod network;
mod queue;

pub use network::{LinkModel, Network, NodeIndex};
pub use queue::EventQueue;

/// The simulator's random source: ChaCha8, the same stream on every platform for a given seed.
pub type SimRng = rand_chacha::ChaCha8Rng;

/// The random source of a run.
pub fn rng(seed: u64) -> SimRng {
    rand::SeedableRng::seed_from_u64(seed)
}
