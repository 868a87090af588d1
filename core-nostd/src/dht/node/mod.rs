//! The DHT node: a sans-IO machine that answers other peers' requests and runs this peer's queries.
//!
//! It owns a [`RoutingTable`], a [`RecordStore`], the provider records it holds, the requests it has
//! in flight and up to `Q` queries. The caller feeds it messages from peers ([`Node::handle_message`],
//! the sender authenticated by the secure session the message came on) and time
//! ([`Node::handle_timeout`]); it drains the messages to send ([`Node::poll_transmit`]) and the results
//! of queries ([`Node::poll_event`]). Answers are built when they are drained, so the queue of
//! answers holds a few bytes per entry, not whole messages.
//!
//! Maintenance runs on the node's own timers: a full bucket pings its least-recently-seen contact
//! before a newcomer may replace it, stale buckets are refreshed with a lookup of a random key in
//! them, records are republished to the closest peers, and expired records and provider records go.

mod address;
mod event;
mod query;
mod serve;

use crate::codec::Encode;
use crate::crypto::SecretBytes;
use crate::crypto::hash::keyed_hash;
use crate::dht::message::{Body, DhtMessage, NodeInfo};
use crate::dht::{
    Contact, LookupConfig, MAX_NODES, Observed, Provider, RecordStore, RoutingTable, root_dht_key,
};
use crate::identity::{DhtKey, PeerId};
use crate::record::Record;
use crate::time::{Duration, Instant};

pub use address::NodeAddress;
pub use event::{DhtError, DhtEvent, QueryId, QueryOutcome, QueryStats};

use query::{Goal, Phase, Query, Slots};
use serve::{Answer, StoredProvider};

/// Peers a storer that is not responsible for a record hands it to before dropping it.
const HANDOFF_FAN_OUT: usize = 3;

/// Most pings to least-recently-seen contacts waiting to be sent.
const PINGS: usize = 4;

/// A DHT node's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DhtConfig {
    /// α and the request timeout of every lookup.
    pub lookup: LookupConfig,
    /// Disjoint paths of a record get (S/Kademlia's `d`; at most the node's `D`).
    pub record_paths: usize,
    /// Disjoint paths of the join's lookup of the node's own key (at most the node's `D`, and in
    /// effect at most its bootstrap contacts). On one path, a joining node whose first answers
    /// came from liars naming each other filled its table with them and stayed unknown to honest
    /// nodes: in the simulator that was one honest node in 150, and every put and get such a node
    /// made failed.
    pub bootstrap_paths: usize,
    /// How many of the closest peers must answer on each path of a record get.
    pub record_width: usize,
    /// A bucket not heard from for this long is refreshed (Kademlia: 1 hour).
    pub refresh_interval: Duration,
    /// A contact heard from within this time is presumed alive: a newcomer to its full bucket waits
    /// without a ping (BEP 5's "good" nodes: 15 minutes). Pinging on every newcomer would cost a
    /// message per message in a busy network.
    pub ping_after: Duration,
    /// How many of the closest must answer in a bucket refresh: enough to fill the bucket with live
    /// contacts, fewer than a full lookup's `K`.
    pub refresh_width: usize,
    /// Leading zero bits a peer's identity must have to enter the table (0: any).
    pub min_work: u8,
    /// How long a provider record is kept at most, whatever its own expiry says.
    pub provider_ttl: Duration,
    /// Most provider records one provider may hold at this node.
    pub max_providers_per_peer: usize,
    /// Unix seconds at `Instant` zero, to judge the wall-clock expiry of provider records.
    pub unix_at_zero: u64,
    /// This node is a DHT client (BEP 43's read-only node, libp2p's client mode): its messages say
    /// so ([`DhtMessage::client`]), so other nodes keep it out of their tables and never name it.
    /// For a node others cannot reach or should not rely on: a device behind its one session, a
    /// phone on battery. It still looks up, stores and answers what it is asked.
    pub client: bool,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            lookup: LookupConfig::default(),
            record_paths: 8,
            bootstrap_paths: 3,
            record_width: 5,
            refresh_interval: Duration::from_secs(3600),
            ping_after: Duration::from_secs(15 * 60),
            refresh_width: 10,
            min_work: 0,
            provider_ttl: Duration::from_secs(24 * 3600),
            max_providers_per_peer: 64,
            unix_at_zero: 0,
            client: false,
        }
    }
}

/// A message for the caller to send to `peer` (at `addr`) over its secure session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit<A> {
    /// The peer.
    pub peer: PeerId,
    /// Where it was last heard from.
    pub addr: A,
    /// The message.
    pub message: DhtMessage,
    /// For a request of a query, the query (a driver may account its traffic; answers to it carry
    /// the message's `request_id`).
    pub query: Option<QueryId>,
}

/// Counters of what a node did with what it was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NodeStats {
    /// Requests answered.
    pub served: u64,
    /// Answers dropped because the answer queue was full (the requester times out).
    pub answers_dropped: u64,
    /// Answers that matched no request in flight (late, duplicated, or unasked).
    pub unexpected: u64,
    /// Messages from peers that could not be decoded.
    pub bad_messages: u64,
    /// Requests sent by the node's own bucket refreshes (joining and hourly).
    pub refresh_requests: u64,
    /// Requests sent by the node's own republishing.
    pub republish_requests: u64,
    /// Requests sent for the caller's queries.
    pub query_requests: u64,
}

#[derive(Clone, Copy, Debug)]
enum Purpose {
    Lookup {
        query: QueryId,
        path: u8,
    },
    Store {
        query: QueryId,
    },
    /// A contact's liveness check before a newcomer may replace it.
    Ping,
    /// A ping the caller asked for ([`Node::ping`]).
    Probe {
        query: QueryId,
    },
}

/// A ping the caller asked for: the contact until its request leaves, then its verdict.
#[derive(Clone, Debug)]
struct Probe<A> {
    id: QueryId,
    unsent: Option<Contact<A>>,
    answered: Option<bool>,
    stats: QueryStats,
}

#[derive(Clone, Debug)]
struct Pending {
    request_id: u64,
    peer: PeerId,
    sent: Instant,
    deadline: Instant,
    purpose: Purpose,
}

/// A Kademlia node over `A` addresses and the record store `S`: `K` contacts per bucket, `CAP` in
/// the table, `REPL` waiting replacements, record gets on up to `D` disjoint paths of `C` candidates
/// each, `Q` queries and `P` requests in flight (and as many answers queued), `PROV` provider
/// records held. [`ServerNode`] and [`SmallNode`] name two profiles.
#[derive(Debug)]
pub struct Node<
    A,
    S,
    const K: usize,
    const CAP: usize,
    const REPL: usize,
    const D: usize,
    const C: usize,
    const Q: usize,
    const P: usize,
    const PROV: usize,
> {
    local: PeerId,
    key: DhtKey,
    config: DhtConfig,
    table: RoutingTable<A, K, CAP, REPL>,
    store: S,
    providers: heapless::Vec<StoredProvider, PROV>,
    queries: Slots<A, D, K, C, Q>,
    pending: heapless::Vec<Pending, P>,
    answers: heapless::Deque<Answer<A>, P>,
    pings: heapless::Vec<Contact<A>, PINGS>,
    /// The caller's pings, at most `Q`.
    probes: heapless::Vec<Probe<A>, Q>,
    seed: SecretBytes<32>,
    counter: u64,
    next_request_id: u64,
    next_query_id: u64,
    next_refresh: Instant,
    /// After the bootstrap lookup: the next bucket (farther than the nearest neighbour) to refresh.
    join_refresh: Option<(QueryId, u8)>,
    stats: NodeStats,
}

/// A server or desktop: k = 20, up to 512 contacts, record gets on up to 8 paths, 16 queries.
pub type ServerNode<A, S> = Node<A, S, 20, 512, 64, 8, 32, 16, 128, 1024>;

/// A microcontroller: k = 4, 32 contacts, 2 paths, 2 queries, few requests in flight.
pub type SmallNode<A, S> = Node<A, S, 4, 32, 4, 2, 12, 2, 8, 4>;

impl<
    A: NodeAddress,
    S: RecordStore,
    const K: usize,
    const CAP: usize,
    const REPL: usize,
    const D: usize,
    const C: usize,
    const Q: usize,
    const P: usize,
    const PROV: usize,
> Node<A, S, K, CAP, REPL, D, C, Q, P, PROV>
{
    /// A node for `local`, storing records in `store`. `seed` (32 random bytes from the caller)
    /// drives the node's choices: request ids and the keys of bucket refreshes.
    pub fn new(local: PeerId, config: DhtConfig, store: S, seed: [u8; 32], now: Instant) -> Self {
        let key = local.dht_key();
        let mut node = Node {
            local,
            key,
            config,
            table: RoutingTable::new(key).with_min_work(config.min_work),
            store,
            providers: heapless::Vec::new(),
            queries: Slots::new(config.lookup),
            pending: heapless::Vec::new(),
            answers: heapless::Deque::new(),
            pings: heapless::Vec::new(),
            probes: heapless::Vec::new(),
            seed: SecretBytes::new(seed),
            counter: 0,
            next_request_id: 0,
            next_query_id: 1,
            next_refresh: now.saturating_add(config.refresh_interval),
            join_refresh: None,
            stats: NodeStats::default(),
        };
        let r = node.random();
        let mut id = [0u8; 8];
        if let Some(head) = r.get(..8) {
            id.copy_from_slice(head);
        }
        node.next_request_id = u64::from_le_bytes(id);
        node
    }

    /// This node's peer.
    pub fn local(&self) -> &PeerId {
        &self.local
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable<A, K, CAP, REPL> {
        &self.table
    }

    /// The record store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// Queries running (the caller's and the node's own).
    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// A peer to start from (a configured bootstrap peer): it enters the table as if heard from.
    pub fn add_contact(&mut self, peer: PeerId, addr: A, now: Instant) -> Observed<A> {
        self.observe(peer, addr, now)
    }

    /// Joins the network: a lookup of this node's own key (which also makes it known to its
    /// neighbours) on [`DhtConfig::bootstrap_paths`] disjoint paths, each done when its
    /// [`DhtConfig::refresh_width`] closest answered, then refreshes of the buckets farther than its
    /// nearest neighbour. The event is the lookup's.
    pub fn bootstrap(&mut self, now: Instant) -> Result<QueryId, DhtError> {
        let (paths, width) = (self.config.bootstrap_paths, self.config.refresh_width);
        let id = self.start(now, false, Goal::Closest, self.key, paths, width)?;
        self.join_refresh = Some((id, 0));
        Ok(id)
    }

    /// Finds `peer`'s address: done as soon as an answer names it.
    pub fn find_peer(&mut self, now: Instant, peer: PeerId) -> Result<QueryId, DhtError> {
        // Known already (and not failing): no request needed, but the caller still gets its event.
        let found = self.table.get(&peer).filter(|c| c.failures == 0).cloned();
        self.start(now, false, Goal::Peer { peer, found }, peer.dht_key(), 1, K)
    }

    /// Asks `peer` at `addr` whether it is there: one request, ended by its answer or its deadline
    /// with [`QueryOutcome::Ping`]. Up to `Q` pings wait at once, apart from the queries.
    pub fn ping(&mut self, now: Instant, peer: PeerId, addr: A) -> Result<QueryId, DhtError> {
        if self.probes.is_full() {
            return Err(DhtError::Busy);
        }
        let id = self.next_query_id();
        let probe = Probe {
            id,
            unsent: Some(Contact::new(peer, addr, now)),
            answered: None,
            stats: QueryStats {
                started: now,
                finished: now,
                ..QueryStats::default()
            },
        };
        // Checked above.
        let _ = self.probes.push(probe);
        Ok(id)
    }

    /// Finds the `K` closest peers to `key` that answer.
    pub fn find_node(&mut self, now: Instant, key: DhtKey) -> Result<QueryId, DhtError> {
        self.start(now, false, Goal::Closest, key, 1, K)
    }

    /// Gets the newest valid record in slot `key`, on [`DhtConfig::record_paths`] disjoint paths;
    /// peers found holding an older record (or none) near the key are given the newest.
    pub fn get_record(&mut self, now: Instant, key: DhtKey) -> Result<QueryId, DhtError> {
        // What this node holds itself counts (in a small network it may be the only holder); the
        // lookup still runs, for newer versions.
        let goal = Goal::GetRecord {
            best: self.store.get(&key).cloned(),
            answered: heapless::Vec::new(),
        };
        let (paths, width) = (self.config.record_paths, self.config.record_width);
        self.start(now, false, goal, key, paths, width)
    }

    /// Stores `record` at the `K` closest peers to its slot, found on [`DhtConfig::record_paths`]
    /// disjoint paths.
    pub fn put_record(&mut self, now: Instant, record: Record) -> Result<QueryId, DhtError> {
        // This node holds the record too, like any storer (and as it does provider records): in a
        // network of two, the only other storer may restart with an empty store, and the record
        // would be nowhere until the next put. (Refused here, it is still stored at the others.)
        let _ = self.store.put(record.clone(), now);
        // On disjoint paths too: a put whose single lookup liars captured would store at them.
        let key = record.dht_key();
        let (paths, width) = (self.config.record_paths, self.config.record_width);
        self.start(now, false, Goal::PutRecord { record }, key, paths, width)
    }

    /// Stores `provider` at the `K` closest peers to its root's key.
    pub fn add_provider(&mut self, now: Instant, provider: Provider) -> Result<QueryId, DhtError> {
        // This node holds the record too, like any storer: a peer whose lookup reaches it learns
        // of the provider even when no other peer could store it (a network of one or two).
        let _ = self.hold_provider(provider.clone(), now);
        let key = provider.dht_key();
        let (paths, width) = (self.config.record_paths, self.config.record_width);
        self.start(
            now,
            false,
            Goal::AddProvider { provider },
            key,
            paths,
            width,
        )
    }

    /// Gets the provider records of `root`.
    pub fn get_providers(&mut self, now: Instant, root: [u8; 32]) -> Result<QueryId, DhtError> {
        // Provider records this node stores count, as its own record store does for gets.
        let key = root_dht_key(&root);
        let unix_now = self.unix_now(now);
        let mut found = heapless::Vec::new();
        for p in self
            .providers
            .iter()
            .filter(|p| p.key == key && p.until > now && !p.provider.is_expired(unix_now))
        {
            if found.push(p.provider.clone()).is_err() {
                break;
            }
        }
        let goal = Goal::GetProviders { root, found };
        let (paths, width) = (self.config.record_paths, self.config.record_width);
        self.start(now, false, goal, root_dht_key(&root), paths, width)
    }

    fn start(
        &mut self,
        now: Instant,
        internal: bool,
        goal: Goal<A, K>,
        target: DhtKey,
        paths: usize,
        width: usize,
    ) -> Result<QueryId, DhtError> {
        if self.queries.is_full() || (internal && !self.internal_room()) {
            return Err(DhtError::Busy);
        }
        let id = self.next_query_id();
        let lookup = self.config.lookup;
        let (table, queries) = (&self.table, &mut self.queries);
        let slot = queries.free_slot().ok_or(DhtError::Busy)?;
        let seeds = table.closest_where::<C>(&target, |_| true).cloned();
        slot.start(
            id,
            internal,
            goal,
            target,
            lookup,
            (paths, width),
            seeds,
            now,
        );
        Ok(id)
    }

    fn next_query_id(&mut self) -> QueryId {
        let id = QueryId(self.next_query_id);
        self.next_query_id += 1;
        id
    }

    /// Wall-clock seconds at `now` (provider records expire in Unix time).
    fn unix_now(&self, now: Instant) -> u64 {
        self.config
            .unix_at_zero
            .saturating_add(now.as_micros() / 1_000_000)
    }

    /// Starts the node's own lookup of a random key in bucket `b`, to fill it with live contacts.
    fn refresh_bucket(&mut self, now: Instant, b: u8) -> Result<QueryId, DhtError> {
        let random = self.random();
        let key = self.table.key_in_bucket(b, random);
        let width = self.config.refresh_width;
        self.start(now, true, Goal::Closest, key, 1, width)
    }

    /// Drops finished queries whose result is out (or was never wanted).
    fn drop_finished(&mut self) {
        self.queries
            .retain(|q| !(matches!(q.phase, Phase::Done) && (q.internal || q.reported)));
    }

    /// The node's own queries leave at least one slot for the caller's (so a node needs `Q` ≥ 2 to
    /// maintain itself).
    fn internal_room(&self) -> bool {
        let internal = self.queries.iter().filter(|q| q.internal).count();
        internal < Q.saturating_sub(1) && !self.queries.is_full()
    }

    fn random(&mut self) -> [u8; 32] {
        self.counter += 1;
        keyed_hash(&self.seed, &self.counter.to_le_bytes())
    }

    /// Records that `peer` was heard from; a full bucket queues a ping of its oldest contact.
    fn observe(&mut self, peer: PeerId, addr: A, now: Instant) -> Observed<A> {
        let observed = self.table.observe(peer, addr, now);
        if let Observed::BucketFull { oldest } = &observed
            && now.saturating_duration_since(oldest.last_seen) >= self.config.ping_after
        {
            let queued = self.pings.iter().any(|c| c.peer == oldest.peer);
            let asked = self
                .pending
                .iter()
                .any(|p| p.peer == oldest.peer && matches!(p.purpose, Purpose::Ping));
            if !queued && !asked {
                // At the bound the newcomer simply waits in the replacement cache.
                let _ = self.pings.push(oldest.clone());
            }
        }
        observed
    }

    /// A message from `from` (authenticated by its session) that arrived from `addr`.
    ///
    /// The message is borrowed: it is kilobytes, and a small node's stack should hold it once, where
    /// it was decoded, not again in each step that reads it.
    pub fn handle_message(&mut self, now: Instant, from: PeerId, addr: A, message: &DhtMessage) {
        if from == self.local {
            return;
        }
        let len = message.encoded_len() as u64;
        let DhtMessage {
            request_id,
            body,
            client,
        } = message;
        if *client {
            // A client is never a contact, even one the caller added when its session came up.
            self.table.forget(&from);
        }
        if body.is_request() {
            self.serve(now, (from, addr, *client), *request_id, body);
        } else {
            self.on_answer(now, (from, addr, *client), *request_id, body, len);
        }
    }

    /// `from` sent something that did not decode (a forged record, a malformed list): its oldest
    /// request in flight fails now rather than at its deadline. One bad message fails one request,
    /// so that a peer speaking a newer version (an unknown request kind) is not treated as dead.
    pub fn handle_bad_message(&mut self, now: Instant, from: &PeerId) {
        self.stats.bad_messages += 1;
        let oldest = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.peer == *from)
            .min_by_key(|(_, p)| p.sent)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            let p = self.pending.swap_remove(i);
            self.request_failed(p, now);
        }
        self.reap(now);
    }

    // Out of line, like `serve`: each holds an answer's worth of kilobytes, and a small node's stack
    // should not hold both.
    #[inline(never)]
    fn on_answer(
        &mut self,
        now: Instant,
        (from, addr, client): (PeerId, A, bool),
        request_id: u64,
        body: &Body,
        bytes: u64,
    ) {
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.request_id == request_id && p.peer == from)
        else {
            self.stats.unexpected += 1;
            return;
        };
        let pending = self.pending.swap_remove(i);
        // An answer of the wrong kind, or with a record of another slot, counts as a failed
        // request of its sender; only a fitting answer refreshes it in the table.
        let fits = match pending.purpose {
            // Being heard from was the point: the contact stays, the newcomer keeps waiting.
            Purpose::Ping => matches!(body, Body::Pong),
            Purpose::Probe { query } => {
                let fits = matches!(body, Body::Pong);
                if let Some(p) = self.probes.iter_mut().find(|p| p.id == query) {
                    p.answered = Some(fits);
                    p.stats.finished = now;
                    p.stats.answers += 1;
                    p.stats.bytes_received += bytes;
                    if !fits {
                        p.stats.failures += 1;
                    }
                }
                fits
            }
            Purpose::Lookup { query, path } => {
                // Peers the query already knows need no contact (and no hashing of their keys).
                let contacts = match self.queries.iter().find(|q| q.id == query) {
                    Some(q) => self.named(body, now, |p| q.lookup.knows(p)),
                    None => heapless::Vec::new(),
                };
                let unix_now = self.unix_now(now);
                match self.queries.iter_mut().find(|q| q.id == query) {
                    Some(q) => {
                        q.stats.bytes_received += bytes;
                        q.on_lookup_answer(usize::from(path), &from, body, contacts, now, unix_now)
                    }
                    // The query ended meanwhile: judge the kind alone.
                    None => matches!(
                        body,
                        Body::Nodes { .. } | Body::Value { .. } | Body::Providers { .. }
                    ),
                }
            }
            Purpose::Store { query } => {
                let fits = matches!(body, Body::Stored { .. });
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == query) {
                    q.stats.bytes_received += bytes;
                    q.on_store_answer(Some(body), now);
                }
                fits
            }
        };
        if fits {
            if !client {
                self.observe(from, addr, now);
            }
        } else {
            self.table.missed(&from);
        }
        self.reap(now);
    }

    /// The peers an answer names, as contacts: the local node, peers without enough work and
    /// addresses that do not parse are left out.
    fn named(
        &self,
        body: &Body,
        now: Instant,
        known: impl Fn(&PeerId) -> bool,
    ) -> heapless::Vec<Contact<A>, MAX_NODES> {
        let nodes = match body {
            Body::Nodes { nodes } | Body::Value { nodes, .. } | Body::Providers { nodes, .. } => {
                nodes
            }
            _ => return heapless::Vec::new(),
        };
        let mut out = heapless::Vec::new();
        for NodeInfo { peer, addr } in nodes {
            if *peer == self.local
                || known(peer)
                || (self.config.min_work > 0 && peer.work_bits() < self.config.min_work)
            {
                continue;
            }
            if let Some(addr) = A::from_bytes(addr) {
                // Both lists hold at most MAX_NODES.
                let _ = out.push(Contact::new(*peer, addr, now));
            }
        }
        out
    }

    /// The next message to send, if any: queued answers first, then pings, then the queries'
    /// requests (while fewer than `P` are in flight).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<A>> {
        if let Some(answer) = self.answers.pop_front() {
            return Some(self.build_answer(answer, now));
        }
        if self.pending.is_full() {
            return None;
        }
        let deadline = now.saturating_add(self.config.lookup.request_timeout);
        if let Some(c) = self.pings.pop() {
            let (ids, pending) = (&mut self.next_request_id, &mut self.pending);
            return Some(request_to(
                ids,
                pending,
                c,
                (now, deadline),
                Purpose::Ping,
                Body::Ping,
                self.config.client,
            ));
        }
        if let Some(p) = self.probes.iter_mut().find(|p| p.unsent.is_some())
            && let Some(c) = p.unsent.take()
        {
            let t = request_to(
                &mut self.next_request_id,
                &mut self.pending,
                c,
                (now, deadline),
                Purpose::Probe { query: p.id },
                Body::Ping,
                self.config.client,
            );
            p.stats.requests += 1;
            p.stats.bytes_sent += t.message.encoded_len() as u64;
            self.stats.query_requests += 1;
            return Some(t);
        }
        let client = self.config.client;
        for q in self.queries.iter_mut() {
            let next = match q.phase {
                Phase::Lookup => q.lookup.poll_request(now).map(|(path, c)| {
                    let purpose = Purpose::Lookup {
                        query: q.id,
                        path: u8::try_from(path).unwrap_or(u8::MAX),
                    };
                    (c, purpose, q.lookup_request())
                }),
                Phase::Store { .. } => match q.store_request() {
                    Some(body) => q
                        .next_store_target()
                        .map(|c| (c, Purpose::Store { query: q.id }, body)),
                    None => None,
                },
                Phase::Done => None,
            };
            if let Some((c, purpose, body)) = next {
                let t = request_to(
                    &mut self.next_request_id,
                    &mut self.pending,
                    c,
                    (now, deadline),
                    purpose,
                    body,
                    client,
                );
                q.stats.requests += 1;
                q.stats.bytes_sent += t.message.encoded_len() as u64;
                count_maintenance(&mut self.stats, q);
                return Some(t);
            }
        }
        None
    }

    /// The result of a finished query of the caller's.
    pub fn poll_event(&mut self) -> Option<DhtEvent<A>> {
        if let Some(i) = self.probes.iter().position(|p| p.answered.is_some()) {
            let p = self.probes.swap_remove(i);
            return Some(DhtEvent {
                id: p.id,
                outcome: QueryOutcome::Ping {
                    answered: p.answered.unwrap_or(false),
                },
                stats: p.stats,
            });
        }
        let q = self
            .queries
            .iter_mut()
            .find(|q| !q.internal && !q.reported && q.result_ready())?;
        q.reported = true;
        // A get that still repairs goes on as the node's own work: the caller's slot is free.
        q.internal = true;
        let event = DhtEvent {
            id: q.id,
            outcome: q.outcome(),
            stats: q.stats,
        };
        if matches!(q.phase, Phase::Done) {
            q.free = true;
        }
        Some(event)
    }

    /// Time has come to `now`: requests past their deadline fail, records and provider records
    /// expire, buckets are refreshed and records republished when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(p) = self.pending.get(i) {
            if p.deadline <= now {
                let p = self.pending.swap_remove(i);
                self.request_failed(p, now);
            } else {
                i += 1;
            }
        }
        for q in self.queries.iter_mut() {
            if matches!(q.phase, Phase::Lookup) {
                q.lookup.handle_timeout(now);
                q.advance(now);
            }
        }
        self.store.expire(now);
        self.expire_providers(now);
        if now >= self.next_refresh {
            // Four checks per interval: a bucket is refreshed at most a quarter interval late.
            let check = Duration::from_micros(self.config.refresh_interval.as_micros() / 4);
            self.next_refresh = now.saturating_add(check.max(Duration::from_secs(1)));
            let mut stale: heapless::Vec<u8, 16> = heapless::Vec::new();
            for b in self.table.stale_buckets(now, self.config.refresh_interval) {
                if stale.push(b).is_err() {
                    break;
                }
            }
            for b in stale {
                if self.refresh_bucket(now, b).is_err() {
                    break;
                }
            }
        }
        self.reap(now);
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = Some(self.next_refresh);
        let earliest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        for p in &self.pending {
            next = earliest(next, Some(p.deadline));
        }
        for q in self.queries.iter() {
            if matches!(q.phase, Phase::Lookup) {
                next = earliest(next, q.lookup.poll_timeout());
            }
        }
        // A republish that cannot start for want of a slot waits for a query to end (an input),
        // not for a timer that would fire at once, again and again.
        if self.internal_room() {
            next = earliest(next, self.store.poll_timeout());
        }
        next
    }

    /// Starts the republishes that are due and have room. Its own function, out of line: a query
    /// is kilobytes, and a small node's stack should hold it only when a republish happens.
    #[inline(never)]
    fn republish(&mut self, now: Instant) {
        while self.internal_room() {
            let Some(record) = self.store.next_republish(now).cloned() else {
                break;
            };
            // A storer is among the closest to the key, so its table knows that neighbourhood (its
            // neighbours look themselves up through it): it stores straight to the closest contacts
            // it has heard from, without a lookup, as the Kademlia paper suggests. A responsible
            // storer renews its own copy with the others'. One that knows k peers closer to the key
            // is not responsible: it hands the record to the closest few and drops its copy (if it
            // kept republishing, every extra holder would store to k peers each hour). Only
            // contacts that did not fail count; counting only recently heard ones made three times
            // as many storers responsible.
            let key = record.dht_key();
            // Read in place (twice) rather than copied: contacts are a small node's scarcest stack.
            let closest = || self.table.closest_where::<MAX_NODES>(&key, |_| true);
            let own = self.key.distance_words(&key);
            let live_closer = closest()
                .filter(|c| c.failures == 0 && c.key.distance_words(&key) < own)
                .count();
            let responsible = live_closer < K.min(MAX_NODES);
            // A hand-off goes to the few closest: they are responsible and republish to the rest.
            let fan_out = if responsible { K } else { HANDOFF_FAN_OUT };
            let targets: heapless::Vec<Contact<A>, K> = closest()
                .filter(|c| c.failures == 0)
                .take(fan_out.min(K))
                .cloned()
                .collect();
            if responsible {
                let _ = self.store.put(record.clone(), now);
            } else {
                self.store.remove(&key);
            }
            let id = self.next_query_id();
            let lookup = self.config.lookup;
            if let Some(slot) = self.queries.free_slot() {
                slot.start_storing(id, Goal::PutRecord { record }, key, lookup, targets, now);
            }
        }
    }

    /// Removes finished queries whose results are out (or were never wanted), starts the join
    /// refreshes and the republishes that have room.
    fn reap(&mut self, now: Instant) {
        self.drop_finished();
        if let Some((id, next)) = self.join_refresh
            && !self
                .queries
                .iter()
                .any(|q| q.id == id && matches!(q.phase, Phase::Lookup))
        {
            // Buckets farther than the nearest neighbour's that the bootstrap left empty get a lookup
            // each. (Kademlia refreshes every one of them; with k = 20 most already hold contacts
            // from the bootstrap, and refreshing them all made joins most of a churning network's
            // traffic. Incoming requests fill them further.)
            let nearest = self
                .table
                .contacts()
                .filter_map(|c| crate::dht::bucket_index(&self.key, &c.key))
                .max()
                .unwrap_or(0);
            let mut b = next;
            while b < nearest {
                if self.table.bucket_len(b) == 0 && self.refresh_bucket(now, b).is_err() {
                    break;
                }
                b += 1;
            }
            self.join_refresh = if b < nearest { Some((id, b)) } else { None };
        }
        // `next_republish` marks what it returns, so the check is the store's timer, which is due
        // whenever a republish is (or an expiry, which `republish` then finds nothing for).
        if self.internal_room() && self.store.poll_timeout().is_some_and(|t| t <= now) {
            self.republish(now);
        }
        // Queries started above may have nothing to do (no contacts): they go now, not at the next
        // input, so that they neither hold slots nor hide the store's timers.
        self.drop_finished();
    }

    /// What the node does when a request in flight fails.
    fn request_failed(&mut self, pending: Pending, now: Instant) {
        match pending.purpose {
            Purpose::Ping => {
                // Heard from since the ping left (an answer to something else): it is alive.
                let heard = self
                    .table
                    .get(&pending.peer)
                    .is_some_and(|c| c.last_seen > pending.sent);
                if !heard {
                    self.table.failed(&pending.peer);
                }
            }
            Purpose::Probe { query } => {
                self.table.missed(&pending.peer);
                if let Some(p) = self.probes.iter_mut().find(|p| p.id == query) {
                    p.answered = Some(false);
                    p.stats.finished = now;
                    p.stats.failures += 1;
                }
            }
            Purpose::Lookup { query, path } => {
                self.table.missed(&pending.peer);
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == query) {
                    q.on_lookup_failure(usize::from(path), &pending.peer, now);
                }
            }
            Purpose::Store { query } => {
                self.table.missed(&pending.peer);
                if let Some(q) = self.queries.iter_mut().find(|q| q.id == query) {
                    q.on_store_answer(None, now);
                }
            }
        }
    }
}

/// Registers a request in flight and builds its message.
fn request_to<A, const P: usize>(
    next_request_id: &mut u64,
    pending: &mut heapless::Vec<Pending, P>,
    c: Contact<A>,
    (sent, deadline): (Instant, Instant),
    purpose: Purpose,
    body: Body,
    client: bool,
) -> Transmit<A> {
    let request_id = *next_request_id;
    *next_request_id = next_request_id.wrapping_add(1);
    // The caller checked for room.
    let _ = pending.push(Pending {
        request_id,
        peer: c.peer,
        sent,
        deadline,
        purpose,
    });
    let query = match purpose {
        Purpose::Lookup { query, .. } | Purpose::Store { query } | Purpose::Probe { query } => {
            Some(query)
        }
        Purpose::Ping => None,
    };
    Transmit {
        peer: c.peer,
        addr: c.addr,
        message: DhtMessage {
            request_id,
            body,
            client,
        },
        query,
    }
}

/// Counts a request of the node's own maintenance.
fn count_maintenance<A, const D: usize, const K: usize, const C: usize>(
    stats: &mut NodeStats,
    q: &Query<A, D, K, C>,
) {
    if q.internal {
        match q.goal {
            Goal::PutRecord { .. } => stats.republish_requests += 1,
            _ => stats.refresh_requests += 1,
        }
    } else {
        stats.query_requests += 1;
    }
}
