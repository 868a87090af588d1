//! Shared pieces of gofast's cross-crate tests and benchmarks.

pub mod measure;
pub mod sim;
