//! S/Kademlia's disjoint lookups: `D` lookups of one key that never ask the same peer, so that one
//! adversarial peer (or a group of them) can capture at most the paths that run through it.
//!
//! The starting contacts are dealt to the paths in turn; a peer that any path has seen belongs to
//! that path alone, and answers naming it are not forwarded to the others.

use crate::identity::{DhtKey, PeerId};
use crate::time::Instant;

use super::Contact;

use super::lookup::{Lookup, LookupConfig};

/// `D` disjoint lookups of one key.
#[derive(Debug)]
pub struct DisjointLookup<A, const D: usize, const K: usize, const CANDIDATES: usize> {
    target: DhtKey,
    paths: [Lookup<A, K, CANDIDATES>; D],
}

impl<A: Clone, const D: usize, const K: usize, const CANDIDATES: usize>
    DisjointLookup<A, D, K, CANDIDATES>
{
    /// Lookups of `target` from `seeds` (nearest first), dealt to the `D` paths in turn.
    pub fn new(
        target: DhtKey,
        config: LookupConfig,
        seeds: impl IntoIterator<Item = Contact<A>>,
    ) -> Self {
        Self::with_paths(target, config, D, K, seeds)
    }

    /// Lookups of `target` on `paths` of the `D` paths (at least 1; the others stay empty and
    /// finished), each finished when its `width` closest have answered ([`Lookup::with_width`]).
    pub fn with_paths(
        target: DhtKey,
        config: LookupConfig,
        paths: usize,
        width: usize,
        seeds: impl IntoIterator<Item = Contact<A>>,
    ) -> Self {
        let mut lookup = DisjointLookup {
            target,
            paths: core::array::from_fn(|_| Lookup::new(target, config, core::iter::empty())),
        };
        lookup.reset(target, config, paths, width, seeds);
        lookup
    }

    /// The same lookups started again in place for `target` (as [`Self::with_paths`]).
    pub fn reset(
        &mut self,
        target: DhtKey,
        config: LookupConfig,
        paths: usize,
        width: usize,
        seeds: impl IntoIterator<Item = Contact<A>>,
    ) {
        let used = paths.clamp(1, D.max(1));
        self.target = target;
        // Seeds go straight into their paths: dealing them into lists first put a second copy of
        // every candidate on the stack, and a small node builds queries on its stack.
        for l in &mut self.paths {
            l.reset(target, config, width);
        }
        for (i, c) in seeds.into_iter().enumerate() {
            if let Some(path) = self.paths.get_mut(i % used) {
                path.add_seed(c);
            }
        }
    }

    /// Requests handed out by all paths.
    pub fn requests(&self) -> u32 {
        self.paths.iter().map(Lookup::requests).sum()
    }

    /// The largest hop count of any path's result.
    pub fn rounds(&self) -> u8 {
        self.paths.iter().map(Lookup::rounds).max().unwrap_or(0)
    }

    /// Whether any path has `peer` as a candidate.
    pub fn knows(&self, peer: &PeerId) -> bool {
        self.paths.iter().any(|l| l.knows(peer))
    }

    /// The closest peers that answered on any path, nearest first, at most `N`, borrowed.
    fn nearest<const N: usize>(&self) -> heapless::Vec<&Contact<A>, N> {
        let target = *self.target();
        let mut out: heapless::Vec<([u64; 4], &Contact<A>), N> = heapless::Vec::new();
        for c in self.paths.iter().flat_map(Lookup::closest) {
            let d = c.key.distance_words(&target);
            let pos = out.iter().position(|(o, _)| d < *o).unwrap_or(out.len());
            if pos < N {
                if out.is_full() {
                    out.pop();
                }
                let _ = out.insert(pos, (d, c));
            }
        }
        out.into_iter().map(|(_, c)| c).collect()
    }

    /// The closest peers that answered on any path, nearest first, at most `N`.
    pub fn closest<const N: usize>(&self) -> heapless::Vec<Contact<A>, N> {
        self.nearest::<N>().into_iter().cloned().collect()
    }

    /// The ids of [`Self::closest`], without copying contacts (a put marks its store targets with
    /// these, on a small node's stack).
    pub fn closest_peers<const N: usize>(&self) -> heapless::Vec<PeerId, N> {
        self.nearest::<N>().into_iter().map(|c| c.peer).collect()
    }

    /// The key looked up.
    pub fn target(&self) -> &DhtKey {
        &self.target
    }

    /// The next request of any path: `(path, peer)`.
    pub fn poll_request(&mut self, now: Instant) -> Option<(usize, Contact<A>)> {
        self.paths
            .iter_mut()
            .enumerate()
            .find_map(|(i, l)| l.poll_request(now).map(|c| (i, c)))
    }

    /// `peer`, asked by `path`, answered with `closer`. Peers another path already knows are not
    /// passed on.
    pub fn on_response(
        &mut self,
        path: usize,
        peer: &PeerId,
        closer: impl IntoIterator<Item = Contact<A>>,
    ) {
        let mut fresh: heapless::Vec<Contact<A>, CANDIDATES> = heapless::Vec::new();
        for c in closer {
            let elsewhere = self
                .paths
                .iter()
                .enumerate()
                .any(|(i, l)| i != path && l.knows(&c.peer));
            if !elsewhere {
                let _ = fresh.push(c);
            }
        }
        if let Some(l) = self.paths.get_mut(path) {
            l.on_response(peer, fresh);
        }
    }

    /// `peer`, asked by `path`, failed.
    pub fn on_failure(&mut self, path: usize, peer: &PeerId) {
        if let Some(l) = self.paths.get_mut(path) {
            l.on_failure(peer);
        }
    }

    /// Requests past their deadline fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        for l in &mut self.paths {
            l.handle_timeout(now);
        }
    }

    /// The earliest request deadline of any path.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.paths.iter().filter_map(Lookup::poll_timeout).min()
    }

    /// Whether every path is finished.
    pub fn is_finished(&self) -> bool {
        self.paths.iter().all(Lookup::is_finished)
    }

    /// Marks `peer` as a store target on the path that knows it; true if it was not marked
    /// before (false too if no path knows it).
    pub fn mark_target(&mut self, peer: &PeerId) -> bool {
        self.paths.iter_mut().any(|l| l.mark_target(peer))
    }

    /// Marks every candidate of every path as a store target.
    pub fn mark_all_targets(&mut self) {
        for l in &mut self.paths {
            l.mark_all_targets();
        }
    }

    /// The next store target not yet sent to, path by path.
    pub fn next_target(&mut self) -> Option<Contact<A>> {
        self.paths.iter_mut().find_map(Lookup::next_target)
    }

    /// Whether a store target waits to be sent to.
    pub fn has_due_target(&self) -> bool {
        self.paths.iter().any(Lookup::has_due_target)
    }

    /// The paths, for their results.
    pub fn paths(&self) -> &[Lookup<A, K, CANDIDATES>; D] {
        &self.paths
    }
}
