//! The peer's configuration, fixed at build time from the environment (see `build.rs`): the device
//! identity's seed, its node's id and address, how many readings a run takes.

include!(concat!(env!("OUT_DIR"), "/config.rs"));
