//! The node's task: one loop that owns the DHT machine and the sessions and feeds them datagrams,
//! commands and timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;

use gofast_core::codec::{MessageType, decode_message, encode_message, message_len};
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{
    DhtError, DhtMessage, MAX_DHT_MESSAGE_LEN, MemoryRecordStore, QueryId, QueryOutcome,
    QueryStats, ServerNode, StoreConfig, Transmit,
};
use gofast_core::exchange::ExchangeMessage;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::session::{
    Config as SessionConfig, Event, FrameType, Input, InputError, MAX_EARLY_DATA, MAX_FRAME_LEN,
    SendError,
};
use gofast_core::time::{Duration, Instant};
use rand_core::Rng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use super::DHT_RECORDS;
use super::clock::Clock;
use super::config::{BootstrapPeer, Limits, NodeConfig};
use super::error::NodeError;
use super::handle::{Command, NetStats, NodeHandle, PeerInfo, PutReport};
use super::links::{Challenger, Link, Links, NodeSession};
use super::push;
use super::pushed_record::PushedRecord;
use crate::events::{EventSender, NodeEvent};
use crate::rng::os_rng;
use gofast_core::record::Record;

type Dht = ServerNode<SocketAddr, MemoryRecordStore<DHT_RECORDS>>;

/// The largest UDP payload the node reads (a session frame is at most this long).
const MAX_DATAGRAM: usize = MAX_FRAME_LEN;

/// How often idle sessions are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// How long a new handshake from an address with a session may take to win before it is dropped.
const CHALLENGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who waits for a DHT query's end.
enum Waiter {
    Joined(oneshot::Sender<Result<usize, NodeError>>),
    Peer(oneshot::Sender<Result<Option<SocketAddr>, NodeError>>),
    Ping(oneshot::Sender<Result<Option<std::time::Duration>, NodeError>>),
    Record(oneshot::Sender<Result<Option<Record>, NodeError>>),
    Stored(oneshot::Sender<Result<PutReport, NodeError>>),
    Providers(oneshot::Sender<Result<Vec<gofast_core::dht::Provider>, NodeError>>),
}

/// Stack of the node's thread: the DHT machine keeps its tables inline (it is the same no_std code
/// that runs without a heap on microcontrollers), about 2 MiB on std, and unoptimised builds copy
/// it through the stack while it is made.
const NODE_STACK: usize = 32 << 20;

/// Starts a node on its own thread and runtime: binds its UDP socket, contacts the configured
/// bootstrap peers and runs until [`NodeHandle::shutdown`] or until every handle is dropped. The
/// returned handle works from any runtime (its calls are messages to the node's thread).
pub async fn spawn(identity: KeyPair, config: NodeConfig) -> Result<NodeHandle, NodeError> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("gofast-node".into())
        .stack_size(NODE_STACK)
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(source) => {
                    let _ = ready_tx.send(Err(NodeError::Io {
                        what: "starting the node's runtime".into(),
                        source,
                    }));
                    return;
                }
            };
            rt.block_on(async move {
                match Driver::open(identity, config).await {
                    Ok((mut driver, rx, handle)) => {
                        let _ = ready_tx.send(Ok(handle));
                        driver.run(rx).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|source| NodeError::Io {
            what: "starting the node's thread".into(),
            source,
        })?;
    drop(thread);
    ready_rx.await.map_err(|_| NodeError::Stopped)?
}

struct Driver {
    identity: KeyPair,
    clock: Clock,
    socket: UdpSocket,
    dht: Box<Dht>,
    links: Links,
    /// Session timers: (when, address); entries whose link has moved its timer are skipped.
    wakes: BinaryHeap<Reverse<(Instant, SocketAddr)>>,
    waiters: HashMap<QueryId, Waiter>,
    /// Commands that found every DHT query slot taken; retried when a query ends.
    deferred: VecDeque<Command>,
    /// Bootstrap dials by address only (XX): the join starts when the handshake proves who is there.
    dialling: HashMap<SocketAddr, oneshot::Sender<Result<usize, NodeError>>>,
    /// Datagrams to send, in order.
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    limits: Limits,
    stats: NetStats,
    session_config: SessionConfig,
    next_sweep: Instant,
    /// Proof-of-work bits a peer's identity needs for a session (the DHT's `min_work`).
    min_work: u8,
    /// Where sessions write frames: one buffer for the node, not one per datagram.
    frame: Vec<u8>,
    /// Suspended: no datagram read or sent, no timer run, no query started (see
    /// [`NodeHandle::suspend`]).
    suspended: bool,
    /// DHT client mode: requests from other peers are not answered (see [`NodeConfig::client_mode`]).
    client_mode: bool,
    /// Peers whose pushed blocks are kept, and where they go (see [`NodeConfig::accept_pushes_from`]).
    accept_pushes_from: Vec<PeerId>,
    push_sink: Option<mpsc::Sender<super::PushedBlock>>,
    record_sink: Option<mpsc::Sender<PushedRecord>>,
    events: EventSender,
}

impl Driver {
    /// Binds the socket and makes the machines; the bootstrap peers are contacted.
    async fn open(
        identity: KeyPair,
        config: NodeConfig,
    ) -> Result<(Driver, mpsc::Receiver<Command>, NodeHandle), NodeError> {
        let socket = UdpSocket::bind(config.listen)
            .await
            .map_err(|source| NodeError::Io {
                what: format!("binding UDP {}", config.listen),
                source,
            })?;
        let addr = socket.local_addr().map_err(|source| NodeError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        let clock = Clock::new();
        let now = clock.now();
        let mut dht_config = config.dht;
        dht_config.unix_at_zero = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Its messages say so: peers keep it out of their tables at once, not after it failed
        // their requests.
        dht_config.client |= config.client_mode;
        let peer = identity.peer_id();
        let store = MemoryRecordStore::new(peer.dht_key(), StoreConfig::default());
        let mut seed = [0u8; 32];
        os_rng().fill_bytes(&mut seed);
        let dht = Box::new(Dht::new(peer, dht_config, store, seed, now));
        let (tx, rx) = mpsc::channel(config.limits.command_queue.max(1));
        let mut driver = Driver {
            identity,
            clock,
            socket,
            dht,
            links: Links::default(),
            wakes: BinaryHeap::new(),
            waiters: HashMap::new(),
            deferred: VecDeque::new(),
            dialling: HashMap::new(),
            out: VecDeque::new(),
            limits: config.limits,
            stats: NetStats::default(),
            session_config: SessionConfig {
                ciphers: crate::aead::offered_ciphers(),
                ..SessionConfig::default()
            },
            next_sweep: now.saturating_add(SWEEP_INTERVAL),
            min_work: dht_config.min_work,
            frame: vec![0u8; MAX_FRAME_LEN],
            suspended: false,
            client_mode: config.client_mode,
            accept_pushes_from: config.accept_pushes_from.clone(),
            push_sink: config.push_sink.clone(),
            record_sink: config.record_sink.clone(),
            events: EventSender::default(),
        };
        info!(peer = %peer, %addr, "node listening");
        for b in config.bootstrap {
            // Their replies go nowhere: the caller learns of the join through `peers`.
            let (reply, _) = oneshot::channel();
            driver.add_peer(now, b, reply);
        }
        driver.pump_dht(now);
        let events = driver.events.clone();
        Ok((
            driver,
            rx,
            NodeHandle {
                tx,
                peer,
                addr,
                events,
            },
        ))
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            self.flush().await;
            let deadline = self.clock.to_tokio(self.next_wake());
            let awake = !self.suspended;
            tokio::select! {
                r = self.socket.recv_from(&mut buf), if awake => match r {
                    Ok((n, from)) => {
                        let now = self.clock.now();
                        if let Some(frame) = buf.get_mut(..n) {
                            self.on_datagram(now, from, frame);
                        }
                    }
                    // ICMP errors (a peer's port closed) surface here on some systems: not fatal.
                    Err(e) => debug!(error = %e, "UDP receive error"),
                },
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown) | None => break,
                    Some(c) => {
                        let now = self.clock.now();
                        self.on_command(now, c);
                    }
                },
                () = tokio::time::sleep_until(deadline), if awake => {
                    let now = self.clock.now();
                    self.on_timers(now);
                }
            }
        }
        self.shut_down().await;
    }

    async fn shut_down(&mut self) {
        let addrs: Vec<SocketAddr> = self.links.iter().map(|(a, _)| *a).collect();
        let now = self.clock.now();
        for a in addrs {
            if let Some(link) = self.links.get_mut(&a) {
                link.session.close(0);
            }
            self.drain_session(now, a);
        }
        self.flush().await;
        info!(peer = %self.identity.peer_id(), "node stopped");
    }

    /// The earliest of the DHT's timer, the sessions' timers and the idle sweep.
    fn next_wake(&mut self) -> Instant {
        let mut next = self.next_sweep;
        if let Some(t) = self.dht.poll_timeout() {
            next = next.min(t);
        }
        while let Some(Reverse((t, addr))) = self.wakes.peek().copied() {
            if self.links.get(&addr).is_some_and(|l| l.wake == Some(t)) {
                next = next.min(t);
                break;
            }
            self.wakes.pop();
        }
        next
    }

    fn on_timers(&mut self, now: Instant) {
        self.dht.handle_timeout(now);
        while let Some(Reverse((t, addr))) = self.wakes.peek().copied() {
            if t > now {
                break;
            }
            self.wakes.pop();
            if let Some(link) = self.links.get_mut(&addr)
                && link.wake == Some(t)
            {
                link.wake = None;
                link.session.handle_timeout(now);
                self.drain_session(now, addr);
            }
        }
        if now >= self.next_sweep {
            self.next_sweep = now.saturating_add(SWEEP_INTERVAL);
            self.links.expire_challengers(Instant::from_micros(
                now.as_micros()
                    .saturating_sub(CHALLENGE_TIMEOUT.as_micros()),
            ));
            let idle = Duration::from_micros(
                u64::try_from(self.limits.idle_timeout.as_micros()).unwrap_or(u64::MAX),
            );
            let cutoff = Instant::from_micros(now.as_micros().saturating_sub(idle.as_micros()));
            for addr in self.links.idle_or_closed(cutoff) {
                if let Some(link) = self.links.get_mut(&addr)
                    && link.session.close_reason().is_none()
                {
                    link.session.close(0);
                    self.drain_session(now, addr);
                }
                self.drop_link(&addr);
            }
        }
        self.pump_dht(now);
    }

    // ---- Datagrams in ----

    fn on_datagram(&mut self, now: Instant, from: SocketAddr, frame: &mut [u8]) {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += frame.len() as u64;
        let first = frame.first().copied().and_then(FrameType::from_u8);
        let opens = matches!(first, Some(FrameType::Xx1 | FrameType::Ik1));
        match self.links.get(&from) {
            None if opens => {
                if self.links.len() >= self.limits.max_sessions
                    || self.links.handshaking() >= self.limits.max_handshakes
                {
                    self.stats.refused_handshakes += 1;
                    return;
                }
                if !self.accept_from(now, from) {
                    return;
                }
            }
            None => {
                self.stats.garbage += 1;
                return;
            }
            Some(link) if opens && link.dialled && link.handshaking() => {
                // Both sides dialled at once. The side with the lower identity keeps its own dial;
                // the other answers it instead, so exactly one session results.
                let keep_ours = link.peer.is_some_and(|p| self.identity.peer_id() < p);
                if keep_ours {
                    trace!(%from, "crossed dials: keeping ours");
                    return;
                }
                let waiting = self
                    .links
                    .remove(&from)
                    .map(|l| l.waiting)
                    .unwrap_or_default();
                if !self.accept_from(now, from) {
                    return;
                }
                if let Some(link) = self.links.get_mut(&from) {
                    link.waiting = waiting;
                }
            }
            Some(link) if opens && link.session.is_established() => {
                // A new first message from an address with a session: the peer restarted, or
                // someone replays or spoofs one. The new handshake runs beside the session and
                // replaces it only once it proves fresh keys.
                self.challenge(now, from, frame, first == Some(FrameType::Ik1));
                return;
            }
            Some(link) if opens && !link.handshaking() => {
                // The session there is closed: the new handshake simply replaces it.
                if !self.accept_from(now, from) {
                    return;
                }
            }
            Some(_) => {}
        }
        if self.links.challenger_mut(&from).is_some() && !opens {
            if first != Some(FrameType::Data) {
                // A handshake's continuation belongs to the challenger.
                self.challenger_input(now, from, frame);
                return;
            }
            // A data frame under the session's keys, or under the challenger's once it won on
            // the peer's side: the session first, on a copy (a failed open wipes the buffer).
            let mut copy = frame.to_vec();
            if !self.input(now, from, frame) {
                self.challenger_input(now, from, &mut copy);
            }
            self.drain_session(now, from);
            self.pump_dht(now);
            return;
        }
        self.input(now, from, frame);
        self.drain_session(now, from);
        self.pump_dht(now);
    }

    /// A responder session for `from`, replacing any there.
    fn accept_from(&mut self, now: Instant, from: SocketAddr) -> bool {
        match NodeSession::accept(self.session_config, &self.identity, session_seed()) {
            Ok(session) => {
                self.links.insert(from, Link::new(session, None, now));
                true
            }
            Err(e) => {
                warn!(error = ?e, "cannot make a session");
                false
            }
        }
    }

    /// A first message from `from`, which has an established session: a challenger for it.
    fn challenge(&mut self, now: Instant, from: SocketAddr, frame: &mut [u8], ik: bool) {
        if self.links.challengers() >= self.limits.max_handshakes {
            self.stats.refused_handshakes += 1;
            return;
        }
        match NodeSession::accept(self.session_config, &self.identity, session_seed()) {
            Ok(session) => self.links.challenge(
                from,
                Challenger {
                    session,
                    ik,
                    peer: None,
                    since: now,
                },
            ),
            Err(e) => {
                warn!(error = ?e, "cannot make a session");
                return;
            }
        }
        self.challenger_input(now, from, frame);
    }

    /// Hands one frame to the challenger at `from`; promotes it when it has won.
    fn challenger_input(&mut self, now: Instant, from: SocketAddr, frame: &mut [u8]) {
        let own = self.identity.peer_id();
        let min_work = self.min_work;
        let Some(ch) = self.links.challenger_mut(&from) else {
            return;
        };
        let mut data = None;
        match ch.session.handle_input(now, frame) {
            Ok(Input::PeerIdentified { peer, .. }) => {
                // Early data is not delivered: an IK first message may be a replay. The peer asks
                // again on the new session, which then wins.
                if peer == own
                    || peer.work_bits() < min_work
                    || ch.session.approve_peer(now).is_err()
                {
                    let _ = ch.session.refuse_peer();
                    self.links.remove_challenger(&from);
                    return;
                }
                ch.peer = Some(peer);
            }
            Ok(Input::Data { data: d, .. }) => data = Some(d.to_vec()),
            Ok(Input::Nothing) => {}
            Err(e) => {
                self.stats.garbage += 1;
                trace!(%from, error = ?e, "challenger frame refused");
                self.links.remove_challenger(&from);
                return;
            }
        }
        let frame_buf = &mut self.frame;
        while let Some(n) = ch.session.poll_transmit(now, frame_buf) {
            if let Some(f) = frame_buf.get(..n) {
                self.out.push_back((from, f.to_vec()));
            }
        }
        if ch.session.close_reason().is_some() {
            self.links.remove_challenger(&from);
            return;
        }
        let won = data.is_some() || (!ch.ik && ch.session.is_established());
        if won {
            self.promote(now, from, data);
        }
    }

    /// The challenger at `from` proved fresh keys: it becomes the address's session (the old one's
    /// waiting messages move over), and `data` (its first data frame's, if any) is delivered.
    fn promote(&mut self, now: Instant, from: SocketAddr, data: Option<Vec<u8>>) {
        let Some(ch) = self.links.remove_challenger(&from) else {
            return;
        };
        let waiting = self
            .links
            .remove(&from)
            .map(|l| l.waiting)
            .unwrap_or_default();
        let mut link = Link::new(ch.session, ch.peer, now);
        link.waiting = waiting;
        self.links.insert(from, link);
        debug!(%from, "a new handshake replaced the session");
        // Its `Established` event is still queued: the usual bookkeeping runs here.
        self.drain_session(now, from);
        if let (Some(bytes), Some(peer)) = (data, ch.peer) {
            self.deliver(now, peer, from, &bytes);
        }
    }

    /// Hands one frame to the session at `from` and delivers what it gives; whether the session
    /// took it.
    fn input(&mut self, now: Instant, from: SocketAddr, frame: &mut [u8]) -> bool {
        let Some(link) = self.links.get_mut(&from) else {
            return false;
        };
        let expected = link.peer;
        let mut identified = None;
        let mut message: Option<Vec<u8>> = None;
        // Events of an earlier input are drained after every input, so the session never refuses
        // a frame for that reason here.
        match link.session.handle_input(now, frame) {
            Ok(Input::PeerIdentified { peer, early_data }) => {
                identified = Some(peer);
                if !early_data.is_empty() {
                    message = Some(early_data.to_vec());
                }
            }
            Ok(Input::Data { data, .. }) => {
                link.last_active = now;
                message = Some(data.to_vec());
            }
            Ok(Input::Nothing) => {}
            Err(e) => {
                self.stats.garbage += 1;
                trace!(%from, error = ?e, "frame refused");
                // A stranger's broken handshake holds no slot.
                if link.handshaking() && !link.dialled && !matches!(e, InputError::Replay(_)) {
                    self.drop_link(&from);
                }
                return false;
            }
        }
        if let Some(peer) = identified {
            if expected.is_some_and(|e| e != peer) || peer == self.identity.peer_id() {
                // Not who was dialled (or ourselves through a loop): no session.
                let _ = link.session.refuse_peer();
                self.drop_link(&from);
                return true;
            }
            if peer.work_bits() < self.min_work {
                debug!(%from, "peer identity without the required work refused");
                let _ = link.session.refuse_peer();
                self.drop_link(&from);
                return true;
            }
            if let Err(e) = link.session.approve_peer(now) {
                warn!(error = ?e, "approving a peer failed");
                self.drop_link(&from);
                return true;
            }
            link.peer = Some(peer);
            link.last_active = now;
        }
        if let Some(bytes) = message
            && let Some(peer) = self.links.get(&from).and_then(|l| l.peer)
        {
            self.deliver(now, peer, from, &bytes);
        }
        true
    }

    /// An application message from `peer`: a DHT message, a pushed block or a pushed record (told
    /// apart by the message header's type).
    fn deliver(&mut self, now: Instant, peer: PeerId, from: SocketAddr, bytes: &[u8]) {
        if bytes.get(1) == Some(&(MessageType::Exchange as u8)) {
            self.on_exchange(now, peer, from, bytes);
            return;
        }
        if bytes.get(1) == Some(&(MessageType::Record as u8)) {
            self.on_pushed_record(peer, from, bytes);
            return;
        }
        match decode_message::<DhtMessage>(bytes) {
            Ok(msg) if self.client_mode && msg.body.is_request() => {
                self.stats.requests_ignored += 1;
                trace!(%from, "client mode: request not answered");
            }
            Ok(msg) => self.dht.handle_message(now, peer, from, &msg),
            Err(e) => {
                self.stats.bad_messages += 1;
                debug!(%from, error = ?e, "undecodable DHT message");
                self.dht.handle_bad_message(now, &peer);
            }
        }
    }

    /// A record pushed to this node: handed on if someone takes records, else dropped.
    fn on_pushed_record(&mut self, peer: PeerId, from: SocketAddr, bytes: &[u8]) {
        let record = match decode_message::<Record>(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.stats.bad_messages += 1;
                debug!(%from, error = ?e, "undecodable pushed record");
                return;
            }
        };
        let taken = self
            .record_sink
            .as_ref()
            .is_some_and(|s| s.try_send(PushedRecord { from: peer, record }).is_ok());
        if taken {
            self.stats.records_pushed_in += 1;
        } else {
            self.stats.records_dropped += 1;
            debug!(%from, "pushed record dropped");
        }
    }

    /// An exchange message on a datagram session: only pushed blocks travel there.
    fn on_exchange(&mut self, now: Instant, peer: PeerId, from: SocketAddr, bytes: &[u8]) {
        match decode_message::<ExchangeMessage<'_>>(bytes) {
            Ok(ExchangeMessage::Block { id, data }) => {
                let taken = push::take(
                    self.push_sink.as_ref(),
                    &self.accept_pushes_from,
                    peer,
                    id,
                    data,
                );
                if !taken {
                    debug!(%from, %peer, "pushed block refused");
                    self.stats.pushes_refused += 1;
                    self.queue_message(now, from, push::answer(id, false));
                }
            }
            Ok(_) | Err(_) => {
                self.stats.bad_messages += 1;
                debug!(%from, "an exchange message other than a pushed block on a datagram session");
            }
        }
    }

    /// Queues an encoded message on the session at `addr` (dropped at the waiting bound, or without
    /// a session) and sends what it can.
    fn queue_message(&mut self, now: Instant, addr: SocketAddr, message: Option<Vec<u8>>) {
        let Some(link) = self.links.get_mut(&addr) else {
            return;
        };
        match message {
            Some(m) if link.waiting.len() < self.limits.max_waiting_per_session => {
                link.waiting.push_back(m);
            }
            _ => self.stats.dropped_messages += 1,
        }
        self.drain_session(now, addr);
    }

    /// Drains a session's frames and events, and sends what waits on it when it can.
    fn drain_session(&mut self, now: Instant, addr: SocketAddr) {
        let Some(link) = self.links.get_mut(&addr) else {
            return;
        };
        let frame = &mut self.frame;
        while let Some(n) = link.session.poll_transmit(now, frame) {
            if let Some(f) = frame.get(..n) {
                self.out.push_back((addr, f.to_vec()));
            }
        }
        let mut established = None;
        let mut closed = false;
        while let Some(ev) = link.session.poll_event() {
            match ev {
                Event::Established { peer } => established = Some(peer),
                Event::Closed(reason) => {
                    debug!(%addr, ?reason, "session closed");
                    closed = true;
                }
                _ => {}
            }
        }
        if closed {
            self.drop_link(&addr);
            return;
        }
        send_waiting(
            link,
            addr,
            now,
            &mut self.frame,
            &mut self.out,
            &mut self.stats,
        );
        let wake = link.session.poll_timeout();
        if wake != link.wake {
            link.wake = wake;
            if let Some(t) = wake {
                self.wakes.push(Reverse((t, addr)));
            }
        }
        if let Some(peer) = established {
            self.stats.handshakes += 1;
            debug!(%addr, %peer, "session established");
            self.events.send(NodeEvent::PeerConnected { peer, addr });
            self.dht.add_contact(peer, addr, now);
            if let Some(reply) = self.dialling.remove(&addr) {
                self.start(
                    now,
                    Command::AddPeer(
                        BootstrapPeer {
                            peer: Some(peer),
                            addr,
                        },
                        reply,
                    ),
                );
            }
        }
    }

    // ---- Commands ----

    fn on_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::AddPeer(b, reply) if !self.suspended => self.add_peer(now, b, reply),
            Command::Peers(reply) => {
                let peers = self
                    .dht
                    .table()
                    .contacts()
                    .map(|c| PeerInfo {
                        peer: c.peer,
                        addr: c.addr,
                        connected: self
                            .links
                            .get(&c.addr)
                            .is_some_and(|l| l.session.is_established()),
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::PushDone(peer, id, stored) => {
                if stored {
                    self.stats.pushes_stored += 1;
                } else {
                    self.stats.pushes_refused += 1;
                }
                if let Some(addr) = self.links.addr_of(&peer) {
                    self.queue_message(now, addr, push::answer(id, stored));
                }
            }
            Command::KnownAddr(peer, reply) => {
                let addr = self
                    .links
                    .addr_of(&peer)
                    .or_else(|| self.dht.table().get(&peer).map(|c| c.addr));
                let _ = reply.send(addr);
            }
            Command::PushRecord(peer, record, reply) if !self.suspended => {
                let addr = self
                    .links
                    .addr_of(&peer)
                    .or_else(|| self.dht.table().get(&peer).map(|c| c.addr));
                let Some(addr) = addr else {
                    let _ = reply.send(Err(NodeError::UnknownPeer(peer)));
                    return;
                };
                let mut bytes = vec![0u8; message_len(&*record)];
                match encode_message(&*record, &mut bytes) {
                    Ok(_) => {
                        self.send_message(now, peer, addr, bytes);
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        warn!(error = ?e, "a record did not encode");
                        let _ = reply.send(Err(NodeError::Busy));
                    }
                }
            }
            Command::Stats(reply) => {
                let mut s = self.stats;
                s.sessions = self.links.len();
                s.contacts = self.dht.table().contacts().count();
                let _ = reply.send(s);
            }
            Command::Suspend(suspend, reply) => {
                if suspend != self.suspended {
                    self.suspended = suspend;
                    info!(
                        suspend,
                        "node {}",
                        if suspend { "suspended" } else { "resumed" }
                    );
                    self.events.send(if suspend {
                        NodeEvent::Suspended
                    } else {
                        NodeEvent::Resumed
                    });
                }
                let _ = reply.send(());
            }
            Command::Shutdown => {}
            other if self.suspended => refuse(other, NodeError::Suspended),
            other => self.start(now, other),
        }
        self.pump_dht(now);
    }

    fn add_peer(
        &mut self,
        now: Instant,
        b: BootstrapPeer,
        reply: oneshot::Sender<Result<usize, NodeError>>,
    ) {
        // An address with a session already knows who is there.
        let known = b
            .peer
            .or_else(|| self.links.get(&b.addr).and_then(|l| l.peer));
        match known {
            Some(peer) => self.start(
                now,
                Command::AddPeer(
                    BootstrapPeer {
                        peer: Some(peer),
                        addr: b.addr,
                    },
                    reply,
                ),
            ),
            None if self.dialling.contains_key(&b.addr) => {
                // A first contact to it is under way; this caller joins when it does too.
                let _ = reply.send(Err(NodeError::Busy));
            }
            None => {
                // Only an address: a first contact (XX) learns who is there.
                match NodeSession::connect(self.session_config, &self.identity, session_seed(), now)
                {
                    Ok(session) => {
                        self.make_room();
                        self.links.insert(b.addr, Link::new(session, None, now));
                        self.dialling.insert(b.addr, reply);
                        self.drain_session(now, b.addr);
                    }
                    Err(e) => {
                        warn!(error = ?e, "cannot make a session");
                        let _ = reply.send(Ok(0));
                    }
                }
            }
        }
    }

    /// Starts the DHT query a command asks for; a command that finds every slot taken waits.
    fn start(&mut self, now: Instant, cmd: Command) {
        let started: Result<(QueryId, Waiter), (DhtError, Command)> = match cmd {
            Command::AddPeer(b, reply) => {
                if let Some(peer) = b.peer {
                    self.dht.add_contact(peer, b.addr, now);
                }
                match self.dht.bootstrap(now) {
                    Ok(id) => Ok((id, Waiter::Joined(reply))),
                    Err(e) => Err((e, Command::AddPeer(b, reply))),
                }
            }
            Command::FindPeer(p, reply) => match self.dht.find_peer(now, p) {
                Ok(id) => Ok((id, Waiter::Peer(reply))),
                Err(e) => Err((e, Command::FindPeer(p, reply))),
            },
            Command::Ping(p, reply) => {
                // The session's address first: it is where the peer speaks from now (behind a
                // NAT, the one the table learnt may be older).
                let addr = self
                    .links
                    .addr_of(&p)
                    .or_else(|| self.dht.table().get(&p).map(|c| c.addr));
                let Some(addr) = addr else {
                    let _ = reply.send(Err(NodeError::UnknownPeer(p)));
                    return;
                };
                match self.dht.ping(now, p, addr) {
                    Ok(id) => Ok((id, Waiter::Ping(reply))),
                    Err(e) => Err((e, Command::Ping(p, reply))),
                }
            }
            Command::GetRecord(k, reply) => match self.dht.get_record(now, k) {
                Ok(id) => Ok((id, Waiter::Record(reply))),
                Err(e) => Err((e, Command::GetRecord(k, reply))),
            },
            Command::PutRecord(r, reply) => match self.dht.put_record(now, (*r).clone()) {
                Ok(id) => Ok((id, Waiter::Stored(reply))),
                Err(e) => Err((e, Command::PutRecord(r, reply))),
            },
            Command::AddProvider(p, reply) => match self.dht.add_provider(now, p.clone()) {
                Ok(id) => Ok((id, Waiter::Stored(reply))),
                Err(e) => Err((e, Command::AddProvider(p, reply))),
            },
            Command::GetProviders(root, reply) => match self.dht.get_providers(now, root) {
                Ok(id) => Ok((id, Waiter::Providers(reply))),
                Err(e) => Err((e, Command::GetProviders(root, reply))),
            },
            Command::Peers(_)
            | Command::Stats(_)
            | Command::Suspend(..)
            | Command::PushDone(..)
            | Command::KnownAddr(..)
            | Command::Shutdown => {
                return;
            }
            Command::PushRecord(_, _, reply) => {
                // Only here while suspended (on_command sends it otherwise).
                let _ = reply.send(Err(NodeError::Suspended));
                return;
            }
        };
        match started {
            Ok((id, waiter)) => {
                self.waiters.insert(id, waiter);
            }
            Err((DhtError::Busy, cmd)) => {
                if self.deferred.len() < self.limits.max_deferred {
                    self.deferred.push_back(cmd);
                } else {
                    refuse(cmd, NodeError::Busy);
                }
            }
        }
    }

    // ---- The DHT ----

    /// Moves the DHT's messages onto sessions and its finished queries to their waiters.
    fn pump_dht(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.dht.poll_transmit(now) {
                progressed = true;
                self.send_dht(now, t);
            }
            while let Some(ev) = self.dht.poll_event() {
                progressed = true;
                let Some(waiter) = self.waiters.remove(&ev.id) else {
                    continue;
                };
                answer(waiter, ev.outcome, ev.stats);
                // A slot is free: the oldest deferred command gets it.
                if let Some(cmd) = self.deferred.pop_front() {
                    self.start(now, cmd);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Sends one DHT message on the session to its address, dialling (IK) if there is none.
    fn send_dht(&mut self, now: Instant, t: Transmit<SocketAddr>) {
        let mut buf = vec![0u8; MAX_DHT_MESSAGE_LEN];
        let n = match encode_message(&t.message, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                warn!(error = ?e, "a DHT message did not encode");
                return;
            }
        };
        buf.truncate(n);
        self.send_message(now, t.peer, t.addr, buf);
    }

    /// Sends an encoded message to `peer` on the session at `addr`, dialling (IK) if there is none.
    fn send_message(&mut self, now: Instant, peer: PeerId, addr: SocketAddr, buf: Vec<u8>) {
        // The address now answers for someone else (a restarted node with a new identity): the old
        // session goes, and the message travels on a new one to the identity it names.
        if self
            .links
            .get(&addr)
            .is_some_and(|l| l.peer.is_some_and(|p| p != peer))
        {
            self.drop_link(&addr);
        }
        if !self.links.contains(&addr) {
            let early: &[u8] = if buf.len() <= MAX_EARLY_DATA {
                &buf
            } else {
                &[]
            };
            let session = match NodeSession::connect_known(
                self.session_config,
                &self.identity,
                peer,
                session_seed(),
                now,
                early,
            ) {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = ?e, "cannot dial");
                    return;
                }
            };
            self.make_room();
            let mut link = Link::new(session, Some(peer), now);
            if early.is_empty() {
                link.waiting.push_back(buf);
            }
            self.links.insert(addr, link);
            self.drain_session(now, addr);
        } else {
            self.queue_message(now, addr, Some(buf));
        }
    }

    /// Forgets the session at `addr`; a join waiting on it learns that it found no one.
    fn drop_link(&mut self, addr: &SocketAddr) {
        if let Some(link) = self.links.remove(addr)
            && let Some(peer) = link.peer
            && link.session.is_established()
        {
            self.events.send(NodeEvent::PeerDisconnected { peer });
        }
        if let Some(reply) = self.dialling.remove(addr) {
            let _ = reply.send(Ok(0));
        }
    }

    /// Closes the least recently active session if the table is full.
    fn make_room(&mut self) {
        if self.links.len() >= self.limits.max_sessions
            && let Some(addr) = self.links.least_recently_active()
        {
            self.drop_link(&addr);
        }
    }

    // ---- Datagrams out ----

    async fn flush(&mut self) {
        while let Some((addr, bytes)) = self.out.pop_front() {
            match self.socket.send_to(&bytes, addr).await {
                Ok(n) => {
                    self.stats.datagrams_out += 1;
                    self.stats.bytes_out += n as u64;
                }
                Err(e) => debug!(%addr, error = %e, "UDP send failed"),
            }
        }
    }
}

/// Seals what waits on `link` onto its DHT stream while the session takes it.
fn send_waiting(
    link: &mut Link,
    addr: SocketAddr,
    now: Instant,
    frame: &mut [u8],
    out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    stats: &mut NetStats,
) {
    if !link.session.is_established() || link.waiting.is_empty() {
        return;
    }
    let stream = match link.dht_stream {
        Some(s) => s,
        None => match link
            .session
            .open_stream(crate::aead::stream_cipher(link.session.ciphers()))
        {
            Ok(s) => {
                link.dht_stream = Some(s);
                s
            }
            Err(_) => return,
        },
    };
    while let Some(msg) = link.waiting.front() {
        match link.session.send(now, stream, msg, false, frame) {
            Ok(n) => {
                if let Some(f) = frame.get(..n) {
                    out.push_back((addr, f.to_vec()));
                }
                link.waiting.pop_front();
                link.last_active = now;
            }
            // Wait for credit or the rekey; the session says when (StreamWritable, Rekeyed).
            Err(SendError::Blocked | SendError::WaitForRekey) => return,
            Err(e) => {
                debug!(error = ?e, "a message could not be sent");
                stats.dropped_messages += 1;
                link.waiting.pop_front();
            }
        }
    }
}

fn answer(waiter: Waiter, outcome: QueryOutcome<SocketAddr>, stats: QueryStats) {
    match (waiter, outcome) {
        (Waiter::Ping(r), QueryOutcome::Ping { answered }) => {
            let rtt = stats.finished.saturating_duration_since(stats.started);
            let _ = r.send(Ok(
                answered.then(|| std::time::Duration::from_micros(rtt.as_micros()))
            ));
        }
        (Waiter::Joined(r), QueryOutcome::Closest(found)) => {
            let _ = r.send(Ok(found.len()));
        }
        (Waiter::Peer(r), QueryOutcome::Peer(found)) => {
            let _ = r.send(Ok(found.map(|c| c.addr)));
        }
        (Waiter::Record(r), QueryOutcome::Record(record)) => {
            let _ = r.send(Ok(record));
        }
        (
            Waiter::Stored(r),
            QueryOutcome::Stored {
                stored,
                refused,
                failed,
            },
        ) => {
            let _ = r.send(Ok(PutReport {
                stored,
                refused,
                failed,
            }));
        }
        (Waiter::Providers(r), QueryOutcome::Providers(p)) => {
            let _ = r.send(Ok(p.into_iter().collect()));
        }
        // A query answers with the outcome of its kind; any other pairing is a bug in the core.
        (_, other) => warn!(?other, "a query ended with an outcome of another kind"),
    }
}

/// Tells a command's caller it could not run.
fn refuse(cmd: Command, e: NodeError) {
    match cmd {
        Command::AddPeer(_, r) => drop(r.send(Err(e))),
        Command::FindPeer(_, r) => drop(r.send(Err(e))),
        Command::Ping(_, r) => drop(r.send(Err(e))),
        Command::GetRecord(_, r) => drop(r.send(Err(e))),
        Command::PutRecord(_, r) | Command::AddProvider(_, r) => drop(r.send(Err(e))),
        Command::GetProviders(_, r) => drop(r.send(Err(e))),
        Command::PushRecord(_, _, r) => drop(r.send(Err(e))),
        Command::Peers(_)
        | Command::Stats(_)
        | Command::Suspend(..)
        | Command::PushDone(..)
        | Command::KnownAddr(..)
        | Command::Shutdown => {}
    }
}

/// 32 bytes from the OS for a session's ephemeral keys.
fn session_seed() -> SecretBytes<32> {
    let mut s = [0u8; 32];
    os_rng().fill_bytes(&mut s);
    SecretBytes::new(s)
}

#[cfg(test)]
mod tests {
    //! The driver without its socket loop: datagrams are carried by hand, so a test can say a
    //! datagram came from any address (a spoofed source), and time is whatever the test passes.

    use super::*;

    /// Two drivers and the datagrams between them, `from` as the test says.
    async fn open(seed: u8) -> (Driver, mpsc::Receiver<Command>) {
        let identity = KeyPair::from_seed(&SecretBytes::new([seed; 32]));
        let (driver, rx, _handle) = Driver::open(identity, NodeConfig::default()).await.unwrap();
        (driver, rx)
    }

    fn addr(d: &Driver) -> SocketAddr {
        d.socket.local_addr().unwrap()
    }

    /// Carries datagrams between `a` (at `a_as`) and `b` (at `b_as`) until neither sends more;
    /// returns the frames `b` sent, in order.
    fn shuttle(
        now: Instant,
        a: &mut Driver,
        a_as: SocketAddr,
        b: &mut Driver,
        b_as: SocketAddr,
    ) -> Vec<Vec<u8>> {
        let mut from_b = Vec::new();
        for _ in 0..1000 {
            let (to_b, to_a): (Vec<_>, Vec<_>) =
                (a.out.drain(..).collect(), b.out.drain(..).collect());
            if to_b.is_empty() && to_a.is_empty() {
                return from_b;
            }
            for (dest, mut f) in to_b {
                if dest == b_as {
                    b.on_datagram(now, a_as, &mut f);
                }
            }
            for (dest, mut f) in to_a {
                from_b.push(f.clone());
                if dest == a_as {
                    a.on_datagram(now, b_as, &mut f);
                }
            }
        }
        panic!("the drivers never went quiet");
    }

    fn established_with(a: &Driver, at: SocketAddr, peer: PeerId) -> bool {
        a.links
            .get(&at)
            .is_some_and(|l| l.session.is_established() && l.peer == Some(peer))
    }

    /// Runs `test` as the node runs: on a thread with the node's stack, in a current-thread runtime.
    fn on_node_thread<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(NODE_STACK)
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(test());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    /// `b` dials `a` by identity (IK), as `b_at`; the datagrams are carried until both are quiet.
    /// Returns what `b` sent and the receiver of its join's result.
    fn dial(
        now: Instant,
        a: &mut Driver,
        a_at: SocketAddr,
        b: &mut Driver,
        b_at: SocketAddr,
    ) -> (Vec<Vec<u8>>, oneshot::Receiver<Result<usize, NodeError>>) {
        let (join, joined) = oneshot::channel();
        let to_a = BootstrapPeer {
            peer: Some(a.identity.peer_id()),
            addr: a_at,
        };
        b.add_peer(now, to_a, join);
        b.pump_dht(now);
        (shuttle(now, a, a_at, b, b_at), joined)
    }

    /// A DHT query from `b` reaches `a` and is answered, with nothing `b` sent refused by `a`.
    fn assert_query_answered(
        now: Instant,
        a: &mut Driver,
        a_at: SocketAddr,
        b: &mut Driver,
        b_at: SocketAddr,
    ) {
        let garbage = a.stats.garbage;
        let (found, mut found_rx) = oneshot::channel();
        b.on_command(now, Command::FindPeer(a.identity.peer_id(), found));
        shuttle(now, a, a_at, b, b_at);
        assert_eq!(a.stats.garbage, garbage, "B's frames were refused");
        assert_eq!(found_rx.try_recv().unwrap().unwrap(), Some(a_at));
    }

    #[test]
    fn a_replayed_or_spoofed_first_message_leaves_the_session_alone() {
        on_node_thread(|| async {
            let ((mut a, _ra), (mut b, _rb)) = (open(1).await, open(2).await);
            let (a_at, b_at, b_id) = (addr(&a), addr(&b), b.identity.peer_id());
            let now = a.clock.now();
            let (sent, _) = dial(now, &mut a, a_at, &mut b, b_at);
            assert!(established_with(&a, b_at, b_id));
            let ik1 = sent
                .iter()
                .find(|f| f.first() == Some(&(FrameType::Ik1 as u8)))
                .expect("b opened with IK")
                .clone();

            // B's own first message again, and a stranger's XX first message, both "from" B.
            a.on_datagram(now, b_at, &mut ik1.clone());
            let stranger = KeyPair::from_seed(&SecretBytes::new([3; 32]));
            let mut xx = NodeSession::connect(
                SessionConfig::default(),
                &stranger,
                SecretBytes::new([4; 32]),
                now,
            )
            .unwrap();
            let mut buf = vec![0u8; MAX_FRAME_LEN];
            let n = xx
                .poll_transmit(now, &mut buf)
                .expect("an XX first message");
            a.on_datagram(now, b_at, &mut buf[..n].to_vec());
            shuttle(now, &mut a, a_at, &mut b, b_at);
            assert!(established_with(&a, b_at, b_id), "the session was replaced");
            // B's traffic still reaches A under the session's keys.
            assert_query_answered(now, &mut a, a_at, &mut b, b_at);
        });
    }

    #[test]
    fn a_restarted_peer_replaces_its_session_once_it_proves_fresh_keys() {
        on_node_thread(|| async {
            let ((mut a, _ra), (mut b, _rb)) = (open(1).await, open(2).await);
            let (a_at, b_at, b_id) = (addr(&a), addr(&b), b.identity.peer_id());
            let now = a.clock.now();
            dial(now, &mut a, a_at, &mut b, b_at);
            assert!(established_with(&a, b_at, b_id));

            // B restarts: same identity, same address, no memory of the session.
            drop(b);
            let (mut b, _rb) = open(2).await;
            let (_, mut joined) = dial(now, &mut a, a_at, &mut b, b_at);
            // Its first request rode in the IK message, which A does not act on (it could be a
            // replay); B asks again when its timer fires, on the new session, which wins.
            let mut t = now;
            for _ in 0..20 {
                if joined.try_recv().is_ok() {
                    break;
                }
                t = t.saturating_add(Duration::from_millis(500));
                b.on_timers(t);
                a.on_timers(t);
                shuttle(t, &mut a, a_at, &mut b, b_at);
            }
            assert!(established_with(&a, b_at, b_id));
            assert_query_answered(t, &mut a, a_at, &mut b, b_at);
        });
    }
}
