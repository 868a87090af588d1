//! The node's network side: real UDP sockets driving the core's session and DHT machines.
//!
//! One task owns everything that changes (the DHT node, the sessions, the queries in flight) and
//! feeds it inputs carrying `now`, as the core's machines expect: datagrams from the socket,
//! commands from [`NodeHandle`]s, and its own timers. Nothing is shared behind locks; callers talk
//! to the task through a bounded channel and get their answers on one-shot channels.
//!
//! Every DHT message between two peers travels on a secure session (`gofast_core::session`), one
//! per remote address: Noise IK when the DHT already knows the peer's identity (the first request
//! rides in the handshake as early data), XX when only an address is known (a bootstrap address
//! given by a person). The sender the DHT sees is the identity the handshake proved.

mod clock;
mod config;
mod driver;
mod error;
mod handle;
mod links;
mod push;
mod pushed_record;

pub use config::{BootstrapPeer, BootstrapPeerError, Limits, NodeConfig};
pub use driver::spawn;
pub use error::NodeError;
pub use handle::{NetStats, NodeHandle, PeerInfo, PutReport};
pub use push::{PUSH_QUEUE, PushedBlock};
pub use pushed_record::{PUSHED_RECORD_QUEUE, PushedRecord};

/// Records the node's DHT store keeps in memory (each at most about 1 KiB).
pub const DHT_RECORDS: usize = 1024;
