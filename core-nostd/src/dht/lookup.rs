//! The iterative Kademlia lookup, sans-IO: which peers to ask next, with `α` requests in flight, each
//! with its own deadline, until the `K` closest peers seen have all answered.
//!
//! The caller sends the requests ([`Lookup::poll_request`]) and reports answers
//! ([`Lookup::on_response`]), failures ([`Lookup::on_failure`]) and time
//! ([`Lookup::handle_timeout`]). The lookup holds at most `CANDIDATES` peers, nearest first; at the
//! bound a failed peer makes room, else the farthest goes (or the newcomer, if it is farther).

use crate::identity::{DhtKey, PeerId};
use crate::time::{Duration, Instant};

use super::Contact;

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotAsked,
    Asked {
        stall_at: Instant,
        deadline: Instant,
    },
    /// Slow: no longer counted against α nor waited for, but a late answer is still taken.
    Stalled {
        deadline: Instant,
    },
    Answered,
    Failed,
}

impl State {
    /// Failed, or too slow to wait for.
    fn out(self) -> bool {
        matches!(self, State::Failed | State::Stalled { .. })
    }
}

/// Whether a query's store phase sends to a candidate. The marks live on the candidates, so that
/// a query needs no second list of contacts for its store targets (on a microcontroller that list
/// was most of a query slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    No,
    Due,
    Sent,
}

#[derive(Clone, Debug)]
struct Candidate<A> {
    contact: Contact<A>,
    state: State,
    /// How many answers led here: 1 for the peers the lookup started from.
    hop: u8,
    target: Target,
}

/// Requests a lookup may send, per `K`: far more than a lookup needs (about `K` + 2α in a healthy
/// network), few enough to bound what liars can make it do.
pub const MAX_REQUESTS_PER_K: u32 = 8;

fn budget(k: usize) -> u32 {
    MAX_REQUESTS_PER_K.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
}

/// Lookup parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LookupConfig {
    /// Requests in flight at once (Kademlia's α; default 3).
    pub alpha: usize,
    /// How long a request may take before its peer counts as failed.
    pub request_timeout: Duration,
    /// How long a request may take before the lookup stops waiting for it: another request takes
    /// its place among the `α`, and the lookup may finish without it (libp2p's and Mainline's
    /// "stalled" requests). Under churn, dead peers would otherwise hold every lookup for the whole
    /// timeout.
    pub stall_timeout: Duration,
}

impl Default for LookupConfig {
    fn default() -> Self {
        LookupConfig {
            alpha: 3,
            request_timeout: Duration::from_secs(2),
            stall_timeout: Duration::from_millis(500),
        }
    }
}

/// One lookup of `target`: finds the `K` closest peers that answer.
#[derive(Debug)]
pub struct Lookup<A, const K: usize, const CANDIDATES: usize> {
    target: DhtKey,
    config: LookupConfig,
    candidates: heapless::Vec<Candidate<A>, CANDIDATES>,
    /// `ids[i]` is `candidates[i]`'s [`PeerId::head`]: every answer asks whether each peer it names
    /// is known, on every path of a query, so the scan reads 4 bytes a candidate, not 100.
    ids: heapless::Vec<u32, CANDIDATES>,
    requests: u32,
    /// How many of the closest candidates must answer before the lookup is finished (`K` unless
    /// [`Lookup::with_width`] narrowed it).
    width: usize,
}

impl<A: Clone, const K: usize, const CANDIDATES: usize> Lookup<A, K, CANDIDATES> {
    /// A lookup of `target` starting from `seeds` (the local table's closest contacts).
    pub fn new(
        target: DhtKey,
        config: LookupConfig,
        seeds: impl IntoIterator<Item = Contact<A>>,
    ) -> Self {
        let mut lookup = Lookup {
            target,
            config,
            candidates: heapless::Vec::new(),
            ids: heapless::Vec::new(),
            requests: 0,
            width: K,
        };
        for c in seeds {
            lookup.add(c, 1);
        }
        lookup
    }

    /// The same lookup finished once the `width` closest (at most `K`, at least 1) have answered: a
    /// record get needs a few of the closest storers, not all `K` of them.
    #[must_use]
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.clamp(1, K.max(1));
        self
    }

    /// How many of the closest must answer before the lookup is finished.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The key looked up.
    pub fn target(&self) -> &DhtKey {
        &self.target
    }

    /// Where candidate `peer` is.
    fn position(&self, peer: &PeerId) -> Option<usize> {
        let head = peer.head();
        self.ids
            .iter()
            .enumerate()
            .filter(|(_, h)| **h == head)
            .map(|(i, _)| i)
            .find(|&i| {
                self.candidates
                    .get(i)
                    .is_some_and(|c| c.contact.peer == *peer)
            })
    }

    fn candidate_mut(&mut self, peer: &PeerId) -> Option<&mut Candidate<A>> {
        let i = self.position(peer)?;
        self.candidates.get_mut(i)
    }

    /// Whether `peer` is among this lookup's candidates (in any state).
    pub fn knows(&self, peer: &PeerId) -> bool {
        self.position(peer).is_some()
    }

    /// The contact of candidate `peer`.
    pub fn contact(&self, peer: &PeerId) -> Option<&Contact<A>> {
        let i = self.position(peer)?;
        self.candidates.get(i).map(|c| &c.contact)
    }

    /// How many answers led to candidate `peer` (1 for a starting contact).
    pub fn hop(&self, peer: &PeerId) -> Option<u8> {
        let i = self.position(peer)?;
        self.candidates.get(i).map(|c| c.hop)
    }

    /// Requests handed out so far.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The lookup started again in place, for `target`, with no candidates.
    pub(crate) fn reset(&mut self, target: DhtKey, config: LookupConfig, width: usize) {
        self.target = target;
        self.config = config;
        self.candidates.clear();
        self.ids.clear();
        self.requests = 0;
        self.width = width.clamp(1, K.max(1));
    }

    /// Adds a starting contact (as [`Self::new`] does with its seeds).
    pub(crate) fn add_seed(&mut self, contact: Contact<A>) {
        self.add(contact, 1);
    }

    /// Adds a candidate in distance order, unless known, or farther than all `CANDIDATES` held.
    fn add(&mut self, contact: Contact<A>, hop: u8) {
        if self.knows(&contact.peer) {
            return;
        }
        let distance = contact.key.distance_words(&self.target);
        if self.candidates.is_full()
            && !self.candidates.iter().any(|c| c.state == State::Failed)
            && self
                .candidates
                .last()
                .is_some_and(|c| distance >= c.contact.key.distance_words(&self.target))
        {
            return;
        }
        let pos = self
            .candidates
            .iter()
            .position(|c| distance < c.contact.key.distance_words(&self.target))
            .unwrap_or(self.candidates.len());
        let mut pos = pos;
        if self.candidates.is_full() {
            // A failed candidate makes room first (the farthest of them), so that dead peers do not
            // crowd out live ones; else the farthest goes, and an in-flight request to it is simply
            // forgotten.
            if let Some(i) = self
                .candidates
                .iter()
                .rposition(|c| c.state == State::Failed)
            {
                self.candidates.remove(i);
                self.ids.remove(i);
                if i < pos {
                    pos -= 1;
                }
            } else if pos >= self.candidates.len() {
                return;
            } else {
                self.candidates.pop();
                self.ids.pop();
            }
        }
        let head = contact.peer.head();
        if self.ids.insert(pos, head).is_err() {
            return;
        }
        let _ = self.candidates.insert(
            pos,
            Candidate {
                contact,
                state: State::NotAsked,
                hop,
                target: Target::No,
            },
        );
    }

    fn in_flight(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| matches!(c.state, State::Asked { .. }))
            .count()
    }

    /// The next peer to ask (and its address), if one is due: the nearest not yet asked among the
    /// `width` closest candidates that have not failed, while fewer than `α` requests are in flight.
    pub fn poll_request(&mut self, now: Instant) -> Option<Contact<A>> {
        // An alpha of 0 would never ask anyone: treat it as 1.
        if self.is_finished()
            || self.requests >= budget(K)
            || self.in_flight() >= self.config.alpha.max(1)
        {
            return None;
        }
        let deadline = now.saturating_add(self.config.request_timeout);
        let stall_at =
            now.saturating_add(self.config.stall_timeout.min(self.config.request_timeout));
        let next = self
            .candidates
            .iter_mut()
            .filter(|c| !c.state.out())
            .take(self.width)
            .find(|c| c.state == State::NotAsked)?;
        next.state = State::Asked { stall_at, deadline };
        self.requests += 1;
        Some(next.contact.clone())
    }

    /// `peer` answered with `closer` peers (its closest to the target). The caller leaves out the
    /// local node, and peers it refuses (wrong difficulty, banned).
    pub fn on_response(&mut self, peer: &PeerId, closer: impl IntoIterator<Item = Contact<A>>) {
        let Some(c) = self.candidate_mut(peer) else {
            return;
        };
        if !matches!(c.state, State::Asked { .. } | State::Stalled { .. }) {
            return;
        }
        c.state = State::Answered;
        let hop = c.hop.saturating_add(1);
        for contact in closer {
            self.add(contact, hop);
        }
    }

    /// `peer` failed (an error, or the session to it could not be set up).
    pub fn on_failure(&mut self, peer: &PeerId) {
        if let Some(c) = self.candidate_mut(peer)
            && matches!(c.state, State::Asked { .. } | State::Stalled { .. })
        {
            c.state = State::Failed;
        }
    }

    /// Requests past their stall time stall; past their deadline they fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.candidates {
            match c.state {
                State::Asked { deadline, .. } | State::Stalled { deadline } if now >= deadline => {
                    c.state = State::Failed;
                }
                State::Asked { stall_at, deadline } if now >= stall_at => {
                    c.state = State::Stalled { deadline };
                }
                _ => {}
            }
        }
    }

    /// The earliest stall time or deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.candidates
            .iter()
            .filter_map(|c| match c.state {
                State::Asked { stall_at, .. } => Some(stall_at),
                State::Stalled { deadline } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Whether the `width` closest candidates that have neither failed nor stalled have all
    /// answered (or none is left), or the lookup has spent its budget of requests
    /// ([`MAX_REQUESTS_PER_K`] × `K`) and none is in flight: peers that keep naming new peers cannot
    /// hold a lookup forever.
    pub fn is_finished(&self) -> bool {
        if self.requests >= budget(K) && self.in_flight() == 0 {
            return true;
        }
        self.candidates
            .iter()
            .filter(|c| !c.state.out())
            .take(self.width)
            .all(|c| c.state == State::Answered)
    }

    /// The closest peers that answered, nearest first (at most `K`).
    pub fn closest(&self) -> impl Iterator<Item = &Contact<A>> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Answered)
            .take(K)
            .map(|c| &c.contact)
    }

    /// Marks candidate `peer` as a store target; true if it was not marked before (false too if it
    /// is not a candidate).
    pub fn mark_target(&mut self, peer: &PeerId) -> bool {
        match self.candidate_mut(peer) {
            Some(c) if c.target == Target::No => {
                c.target = Target::Due;
                true
            }
            _ => false,
        }
    }

    /// Marks every candidate as a store target.
    pub fn mark_all_targets(&mut self) {
        for c in &mut self.candidates {
            c.target = Target::Due;
        }
    }

    /// The next marked store target not yet sent to, now counted as sent.
    pub fn next_target(&mut self) -> Option<Contact<A>> {
        let c = self
            .candidates
            .iter_mut()
            .find(|c| c.target == Target::Due)?;
        c.target = Target::Sent;
        Some(c.contact.clone())
    }

    /// Whether a marked store target waits to be sent to.
    pub fn has_due_target(&self) -> bool {
        self.candidates.iter().any(|c| c.target == Target::Due)
    }

    /// The largest hop count among the result: the lookup's rounds.
    pub fn rounds(&self) -> u8 {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Answered)
            .take(K)
            .map(|c| c.hop)
            .max()
            .unwrap_or(0)
    }
}
