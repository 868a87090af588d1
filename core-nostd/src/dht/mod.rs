//! The Kademlia DHT: how peers find each other, records and providers.
//!
//! So far: the routing table ([`RoutingTable`]) and the iterative lookup ([`Lookup`]). Value lookups,
//! disjoint paths, the record store, the RPCs over secure
//! sessions and the simulator that measures them follow (issue 4).

mod lookup;
mod routing;

pub use lookup::{Lookup, LookupConfig};
pub use routing::{Contact, Observed, RoutingTable, bucket_index};
