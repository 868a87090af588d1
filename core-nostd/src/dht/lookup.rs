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
    Asked { deadline: Instant },
    Answered,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate<A> {
    contact: Contact<A>,
    distance: [u8; 32],
    state: State,
    /// How many answers led here: 1 for the peers the lookup started from.
    hop: u8,
}

/// Lookup parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LookupConfig {
    /// Requests in flight at once (Kademlia's α; default 3).
    pub alpha: usize,
    /// How long a request may take before its peer counts as failed.
    pub request_timeout: Duration,
}

impl Default for LookupConfig {
    fn default() -> Self {
        LookupConfig {
            alpha: 3,
            request_timeout: Duration::from_secs(2),
        }
    }
}

/// One lookup of `target`: finds the `K` closest peers that answer.
#[derive(Debug)]
pub struct Lookup<A, const K: usize, const CANDIDATES: usize> {
    target: DhtKey,
    config: LookupConfig,
    candidates: heapless::Vec<Candidate<A>, CANDIDATES>,
    requests: u32,
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
            requests: 0,
        };
        for c in seeds {
            lookup.add(c, 1);
        }
        lookup
    }

    /// The key looked up.
    pub fn target(&self) -> &DhtKey {
        &self.target
    }

    /// Whether `peer` is among this lookup's candidates (in any state).
    pub fn knows(&self, peer: &PeerId) -> bool {
        self.candidates.iter().any(|c| c.contact.peer == *peer)
    }

    /// Requests handed out so far.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Adds a candidate in distance order, unless known, or farther than all `CANDIDATES` held.
    fn add(&mut self, contact: Contact<A>, hop: u8) {
        if self
            .candidates
            .iter()
            .any(|c| c.contact.peer == contact.peer)
        {
            return;
        }
        let distance = contact.key.distance(&self.target);
        let pos = self
            .candidates
            .iter()
            .position(|c| distance < c.distance)
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
                if i < pos {
                    pos -= 1;
                }
            } else if pos >= self.candidates.len() {
                return;
            } else {
                self.candidates.pop();
            }
        }
        let _ = self.candidates.insert(
            pos,
            Candidate {
                contact,
                distance,
                state: State::NotAsked,
                hop,
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
    /// `K` closest candidates that have not failed, while fewer than `α` requests are in flight.
    pub fn poll_request(&mut self, now: Instant) -> Option<Contact<A>> {
        // An alpha of 0 would never ask anyone: treat it as 1.
        if self.is_finished() || self.in_flight() >= self.config.alpha.max(1) {
            return None;
        }
        let deadline = now.saturating_add(self.config.request_timeout);
        let next = self
            .candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .find(|c| c.state == State::NotAsked)?;
        next.state = State::Asked { deadline };
        self.requests += 1;
        Some(next.contact.clone())
    }

    /// `peer` answered with `closer` peers (its closest to the target). The caller leaves out the
    /// local node, and peers it refuses (wrong difficulty, banned).
    pub fn on_response(&mut self, peer: &PeerId, closer: impl IntoIterator<Item = Contact<A>>) {
        let Some(c) = self.candidates.iter_mut().find(|c| c.contact.peer == *peer) else {
            return;
        };
        if !matches!(c.state, State::Asked { .. }) {
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
        if let Some(c) = self.candidates.iter_mut().find(|c| c.contact.peer == *peer)
            && matches!(c.state, State::Asked { .. })
        {
            c.state = State::Failed;
        }
    }

    /// Requests past their deadline fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.candidates {
            if let State::Asked { deadline } = c.state
                && now >= deadline
            {
                c.state = State::Failed;
            }
        }
    }

    /// The earliest request deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.candidates
            .iter()
            .filter_map(|c| match c.state {
                State::Asked { deadline } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Whether the `K` closest candidates that have not failed have all answered (or none is left).
    pub fn is_finished(&self) -> bool {
        self.candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(K)
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
