//! `gofast-node`: the full gofast peer for laptops, servers, routers and (through the bindings) phones.
//!
//! It is the only crate that does IO: it reads clocks, files and sockets and feeds the sans-IO machines
//! of `gofast-core`. [`node::Node`] is a whole peer: its keys ([`keys`]), its block store ([`store`]),
//! its UDP side with secure sessions and the DHT ([`net`]), its TCP side with block exchange
//! ([`exchange`]); [`control`] is the local API the `gofast` command uses.

pub mod aead;
pub mod control;
pub mod demo;
pub mod dirs;
pub mod encode;
pub mod error;
pub mod events;
pub mod exchange;
pub mod fs_control;
pub mod keys;
pub mod live_demo;
pub(crate) mod local_tree;
pub mod net;
pub mod node;
pub mod rng;
pub(crate) mod state_file;
pub mod store;
pub mod streams;
pub mod tree_control;
pub(crate) mod tree_ids;
pub mod tree_push;
pub mod volume;
pub mod watch;
