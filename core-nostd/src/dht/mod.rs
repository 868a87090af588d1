//! The Kademlia DHT: how peers find each other, records and providers.
//!
//! So far: the routing table ([`RoutingTable`]). Lookups, the record store, the RPCs over secure
//! sessions and the simulator that measures them follow (issue 4).

mod routing;

pub use routing::{Contact, Observed, RoutingTable, bucket_index};
