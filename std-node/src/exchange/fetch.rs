//! The plan of one tree fetch: which block to ask of which provider, what arrived, who lied.
//!
//! Sans-IO like the core's machines: the caller reports blocks, refusals and lost providers, and
//! asks for the next requests. It walks the tree as blocks arrive (a tree node's children are known
//! once it is opened with its key), keeps a window of requests in flight per provider so that
//! several providers serve different blocks at once, and moves a provider's outstanding requests to
//! the others when it goes away or sends a wrong block.
//!
//! It also says where each data leaf goes in the file ([`Placement`]), so that a caller writing a
//! file can write every leaf as it arrives instead of reading the tree back from the store at the
//! end. Offsets come from the sizes the tree nodes give their children.

use std::collections::{HashMap, HashSet, VecDeque};

use gofast_core::block::{
    Block, BlockId, BlockRef, MAX_BLOCK_LEN, open_in_place, open_verified_in_place, verify,
};
use gofast_core::exchange::{DeltaWant, MAX_DELTA_BASES, MAX_DELTA_WANTS, MAX_IDS};
use gofast_core::identity::PeerId;
use zeroize::Zeroizing;

/// Why a fetch cannot go on, or what a block was wrong about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The block's bytes do not hash to the id asked for: its sender is dropped.
    #[error("peer {peer} sent a block that does not match its id")]
    WrongBlock {
        /// The sender.
        peer: PeerId,
    },
    /// A block matched its id but does not open with the key its parent gave (the tree itself is
    /// damaged; no provider can help).
    #[error("block {id} does not open with its key: {reason}")]
    BadTree {
        /// The block.
        id: BlockId,
        /// What was wrong.
        reason: String,
    },
    /// Every provider went away or said it does not hold a block still needed.
    #[error("no provider left for {missing} blocks")]
    NoProviders {
        /// Blocks still needed.
        missing: usize,
    },
}

/// What a fetch has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchProgress {
    /// Blocks stored (received or already held).
    pub blocks: u64,
    /// Ciphertext bytes of those blocks.
    pub bytes: u64,
    /// Data bytes the root declares (known once the root is opened).
    pub total_data: Option<u64>,
    /// Blocks received from providers (not already held).
    pub received: u64,
    /// Of those, blocks rebuilt from a delta against an older block.
    pub rebuilt: u64,
}

/// Where a data leaf (or a whole subtree) goes in the file: its plaintext is `size` bytes and is
/// written at `offset`. A block named again elsewhere in the tree gets one placement per further
/// reference, from [`Fetch::take_stored`], so that the bookkeeping stays one entry per reference
/// however the tree repeats itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The block: a data leaf, or for [`Fetch::take_stored`] also a tree node whose whole data goes
    /// at the offset.
    pub block: BlockRef,
    /// Plaintext bytes under it (as its parent declares: the writer checks a leaf against it).
    pub size: u64,
    /// Byte offset in the file.
    pub offset: u64,
}

/// What a block's first reference says it is. Every further reference must say the same, and the
/// block itself must match when it is opened: a tree whose sizes or levels disagree is refused
/// before its data is placed anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    /// Data bytes beneath it.
    size: u64,
    /// 0 for a data leaf, n for a tree node of level n.
    level: u8,
}

struct Provider {
    peer: PeerId,
    in_flight: usize,
    /// Blocks it said it does not hold.
    lacks: HashSet<BlockId>,
}

/// One fetch of the tree under a root.
pub struct Fetch {
    root: BlockId,
    /// Needed blocks not asked for yet, in tree order (breadth first).
    queue: VecDeque<BlockRef>,
    /// Blocks found (the root, children of opened nodes) but not yet looked for in the store:
    /// [`Fetch::take_local`] takes the held ones and queues the rest. Without this, a tree that
    /// shares most of its blocks with one held (a file after a small edit) would be fetched whole.
    fresh: VecDeque<BlockRef>,
    /// Asked for: the reference, the provider asked, and whether as a delta.
    in_flight: HashMap<BlockId, (BlockRef, PeerId, bool)>,
    providers: Vec<Provider>,
    /// Requests one provider may have outstanding.
    window: usize,
    progress: FetchProgress,
    /// Every block of the tree found so far, with what its first reference says it is (the root:
    /// nothing, until it is opened).
    seen: HashMap<BlockId, Option<Expect>>,
    /// Blocks each provider delivered, including providers since dropped.
    delivered: Vec<(PeerId, u64)>,
    /// Blocks found but not handled yet: where their first reference puts them in the file.
    places: HashMap<BlockId, u64>,
    /// Data that must be read from the store: leaves held before the fetch began, and blocks found
    /// again at another offset after they were handled.
    stored: Vec<Placement>,
    /// The provider asked for blocks as deltas (the tree's maker), if any.
    delta_peer: Option<PeerId>,
    /// Older blocks, held here, that a block may be rebuilt from: the old version of the tree's
    /// root, and for a tree node opened with a base, its children paired with the base's.
    bases: HashMap<BlockId, Vec<BlockRef>>,
    /// Tree nodes opened that have a base: their children, to pair with the base's children
    /// once the base is read (in [`Fetch::take_local`], which reads the store).
    to_pair: Vec<(Vec<(BlockRef, u64)>, BlockRef)>,
    /// Needed blocks with bases, not asked for yet: for the delta provider alone (kept apart so
    /// that neither kind of request scans the other's blocks).
    delta_queue: VecDeque<BlockRef>,
    /// Blocks whose delta did not rebuild them: asked for whole (their bases stay, to pair their
    /// children).
    whole: HashSet<BlockId>,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Block keys stay out of logs: counts only.
        f.debug_struct("Fetch")
            .field("root", &self.root)
            .field("queued", &self.queue.len())
            .field("queued_for_deltas", &self.delta_queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("providers", &self.providers.len())
            .field("progress", &self.progress)
            .finish()
    }
}

/// What to do with a block that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Verified: store it. A data leaf comes with where its plaintext goes in the file.
    Store(Option<Placement>),
    /// Not asked for (late, duplicate, cancelled): ignore it.
    Unwanted,
}

impl Fetch {
    /// A fetch of the tree under `root`, with `window` requests in flight per provider.
    pub fn new(root: BlockRef, window: usize) -> Self {
        let id = root.id;
        let seen = HashMap::from([(id, None)]);
        let places = HashMap::from([(id, 0)]);
        Fetch {
            root: id,
            queue: VecDeque::new(),
            fresh: VecDeque::from([root]),
            in_flight: HashMap::new(),
            providers: Vec::new(),
            window: window.max(1),
            progress: FetchProgress::default(),
            seen,
            delivered: Vec::new(),
            places,
            stored: Vec::new(),
            delta_peer: None,
            bases: HashMap::new(),
            to_pair: Vec::new(),
            delta_queue: VecDeque::new(),
            whole: HashSet::new(),
        }
    }

    /// Asks `from` (the maker of both trees, and only it: a delta request carries read keys) for
    /// the changed blocks as deltas against their older versions, starting from `base`, the older
    /// version of the root, held here whole.
    pub fn with_base(mut self, base: BlockRef, from: PeerId) -> Self {
        if base.id != self.root {
            self.bases.insert(self.root, vec![base]);
            self.delta_peer = Some(from);
        }
        self
    }

    /// The root's id.
    pub fn root(&self) -> BlockId {
        self.root
    }

    /// What was done so far.
    pub fn progress(&self) -> FetchProgress {
        self.progress
    }

    /// Whether every block of the tree is stored.
    pub fn is_complete(&self) -> bool {
        self.queue.is_empty()
            && self.delta_queue.is_empty()
            && self.fresh.is_empty()
            && self.in_flight.is_empty()
    }

    /// Providers in use.
    pub fn providers(&self) -> impl Iterator<Item = &PeerId> {
        self.providers.iter().map(|p| &p.peer)
    }

    /// Blocks each provider delivered, including providers dropped since.
    pub fn delivered(&self) -> impl Iterator<Item = (PeerId, u64)> + '_ {
        self.delivered.iter().copied()
    }

    /// Adds a provider (no effect if it is there already).
    pub fn add_provider(&mut self, peer: PeerId) {
        if !self.providers.iter().any(|p| p.peer == peer) {
            self.providers.push(Provider {
                peer,
                in_flight: 0,
                lacks: HashSet::new(),
            });
        }
    }

    /// Takes the blocks found since the last call that the caller already holds (`local` gives a
    /// held block's ciphertext); queues the others to be asked for. A held tree node's children
    /// are looked at in turn; held data leaves are listed for [`Fetch::take_stored`]. Call it
    /// before [`Fetch::next_request`], at the start and after each block that arrives.
    pub fn take_local(
        &mut self,
        mut local: impl FnMut(&BlockId) -> Option<Vec<u8>>,
    ) -> Result<(), FetchError> {
        // One copy of the body for every caller's closure (a copy each cost the phone library
        // 3 KB, 14 of them).
        self.take_local_dyn(&mut local)
    }

    fn take_local_dyn(
        &mut self,
        local: &mut dyn FnMut(&BlockId) -> Option<Vec<u8>>,
    ) -> Result<(), FetchError> {
        loop {
            // Children get their bases before they are queued (a held node's children included).
            for (children, base) in std::mem::take(&mut self.to_pair) {
                if let Some(old) = local(&base.id).and_then(|data| old_children(&base, data)) {
                    self.pair(&children, &old);
                }
            }
            let Some(r) = self.fresh.pop_front() else {
                return Ok(());
            };
            match local(&r.id) {
                Some(data) if verify(&r.id, &data).is_ok() => {
                    self.progress.blocks += 1;
                    self.progress.bytes += data.len() as u64;
                    if let Some(p) = self.open(&r, &data)? {
                        self.stored.push(p);
                    }
                }
                _ => self.enqueue(r, false),
            }
        }
    }

    /// Queues a needed block: for a delta if it has bases (and its delta did not fail), plain
    /// otherwise; at the front for one that goes back.
    fn enqueue(&mut self, r: BlockRef, front: bool) {
        let delta = self.delta_peer.is_some()
            && self.bases.contains_key(&r.id)
            && !self.whole.contains(&r.id);
        let q = if delta {
            &mut self.delta_queue
        } else {
            &mut self.queue
        };
        if front {
            q.push_front(r);
        } else {
            q.push_back(r);
        }
    }

    /// Moves the blocks found but not looked for in a store into the queues (for callers that
    /// keep no store).
    fn drain_fresh(&mut self) {
        while let Some(r) = self.fresh.pop_front() {
            self.enqueue(r, false);
        }
    }

    /// Gives the children of a new tree node bases among the children of the old node at its
    /// place: the two lists are aligned on the children they share (in order), and each new child
    /// between two shared ones is paired with the old children between the same two (at most
    /// [`MAX_DELTA_BASES`], those nearest its place): an edit in a file changes a run of chunks,
    /// and the old run holds the bytes around the edit, wherever the chunker cut them.
    fn pair(&mut self, new: &[(BlockRef, u64)], old: &[(BlockRef, u64)]) {
        let mut at: HashMap<BlockId, usize> = HashMap::new();
        for (i, (r, _)) in old.iter().enumerate() {
            at.entry(r.id).or_insert(i);
        }
        let mut run: Vec<usize> = Vec::new();
        let mut old_from = 0usize;
        for (i, (r, _)) in new.iter().enumerate() {
            match at.get(&r.id) {
                Some(&j) if j >= old_from => {
                    self.pair_run(new, &run, old.get(old_from..j).unwrap_or_default());
                    run.clear();
                    old_from = j + 1;
                }
                _ => run.push(i),
            }
        }
        self.pair_run(new, &run, old.get(old_from..).unwrap_or_default());
    }

    fn pair_run(&mut self, new: &[(BlockRef, u64)], run: &[usize], old: &[(BlockRef, u64)]) {
        if old.is_empty() {
            return;
        }
        // One pass over both runs: `first` is the first old child reaching past the new child's
        // start (both runs start at the same byte).
        let (mut start, mut first, mut first_end) = (0u64, 0usize, old.first().map_or(0, |o| o.1));
        let last_window = old.len().saturating_sub(MAX_DELTA_BASES);
        for &i in run {
            let Some((r, size)) = new.get(i) else {
                continue;
            };
            while first_end <= start && first + 1 < old.len() {
                first += 1;
                first_end = first_end.saturating_add(old.get(first).map_or(0, |o| o.1));
            }
            let chosen: Vec<BlockRef> = old
                .iter()
                .skip(first.min(last_window))
                .take(MAX_DELTA_BASES)
                .map(|(b, _)| b.clone())
                .collect();
            if !chosen.is_empty() {
                self.bases.entry(r.id).or_insert(chosen);
            }
            start = start.saturating_add(*size);
        }
    }

    /// The next delta request to send: to the tree's maker, while it has room in its window, for
    /// up to [`MAX_DELTA_WANTS`] queued blocks that have bases. Call it before
    /// [`Fetch::next_request`], which leaves those blocks to it.
    pub fn next_delta_request(&mut self) -> Option<(PeerId, Vec<DeltaWant>)> {
        let peer = self.delta_peer?;
        self.drain_fresh();
        let p = self.providers.iter_mut().find(|p| p.peer == peer)?;
        let room = self.window.saturating_sub(p.in_flight).min(MAX_DELTA_WANTS);
        let mut wants = Vec::new();
        while wants.len() < room {
            let Some(r) = self.delta_queue.pop_front() else {
                break;
            };
            let bases = self
                .bases
                .get(&r.id)
                .filter(|_| !self.whole.contains(&r.id));
            let Some(bases) = bases.filter(|_| !p.lacks.contains(&r.id)) else {
                // Refused by the maker, or its delta failed: asked for whole, of anyone.
                self.queue.push_front(r);
                continue;
            };
            let bases: heapless::Vec<BlockRef, MAX_DELTA_BASES> =
                bases.iter().take(MAX_DELTA_BASES).cloned().collect();
            self.in_flight.insert(r.id, (r.clone(), peer, true));
            wants.push(DeltaWant { target: r, bases });
        }
        if wants.is_empty() {
            return None;
        }
        p.in_flight += wants.len();
        Some((peer, wants))
    }

    /// Whether `id` is asked of `peer` as a plain want (a delta for it is a protocol error).
    pub fn asked_whole(&self, peer: &PeerId, id: &BlockId) -> bool {
        self.in_flight
            .get(id)
            .is_some_and(|(_, p, delta)| p == peer && !delta)
    }

    /// A delta arrived from `peer` for block `id`: what to rebuild it from (the block's reference
    /// and the bases asked with it), if it was asked of `peer` as a delta. Rebuilt, it goes to
    /// [`Fetch::on_rebuilt`]; if it does not rebuild, to [`Fetch::on_delta_failed`].
    pub fn on_delta(&self, peer: &PeerId, id: &BlockId) -> Option<(BlockRef, Vec<BlockRef>)> {
        let (r, asked, delta) = self.in_flight.get(id)?;
        if asked != peer || !delta {
            return None;
        }
        Some((r.clone(), self.bases.get(id)?.clone()))
    }

    /// A block rebuilt from `peer`'s delta: taken like a block that arrived.
    pub fn on_rebuilt(
        &mut self,
        peer: &PeerId,
        id: &BlockId,
        data: &[u8],
    ) -> Result<Accepted, FetchError> {
        let accepted = self.on_block(peer, id, data)?;
        if matches!(accepted, Accepted::Store(_)) {
            self.progress.rebuilt += 1;
        }
        Ok(accepted)
    }

    /// `peer`'s delta for `id` did not give the block: it is asked for again as itself.
    pub fn on_delta_failed(&mut self, peer: &PeerId, id: &BlockId) {
        self.whole.insert(*id);
        if self.in_flight.get(id).is_some_and(|(_, p, _)| p == peer)
            && let Some((r, _, _)) = self.in_flight.remove(id)
        {
            if let Some(p) = self.providers.iter_mut().find(|p| p.peer == *peer) {
                p.in_flight = p.in_flight.saturating_sub(1);
            }
            self.enqueue(r, true);
        }
    }

    /// The next request to send: a provider with room in its window and up to [`MAX_IDS`] blocks
    /// it has not refused. Blocks go to the provider with the fewest requests in flight, so the
    /// load spreads and a slow provider gets less.
    pub fn next_request(&mut self) -> Option<(PeerId, Vec<BlockId>)> {
        // Found and not looked for in the store (a caller that does not keep blocks): asked for.
        self.drain_fresh();
        let mut order: Vec<usize> = (0..self.providers.len()).collect();
        order.sort_by_key(|&i| self.providers.get(i).map_or(usize::MAX, |p| p.in_flight));
        for i in order {
            let Some(p) = self.providers.get_mut(i) else {
                continue;
            };
            let room = self.window.saturating_sub(p.in_flight).min(MAX_IDS);
            // Small batches while others have room too: each provider gets a share.
            if room == 0 {
                continue;
            }
            // While less than a quarter of the window is free, wait for a quarter: a request per
            // arriving block cost both peers a message, a wakeup and a session record per block
            // (get 441–464 → 473–479 MB/s, 2026-11-28). Blocks in flight free room as they come,
            // so nothing waits for good.
            if p.in_flight > 0 && room < (self.window / 4).max(1) {
                continue;
            }
            let mut ids = Vec::new();
            let mut j = 0;
            while ids.len() < room {
                let Some(r) = self.queue.get(j) else { break };
                if p.lacks.contains(&r.id) {
                    j += 1;
                    continue;
                }
                let Some(r) = self.queue.remove(j) else { break };
                ids.push(r.id);
                self.in_flight.insert(r.id, (r, p.peer, false));
            }
            if !ids.is_empty() {
                p.in_flight += ids.len();
                return Some((p.peer, ids));
            }
        }
        None
    }

    /// A block arrived from `peer`. A block that does not match its id drops the provider (its
    /// requests go back to the queue) and is an error to report; a matching one is opened with
    /// its key and its children join the queue. A data leaf comes back with its [`Placement`].
    pub fn on_block(
        &mut self,
        peer: &PeerId,
        id: &BlockId,
        data: &[u8],
    ) -> Result<Accepted, FetchError> {
        let asked = self.in_flight.get(id).is_some_and(|(_, p, _)| p == peer);
        if !asked {
            return Ok(Accepted::Unwanted);
        }
        if data.len() > MAX_BLOCK_LEN || verify(id, data).is_err() {
            self.remove_provider(peer);
            return Err(FetchError::WrongBlock { peer: *peer });
        }
        let Some((r, _, _)) = self.in_flight.remove(id) else {
            return Ok(Accepted::Unwanted);
        };
        if let Some(p) = self.providers.iter_mut().find(|p| p.peer == *peer) {
            p.in_flight = p.in_flight.saturating_sub(1);
        }
        match self.delivered.iter_mut().find(|(p, _)| p == peer) {
            Some((_, n)) => *n += 1,
            None => self.delivered.push((*peer, 1)),
        }
        self.progress.blocks += 1;
        self.progress.received += 1;
        self.progress.bytes += data.len() as u64;
        let placement = self.open(&r, data)?;
        Ok(Accepted::Store(placement))
    }

    /// `peer` does not hold `ids`: they go back to the queue for the others.
    pub fn on_dont_have(&mut self, peer: &PeerId, ids: &[BlockId]) {
        let Some(p) = self.providers.iter_mut().find(|p| p.peer == *peer) else {
            return;
        };
        for id in ids {
            p.lacks.insert(*id);
            if self
                .in_flight
                .get(id)
                .is_some_and(|(_, asked, _)| asked == peer)
                && let Some((r, _, _)) = self.in_flight.remove(id)
            {
                p.in_flight = p.in_flight.saturating_sub(1);
                // Its delta's maker lacks it: whole, of anyone (`next_delta_request` moves it).
                self.queue.push_front(r);
            }
        }
    }

    /// `peer` went away: its requests go back to the queue.
    pub fn remove_provider(&mut self, peer: &PeerId) {
        self.providers.retain(|p| p.peer != *peer);
        if self.delta_peer == Some(*peer) {
            // No deltas without their maker: the others are asked for the blocks whole.
            self.delta_peer = None;
            let waiting = std::mem::take(&mut self.delta_queue);
            self.queue.extend(waiting);
        }
        let lost: Vec<BlockId> = self
            .in_flight
            .iter()
            .filter(|(_, (_, p, _))| p == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some((r, _, _)) = self.in_flight.remove(&id) {
                self.queue.push_front(r);
            }
        }
    }

    /// Whether the fetch can still finish: some queued block has a provider that did not refuse
    /// it, or requests are in flight.
    pub fn check_stuck(&self) -> Result<(), FetchError> {
        if self.is_complete() || !self.in_flight.is_empty() || !self.fresh.is_empty() {
            return Ok(());
        }
        let servable = self
            .queue
            .iter()
            .any(|r| self.providers.iter().any(|p| !p.lacks.contains(&r.id)))
            || (!self.delta_queue.is_empty()
                && self
                    .providers
                    .iter()
                    .any(|p| Some(p.peer) == self.delta_peer));
        if servable {
            Ok(())
        } else {
            Err(FetchError::NoProviders {
                missing: self.queue.len() + self.delta_queue.len(),
            })
        }
    }

    /// Every block of the tree found so far (all of them once the fetch is complete).
    pub fn block_ids(&self) -> impl Iterator<Item = &BlockId> {
        self.seen.keys()
    }

    /// Data to read from the store once every block is in: the leaves that were held before the
    /// fetch, and blocks (leaves or whole subtrees) that turned up at more offsets after they were
    /// handled. Drains the list.
    pub fn take_stored(&mut self) -> Vec<Placement> {
        std::mem::take(&mut self.stored)
    }

    /// Opens a block (already verified against its id) with its key; a tree node's children join
    /// the queue with their offsets. Returns a data leaf's placement.
    fn open(&mut self, r: &BlockRef, data: &[u8]) -> Result<Option<Placement>, FetchError> {
        let bad = |reason: &str| FetchError::BadTree {
            id: r.id,
            reason: reason.into(),
        };
        let offset = self.places.remove(&r.id).unwrap_or(0);
        let expect = self.seen.get(&r.id).copied().flatten();
        if let Some(e) = expect.filter(|e| e.level == 0) {
            // A data leaf by its parent's word: not decrypted here (its parent says what it is);
            // whoever writes it checks its kind and length.
            return Ok(Some(Placement {
                block: r.clone(),
                size: e.size,
                offset,
            }));
        }
        let mut plain = Zeroizing::new(data.to_vec());
        // Every caller verified the block against its id (`on_block`, `take_local`).
        let block = open_verified_in_place(r, &mut plain).map_err(|e| bad(&e.to_string()))?;
        match block {
            Block::Data(d) => {
                let len = d.len() as u64;
                match expect {
                    // Only the root can be data without a level-1 parent.
                    None => self.progress.total_data = Some(len),
                    Some(e) if e.level != 0 => return Err(bad("data where a tree node should be")),
                    Some(e) if e.size != len => {
                        return Err(bad("the data's length is not what its parent says"));
                    }
                    Some(_) => {}
                }
                Ok(Some(Placement {
                    block: r.clone(),
                    size: len,
                    offset,
                }))
            }
            Block::Tree(node) => {
                match expect {
                    None => self.progress.total_data = Some(node.total_size()),
                    Some(e) if e.level != node.level() => {
                        return Err(bad("a tree node of another level than its parent says"));
                    }
                    Some(e) if e.size != node.total_size() => {
                        return Err(bad("a tree node holds another size than its parent says"));
                    }
                    Some(_) => {}
                }
                if let Some([base]) = self.bases.get(&r.id).map(Vec::as_slice)
                    && self.delta_peer.is_some()
                {
                    let children = node.entries().map(|e| (e.child, e.size)).collect();
                    self.to_pair.push((children, base.clone()));
                }
                let child_level = node.level().saturating_sub(1);
                let total = self.progress.total_data.unwrap_or(0);
                let mut start = 0u64;
                for entry in node.entries() {
                    let at = offset.saturating_add(start);
                    start = start.saturating_add(entry.size);
                    // Checked above for the node as a whole; this keeps every placement inside
                    // the file even before the sizes below are checked against their blocks.
                    if at.saturating_add(entry.size) > total {
                        return Err(bad("a child lies past the end of the data"));
                    }
                    let id = entry.child.id;
                    let this = Expect {
                        size: entry.size,
                        level: child_level,
                    };
                    match self.seen.get(&id) {
                        None => {
                            self.seen.insert(id, Some(this));
                            self.places.insert(id, at);
                            self.fresh.push_back(entry.child);
                        }
                        Some(first) if *first != Some(this) => {
                            return Err(bad("one block is named with two sizes or levels"));
                        }
                        // Named again: its data goes here too, read back once everything is in.
                        Some(_) => self.stored.push(Placement {
                            block: entry.child,
                            size: entry.size,
                            offset: at,
                        }),
                    }
                }
                Ok(None)
            }
        }
    }
}

/// The children of the old tree node `base` (held here as `data`), if it opens as a tree node.
fn old_children(base: &BlockRef, data: Vec<u8>) -> Option<Vec<(BlockRef, u64)>> {
    // Its plaintext names blocks with their keys: wiped after.
    let mut data = Zeroizing::new(data);
    match open_in_place(base, &mut data).ok()? {
        Block::Tree(node) => Some(node.entries().map(|e| (e.child, e.size)).collect()),
        Block::Data(_) => None,
    }
}
