//! The Kademlia DHT: how peers find each other, records and providers.
//!
//! So far: the routing table ([`RoutingTable`]), the iterative lookup ([`Lookup`], and
//! [`DisjointLookup`] for S/Kademlia's disjoint paths), the record store ([`RecordStore`],
//! [`MemoryRecordStore`]), provider records ([`Provider`]) and the RPC messages ([`DhtMessage`]).
//! The DHT node machine over secure sessions and the simulator that measures it follow (issue 4).

mod disjoint;
mod lookup;
mod message;
mod provider;
mod routing;
mod store;

pub use disjoint::DisjointLookup;
pub use lookup::{Lookup, LookupConfig};
pub use message::{
    Body, DhtMessage, MAX_ADDR_LEN, MAX_DHT_MESSAGE_LEN, MAX_NODES, MAX_PROVIDERS, NodeInfo, Nodes,
    StoreResult,
};
pub use provider::{PROVIDER_BODY_LEN, PROVIDER_LEN, Provider, root_dht_key};
pub use routing::{Contact, Observed, RoutingTable, bucket_index};
pub use store::{MemoryRecordStore, PutOutcome, RecordStore, StoreConfig, StoreError};
