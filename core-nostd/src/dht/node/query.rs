//! One query of a node: a lookup on one or more disjoint paths, then, for puts, the stores to the
//! closest peers it found. The node owns the requests in flight; a query decides what to ask next and
//! what the answers mean.

use crate::dht::message::{Body, StoreResult};
use crate::dht::{Contact, DisjointLookup, LookupConfig, MAX_NODES, MAX_PROVIDERS, Provider};
use crate::identity::{DhtKey, PeerId};
use crate::record::Record;
use crate::time::Instant;

use super::event::{QueryId, QueryOutcome, QueryStats};

/// Peers that answered a get with an older record (or none), kept for read repair: the newest
/// record is stored at the nearest of them when the get ends.
pub(super) const REPAIR: usize = 4;

/// Most peers a put stores at: k over all paths plus the closest of each path.
pub(super) const STORE_TARGETS: usize = 2 * MAX_NODES;

/// What a query is for.
// Without `alloc` the large variants (a record, a list of providers) cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Goal<A, const K: usize> {
    /// Locate one peer: done when any answer names it.
    Peer {
        peer: PeerId,
        found: Option<Contact<A>>,
    },
    /// The closest peers to a key.
    Closest,
    /// The newest record in a slot.
    GetRecord {
        best: Option<Record>,
        /// The nearest peers that answered, nearest first, with the sequence they held.
        answered: heapless::Vec<(Contact<A>, Option<u64>), REPAIR>,
    },
    /// Store a record at the closest peers.
    PutRecord { record: Record },
    /// Store a provider record at the closest peers.
    AddProvider { provider: Provider },
    /// Provider records of a root: at most `K` (a small node has no use for twenty, and a
    /// query slot is held in its static memory).
    GetProviders {
        root: [u8; 32],
        found: heapless::Vec<Provider, K>,
    },
}

/// Where a query is.
#[derive(Debug)]
pub(super) enum Phase {
    /// Asking for closer peers.
    Lookup,
    /// Sending the record (or provider record) to the candidates the lookup marked as targets.
    Store { outstanding: u8 },
    /// Nothing left to do.
    Done,
}

/// A query in a node's slot.
#[derive(Debug)]
pub(super) struct Query<A, const D: usize, const K: usize, const C: usize> {
    pub(super) id: QueryId,
    /// Started by the node itself (refresh, republish): no event.
    pub(super) internal: bool,
    /// Its event has been handed out (a get may still be repairing).
    pub(super) reported: bool,
    pub(super) goal: Goal<A, K>,
    pub(super) lookup: DisjointLookup<A, D, K, C>,
    pub(super) phase: Phase,
    pub(super) stats: QueryStats,
    /// Answers of the store phase: stored, refused, failed.
    pub(super) tally: (u8, u8, u8),
    /// The slot holds no query.
    pub(super) free: bool,
}

impl<A: Clone, const D: usize, const K: usize, const C: usize> Query<A, D, K, C> {
    /// An empty slot.
    pub(super) fn idle(config: LookupConfig) -> Self {
        Query {
            id: QueryId(0),
            internal: true,
            reported: false,
            goal: Goal::Closest,
            lookup: DisjointLookup::with_paths(DhtKey([0; 32]), config, 1, K, core::iter::empty()),
            phase: Phase::Done,
            tally: (0, 0, 0),
            stats: QueryStats::default(),
            free: true,
        }
    }

    /// Starts, in this slot, a query for `goal` around `target`, on `paths` disjoint paths each
    /// finished when its `width` closest have answered. In place: a query is kilobytes, and built
    /// by value it sat on the stack of whoever started it (on a device, the hourly republish was
    /// the deepest frame).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        &mut self,
        id: QueryId,
        internal: bool,
        goal: Goal<A, K>,
        target: DhtKey,
        config: LookupConfig,
        (paths, width): (usize, usize),
        seeds: impl IntoIterator<Item = Contact<A>>,
        now: Instant,
    ) {
        self.id = id;
        self.internal = internal;
        self.reported = false;
        self.goal = goal;
        self.lookup.reset(target, config, paths, width, seeds);
        self.phase = Phase::Lookup;
        self.tally = (0, 0, 0);
        self.stats = QueryStats {
            started: now,
            finished: now,
            ..QueryStats::default()
        };
        self.free = false;
        self.advance(now);
    }

    /// Starts, in this slot, a query that skips the lookup and stores straight to `targets` (a
    /// storer republishing to the closest peers it knows): they are its lookup's only candidates,
    /// all marked.
    pub(super) fn start_storing(
        &mut self,
        id: QueryId,
        goal: Goal<A, K>,
        target: DhtKey,
        config: LookupConfig,
        targets: impl IntoIterator<Item = Contact<A>>,
        now: Instant,
    ) {
        self.start(id, true, goal, target, config, (1, K), targets, now);
        self.lookup.mark_all_targets();
        self.phase = Phase::Store { outstanding: 0 };
        self.advance(now);
    }

    /// The request a lookup sends to a peer.
    pub(super) fn lookup_request(&self) -> Body {
        let target = *self.lookup.target();
        match &self.goal {
            Goal::GetRecord { .. } => Body::FindValue { key: target },
            Goal::GetProviders { root, .. } => Body::GetProviders { root: *root },
            _ => Body::FindNode { target },
        }
    }

    /// The request of the store phase.
    pub(super) fn store_request(&self) -> Option<Body> {
        match &self.goal {
            Goal::PutRecord { record } => Some(Body::Store {
                record: record.clone(),
            }),
            Goal::GetRecord {
                best: Some(record), ..
            } => Some(Body::Store {
                record: record.clone(),
            }),
            Goal::AddProvider { provider } => Some(Body::AddProvider {
                provider: provider.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the result is known (the event can be handed out).
    pub(super) fn result_ready(&self) -> bool {
        match &self.phase {
            Phase::Lookup => false,
            Phase::Store { .. } => matches!(self.goal, Goal::GetRecord { .. }),
            Phase::Done => true,
        }
    }

    /// A lookup answer from `peer` on `path`: `contacts` are the peers it named (already converted,
    /// the local node left out). Returns false if the answer is of the wrong kind for this query
    /// (the caller counts a failure).
    pub(super) fn on_lookup_answer(
        &mut self,
        path: usize,
        peer: &PeerId,
        body: &Body,
        contacts: heapless::Vec<Contact<A>, MAX_NODES>,
        now: Instant,
        unix_now: u64,
    ) -> bool {
        let target = *self.lookup.target();
        let fits = match (&mut self.goal, body) {
            (
                Goal::Peer {
                    peer: wanted,
                    found,
                },
                Body::Nodes { .. },
            ) => {
                if found.is_none() {
                    *found = contacts.iter().find(|c| c.peer == *wanted).cloned();
                    if found.is_some() {
                        // The rounds that ran: the answer that named the peer ended the lookup.
                        self.stats.rounds = self.lookup_hop(path, peer);
                    }
                }
                true
            }
            (
                Goal::Closest | Goal::PutRecord { .. } | Goal::AddProvider { .. },
                Body::Nodes { .. },
            ) => true,
            (Goal::GetRecord { best, answered }, Body::Value { record, .. }) => {
                // A record of another slot is a lie: the answer is refused whole.
                if record.as_ref().is_some_and(|r| r.dht_key() != target) {
                    false
                } else {
                    let seq = record.as_ref().map(Record::seq);
                    if let Some(r) = record
                        && best.as_ref().is_none_or(|b| newer_than(r, b))
                    {
                        *best = Some(r.clone());
                    }
                    if let Some(c) = self.lookup.paths().get(path).and_then(|l| l.contact(peer)) {
                        keep_nearest(answered, (c.clone(), seq), &target);
                    }
                    true
                }
            }
            (Goal::GetProviders { found, .. }, Body::Providers { providers, .. }) => {
                for p in providers {
                    if p.dht_key() != target || p.is_expired(unix_now) {
                        continue;
                    }
                    match found.iter_mut().find(|f| f.provider() == p.provider()) {
                        Some(f) if f.expires() < p.expires() => *f = p.clone(),
                        Some(_) => {}
                        None => {
                            let _ = found.push(p.clone());
                        }
                    }
                }
                true
            }
            _ => false,
        };
        if fits {
            self.stats.answers += 1;
            // Once the lookup is over its candidates are the store targets: a late answer counts
            // but adds no one (it could push a target out).
            let contacts = if matches!(self.phase, Phase::Lookup) {
                contacts
            } else {
                heapless::Vec::new()
            };
            self.lookup.on_response(path, peer, contacts);
        } else {
            self.stats.failures += 1;
            self.lookup.on_failure(path, peer);
        }
        self.advance(now);
        fits
    }

    /// A lookup request to `peer` on `path` failed.
    pub(super) fn on_lookup_failure(&mut self, path: usize, peer: &PeerId, now: Instant) {
        self.stats.failures += 1;
        self.lookup.on_failure(path, peer);
        self.advance(now);
    }

    /// An answer to a store request.
    pub(super) fn on_store_answer(&mut self, body: Option<&Body>, now: Instant) {
        if let Phase::Store { outstanding } = &mut self.phase {
            *outstanding = outstanding.saturating_sub(1);
            let (stored, refused, failed) = &mut self.tally;
            match body {
                Some(Body::Stored { result }) => {
                    self.stats.answers += 1;
                    match result {
                        StoreResult::Stored | StoreResult::Replaced | StoreResult::Refreshed => {
                            *stored = stored.saturating_add(1);
                        }
                        StoreResult::Stale | StoreResult::Conflict | StoreResult::Full => {
                            *refused = refused.saturating_add(1);
                        }
                    }
                }
                _ => {
                    self.stats.failures += 1;
                    *failed = failed.saturating_add(1);
                }
            }
        }
        self.advance(now);
    }

    /// The next store target, if the store phase has one left.
    pub(super) fn next_store_target(&mut self) -> Option<Contact<A>> {
        if let Phase::Store { outstanding } = &mut self.phase {
            let c = self.lookup.next_target()?;
            *outstanding = outstanding.saturating_add(1);
            return Some(c);
        }
        None
    }

    /// Moves to the next phase when this one is over.
    pub(super) fn advance(&mut self, now: Instant) {
        match &self.phase {
            Phase::Lookup => {
                let peer_found = matches!(&self.goal, Goal::Peer { found: Some(_), .. });
                if !peer_found && !self.lookup.is_finished() {
                    return;
                }
                self.stats.finished = now;
                if !peer_found {
                    self.stats.rounds = self.lookup.rounds();
                }
                let marked = match &self.goal {
                    Goal::PutRecord { .. } | Goal::AddProvider { .. } => self.mark_store_targets(),
                    Goal::GetRecord {
                        best: Some(best),
                        answered,
                    } => answered
                        .iter()
                        .filter(|(_, seq)| seq.is_none_or(|s| s < best.seq()))
                        .filter(|(c, _)| self.lookup.mark_target(&c.peer))
                        .count(),
                    _ => 0,
                };
                self.phase = if marked == 0 {
                    Phase::Done
                } else {
                    Phase::Store { outstanding: 0 }
                };
                if matches!(self.phase, Phase::Done) {
                    self.stats.finished = now;
                }
            }
            Phase::Store { outstanding } => {
                if *outstanding == 0 && !self.lookup.has_due_target() {
                    if !matches!(self.goal, Goal::GetRecord { .. }) {
                        self.stats.finished = now;
                    }
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
    }

    /// The result, once [`Self::result_ready`].
    pub(super) fn outcome(&self) -> QueryOutcome<A> {
        match &self.goal {
            Goal::Peer { found, .. } => QueryOutcome::Peer(found.clone()),
            Goal::Closest => QueryOutcome::Closest(self.closest_k()),
            Goal::GetRecord { best, .. } => QueryOutcome::Record(best.clone()),
            Goal::PutRecord { .. } | Goal::AddProvider { .. } => QueryOutcome::Stored {
                stored: self.tally.0,
                refused: self.tally.1,
                failed: self.tally.2,
            },
            Goal::GetProviders { found, .. } => {
                QueryOutcome::Providers(found.iter().take(MAX_PROVIDERS).cloned().collect())
            }
        }
    }

    /// Marks where a put stores: the closest that answered on each path (so that one clean path is
    /// enough to reach the honest storers, however close the liars on captured paths claim to be),
    /// then the `K` closest over all paths, at most [`STORE_TARGETS`]. Returns how many.
    fn mark_store_targets(&mut self) -> usize {
        let mut marked = 0;
        let mut mark = |lookup: &mut DisjointLookup<A, D, K, C>, peer: &PeerId| {
            if marked < STORE_TARGETS && lookup.mark_target(peer) {
                marked += 1;
            }
        };
        for path in 0..D {
            let peers: heapless::Vec<PeerId, MAX_NODES> = match self.lookup.paths().get(path) {
                Some(l) => l
                    .closest()
                    .take(l.width().min(MAX_NODES))
                    .map(|c| c.peer)
                    .collect(),
                None => break,
            };
            for peer in &peers {
                mark(&mut self.lookup, peer);
            }
        }
        let nearest = self.lookup.closest_peers::<MAX_NODES>();
        for peer in nearest.iter().take(K) {
            mark(&mut self.lookup, peer);
        }
        marked
    }

    /// The `K` closest that answered on any path.
    fn closest_k(&self) -> heapless::Vec<Contact<A>, MAX_NODES> {
        self.lookup
            .closest::<MAX_NODES>()
            .into_iter()
            .take(K)
            .collect()
    }

    fn lookup_hop(&self, path: usize, peer: &PeerId) -> u8 {
        self.lookup
            .paths()
            .get(path)
            .and_then(|l| l.hop(peer))
            .unwrap_or(0)
    }
}

/// A node's `Q` query slots. Queries are started in place in a free slot ([`Query::start`]) and
/// released by marking it free, so no query is ever built on the stack and moved in.
#[derive(Debug)]
pub(super) struct Slots<A, const D: usize, const K: usize, const C: usize, const Q: usize> {
    slots: [Query<A, D, K, C>; Q],
}

impl<A: Clone, const D: usize, const K: usize, const C: usize, const Q: usize>
    Slots<A, D, K, C, Q>
{
    pub(super) fn new(config: LookupConfig) -> Self {
        Slots {
            slots: core::array::from_fn(|_| Query::idle(config)),
        }
    }

    /// Queries running.
    pub(super) fn len(&self) -> usize {
        self.iter().count()
    }

    pub(super) fn is_full(&self) -> bool {
        self.slots.iter().all(|q| !q.free)
    }

    /// The running queries, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Query<A, D, K, C>> {
        self.slots.iter().filter(|q| !q.free)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Query<A, D, K, C>> {
        self.slots.iter_mut().filter(|q| !q.free)
    }

    /// Frees the slots of the running queries `keep` refuses.
    pub(super) fn retain(&mut self, keep: impl Fn(&Query<A, D, K, C>) -> bool) {
        for q in &mut self.slots {
            if !q.free && !keep(q) {
                q.free = true;
            }
        }
    }

    /// A free slot to start a query in.
    pub(super) fn free_slot(&mut self) -> Option<&mut Query<A, D, K, C>> {
        self.slots.iter_mut().find(|q| q.free)
    }
}

/// Whether `a` supersedes `b`: a higher sequence, or at the same sequence (an owner that signed two
/// values) the value that sorts first, so that every reader settles on the same one.
pub(super) fn newer_than(a: &Record, b: &Record) -> bool {
    a.seq() > b.seq() || (a.seq() == b.seq() && a.value() < b.value())
}

fn keep_nearest<A: Clone, const N: usize>(
    list: &mut heapless::Vec<(Contact<A>, Option<u64>), N>,
    c: (Contact<A>, Option<u64>),
    target: &DhtKey,
) {
    if list.iter().any(|(o, _)| o.peer == c.0.peer) {
        return;
    }
    let d = c.0.key.distance(target);
    let pos = list
        .iter()
        .position(|(o, _)| d < o.key.distance(target))
        .unwrap_or(list.len());
    if pos >= N {
        return;
    }
    if list.is_full() {
        list.pop();
    }
    let _ = list.insert(pos, c);
}
