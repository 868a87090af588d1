//! What a DHT node reports: the results of the queries it was asked to run.

use core::fmt;

use crate::dht::{Contact, MAX_NODES, MAX_PROVIDERS, Provider};
use crate::record::Record;
use crate::time::Instant;

/// Names one query of one node, from its start to its [`DhtEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QueryId(pub u64);

/// What a query cost and how long it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QueryStats {
    /// When it started.
    pub started: Instant,
    /// When its result was known.
    pub finished: Instant,
    /// Requests sent (lookup and store requests).
    pub requests: u32,
    /// Answers received.
    pub answers: u32,
    /// Requests that failed (timed out, refused, or answered with the wrong kind).
    pub failures: u32,
    /// Hops from the starting contacts to the result: the lookup's rounds.
    pub rounds: u8,
    /// Encoded bytes of the requests sent (DHT messages, without session framing).
    pub bytes_sent: u64,
    /// Encoded bytes of the answers received.
    pub bytes_received: u64,
}

/// What a query found or did.
// Without `alloc` the large variants (a record, a list of providers) cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryOutcome<A> {
    /// [`Node::find_peer`](super::Node::find_peer): the peer and its address, if found.
    Peer(Option<Contact<A>>),
    /// [`Node::find_node`](super::Node::find_node) and bootstrap: the closest peers that answered,
    /// nearest first.
    Closest(heapless::Vec<Contact<A>, MAX_NODES>),
    /// [`Node::get_record`](super::Node::get_record): the newest valid record any path found.
    Record(Option<Record>),
    /// [`Node::put_record`](super::Node::put_record) and
    /// [`Node::add_provider`](super::Node::add_provider): what the closest peers answered.
    Stored {
        /// Peers that stored it (new, replaced or refreshed).
        stored: u8,
        /// Peers that refused it (a newer record held, a conflict, full, over quota).
        refused: u8,
        /// Peers that did not answer.
        failed: u8,
    },
    /// [`Node::get_providers`](super::Node::get_providers): unexpired provider records, one per
    /// provider.
    Providers(heapless::Vec<Provider, MAX_PROVIDERS>),
    /// [`Node::ping`](super::Node::ping): whether the peer answered with a pong in time.
    Ping {
        /// It did.
        answered: bool,
    },
}

/// A query's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtEvent<A> {
    /// The query, as its start returned it.
    pub id: QueryId,
    /// Its result.
    pub outcome: QueryOutcome<A>,
    /// What it cost.
    pub stats: QueryStats,
}

/// Why a query could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DhtError {
    /// Every query slot is taken: wait for a [`DhtEvent`] and start it again.
    Busy,
}

impl fmt::Display for DhtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhtError::Busy => f.write_str("every DHT query slot is taken"),
        }
    }
}

impl core::error::Error for DhtError {}
