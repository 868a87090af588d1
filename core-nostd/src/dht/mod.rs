//! The Kademlia DHT: how peers find each other, records and providers.
//!
//! So far: the routing table ([`RoutingTable`]), the iterative lookup ([`Lookup`], and
//! [`DisjointLookup`] for S/Kademlia's disjoint paths), the record store ([`RecordStore`],
//! [`MemoryRecordStore`]), provider records ([`Provider`]), the RPC messages ([`DhtMessage`]) and
//! the node machine that ties them together ([`Node`]): it answers requests, runs queries and keeps
//! its table and records fresh. Its messages travel inside secure sessions; the caller carries them.

mod disjoint;
mod lookup;
mod message;
mod node;
mod provider;
mod routing;
mod store;

pub use disjoint::DisjointLookup;
pub use lookup::{Lookup, LookupConfig, MAX_REQUESTS_PER_K};
pub use message::{
    Body, CLIENT_FLAG, DhtMessage, MAX_ADDR_LEN, MAX_DHT_MESSAGE_LEN, MAX_NODES, MAX_PROVIDERS,
    NodeInfo, Nodes, RecordlessDhtMessage, StoreResult,
};
pub use node::{
    DhtConfig, DhtError, DhtEvent, Node, NodeAddress, NodeStats, QueryId, QueryOutcome, QueryStats,
    ServerNode, SmallNode, Transmit,
};
pub use provider::{PROVIDER_BODY_LEN, PROVIDER_LEN, Provider, root_dht_key};
pub use routing::{Contact, MAX_FAILURES, Observed, RoutingTable, bucket_index};
pub use store::{
    MemoryRecordStore, NoRecordStore, PutOutcome, RecordStore, StoreConfig, StoreError,
};
