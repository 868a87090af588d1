//! One block-exchange connection: a secure session (byte-stream framing) over TCP, serving the
//! blocks this node holds and carrying the wants of a fetch.
//!
//! Messages travel on one stream per direction, each behind a 4-byte length, so a message may span
//! frames (a 64 KiB block does not fit one frame with its header). The reader and the writer are
//! separate halves: a node that is sending blocks keeps reading, so two nodes that both send never
//! wait on each other. The session's flow control bounds what either side has in flight.

use std::collections::VecDeque;
use std::sync::Arc;

use gofast_core::block::{BlockId, MAX_BLOCK_LEN};
use gofast_core::codec::{decode_message, encode_message, message_len};
use gofast_core::crypto::SecretBytes;
use gofast_core::exchange::{
    DeltaWant, ExchangeMessage, MAX_DELTA_WANTS, MAX_EXCHANGE_MESSAGE_LEN, MAX_IDS,
    encode_block_header,
};
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::session::{
    Config as SessionConfig, Deframer, Event, Framing, Input, LENGTH_PREFIX_LEN, MAX_FRAME_LEN,
    MAX_FRAME_PAYLOAD, SendError, Session, StreamId,
};
use gofast_core::time::Instant;
use rand_core::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tracing::debug;

use super::{BlockSource, Served};
use crate::aead::RingAead;
use crate::rng::os_rng;

/// Streams a block-exchange session holds.
const STREAMS: usize = 4;
/// Frames the peer may send ahead of credit: 16 MiB of 64 KiB frames, so a fetch's window of
/// blocks (two frames each) never waits for credit on a fast link.
const STREAM_WINDOW: u16 = 256;
/// Bytes of the length in front of each message on a stream.
const MESSAGE_PREFIX: usize = 4;
/// Frames queued for the socket writer. The session's flow control keeps what is in flight per
/// stream to its window (64 frames), so the queue never fills in normal operation; if it does,
/// the reader waits for the writer (backpressure).
const WRITE_QUEUE: usize = 256;
/// Bytes of answers a peer may have asked for and not yet taken (blocks waiting for stream credit).
/// A fetcher keeps a window of requests in flight (the node's: 32 blocks, 2 MiB); one whose
/// requests would queue more than this is not reading its answers, and the connection is closed
/// rather than holding its blocks in memory without bound.
const MAX_QUEUED_OUT: usize = 32 << 20;
/// Time a connection has to complete its handshake (either side).
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type ExchangeSession = Session<RingAead, STREAMS>;

/// Who opened the connection.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    /// This side dialled the provider with this identity (Noise IK).
    Dial(PeerId),
    /// The peer dialled this side.
    Accept,
}

/// What a connection reports to the fetch that uses it.
#[derive(Debug)]
pub(super) enum ConnEvent {
    /// The session is up with this peer.
    Up(PeerId),
    /// A block arrived (not yet verified: the fetch checks it).
    Block {
        /// The sender.
        peer: PeerId,
        /// The id it claims.
        id: BlockId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A block came as a delta (not yet applied: the fetch rebuilds and checks it).
    Delta {
        /// The sender.
        peer: PeerId,
        /// The block it rebuilds.
        id: BlockId,
        /// The delta.
        data: Vec<u8>,
    },
    /// The peer does not hold these.
    DontHave {
        /// The sender.
        peer: PeerId,
        /// The blocks.
        ids: Vec<BlockId>,
    },
    /// The connection ended.
    Closed {
        /// The peer, if the handshake finished.
        peer: Option<PeerId>,
        /// Why, for the log.
        reason: String,
    },
}

/// What the owner asks a connection to do.
#[derive(Debug)]
pub(super) enum ConnCommand {
    /// Ask the peer for these blocks.
    Want(Vec<BlockId>),
    /// Ask the peer for these blocks as deltas against the bases named.
    WantDelta(Vec<DeltaWant>),
    /// Close the connection (the peer misbehaved, or the fetch is over).
    Close,
}

/// Bytes every exchange connection of this process received and sent (TCP payload, the session's
/// framing and encryption included): for the node's counters and for benches that compare the
/// bytes a transfer moved. Process-wide because a node is one process (tests that run several
/// nodes in one process read them as a sum).
static TRAFFIC_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static TRAFFIC_OUT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bytes this process's exchange connections have received and sent so far.
pub fn exchange_traffic() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (TRAFFIC_IN.load(Relaxed), TRAFFIC_OUT.load(Relaxed))
}

/// Counters one connection keeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnStats {
    /// Blocks served to the peer.
    pub served: u64,
    /// Blocks received.
    pub received: u64,
}

/// Runs one connection until it closes: the handshake, then serving and asking. Events go to
/// `events` (a serving-only connection passes `None`).
pub(super) async fn run(
    tcp: TcpStream,
    role: Role,
    identity: Arc<KeyPair>,
    store: Arc<dyn BlockSource>,
    events: Option<mpsc::Sender<ConnEvent>>,
    commands: mpsc::Receiver<ConnCommand>,
) -> ConnStats {
    let mut conn = Conn {
        session: None,
        peer: None,
        store,
        events,
        stream: None,
        pending_out: VecDeque::new(),
        inbox: Vec::new(),
        stats: ConnStats::default(),
        clock: tokio::time::Instant::now(),
        frame: vec![0u8; MAX_FRAME_LEN + LENGTH_PREFIX_LEN],
    };
    // A dialled peer is known before its handshake: a fetch must hear of it even when the
    // handshake fails, or it would wait for that provider.
    let dialled = match role {
        Role::Dial(peer) => Some(peer),
        Role::Accept => None,
    };
    let reason = match conn.drive(tcp, role, &identity, commands).await {
        Ok(()) => "closed".to_owned(),
        Err(e) => e,
    };
    debug!(peer = ?conn.peer, %reason, "exchange connection ended");
    if let Some(ev) = &conn.events {
        let _ = ev
            .send(ConnEvent::Closed {
                peer: conn.peer.or(dialled),
                reason,
            })
            .await;
    }
    conn.stats
}

struct Conn {
    session: Option<ExchangeSession>,
    peer: Option<PeerId>,
    store: Arc<dyn BlockSource>,
    events: Option<mpsc::Sender<ConnEvent>>,
    /// This side's stream for its messages.
    stream: Option<StreamId>,
    /// Encoded messages (with their length) waiting for stream credit.
    pending_out: VecDeque<Vec<u8>>,
    /// Bytes of the peer's stream not yet cut into messages.
    inbox: Vec<u8>,
    stats: ConnStats,
    clock: tokio::time::Instant,
    /// Where the session writes frames, reused for every one.
    frame: Vec<u8>,
}

impl Conn {
    fn now(&self) -> Instant {
        let micros = u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros.saturating_add(1))
    }

    async fn drive(
        &mut self,
        tcp: TcpStream,
        role: Role,
        identity: &KeyPair,
        mut commands: mpsc::Receiver<ConnCommand>,
    ) -> Result<(), String> {
        let _ = tcp.set_nodelay(true);
        let (mut rd, wr) = tcp.into_split();
        let (wtx, wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let writer = tokio::spawn(write_loop(wr, wrx));
        let config = SessionConfig {
            max_frame_payload: MAX_FRAME_PAYLOAD as u32,
            stream_window: STREAM_WINDOW,
            ciphers: crate::aead::offered_ciphers(),
            ..SessionConfig::default().with_framing(Framing::ByteStream)
        };
        let now = self.now();
        let session = match role {
            Role::Dial(peer) => {
                self.peer = Some(peer);
                ExchangeSession::connect_known(config, identity, peer, seed(), now, &[])
            }
            Role::Accept => ExchangeSession::accept(config, identity, seed()),
        }
        .map_err(|e| format!("session setup: {e:?}"))?;
        self.session = Some(session);
        let mut deframer = Deframer::new(vec![0u8; MAX_FRAME_LEN + LENGTH_PREFIX_LEN]);
        let mut rbuf = vec![0u8; 256 * 1024];
        let mut commands_open = true;
        // The session's own handshake timer starts with the first message; this one also covers
        // a peer that connects and never sends one (it would hold a served slot forever).
        let handshake_by = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
        let result = loop {
            let handshaking = !self.session.as_ref().is_some_and(Session::is_established);
            self.flush_session(&wtx).await?;
            let wake = self
                .session
                .as_ref()
                .and_then(Session::poll_timeout)
                .map(|t| {
                    self.clock + std::time::Duration::from_micros(t.as_micros().saturating_sub(1))
                });
            tokio::select! {
                r = rd.read(&mut rbuf) => {
                    let n = match r {
                        Ok(0) => break Ok(()),
                        Ok(n) => n,
                        Err(e) => break Err(format!("read: {e}")),
                    };
                    TRAFFIC_IN.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    let mut fed = rbuf.get(..n).unwrap_or(&[]);
                    while !fed.is_empty() {
                        let took = deframer.push(fed);
                        fed = fed.get(took..).unwrap_or(&[]);
                        loop {
                            let frame = match deframer.next_frame() {
                                Ok(Some(f)) => f,
                                Ok(None) => break,
                                Err(e) => return Err(format!("framing: {e:?}")),
                            };
                            self.on_frame(frame).await?;
                        }
                        if took == 0 && !fed.is_empty() {
                            return Err("a frame longer than the buffer".into());
                        }
                    }
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(ConnCommand::Want(ids)) => {
                        for chunk in ids.chunks(MAX_IDS) {
                            let ids = heapless::Vec::from_slice(chunk).unwrap_or_default();
                            self.queue_message(&ExchangeMessage::Want { ids })?;
                        }
                    }
                    Some(ConnCommand::WantDelta(wants)) => {
                        for chunk in wants.chunks(MAX_DELTA_WANTS) {
                            let wants = heapless::Vec::from_slice(chunk).unwrap_or_default();
                            self.queue_message(&ExchangeMessage::WantDelta { wants })?;
                        }
                    }
                    Some(ConnCommand::Close) => break Ok(()),
                    None => commands_open = false,
                },
                () = tokio::time::sleep_until(handshake_by), if handshaking => {
                    break Err("no handshake in time".into());
                }
                () = sleep_until(wake) => {
                    let now = self.now();
                    if let Some(s) = self.session.as_mut() {
                        s.handle_timeout(now);
                        // A handshake or rekey the peer never answered ends the session here: a
                        // peer that accepts the connection and then goes silent must not hold a
                        // fetch forever.
                        if let Some(reason) = s.close_reason() {
                            break Err(format!("session closed: {reason:?}"));
                        }
                    }
                }
            }
        };
        if let Some(s) = self.session.as_mut() {
            s.close(0);
        }
        let _ = self.flush_session(&wtx).await;
        drop(wtx);
        let _ = writer.await;
        result
    }

    /// One frame from the peer.
    async fn on_frame(&mut self, frame: &mut [u8]) -> Result<(), String> {
        let now = self.now();
        let Some(session) = self.session.as_mut() else {
            return Err("no session".into());
        };
        match session.handle_input(now, frame) {
            Ok(Input::PeerIdentified { peer, .. }) => {
                if self.peer.is_some_and(|p| p != peer) {
                    let _ = session.refuse_peer();
                    return Err("the peer is not who was dialled".into());
                }
                session
                    .approve_peer(now)
                    .map_err(|e| format!("approve: {e:?}"))?;
                self.peer = Some(peer);
            }
            Ok(Input::Data { data, .. }) => {
                // The inbox holds at most one partial message: lengths above the limit are
                // refused as soon as they are read.
                self.inbox.extend_from_slice(data);
                self.cut_messages().await?;
            }
            Ok(Input::Nothing) => {}
            Err(e) => return Err(format!("frame refused: {e:?}")),
        }
        while let Some(ev) = self.session.as_mut().and_then(Session::poll_event) {
            match ev {
                Event::Established { peer } => {
                    self.peer = Some(peer);
                    if let Some(tx) = &self.events {
                        let _ = tx.send(ConnEvent::Up(peer)).await;
                    }
                }
                Event::Closed(reason) => return Err(format!("session closed: {reason:?}")),
                _ => {}
            }
        }
        Ok(())
    }

    /// Cuts complete messages off the inbox and handles them.
    async fn cut_messages(&mut self) -> Result<(), String> {
        loop {
            let Some(len) = self
                .inbox
                .get(..MESSAGE_PREFIX)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u32::from_le_bytes(b) as usize)
            else {
                return Ok(());
            };
            if len > MAX_EXCHANGE_MESSAGE_LEN {
                return Err(format!("a message of {len} bytes announced"));
            }
            if self.inbox.len() < MESSAGE_PREFIX + len {
                return Ok(());
            }
            // One copy of the message out; the (short) rest of the inbox moves to the front.
            let msg = self
                .inbox
                .get(MESSAGE_PREFIX..MESSAGE_PREFIX + len)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            self.inbox.drain(..MESSAGE_PREFIX + len);
            self.on_message(&msg).await?;
        }
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), String> {
        let msg = decode_message::<ExchangeMessage<'_>>(bytes)
            .map_err(|e| format!("undecodable exchange message: {e:?}"))?;
        let peer = self.peer.ok_or("a message before the handshake")?;
        match msg {
            ExchangeMessage::Want { ids } => {
                let mut missing: heapless::Vec<BlockId, MAX_IDS> = heapless::Vec::new();
                for id in ids {
                    match self.store.block(&id) {
                        Ok(Some(data)) => {
                            self.queue_block(&id, &data)?;
                            self.stats.served += 1;
                        }
                        Ok(None) => {
                            let _ = missing.push(id);
                        }
                        Err(e) => {
                            debug!(error = %e, "a block could not be read");
                            let _ = missing.push(id);
                        }
                    }
                }
                self.queue_missing(missing)?;
            }
            ExchangeMessage::WantHave { ids } => {
                let (mut have, mut lack) = (heapless::Vec::new(), heapless::Vec::new());
                for id in ids {
                    let held = self.store.holds(&id).unwrap_or(false);
                    let _ = if held { have.push(id) } else { lack.push(id) };
                }
                if !have.is_empty() {
                    self.queue_message(&ExchangeMessage::Have { ids: have })?;
                }
                if !lack.is_empty() {
                    self.queue_message(&ExchangeMessage::DontHave { ids: lack })?;
                }
            }
            ExchangeMessage::Block { id, data } => {
                self.stats.received += 1;
                let data = data.to_vec();
                self.report(ConnEvent::Block { peer, id, data }).await?;
            }
            ExchangeMessage::DontHave { ids } => {
                if let Some(tx) = &self.events {
                    tx.send(ConnEvent::DontHave {
                        peer,
                        ids: ids.into_iter().collect(),
                    })
                    .await
                    .map_err(|_| "the fetch is gone")?;
                }
            }
            ExchangeMessage::WantDelta { wants } => {
                // Deltas cost CPU (opening, re-sealing, a signature and a diff per want): made
                // off the async threads, one message's wants at a time.
                let store = Arc::clone(&self.store);
                let wanted = wants.clone();
                let served = tokio::task::spawn_blocking(move || {
                    wanted
                        .iter()
                        .map(|w| store.delta(&peer, w))
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(|e| format!("making deltas: {e}"))?;
                let mut missing: heapless::Vec<BlockId, MAX_IDS> = heapless::Vec::new();
                for (want, served) in wants.iter().zip(served) {
                    match served {
                        Ok(Served::Block(data)) => {
                            self.queue_block(&want.target.id, &data)?;
                            self.stats.served += 1;
                        }
                        Ok(Served::Delta(mut data)) => {
                            let id = want.target.id;
                            let queued =
                                self.queue_message(&ExchangeMessage::Delta { id, data: &data });
                            // Plaintext literals: wiped here; the queued copy goes out encrypted.
                            zeroize::Zeroize::zeroize(&mut data);
                            queued?;
                            self.stats.served += 1;
                        }
                        Ok(Served::Missing) => {
                            let _ = missing.push(want.target.id);
                        }
                        Err(e) => {
                            debug!(error = %e, "a block could not be read");
                            let _ = missing.push(want.target.id);
                        }
                    }
                }
                self.queue_missing(missing)?;
            }
            ExchangeMessage::Delta { id, data } => {
                self.stats.received += 1;
                let data = data.to_vec();
                self.report(ConnEvent::Delta { peer, id, data }).await?;
            }
            // Cancels and haves need no action from a connection that answers wants in order.
            ExchangeMessage::Cancel { .. } | ExchangeMessage::Have { .. } => {}
        }
        Ok(())
    }

    /// Answers `DontHave` for the blocks asked for and not served, if any.
    fn queue_missing(&mut self, missing: heapless::Vec<BlockId, MAX_IDS>) -> Result<(), String> {
        if missing.is_empty() {
            return Ok(());
        }
        self.queue_message(&ExchangeMessage::DontHave { ids: missing })
    }

    /// Passes `ev` to the fetch using this connection (a serving-only one has none).
    async fn report(&self, ev: ConnEvent) -> Result<(), String> {
        if let Some(tx) = &self.events {
            tx.send(ev).await.map_err(|_| "the fetch is gone")?;
        }
        Ok(())
    }

    /// Queues a message behind its length (a block's goes through `queue_block`, which copies
    /// the block once).
    fn queue_message(&mut self, msg: &ExchangeMessage<'_>) -> Result<(), String> {
        self.room_for(message_len(msg))?;
        let mut buf = vec![0u8; MESSAGE_PREFIX + message_len(msg)];
        let n = encode_message(msg, buf.get_mut(MESSAGE_PREFIX..).unwrap_or(&mut []))
            .map_err(|e| format!("encode: {e:?}"))?;
        buf.truncate(MESSAGE_PREFIX + n);
        if let Some(p) = buf.get_mut(..MESSAGE_PREFIX) {
            p.copy_from_slice(&(n as u32).to_le_bytes());
        }
        self.pending_out.push_back(buf);
        Ok(())
    }

    /// Refuses a message of `len` bytes more when the queue would pass [`MAX_QUEUED_OUT`]: the
    /// connection then closes.
    fn room_for(&self, len: usize) -> Result<(), String> {
        let queued: usize = self.pending_out.iter().map(Vec::len).sum();
        if queued + len > MAX_QUEUED_OUT {
            return Err(format!(
                "the peer asked for more than {} MiB it has not taken",
                MAX_QUEUED_OUT >> 20
            ));
        }
        Ok(())
    }

    /// Queues a block message: its header, then the bytes, without building the message twice.
    fn queue_block(&mut self, id: &BlockId, data: &[u8]) -> Result<(), String> {
        if data.len() > MAX_BLOCK_LEN {
            return Err("a stored block longer than a block".into());
        }
        self.room_for(data.len())?;
        let mut buf = vec![0u8; MESSAGE_PREFIX + 64];
        let h = encode_block_header(
            id,
            data.len(),
            buf.get_mut(MESSAGE_PREFIX..).unwrap_or(&mut []),
        )
        .map_err(|e| format!("encode: {e:?}"))?;
        buf.truncate(MESSAGE_PREFIX + h);
        buf.extend_from_slice(data);
        let n = (h + data.len()) as u32;
        if let Some(p) = buf.get_mut(..MESSAGE_PREFIX) {
            p.copy_from_slice(&n.to_le_bytes());
        }
        self.pending_out.push_back(buf);
        Ok(())
    }

    /// Moves the session's own frames and the queued messages (as far as credit allows) to the
    /// writer.
    async fn flush_session(&mut self, wtx: &mpsc::Sender<Vec<u8>>) -> Result<(), String> {
        let now = self.now();
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let frame = &mut self.frame;
        let mut out: Vec<Vec<u8>> = Vec::new();
        while let Some(n) = session.poll_transmit(now, frame) {
            out.push(frame.get(..n).unwrap_or(&[]).to_vec());
        }
        if session.is_established() && !self.pending_out.is_empty() {
            let stream = match self.stream {
                Some(s) => Some(s),
                None => session
                    .open_stream(crate::aead::stream_cipher(session.ciphers()))
                    .ok(),
            };
            self.stream = stream;
            if let Some(stream) = stream {
                let max = session.max_send_payload().max(1);
                'messages: while let Some(msg) = self.pending_out.front_mut() {
                    while !msg.is_empty() {
                        let take = msg.len().min(max);
                        let piece = msg.get(..take).unwrap_or(&[]);
                        match session.send(now, stream, piece, false, frame) {
                            Ok(n) => {
                                out.push(frame.get(..n).unwrap_or(&[]).to_vec());
                                msg.drain(..take);
                            }
                            Err(SendError::Blocked | SendError::WaitForRekey) => break 'messages,
                            Err(e) => return Err(format!("send: {e:?}")),
                        }
                    }
                    self.pending_out.pop_front();
                }
            }
        }
        // Frames the session made while sending (credit updates, rekeys).
        while let Some(n) = session.poll_transmit(now, frame) {
            out.push(frame.get(..n).unwrap_or(&[]).to_vec());
        }
        for f in out {
            wtx.send(f).await.map_err(|_| "the writer stopped")?;
        }
        Ok(())
    }
}

/// Frames already queued go out in one write up to this many bytes: a frame per write was a
/// system call (and a wakeup of the reader) for every block served.
const COALESCE: usize = 256 << 10;

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(mut out) = rx.recv().await {
        while out.len() < COALESCE {
            match rx.try_recv() {
                Ok(frame) => out.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() {
            return;
        }
        TRAFFIC_OUT.fetch_add(out.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    let _ = wr.shutdown().await;
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn seed() -> SecretBytes<32> {
    let mut s = [0u8; 32];
    os_rng().fill_bytes(&mut s);
    SecretBytes::new(s)
}
