//! The calls the application's loop makes are `#[inline(never)]`: inlined into the async loop,
//! their locals (decoded messages, new sessions: kilobytes each) would all sit in the loop's frame
//! at once, for the whole run, instead of one call's at a time.
//!
//! The device as a gofast peer: one secure session (Noise IK) to its configured std node over UDP,
//! and a small DHT node whose messages travel on that session. Board-independent and sans-IO like
//! the core: [`Peer`] takes datagrams and time and gives datagrams and what happened; `run` (in
//! `main.rs`) moves them between it and the UDP socket.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use gofast_core::block::BlockId;
use gofast_core::codec::{MessageType, decode_message, encode_message};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::keyed_hash;
use gofast_core::dht::{
    Body, DhtConfig, DhtEvent, DhtMessage, LookupConfig, NoRecordStore, Node, QueryId,
    QueryOutcome, RecordlessDhtMessage,
};
use gofast_core::exchange::ExchangeMessage;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::session::{
    CipherId, Config, DATA_OVERHEAD, Event, Input, LENGTH_PREFIX_LEN, PortableAead, SendError,
    Session, StreamId,
};
use gofast_core::time::{Duration, Instant};

/// Streams of the session: the device's DHT stream and the node's.
pub(crate) const STREAMS: usize = 2;
/// Longest frame payload either side sends: a frame then fits one Ethernet frame (1500 bytes of
/// IPv4, less 28 of UDP and IP headers, less the session's overhead), so nothing is fragmented.
pub(crate) const MAX_PAYLOAD: usize = 1400;
/// The UDP payload buffers hold one frame.
pub(crate) const MAX_DATAGRAM: usize = MAX_PAYLOAD + DATA_OVERHEAD + LENGTH_PREFIX_LEN;
/// Encoded messages waiting for the handshake or for credit; at the bound the newest is dropped
/// (its request fails at its deadline; an answer's asker asks again). One input can make a few:
/// an answer, a ping, a lookup's next request, a pushed entry.
const WAITING: usize = 4;
/// After the session closed, the time before dialling again.
const REDIAL: Duration = Duration::from_secs(1);

type DeviceSession = Session<PortableAead, STREAMS>;
/// The device's DHT node, a client ([`DhtConfig::client`]): k = 4, 16 contacts, 2 replacements,
/// one path of 8 candidates, 2 queries (the least that maintains itself), 4 requests in flight, and
/// no records or provider records held for others. Its messages say it is a client, so its node
/// keeps it out of the node's table and never names it to others (who could not reach it anyway: it
/// has one session). Smaller than the core's `SmallNode`: its table is its node and the few peers
/// the node names.
type Dht = Node<SocketAddr, NoRecordStore, 4, 16, 2, 1, 8, 2, 4, 0>;

/// What the peer tells its application.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Happened {
    /// The session to the node is up (again).
    Connected,
    /// The session closed; the peer dials again after a second.
    Disconnected,
    /// A DHT query of the application's ended.
    Dht(QueryId, Done, Duration),
    /// The node answered a pushed block: `true` when it keeps it.
    Pushed(BlockId, bool),
}

/// How a DHT query of the application's ended (what the device asks: pings and stores).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Done {
    /// A ping: whether it was answered.
    Ping(bool),
    /// A put: the peers that stored it, refused it, did not answer.
    Stored(u8, u8, u8),
    /// Another kind (the device starts none).
    Other,
}

impl From<QueryOutcome<SocketAddr>> for Done {
    fn from(o: QueryOutcome<SocketAddr>) -> Self {
        match o {
            QueryOutcome::Ping { answered } => Done::Ping(answered),
            QueryOutcome::Stored {
                stored,
                refused,
                failed,
            } => Done::Stored(stored, refused, failed),
            _ => Done::Other,
        }
    }
}

/// Counters for the log.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PeerStats {
    /// Datagrams from other addresses than the node's, or that the session refused.
    pub(crate) refused: u32,
    /// Messages dropped: undecodable, over the waiting bound, or unsendable.
    pub(crate) dropped: u32,
    /// Sessions established.
    pub(crate) sessions: u32,
    /// DHT pings from the node (answered by the DHT node).
    pub(crate) pings_served: u32,
}

/// The device's side of its link to the node.
pub(crate) struct Peer {
    identity: KeyPair,
    /// Seeds each session's ephemeral keys (with a counter).
    entropy: SecretBytes<32>,
    node: PeerId,
    node_addr: SocketAddr,
    session: Option<DeviceSession>,
    sessions_started: u64,
    redial_at: Option<Instant>,
    dht: Dht,
    dht_stream: Option<StreamId>,
    waiting: heapless::Deque<heapless::Vec<u8, MAX_PAYLOAD>, WAITING>,
    happened: heapless::Deque<Happened, 8>,
    stats: PeerStats,
}

impl core::fmt::Debug for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer")
            .field("node", &self.node)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The session profile of the device: the microcontroller profile with frames that fit one
/// Ethernet frame.
fn session_config() -> Config {
    Config {
        max_frame_payload: MAX_PAYLOAD as u32,
        ..Config::small()
    }
}

/// The DHT profile of the device: one path, few answers awaited, no hourly table refresh worth
/// speaking of (its table is its node).
fn dht_config() -> DhtConfig {
    DhtConfig {
        lookup: LookupConfig {
            alpha: 1,
            ..LookupConfig::default()
        },
        record_paths: 1,
        record_width: 1,
        refresh_width: 1,
        client: true,
        ..DhtConfig::default()
    }
}

impl Peer {
    /// A peer with `identity` that will speak to `node` at `node_addr`. `entropy` (32 bytes, fresh
    /// for each boot where the board can) seeds the session keys and the DHT's choices.
    pub(crate) fn new(
        identity: KeyPair,
        node: PeerId,
        node_addr: ([u8; 4], u16),
        entropy: [u8; 32],
        now: Instant,
    ) -> Self {
        let node_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(node_addr.0)), node_addr.1);
        let local = identity.peer_id();
        let entropy = SecretBytes::new(entropy);
        let dht_seed = keyed_hash(&entropy, b"gofast firmware dht seed");
        Peer {
            identity,
            entropy,
            node,
            node_addr,
            session: None,
            sessions_started: 0,
            redial_at: Some(now),
            dht: Dht::new(local, dht_config(), NoRecordStore, dht_seed, now),
            dht_stream: None,
            waiting: heapless::Deque::new(),
            happened: heapless::Deque::new(),
            stats: PeerStats::default(),
        }
    }

    /// The node's identity.
    pub(crate) fn node(&self) -> PeerId {
        self.node
    }

    /// Whether the session to the node is established.
    pub(crate) fn is_connected(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.is_established())
    }

    pub(crate) fn stats(&self) -> PeerStats {
        self.stats
    }

    /// A DHT ping of the node.
    #[inline(never)]
    pub(crate) fn ping_node(&mut self, now: Instant) -> Option<QueryId> {
        let id = self.dht.ping(now, self.node, self.node_addr).ok();
        self.pump(now);
        id
    }

    /// Stores `record` through the DHT (at the node, the closest peer the device knows).
    #[inline(never)]
    pub(crate) fn put_record(
        &mut self,
        now: Instant,
        record: gofast_core::record::Record,
    ) -> Option<QueryId> {
        let id = self.dht.put_record(now, record).ok();
        self.pump(now);
        id
    }

    /// Pushes a block to the node (an entry of the device's stream): answered by
    /// [`Happened::Pushed`]. `false` when the waiting queue is full.
    #[inline(never)]
    pub(crate) fn push_block(&mut self, id: BlockId, data: &[u8]) -> bool {
        let mut buf = [0u8; MAX_PAYLOAD];
        let Ok(n) = encode_message(&ExchangeMessage::Block { id, data }, &mut buf) else {
            self.stats.dropped += 1;
            return false;
        };
        let queued = buf
            .get(..n)
            .and_then(|m| heapless::Vec::from_slice(m).ok())
            .is_some_and(|m| self.waiting.push_back(m).is_ok());
        if !queued {
            self.stats.dropped += 1;
        }
        queued
    }

    /// The device's identity (the publisher signs with it).
    pub(crate) fn identity(&self) -> &KeyPair {
        &self.identity
    }

    /// What happened, oldest first.
    #[inline(never)]
    pub(crate) fn poll_happened(&mut self) -> Option<Happened> {
        self.happened.pop_front()
    }

    /// A datagram from `from`.
    #[inline(never)]
    pub(crate) fn on_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        if from != self.node_addr {
            self.stats.refused += 1;
            return;
        }
        // Each step is a call of its own, so that the stack holds one step's locals at a time.
        if let Some(data) = self.open(now, datagram) {
            // Heard from over its session: the node stays in the table, whatever became of a
            // request to it (the device has no other peer to fall back on).
            self.dht.add_contact(self.node, self.node_addr, now);
            if data.get(1) == Some(&(MessageType::Exchange as u8)) {
                self.on_exchange(data);
            } else {
                self.on_dht(now, data);
            }
        }
        self.after_session_input(now);
    }

    /// The session's part of a datagram: the stream data it carried, if any.
    #[inline(never)]
    fn open<'d>(&mut self, now: Instant, datagram: &'d mut [u8]) -> Option<&'d [u8]> {
        let session = self.session.as_mut()?;
        match session.handle_input(now, datagram) {
            Ok(Input::PeerIdentified { peer, .. }) => {
                // The device only ever dials its node (IK), so this is the node proving itself.
                if peer == self.node {
                    let _ = session.approve_peer(now);
                } else {
                    let _ = session.refuse_peer();
                }
                None
            }
            Ok(Input::Data { data, .. }) => Some(data),
            Ok(Input::Nothing) => None,
            Err(_) => {
                self.stats.refused += 1;
                None
            }
        }
    }

    /// The node's answer to a pushed block.
    #[inline(never)]
    fn on_exchange(&mut self, data: &[u8]) {
        let (ids, kept) = match decode_message::<ExchangeMessage<'_>>(data) {
            Ok(ExchangeMessage::Have { ids }) => (ids, true),
            Ok(ExchangeMessage::DontHave { ids }) => (ids, false),
            Ok(_) | Err(_) => {
                self.stats.dropped += 1;
                return;
            }
        };
        for id in ids {
            if self.happened.push_back(Happened::Pushed(id, kept)).is_err() {
                self.stats.dropped += 1;
            }
        }
    }

    /// A DHT message from the node.
    #[inline(never)]
    fn on_dht(&mut self, now: Instant, data: &[u8]) {
        match decode_dht(data) {
            Ok(m) => {
                if matches!(m.body, Body::Ping) {
                    self.stats.pings_served += 1;
                }
                self.dht.handle_message(now, self.node, self.node_addr, &m);
            }
            Err(_) => {
                self.stats.dropped += 1;
                self.dht.handle_bad_message(now, &self.node);
            }
        }
    }

    /// Time has come to `now`.
    #[inline(never)]
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if let Some(s) = self.session.as_mut()
            && s.poll_timeout().is_some_and(|t| t <= now)
        {
            s.handle_timeout(now);
        }
        if self.dht.poll_timeout().is_some_and(|t| t <= now) {
            self.dht.handle_timeout(now);
        }
        if self.redial_at.is_some_and(|t| t <= now) {
            self.redial_at = None;
            self.dial(now);
        }
        self.after_session_input(now);
    }

    /// When [`Self::on_timeout`] is next due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.session.as_ref().and_then(|s| s.poll_timeout()),
            self.dht.poll_timeout(),
            self.redial_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram for the node, written into `out` (at least [`MAX_DATAGRAM`] bytes): the
    /// session's own frames first, then the waiting DHT messages on the device's DHT stream.
    #[inline(never)]
    pub(crate) fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let s = self.session.as_mut()?;
        if let Some(n) = s.poll_transmit(now, out) {
            return Some(n);
        }
        if !s.is_established() {
            return None;
        }
        let stream = match self.dht_stream {
            Some(id) => id,
            None => {
                let id = s.open_stream(CipherId::ChaCha20Poly1305).ok()?;
                self.dht_stream = Some(id);
                id
            }
        };
        while let Some(msg) = self.waiting.front() {
            match s.send(now, stream, msg, false, out) {
                Ok(n) => {
                    self.waiting.pop_front();
                    return Some(n);
                }
                // The session says when it takes more (credit, the rekey).
                Err(SendError::Blocked | SendError::WaitForRekey) => return None,
                Err(_) => {
                    self.stats.dropped += 1;
                    self.waiting.pop_front();
                }
            }
        }
        None
    }

    fn dial(&mut self, now: Instant) {
        self.sessions_started += 1;
        let mut material = [0u8; 8];
        material.copy_from_slice(&self.sessions_started.to_le_bytes());
        let seed = keyed_hash(&self.entropy, &material);
        self.dht_stream = None;
        self.session = DeviceSession::connect_known(
            session_config(),
            &self.identity,
            self.node,
            SecretBytes::new(seed),
            now,
            &[],
        )
        .ok();
        if self.session.is_none() {
            // Only a broken configuration fails here; try again later rather than spin.
            self.redial_at = Some(now.saturating_add(REDIAL));
        }
    }

    /// Drains the session's events and moves the DHT's messages onto it.
    #[inline(never)]
    fn after_session_input(&mut self, now: Instant) {
        let mut closed = false;
        if let Some(s) = self.session.as_mut() {
            while let Some(ev) = s.poll_event() {
                match ev {
                    Event::Established { .. } => {
                        self.stats.sessions += 1;
                        self.dht.add_contact(self.node, self.node_addr, now);
                        let _ = self.happened.push_back(Happened::Connected);
                    }
                    Event::Closed(_) => closed = true,
                    _ => {}
                }
            }
        }
        if closed {
            self.session = None;
            self.waiting.clear();
            self.redial_at = Some(now.saturating_add(REDIAL));
            let _ = self.happened.push_back(Happened::Disconnected);
        }
        self.pump(now);
    }

    /// The DHT's messages to the node onto the session (or into the waiting queue), and its ended
    /// queries to the application.
    fn pump(&mut self, now: Instant) {
        self.pump_transmits(now);
        self.pump_events();
    }

    /// The DHT's messages onto the session. Its own function, like [`Self::pump_events`], so the
    /// stack holds a message or an event, not both.
    #[inline(never)]
    fn pump_transmits(&mut self, now: Instant) {
        while let Some(t) = self.dht.poll_transmit(now) {
            // The device has one session: requests to other peers the node named fail at their
            // deadlines.
            if t.peer != self.node {
                continue;
            }
            let mut buf = [0u8; MAX_PAYLOAD];
            match encode_message(&t.message, &mut buf) {
                Ok(n) => {
                    let msg = heapless::Vec::from_slice(&buf[..n]).ok();
                    if msg.and_then(|m| self.waiting.push_back(m).ok()).is_none() {
                        self.stats.dropped += 1;
                    }
                }
                Err(_) => self.stats.dropped += 1,
            }
        }
    }

    /// The DHT's ended queries to the application.
    #[inline(never)]
    fn pump_events(&mut self) {
        while let Some(DhtEvent { id, outcome, stats }) = self.dht.poll_event() {
            let took = stats.finished.saturating_duration_since(stats.started);
            if self
                .happened
                .push_back(Happened::Dht(id, outcome.into(), took))
                .is_err()
            {
                self.stats.dropped += 1;
            }
        }
    }
}

/// Decodes a DHT message, out of line: the decoder's temporaries (a list of peers, a kilobyte) then
/// leave the stack before the node handles the message, and only the message stays in the caller's
/// frame. Record-less: the device holds no records, and its node, told it is a client, sends it
/// none; decoding them would link their decoders and Ed25519 verification (9.5 KB of flash with
/// the record store they feed).
#[inline(never)]
fn decode_dht(data: &[u8]) -> Result<DhtMessage, gofast_core::codec::DecodeError> {
    decode_message::<RecordlessDhtMessage>(data).map(|m| m.0)
}
