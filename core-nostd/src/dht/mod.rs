//! The Kademlia DHT: how peers find each other, records and providers.
//!
//! So far: the routing table ([`RoutingTable`]), the iterative lookup ([`Lookup`]) and the record
//! store ([`RecordStore`], [`MemoryRecordStore`]). Value lookups, disjoint paths, provider records,
//! the RPCs over secure sessions and the simulator that measures them follow (issue 4).

mod lookup;
mod routing;
mod store;

pub use lookup::{Lookup, LookupConfig};
pub use routing::{Contact, Observed, RoutingTable, bucket_index};
pub use store::{MemoryRecordStore, PutOutcome, RecordStore, StoreConfig, StoreError};
