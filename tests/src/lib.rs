//! Shared pieces of gofast's cross-crate tests and benchmarks.

pub mod dht_sim;
pub mod gofast_procs;
pub mod measure;
pub mod sim;
pub mod syncthing;
