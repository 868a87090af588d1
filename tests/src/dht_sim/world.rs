//! The simulated network of DHT nodes and the event loop that runs it.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use gofast_core::codec::{Encode, decode_exact};
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{
    Body, DhtConfig, DhtEvent, DhtMessage, MAX_ADDR_LEN, MemoryRecordStore, Node, NodeAddress,
    QueryId, QueryOutcome, RecordStore, StoreConfig, Transmit,
};
use gofast_core::identity::{DhtKey, KeyPair, PeerId};
use gofast_core::record::Record;
use gofast_core::time::{Duration, Instant};
use rand::RngExt;
use rand_distr::{Distribution, Exp};

use super::adversary::{self, Adversary, Lie};
use super::{FRAMING_BYTES, Metrics, SimConfig};
use crate::sim::{EventQueue, Network, SimRng, rng};

/// A simulated node's address: its index, sent as an IPv4 address and port would be (6 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SimAddr(pub u32);

/// The 6 answer bytes of address `a`.
pub(super) fn addr_bytes(a: u32) -> heapless::Vec<u8, MAX_ADDR_LEN> {
    let mut v = heapless::Vec::new();
    let _ = v.extend_from_slice(&a.to_be_bytes());
    let _ = v.extend_from_slice(&[0x1f, 0x90]);
    v
}

impl NodeAddress for SimAddr {
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN> {
        addr_bytes(self.0)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let b: [u8; 6] = bytes.try_into().ok()?;
        Some(SimAddr(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }
}

/// Records a storer holds: the std node's default bound is larger; 64 is ample for a uniform load
/// of up to a few records per node times k.
pub(super) type SimStore = MemoryRecordStore<64>;
/// A simulated DHT node: the server profile's table (k = 20, 512 contacts) and lookups (3 record
/// paths), with fewer query slots and provider slots than a server has, so that 10,000 of them fit
/// in a few GiB (every bound is static memory).
pub(super) type SimNode = Node<SimAddr, SimStore, 20, 512, 64, 8, 32, 8, 64, 16>;

struct Peer {
    id: PeerId,
    keypair: KeyPair,
    node: Box<SimNode>,
    adversary: Option<Adversary>,
    timer: Option<Instant>,
    /// The nodes it has a session with (their first message paid the handshake). Kept per node, so
    /// that a departed node's sessions go with it: one set of every pair ever was tens of millions
    /// of entries by the end of a day of churn, and the run's slowest map.
    sessions: HashSet<u32>,
}

enum Ev {
    Deliver {
        to: u32,
        from: u32,
        peer: PeerId,
        msg: Box<DhtMessage>,
    },
    Bytes {
        to: u32,
        from: u32,
        peer: PeerId,
        bytes: Vec<u8>,
    },
    Timer {
        addr: u32,
    },
    Join,
    Leave {
        addr: u32,
    },
    Lookup,
    Publish {
        record: usize,
        version: usize,
    },
    Get {
        record: usize,
        last: bool,
    },
}

enum Track {
    Bootstrap,
    /// A measured peer lookup; `cost` indexes its messages and bytes, which keep counting answers
    /// that arrive after its result.
    Lookup {
        target: u32,
        cost: usize,
    },
    Put {
        record: usize,
        version: usize,
    },
    Get {
        record: usize,
        last: bool,
    },
}

/// Bytes a first contact between two peers adds: the IK handshake's two messages (ephemeral and
/// encrypted static key, hello and identity, tags) around the first request, which rides in the
/// first message as early data, so no round trip is added.
const HANDSHAKE_BYTES: u64 = 200;

struct RecordInfo {
    versions: Vec<Record>,
    /// The newest version a put has completed for (gets before it are not counted).
    published: Option<usize>,
}

/// A whole simulated network.
pub struct World {
    config: SimConfig,
    rng: SimRng,
    queue: EventQueue<Ev>,
    net: Network,
    peers: Vec<Option<Peer>>,
    alive: Vec<u32>,
    alive_pos: Vec<usize>,
    adversaries: Vec<(DhtKey, PeerId, u32)>,
    /// The adversaries nearest each key asked about (cleared when the adversaries change).
    nearest_cache: HashMap<DhtKey, gofast_core::dht::Nodes>,
    /// Requests that reached adversaries: what they were about, for the lie.
    asked: HashMap<(u32, PeerId, u64), Option<DhtKey>>,
    tracks: HashMap<(u32, QueryId), Track>,
    /// Messages and bytes of each measured lookup, and which lookup a request in flight belongs to.
    lookup_cost: Vec<(u64, u64)>,
    request_owner: HashMap<(u32, u64), usize>,
    records: Vec<RecordInfo>,
    record_by_key: HashMap<DhtKey, usize>,
    session: Option<Exp<f64>>,
    churn_start: Instant,
    churn_until: Instant,
    metrics: Metrics,
    /// The lookups counted in the figures (indexes into `lookup_cost`).
    counted_lookups: Vec<usize>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("config", &self.config)
            .field("now", &self.queue.now())
            .field("alive", &self.alive.len())
            .field("adversaries", &self.adversaries.len())
            .finish_non_exhaustive()
    }
}

const JOIN_GAP: Duration = Duration::from_millis(20);
const SETTLE: Duration = Duration::from_secs(120);
const PUBLISH_WINDOW: Duration = Duration::from_secs(60);

impl World {
    /// A world for `config`, not yet started.
    pub fn new(config: SimConfig) -> Self {
        let session = config.churn.then(|| {
            // Exponential session times with the median given: half of the nodes gone within it.
            let mean = config.median_session.as_micros() as f64 / 1e6 / std::f64::consts::LN_2;
            Exp::new(1.0 / mean).expect("a positive rate")
        });
        World {
            rng: rng(config.seed),
            net: Network::symmetric(config.link, config.seed),
            queue: EventQueue::new(),
            peers: Vec::new(),
            alive: Vec::new(),
            alive_pos: Vec::new(),
            adversaries: Vec::new(),
            nearest_cache: HashMap::default(),
            asked: HashMap::default(),
            tracks: HashMap::default(),
            lookup_cost: Vec::new(),
            request_owner: HashMap::default(),
            records: Vec::new(),
            record_by_key: HashMap::default(),
            session,
            churn_start: Instant::MAX,
            churn_until: Instant::from_micros(0),
            metrics: Metrics::default(),
            counted_lookups: Vec::new(),
            config,
        }
    }

    /// Builds the network, publishes, measures, and runs the final check.
    pub fn run(&mut self) {
        let n = self.config.nodes;
        for i in 0..n {
            self.queue.push(
                Instant::from_micros(0) + JOIN_GAP.saturating_mul(i as u64),
                Ev::Join,
            );
        }
        let built = Instant::from_micros(0) + JOIN_GAP.saturating_mul(n as u64) + SETTLE;
        // Records: version 1 published after the build; with adversaries, a version 2 a little
        // later, so that stale adversaries have something old to serve.
        let versions = if self.config.adversaries > 0.0 { 2 } else { 1 };
        for r in 0..self.config.records {
            for v in 0..versions {
                let at = built
                    + Duration::from_secs(120).saturating_mul(v as u64)
                    + self.spread(PUBLISH_WINDOW);
                self.queue.push(
                    at,
                    Ev::Publish {
                        record: r,
                        version: v,
                    },
                );
            }
        }
        let start = built + Duration::from_secs(120 * versions as u64) + PUBLISH_WINDOW;
        let period =
            Duration::from_micros((self.config.hours * 3600e6) as u64).max(Duration::from_secs(60));
        if self.config.churn {
            self.churn_start = start;
            self.churn_until = start + period;
            // Churn starts once the network is built: every node alive then gets a session time.
            for addr in 0..n as u32 {
                let t = start + self.session_time();
                if t < self.churn_until {
                    self.queue.push(t, Ev::Leave { addr });
                }
            }
        }
        for _ in 0..self.config.lookups {
            let at = start + self.spread(period);
            self.queue.push(at, Ev::Lookup);
        }
        for _ in 0..self.config.gets {
            let at = start + self.spread(period);
            let record = self.rng.random_range(0..self.config.records.max(1));
            self.queue.push(
                at,
                Ev::Get {
                    record,
                    last: false,
                },
            );
        }
        let end = start + period + Duration::from_secs(60);
        for record in 0..self.config.records {
            let at = end + self.spread(Duration::from_secs(60));
            self.queue.push(at, Ev::Get { record, last: true });
        }
        let stop = end + Duration::from_secs(180);
        while let Some(at) = self.queue.peek_time() {
            if at > stop {
                break;
            }
            let Some((now, ev)) = self.queue.pop() else {
                break;
            };
            self.step(now, ev);
        }
        self.metrics.virtual_secs = self.queue.now().as_micros() as f64 / 1e6;
        for &i in &self.counted_lookups {
            if let Some(&(msgs, bytes)) = self.lookup_cost.get(i) {
                self.metrics.lookup_msgs.push(msgs as f64);
                self.metrics.lookup_bytes.push(bytes as f64);
            }
        }
        self.metrics.honest_tables_mostly_adversaries = self.tables_mostly_adversaries();
        let peers = std::mem::take(&mut self.peers);
        for p in peers.iter().flatten() {
            self.count_node(p);
        }
        self.peers = peers;
    }

    /// Honest nodes whose routing table is more than half adversaries.
    fn tables_mostly_adversaries(&self) -> u64 {
        let adversaries: HashSet<PeerId> = self.adversaries.iter().map(|(_, p, _)| *p).collect();
        if adversaries.is_empty() {
            return 0;
        }
        let mostly = |p: &&Peer| {
            let table = p.node.table();
            let bad = table
                .contacts()
                .filter(|c| adversaries.contains(&c.peer))
                .count();
            bad * 2 > table.len()
        };
        self.peers
            .iter()
            .flatten()
            .filter(|p| p.adversary.is_none())
            .filter(mostly)
            .count() as u64
    }

    /// Adds a node's own counters to the run's.
    fn count_node(&mut self, p: &Peer) {
        let stats = p.node.stats();
        self.metrics.refresh_requests += stats.refresh_requests;
        self.metrics.republish_requests += stats.republish_requests;
        self.metrics.query_requests += stats.query_requests;
    }

    /// What the run measured.
    pub fn into_metrics(self) -> Metrics {
        self.metrics
    }

    fn spread(&mut self, window: Duration) -> Duration {
        Duration::from_micros(self.rng.random_range(0..window.as_micros().max(1)))
    }

    fn session_time(&mut self) -> Duration {
        let secs = self.session.map_or(f64::MAX, |d| d.sample(&mut self.rng));
        Duration::from_micros((secs * 1e6).min(u64::MAX as f64 / 2.0) as u64)
    }

    fn step(&mut self, now: Instant, ev: Ev) {
        match ev {
            Ev::Deliver {
                to,
                from,
                peer,
                msg,
            } => {
                if let Some(p) = self.peer_mut(to) {
                    if p.adversary.is_some() && msg.body.is_request() {
                        let key = adversary::answer_key(&msg.body);
                        self.asked.insert((to, peer, msg.request_id), key);
                    }
                    if !msg.body.is_request()
                        && let Some(i) = self.request_owner.remove(&(to, msg.request_id))
                        && let Some(c) = self.lookup_cost.get_mut(i)
                    {
                        c.0 += 1;
                        c.1 += msg.encoded_len() as u64 + FRAMING_BYTES;
                    }
                    if let Some(p) = self.peer_mut(to) {
                        p.node.handle_message(now, peer, SimAddr(from), &msg);
                    }
                    self.pump(now, to);
                }
            }
            Ev::Bytes {
                to,
                from,
                peer,
                bytes,
            } => {
                if let Some(p) = self.peer_mut(to) {
                    match decode_exact::<DhtMessage>(&bytes) {
                        Ok(msg) => p.node.handle_message(now, peer, SimAddr(from), &msg),
                        Err(_) => p.node.handle_bad_message(now, &peer),
                    }
                    self.pump(now, to);
                }
            }
            Ev::Timer { addr } => {
                if let Some(p) = self.peer_mut(addr)
                    && p.timer == Some(now)
                {
                    p.timer = None;
                    p.node.handle_timeout(now);
                    self.pump(now, addr);
                }
            }
            Ev::Join => self.join(now),
            Ev::Leave { addr } => self.leave(now, addr),
            Ev::Lookup => self.start_lookup(now),
            Ev::Publish { record, version } => self.publish(now, record, version),
            Ev::Get { record, last } => self.start_get(now, record, last),
        }
    }

    fn peer_mut(&mut self, addr: u32) -> Option<&mut Peer> {
        self.peers.get_mut(addr as usize).and_then(Option::as_mut)
    }

    fn random_alive(&mut self, honest: bool) -> Option<u32> {
        for _ in 0..64 {
            let i = self.rng.random_range(0..self.alive.len().max(1));
            let addr = *self.alive.get(i)?;
            let ok = self
                .peers
                .get(addr as usize)
                .and_then(Option::as_ref)
                .is_some_and(|p| !honest || p.adversary.is_none());
            if ok {
                return Some(addr);
            }
        }
        None
    }

    fn join(&mut self, now: Instant) {
        let addr = self.peers.len() as u32;
        let mut seed = [0u8; 32];
        self.rng.fill(&mut seed);
        let keypair = KeyPair::from_seed(&SecretBytes::new(seed));
        let id = keypair.peer_id();
        let adversary = (self
            .rng
            .random_bool(self.config.adversaries.clamp(0.0, 1.0)))
        .then(|| Adversary::ALL[self.rng.random_range(0..Adversary::ALL.len())]);
        let mut node_seed = [0u8; 32];
        self.rng.fill(&mut node_seed);
        let store = SimStore::new(id.dht_key(), StoreConfig::default());
        let mut node = Box::new(SimNode::new(
            id,
            DhtConfig::default(),
            store,
            node_seed,
            now,
        ));
        // Three bootstrap contacts among the nodes alive; the first honest unless the run says
        // otherwise (`SimConfig::honest_bootstrap`).
        for i in 0..3 {
            if let Some(b) = self.random_alive(i == 0 && self.config.honest_bootstrap)
                && let Some(p) = self.peers.get(b as usize).and_then(Option::as_ref)
            {
                node.add_contact(p.id, SimAddr(b), now);
            }
        }
        if let Ok(q) = node.bootstrap(now) {
            self.tracks.insert((addr, q), Track::Bootstrap);
        }
        if adversary.is_some() {
            self.adversaries.push((id.dht_key(), id, addr));
            self.nearest_cache.clear();
        }
        self.peers.push(Some(Peer {
            id,
            keypair,
            node,
            adversary,
            timer: None,
            sessions: HashSet::default(),
        }));
        self.alive_pos.push(self.alive.len());
        self.alive.push(addr);
        self.metrics.joins += 1;
        if self.config.churn && now >= self.churn_start && self.churn_until > now {
            let t = now + self.session_time();
            if t < self.churn_until {
                self.queue.push(t, Ev::Leave { addr });
            }
        }
        self.pump(now, addr);
    }

    fn leave(&mut self, now: Instant, addr: u32) {
        let Some(slot) = self.peers.get_mut(addr as usize) else {
            return;
        };
        let Some(gone) = slot.take() else {
            return;
        };
        self.count_node(&gone);
        let pos = self.alive_pos[addr as usize];
        self.alive.swap_remove(pos);
        if let Some(&moved) = self.alive.get(pos) {
            self.alive_pos[moved as usize] = pos;
        }
        self.alive_pos[addr as usize] = usize::MAX;
        if gone.adversary.is_some() {
            self.adversaries.retain(|(_, _, a)| *a != addr);
            self.nearest_cache.clear();
        }
        // Queries of the departed node end without a result: counted, not silently dropped; a
        // final check starts again from another node.
        let gone: Vec<(u32, QueryId)> = self
            .tracks
            .keys()
            .filter(|(a, _)| *a == addr)
            .copied()
            .collect();
        for k in gone {
            match self.tracks.remove(&k) {
                Some(Track::Bootstrap) | None => {}
                Some(Track::Get { record, last: true }) => {
                    self.queue.push(now, Ev::Get { record, last: true });
                }
                Some(_) => self.metrics.origin_left += 1,
            }
        }
        self.metrics.leaves += 1;
        // A crash, not a goodbye; someone new arrives within a minute, keeping the size.
        let at = now + self.spread(Duration::from_secs(60));
        self.queue.push(at, Ev::Join);
    }

    /// A lookup of a peer the originator does not already have in its table (those need no
    /// network and would flatter the figures).
    fn start_lookup(&mut self, now: Instant) {
        let Some(from) = self.random_alive(true) else {
            self.metrics.not_started += 1;
            return;
        };
        let mut chosen = None;
        for _ in 0..16 {
            let Some(target) = self.random_alive(false) else {
                break;
            };
            let Some(target_id) = self.peers[target as usize].as_ref().map(|p| p.id) else {
                continue;
            };
            let known = self.peers[from as usize]
                .as_ref()
                .is_some_and(|p| p.node.table().get(&target_id).is_some());
            if target != from && !known {
                chosen = Some((target, target_id));
                break;
            }
        }
        let Some((target, target_id)) = chosen else {
            self.metrics.not_started += 1;
            return;
        };
        let Some(p) = self.peer_mut(from) else { return };
        match p.node.find_peer(now, target_id) {
            Ok(q) => {
                let cost = self.lookup_cost.len();
                self.lookup_cost.push((0, 0));
                self.tracks
                    .insert((from, q), Track::Lookup { target, cost });
                self.pump(now, from);
            }
            Err(_) => self.metrics.not_started += 1,
        }
    }

    fn publish(&mut self, now: Instant, record: usize, version: usize) {
        // Each record belongs to one honest publisher, chosen when version 0 is made.
        if self.records.len() <= record {
            self.records.resize_with(record + 1, || RecordInfo {
                versions: Vec::new(),
                published: None,
            });
        }
        let Some(from) = self.random_alive(true) else {
            return;
        };
        if self.records[record].versions.is_empty() {
            let Some(p) = self.peers[from as usize].as_ref() else {
                return;
            };
            let salt = (record as u64).to_le_bytes();
            for v in 0..2u64 {
                let value = format!("record {record} version {v}");
                let r = Record::sign(&p.keypair, &salt, v + 1, value.as_bytes()).expect("sign");
                self.records[record].versions.push(r);
            }
            let key = self.records[record].versions[0].dht_key();
            self.record_by_key.insert(key, record);
        }
        let r = self.records[record].versions[version].clone();
        let Some(p) = self.peer_mut(from) else { return };
        match p.node.put_record(now, r) {
            Ok(q) => {
                self.tracks
                    .insert((from, q), Track::Put { record, version });
                self.metrics.puts += 1;
                self.pump(now, from);
            }
            Err(_) => self.metrics.not_started += 1,
        }
    }

    /// A get of `record` (counted as failed if its publication never completed: the final check
    /// covers every record).
    fn start_get(&mut self, now: Instant, record: usize, last: bool) {
        let published = self
            .records
            .get(record)
            .and_then(|i| i.published.map(|_| i));
        let Some(info) = published else {
            if last {
                self.metrics.final_gets += 1;
            }
            self.metrics.unpublished += 1;
            return;
        };
        let key = info.versions[0].dht_key();
        let Some(from) = self.random_alive(true) else {
            self.metrics.not_started += 1;
            return;
        };
        let Some(p) = self.peer_mut(from) else { return };
        match p.node.get_record(now, key) {
            Ok(q) => {
                self.tracks.insert((from, q), Track::Get { record, last });
                self.pump(now, from);
            }
            Err(_) => self.metrics.not_started += 1,
        }
    }

    /// Drains what node `addr` has to send and report, and sets its timer.
    ///
    /// The peer is taken out of its slot while it is drained so each message goes straight
    /// from the node to the event queue: a DHT message is kilobytes, and the simulator's wall
    /// time is dominated by copying them.
    fn pump(&mut self, now: Instant, addr: u32) {
        let Some(mut p) = self.peers.get_mut(addr as usize).and_then(Option::take) else {
            return;
        };
        let (id, adversary) = (p.id, p.adversary);
        while let Some(t) = p.node.poll_transmit(now) {
            self.send(now, addr, (id, adversary, &mut p.sessions), t);
        }
        let mut events: Vec<DhtEvent<SimAddr>> = Vec::new();
        while let Some(e) = p.node.poll_event() {
            events.push(e);
        }
        if let Some(t) = p.node.poll_timeout() {
            let t = t.max(now);
            if p.timer.is_none_or(|old| t < old || old < now) {
                p.timer = Some(t);
                self.queue.push(t, Ev::Timer { addr });
            }
        }
        if let Some(slot) = self.peers.get_mut(addr as usize) {
            *slot = Some(p);
        }
        for e in events {
            self.on_event(now, addr, e);
        }
    }

    fn send(
        &mut self,
        now: Instant,
        from: u32,
        (id, adversary, sessions): (PeerId, Option<Adversary>, &mut HashSet<u32>),
        t: Transmit<SimAddr>,
    ) {
        let to = t.addr.0;
        let (t_query, t_request_id) = (t.query, t.message.request_id);
        let kind = match t.message.body {
            Body::Ping => Some(0),
            Body::FindNode { .. } => Some(1),
            Body::FindValue { .. } => Some(2),
            Body::Store { .. } => Some(3),
            Body::AddProvider { .. } => Some(4),
            Body::GetProviders { .. } => Some(5),
            _ => None,
        };
        if let Some(k) = kind {
            self.metrics.requests_by_kind[k] += 1;
        }
        let is_answer = !t.message.body.is_request();
        let lie = match adversary {
            Some(kind) if is_answer => {
                let key = self
                    .asked
                    .remove(&(from, t.peer, t.message.request_id))
                    .flatten();
                let stale = key
                    .and_then(|k| self.record_by_key.get(&k))
                    .and_then(|&r| self.records.get(r))
                    .and_then(|r| r.versions.first());
                let adversaries = &self.adversaries;
                let cache = &mut self.nearest_cache;
                let nearest = |k: &DhtKey| {
                    cache
                        .entry(*k)
                        .or_insert_with(|| {
                            adversary::nearest_adversaries(
                                adversaries,
                                k,
                                gofast_core::dht::MAX_NODES,
                            )
                        })
                        .clone()
                };
                adversary::lie(kind, t.message, key, nearest, stale)
            }
            _ => Lie::Message(Box::new(t.message)),
        };
        // A first message between two nodes sets up their session, for both ends.
        let handshake = if sessions.insert(to) {
            if let Some(q) = self.peer_mut(to) {
                q.sessions.insert(from);
            }
            HANDSHAKE_BYTES
        } else {
            0
        };
        let (msg, raw, bytes) = match lie {
            Lie::Silence => return,
            Lie::Message(m) => {
                let len = m.encoded_len() as u64;
                (Some(m), None, len)
            }
            Lie::Bytes(b) => {
                let len = b.len() as u64;
                (None, Some(b), len)
            }
        };
        self.metrics.messages += 1;
        self.metrics.bytes += bytes + FRAMING_BYTES + handshake;
        if let Some(q) = t_query
            && let Some(Track::Lookup { cost, .. }) = self.tracks.get(&(from, q))
        {
            let cost = *cost;
            if let Some(c) = self.lookup_cost.get_mut(cost) {
                c.0 += 1;
                c.1 += bytes + FRAMING_BYTES + handshake;
            }
            self.request_owner.insert((from, t_request_id), cost);
        }
        // The last copy takes the message itself; only a duplicated one is cloned.
        let (mut msg, mut raw) = (msg, raw);
        let deliveries = self.net.deliveries(&mut self.rng, now, from, to);
        let last = deliveries.len().saturating_sub(1);
        for (i, at) in deliveries.into_iter().enumerate() {
            let take = i == last;
            let m = if take { msg.take() } else { msg.clone() };
            let ev = match m {
                Some(msg) => Ev::Deliver {
                    to,
                    from,
                    peer: id,
                    msg,
                },
                None => Ev::Bytes {
                    to,
                    from,
                    peer: id,
                    bytes: if take { raw.take() } else { raw.clone() }.unwrap_or_default(),
                },
            };
            self.queue.push(at, ev);
        }
    }

    fn on_event(&mut self, _now: Instant, addr: u32, e: DhtEvent<SimAddr>) {
        let Some(track) = self.tracks.remove(&(addr, e.id)) else {
            return;
        };
        let ms = (e
            .stats
            .finished
            .as_micros()
            .saturating_sub(e.stats.started.as_micros())) as f64
            / 1e3;

        match (track, e.outcome) {
            (Track::Bootstrap, _) => {
                self.metrics
                    .bootstrap_requests
                    .push(f64::from(e.stats.requests));
            }
            (Track::Lookup { target, cost }, QueryOutcome::Peer(found)) => {
                let target_alive = self.peers.get(target as usize).is_some_and(Option::is_some);
                let ok = found.is_some_and(|c| c.addr.0 == target);
                if !ok && !target_alive {
                    self.metrics.lookups_target_left += 1;
                    return;
                }
                self.metrics.lookups += 1;
                if ok {
                    self.metrics.lookups_found += 1;
                }
                self.metrics.lookup_rounds.push(f64::from(e.stats.rounds));
                self.metrics.lookup_ms.push(ms);
                self.counted_lookups.push(cost);
            }
            (Track::Put { record, version }, QueryOutcome::Stored { stored, .. }) => {
                self.metrics.put_ms.push(ms);
                self.metrics.put_stored.push(f64::from(stored));
                // A version counts as published once a storer took it; gets are judged against it.
                if stored > 0
                    && let Some(info) = self.records.get_mut(record)
                {
                    info.published = Some(info.published.map_or(version, |v| v.max(version)));
                }
            }
            (Track::Get { record, last }, QueryOutcome::Record(found)) => {
                let Some(info) = self.records.get(record) else {
                    return;
                };
                let newest = info.published.and_then(|v| info.versions.get(v));
                let ok = matches!((&found, newest), (Some(f), Some(n)) if f == n);
                if !ok {
                    if found.is_some() {
                        self.metrics.gets_older += 1;
                    } else {
                        self.metrics.gets_none += 1;
                    }
                }
                if last {
                    self.metrics.final_gets += 1;
                    if ok {
                        self.metrics.final_newest += 1;
                    } else if let Some(n) = newest {
                        // How many live honest nodes held the newest version the get missed.
                        let key = n.dht_key();
                        let held = self
                            .peers
                            .iter()
                            .flatten()
                            .filter(|p| {
                                p.adversary.is_none() && p.node.store().get(&key) == Some(n)
                            })
                            .count();
                        self.metrics.missed_held_by.push(held);
                    }
                } else {
                    self.metrics.gets += 1;
                    self.metrics.get_ms.push(ms);
                    if ok {
                        self.metrics.gets_newest += 1;
                    }
                }
            }
            _ => {}
        }
    }
}
