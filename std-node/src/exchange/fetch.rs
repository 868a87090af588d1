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

/// Leaf references taken from opened tree nodes and not placed yet, at most. This, not the file's
/// size, bounds the plan's memory: a whole-tree plan held every block's id, offset and reference,
/// some 6.5 MB per GiB fetched (heaptrack, 2026-11-28). Far more than a window of requests for a
/// few providers, so that the requests never wait for the tree to be read.
pub const LOOKAHEAD: usize = 1024;

/// Tree nodes of each level opened or on their way, at most: the one whose children are being
/// taken and the next, asked for early so that its children are known before the current one's
/// run out.
const NODES_AHEAD: usize = 2;

/// Distinct tree nodes one fetch remembers, to fetch and open a subtree the tree names twice only
/// once (a tree that names one small subtree a million times must not cost a million fetches).
/// One node holds some 900 leaves, about 18 MB of data: this covers files of some 4 TB.
pub const MAX_TREE_NODES: usize = 1 << 18;

/// Further references to subtrees found before, at most: their data is read back from the store
/// once every block is in ([`Fetch::take_stored`]). A disk image of zeros names its one zero
/// subtree once per 18 MB.
pub const MAX_REPEATS: usize = 1 << 16;

/// Where a data leaf (or a whole subtree) goes in the file: its plaintext is `size` bytes and is
/// written at `offset`. A leaf named several times gets one placement per reference.
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
    /// Needed blocks it said it does not hold (forgotten once a block is handled).
    lacks: HashSet<BlockId>,
}

/// A block found in the tree and not handled yet.
struct Wanted {
    r: BlockRef,
    /// What its first reference says it is (`None`: the root).
    expect: Option<Expect>,
    /// Where its first reference puts it.
    offset: u64,
    /// Where further references to the same leaf put it, found before it was handled.
    copies: Vec<u64>,
}

/// A tree node opened whose children are not all taken yet.
struct OpenNode {
    /// Its children not taken yet, with their sizes.
    children: std::vec::IntoIter<(BlockRef, u64)>,
    /// Where the next child goes in the file.
    at: u64,
}

/// The tree nodes of one level: open ones, and those found but not opened yet.
#[derive(Default)]
struct Level {
    open: VecDeque<OpenNode>,
    coming: usize,
}

/// One fetch of the tree under a root.
///
/// The tree is read as the blocks are needed, never all at once: the plan holds at most
/// [`NODES_AHEAD`] open tree nodes per level and [`LOOKAHEAD`] leaf references, whatever the size
/// of the file. Tree nodes go ahead of leaves in the queue, so that the next node is in before the
/// leaves of the current one run out.
pub struct Fetch {
    root: BlockId,
    /// Found, not looked for in the store yet: [`Fetch::take_local`] takes the held ones and
    /// queues the rest. Without this, a tree that shares most of its blocks with one held (a file
    /// after a small edit) would be fetched whole.
    fresh: VecDeque<BlockId>,
    /// Tree nodes needed, not asked for yet: asked for before any leaf, so that the next node's
    /// children are known before the current one's run out.
    node_queue: VecDeque<BlockId>,
    /// Leaves needed, not asked for yet, in file order.
    queue: VecDeque<BlockId>,
    /// Every block found and not handled yet (fresh, queued or in flight).
    wanted: HashMap<BlockId, Wanted>,
    /// Asked for: of which provider, and whether as a delta.
    in_flight: HashMap<BlockId, (PeerId, bool)>,
    providers: Vec<Provider>,
    /// Requests one provider may have outstanding.
    window: usize,
    progress: FetchProgress,
    /// Open tree nodes by level (index 0 unused: leaves are not opened).
    levels: Vec<Level>,
    /// Leaf references taken from open nodes and not placed yet (at most [`LOOKAHEAD`]).
    leaves_out: usize,
    /// Tree nodes found so far (and the root), with what their first reference says they are: a
    /// subtree named again is read back from the store instead of being walked again.
    nodes: HashMap<BlockId, Option<Expect>>,
    /// Blocks each provider delivered, including providers since dropped.
    delivered: Vec<(PeerId, u64)>,
    /// Leaves found held in the store, to write: drained by [`Fetch::take_held`].
    held: Vec<Placement>,
    /// Subtrees named again after they were found, to write from the store once every block is
    /// in: drained by [`Fetch::take_stored`].
    repeats: Vec<Placement>,
    /// The provider asked for blocks as deltas (the tree's maker), if any.
    delta_peer: Option<PeerId>,
    /// Older blocks, held here, that a block may be rebuilt from: the old version of the tree's
    /// root, and for a tree node opened with a base, its children paired with the base's
    /// (forgotten once a block is handled).
    bases: HashMap<BlockId, Vec<BlockRef>>,
    /// Tree nodes opened that have a base: their children, to pair with the base's children
    /// once the base is read (in [`Fetch::take_local`], which reads the store).
    to_pair: Vec<(Vec<(BlockRef, u64)>, BlockRef)>,
    /// Needed blocks with bases, not asked for yet: for the delta provider alone (kept apart so
    /// that neither kind of request scans the other's blocks).
    delta_queue: VecDeque<BlockId>,
    /// Blocks whose delta did not rebuild them: asked for whole (their bases stay, to pair their
    /// children).
    whole: HashSet<BlockId>,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Block keys stay out of logs: counts only.
        f.debug_struct("Fetch")
            .field("root", &self.root)
            .field("queued", &(self.node_queue.len() + self.queue.len()))
            .field("queued_for_deltas", &self.delta_queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("wanted", &self.wanted.len())
            .field("leaves_out", &self.leaves_out)
            .field("providers", &self.providers.len())
            .field("progress", &self.progress)
            .finish()
    }
}

/// What to do with a block that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Verified: store it. A data leaf comes with where its plaintext goes in the file, once per
    /// reference known so far (a tree node with none).
    Store(Vec<Placement>),
    /// Not asked for (late, duplicate, cancelled): ignore it.
    Unwanted,
}

impl Fetch {
    /// A fetch of the tree under `root`, with `window` requests in flight per provider.
    pub fn new(root: BlockRef, window: usize) -> Self {
        let id = root.id;
        let wanted = Wanted {
            r: root,
            expect: None,
            offset: 0,
            copies: Vec::new(),
        };
        Fetch {
            root: id,
            fresh: VecDeque::from([id]),
            node_queue: VecDeque::new(),
            queue: VecDeque::new(),
            wanted: HashMap::from([(id, wanted)]),
            in_flight: HashMap::new(),
            providers: Vec::new(),
            window: window.max(1),
            progress: FetchProgress::default(),
            levels: Vec::new(),
            leaves_out: 0,
            nodes: HashMap::from([(id, None)]),
            delivered: Vec::new(),
            held: Vec::new(),
            repeats: Vec::new(),
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
        self.wanted.is_empty() && self.levels.iter().all(|l| l.open.is_empty())
    }

    /// Block references the plan holds now: blocks wanted (with the further places of a leaf),
    /// children of open tree nodes not taken yet, and held leaves not taken by
    /// [`Fetch::take_held`]. Bounded by [`LOOKAHEAD`] and the tree's depth and fan-out, not by
    /// its size (subtrees named again are bounded apart, by [`MAX_REPEATS`]).
    pub fn references(&self) -> usize {
        let wanted: usize = self.wanted.values().map(|w| 1 + w.copies.len()).sum();
        let open: usize = self
            .levels
            .iter()
            .flat_map(|l| &l.open)
            .map(|n| n.children.len())
            .sum();
        wanted + open + self.held.len()
    }

    /// Whether the root turned out to be a data block: the whole tree is that one block.
    pub fn root_is_data(&self) -> bool {
        !self.wanted.contains_key(&self.root) && self.levels.is_empty()
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
    /// held block's ciphertext); queues the others to be asked for. A held tree node is opened and
    /// its children looked at in turn; held data leaves are listed for [`Fetch::take_held`]. Call
    /// it before [`Fetch::next_request`], at the start and after each block that arrives.
    ///
    /// It stops once [`LOOKAHEAD`] held leaves wait to be written: take them with
    /// [`Fetch::take_held`] and call it again, until that gives none (a tree held whole is
    /// walked that way, a bounded piece at a time).
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
            if self.held.len() >= LOOKAHEAD {
                return Ok(());
            }
            let Some(id) = self.fresh.pop_front() else {
                self.take_children()?;
                if self.fresh.is_empty() {
                    return Ok(());
                }
                continue;
            };
            match local(&id) {
                Some(data) if verify(&id, &data).is_ok() => {
                    self.progress.blocks += 1;
                    self.progress.bytes += data.len() as u64;
                    let placements = self.handled(&id, &data)?;
                    self.held.extend(placements);
                }
                _ => self.enqueue(id, false),
            }
        }
    }

    /// Held leaves found by [`Fetch::take_local`] since the last call, to write from the store.
    pub fn take_held(&mut self) -> Vec<Placement> {
        std::mem::take(&mut self.held)
    }

    /// Queues a needed block: for a delta if it has bases (and its delta did not fail), plain
    /// otherwise; a block that goes back at the front.
    fn enqueue(&mut self, id: BlockId, back_again: bool) {
        let delta =
            self.delta_peer.is_some() && self.bases.contains_key(&id) && !self.whole.contains(&id);
        let q = if delta {
            &mut self.delta_queue
        } else {
            self.plain_queue(&id)
        };
        if back_again {
            q.push_front(id);
        } else {
            q.push_back(id);
        }
    }

    /// The queue of plain requests `id` belongs in: tree nodes (and the root) apart from leaves.
    fn plain_queue(&mut self, id: &BlockId) -> &mut VecDeque<BlockId> {
        let node = self
            .wanted
            .get(id)
            .is_some_and(|w| w.expect.is_none_or(|e| e.level > 0));
        if node {
            &mut self.node_queue
        } else {
            &mut self.queue
        }
    }

    /// Puts `id` back at the front of its plain queue (its provider went away or lacks it).
    fn requeue(&mut self, id: BlockId) {
        self.plain_queue(&id).push_front(id);
    }

    /// Moves the blocks found but not looked for in a store into the queues (for callers that
    /// keep no store).
    fn drain_fresh(&mut self) {
        while let Some(id) = self.fresh.pop_front() {
            self.enqueue(id, false);
        }
    }

    /// Takes children of the open tree nodes, as far as the bounds allow: at each level, enough
    /// nodes to keep [`NODES_AHEAD`] of the level below open or coming, and leaves up to
    /// [`LOOKAHEAD`]. Repeats until nothing more can be taken (a repeated subtree takes no room).
    fn take_children(&mut self) -> Result<(), FetchError> {
        loop {
            let mut took = false;
            for level in (2..self.levels.len()).rev() {
                while self.active(level - 1) < NODES_AHEAD {
                    let Some((child, size, at)) = self.next_child(level) else {
                        break;
                    };
                    let expect = Expect {
                        size,
                        level: (level - 1) as u8,
                    };
                    self.found(child, expect, at)?;
                    took = true;
                }
            }
            while self.leaves_out < LOOKAHEAD {
                let Some((child, size, at)) = self.next_child(1) else {
                    break;
                };
                self.found(child, Expect { size, level: 0 }, at)?;
                took = true;
            }
            if !took {
                return Ok(());
            }
        }
    }

    /// Tree nodes of `level` open or coming.
    fn active(&self, level: usize) -> usize {
        self.levels
            .get(level)
            .map_or(0, |l| l.open.len() + l.coming)
    }

    /// The next child of the first open node of `level`, with its size and offset; a node whose
    /// children are all taken is closed.
    fn next_child(&mut self, level: usize) -> Option<(BlockRef, u64, u64)> {
        let open = &mut self.levels.get_mut(level)?.open;
        loop {
            let node = open.front_mut()?;
            if let Some((child, size)) = node.children.next() {
                let at = node.at;
                node.at = node.at.saturating_add(size);
                if node.children.len() == 0 {
                    open.pop_front();
                }
                return Some((child, size, at));
            }
            open.pop_front();
        }
    }

    /// A reference to `r` at `at` taken from an open node: a new block is wanted, a leaf already
    /// wanted gets one more offset, a subtree found before is listed to read back at the end.
    fn found(&mut self, r: BlockRef, expect: Expect, at: u64) -> Result<(), FetchError> {
        let bad = |reason: &str| FetchError::BadTree {
            id: r.id,
            reason: reason.into(),
        };
        if expect.level > 0 {
            match self.nodes.get(&r.id) {
                Some(first) if *first != Some(expect) => {
                    return Err(bad("one block is named with two sizes or levels"));
                }
                Some(_) => {
                    if self.repeats.len() >= MAX_REPEATS {
                        return Err(bad(&format!(
                            "the tree names subtrees again more than {MAX_REPEATS} times"
                        )));
                    }
                    self.repeats.push(Placement {
                        block: r,
                        size: expect.size,
                        offset: at,
                    });
                    return Ok(());
                }
                None if self.nodes.len() >= MAX_TREE_NODES => {
                    return Err(bad(&format!(
                        "the tree has more than {MAX_TREE_NODES} tree nodes"
                    )));
                }
                None => {
                    self.nodes.insert(r.id, Some(expect));
                    if let Some(l) = self.levels.get_mut(usize::from(expect.level)) {
                        l.coming += 1;
                    }
                }
            }
        } else {
            self.leaves_out += 1;
        }
        match self.wanted.get_mut(&r.id) {
            Some(w) if w.expect != Some(expect) => {
                Err(bad("one block is named with two sizes or levels"))
            }
            Some(w) => {
                // Only a leaf gets here (a tree node is in `nodes` from its first reference).
                w.copies.push(at);
                Ok(())
            }
            None => {
                let id = r.id;
                self.wanted.insert(
                    id,
                    Wanted {
                        r,
                        expect: Some(expect),
                        offset: at,
                        copies: Vec::new(),
                    },
                );
                self.fresh.push_back(id);
                Ok(())
            }
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
        let mut plain = Vec::new();
        while wants.len() < room {
            let Some(id) = self.delta_queue.pop_front() else {
                break;
            };
            let bases = self.bases.get(&id).filter(|_| !self.whole.contains(&id));
            let target = self.wanted.get(&id).map(|w| w.r.clone());
            let (Some(bases), Some(target)) = (bases.filter(|_| !p.lacks.contains(&id)), target)
            else {
                // Refused by the maker, or its delta failed: asked for whole, of anyone.
                plain.push(id);
                continue;
            };
            let bases: heapless::Vec<BlockRef, MAX_DELTA_BASES> =
                bases.iter().take(MAX_DELTA_BASES).cloned().collect();
            self.in_flight.insert(id, (peer, true));
            wants.push(DeltaWant { target, bases });
        }
        p.in_flight += wants.len();
        for id in plain {
            self.requeue(id);
        }
        if wants.is_empty() {
            return None;
        }
        Some((peer, wants))
    }

    /// Whether `id` is asked of `peer` as a plain want (a delta for it is a protocol error).
    pub fn asked_whole(&self, peer: &PeerId, id: &BlockId) -> bool {
        self.in_flight
            .get(id)
            .is_some_and(|(p, delta)| p == peer && !delta)
    }

    /// A delta arrived from `peer` for block `id`: what to rebuild it from (the block's reference
    /// and the bases asked with it), if it was asked of `peer` as a delta. Rebuilt, it goes to
    /// [`Fetch::on_rebuilt`]; if it does not rebuild, to [`Fetch::on_delta_failed`].
    pub fn on_delta(&self, peer: &PeerId, id: &BlockId) -> Option<(BlockRef, Vec<BlockRef>)> {
        let (asked, delta) = self.in_flight.get(id)?;
        if asked != peer || !delta {
            return None;
        }
        let target = self.wanted.get(id)?.r.clone();
        Some((target, self.bases.get(id)?.clone()))
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
        if self.in_flight.get(id).is_some_and(|(p, _)| p == peer) {
            self.whole.insert(*id);
            self.in_flight.remove(id);
            if let Some(p) = self.providers.iter_mut().find(|p| p.peer == *peer) {
                p.in_flight = p.in_flight.saturating_sub(1);
            }
            self.enqueue(*id, true);
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
            for q in [&mut self.node_queue, &mut self.queue] {
                let mut j = 0;
                while ids.len() < room {
                    let Some(id) = q.get(j) else { break };
                    if !self.wanted.contains_key(id) {
                        // Handled since it was queued (held after all): nothing to ask.
                        q.remove(j);
                        continue;
                    }
                    if p.lacks.contains(id) {
                        j += 1;
                        continue;
                    }
                    let Some(id) = q.remove(j) else {
                        break;
                    };
                    ids.push(id);
                    self.in_flight.insert(id, (p.peer, false));
                }
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
    /// its key and its children join the queue. A data leaf comes back with its placements.
    pub fn on_block(
        &mut self,
        peer: &PeerId,
        id: &BlockId,
        data: &[u8],
    ) -> Result<Accepted, FetchError> {
        let asked = self.in_flight.get(id).is_some_and(|(p, _)| p == peer);
        if !asked {
            return Ok(Accepted::Unwanted);
        }
        if data.len() > MAX_BLOCK_LEN || verify(id, data).is_err() {
            self.remove_provider(peer);
            return Err(FetchError::WrongBlock { peer: *peer });
        }
        self.in_flight.remove(id);
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
        let placements = self.handled(id, data)?;
        // A leaf placed or a node opened makes room for more of the tree.
        self.take_children()?;
        Ok(Accepted::Store(placements))
    }

    /// `peer` does not hold `ids`: they go back to the queue for the others.
    pub fn on_dont_have(&mut self, peer: &PeerId, ids: &[BlockId]) {
        let Some(p) = self.providers.iter_mut().find(|p| p.peer == *peer) else {
            return;
        };
        let mut lost = Vec::new();
        for id in ids {
            if !self.wanted.contains_key(id) {
                continue;
            }
            p.lacks.insert(*id);
            if self
                .in_flight
                .get(id)
                .is_some_and(|(asked, _)| asked == peer)
            {
                self.in_flight.remove(id);
                p.in_flight = p.in_flight.saturating_sub(1);
                lost.push(*id);
            }
        }
        for id in lost {
            // Even one asked as a delta goes back plain: its maker lacks it, so it comes whole,
            // of anyone.
            self.requeue(id);
        }
    }

    /// `peer` went away: its requests go back to the queue.
    pub fn remove_provider(&mut self, peer: &PeerId) {
        self.providers.retain(|p| p.peer != *peer);
        if self.delta_peer == Some(*peer) {
            // No deltas without their maker: the others are asked for the blocks whole.
            self.delta_peer = None;
            for id in std::mem::take(&mut self.delta_queue) {
                self.enqueue(id, false);
            }
        }
        let lost: Vec<BlockId> = self
            .in_flight
            .iter()
            .filter(|(_, (p, _))| p == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.in_flight.remove(&id);
            self.requeue(id);
        }
    }

    /// Whether the fetch can still finish: some queued block has a provider that did not refuse
    /// it, or requests are in flight, or blocks wait to be looked for in the store.
    pub fn check_stuck(&self) -> Result<(), FetchError> {
        if self.is_complete()
            || !self.in_flight.is_empty()
            || !self.fresh.is_empty()
            || !self.held.is_empty()
        {
            return Ok(());
        }
        let servable = self
            .node_queue
            .iter()
            .chain(&self.queue)
            .any(|id| self.providers.iter().any(|p| !p.lacks.contains(id)))
            || (!self.delta_queue.is_empty()
                && self
                    .providers
                    .iter()
                    .any(|p| Some(p.peer) == self.delta_peer));
        if servable {
            Ok(())
        } else {
            Err(FetchError::NoProviders {
                missing: self.node_queue.len() + self.queue.len() + self.delta_queue.len(),
            })
        }
    }

    /// Subtrees the tree names again after they were found, to read back from the store once
    /// every block is in, at their further offsets. Drains the list.
    pub fn take_stored(&mut self) -> Vec<Placement> {
        std::mem::take(&mut self.repeats)
    }

    /// A wanted block is here (received, or held: verified against its id either way): it is
    /// forgotten, and opened with its key. A data leaf's placements come back (one per reference
    /// found so far); a tree node's children join the open nodes.
    fn handled(&mut self, id: &BlockId, data: &[u8]) -> Result<Vec<Placement>, FetchError> {
        let Some(w) = self.wanted.remove(id) else {
            return Ok(Vec::new());
        };
        // Empty in a plain fetch: not hashed into then.
        let bases = if self.bases.is_empty() {
            None
        } else {
            self.bases.remove(id)
        };
        if !self.whole.is_empty() {
            self.whole.remove(id);
        }
        for p in self.providers.iter_mut().filter(|p| !p.lacks.is_empty()) {
            p.lacks.remove(id);
        }
        let bad = |reason: &str| FetchError::BadTree {
            id: *id,
            reason: reason.into(),
        };
        let leaf = |size: u64, w: Wanted| {
            std::iter::once(w.offset)
                .chain(w.copies)
                .map(|offset| Placement {
                    block: w.r.clone(),
                    size,
                    offset,
                })
                .collect::<Vec<_>>()
        };
        if let Some(e) = w.expect.filter(|e| e.level == 0) {
            // A data leaf by its parent's word: not decrypted here (its parent says what it is);
            // whoever writes it checks its kind and length.
            self.leaves_out = self.leaves_out.saturating_sub(1 + w.copies.len());
            return Ok(leaf(e.size, w));
        }
        let mut plain = Zeroizing::new(data.to_vec());
        // Every caller verified the block against its id (`on_block`, `take_local`).
        let block = open_verified_in_place(&w.r, &mut plain).map_err(|e| bad(&e.to_string()))?;
        match block {
            Block::Data(d) => {
                let len = d.len() as u64;
                // Only the root can be data without a level-1 parent: everything else was
                // handled above by its parent's word.
                if w.expect.is_some() {
                    return Err(bad("data where a tree node should be"));
                }
                self.progress.total_data = Some(len);
                Ok(leaf(len, w))
            }
            Block::Tree(node) => {
                let level = node.level();
                match w.expect {
                    None => self.progress.total_data = Some(node.total_size()),
                    Some(e) if e.level != level => {
                        return Err(bad("a tree node of another level than its parent says"));
                    }
                    Some(e) if e.size != node.total_size() => {
                        return Err(bad("a tree node holds another size than its parent says"));
                    }
                    Some(_) => {}
                }
                let children: Vec<(BlockRef, u64)> =
                    node.entries().map(|e| (e.child, e.size)).collect();
                // Checked above for the node as a whole; this keeps every placement inside the
                // file even before the sizes below are checked against their blocks.
                let total = self.progress.total_data.unwrap_or(0);
                let end = children
                    .iter()
                    .try_fold(w.offset, |at, (_, size)| at.checked_add(*size));
                if end.is_none_or(|end| end > total) {
                    return Err(bad("a child lies past the end of the data"));
                }
                if let Some([base]) = bases.as_deref()
                    && self.delta_peer.is_some()
                {
                    self.to_pair.push((children.clone(), base.clone()));
                }
                let level = usize::from(level);
                if self.levels.len() <= level {
                    self.levels.resize_with(level + 1, Level::default);
                }
                if let Some(l) = self.levels.get_mut(level) {
                    if w.expect.is_some() {
                        l.coming = l.coming.saturating_sub(1);
                    }
                    l.open.push_back(OpenNode {
                        children: children.into_iter(),
                        at: w.offset,
                    });
                }
                Ok(Vec::new())
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
