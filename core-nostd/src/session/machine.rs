//! The session state machine: its fields, constructors, timers and accessors. The handshake, the data
//! path and rekeying are in their own files as further `impl` blocks.

use core::marker::PhantomData;

use heapless::Deque;

use crate::crypto::SecretBytes;
use crate::crypto::x25519::{X25519Public, X25519Secret};
use crate::identity::{KeyPair, PeerId};
use crate::noise::{Blake3, HandshakeState};
use crate::time::{Duration, Instant};

use super::cipher::{AeadProvider, CipherId, CipherSet};
use super::config::{Config, Framing};
use super::error::SetupError;
use super::event::{CloseReason, Event};
use super::frame::{MAX_FRAME_PAYLOAD, MAX_HANDSHAKE_FRAME};
use super::hello::Hello;
use super::keys::{EpochSecret, KeyRng};
use super::stream::Stream;

/// Events held until drained; an input is refused while fewer than [`EVENTS_PER_INPUT`] are free.
pub(crate) const EVENT_CAPACITY: usize = 16;
/// Most events one input or timeout can raise.
pub(crate) const EVENTS_PER_INPUT: usize = 3;
/// Stream resets waiting to be sent; further ones are dropped (the peer's frames keep failing).
pub(crate) const RESET_QUEUE: usize = 4;

pub(crate) type Handshake = HandshakeState<Blake3>;

/// What the side of a handshake waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Awaiting {
    Xx2,
    Xx3,
    Ik2,
}

/// What approving the peer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnApprove {
    /// XX initiator: write message 3.
    WriteXx3,
    /// XX responder: message 3 was the last.
    FinishXx,
    /// IK responder: write message 2.
    WriteIk2,
}

pub(crate) enum Phase {
    /// A responder before the first message.
    Listening,
    Handshaking {
        hs: Handshake,
        awaiting: Awaiting,
    },
    AwaitingApproval {
        hs: Handshake,
        on_approve: OnApprove,
    },
    Established,
    Closed,
}

/// A timer that fires at `at` and doubles its interval each time (datagram retransmissions).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) at: Instant,
    pub(crate) interval: Duration,
}

impl Backoff {
    pub(crate) fn start(now: Instant, interval: Duration) -> Self {
        Backoff {
            at: now.saturating_add(interval),
            interval,
        }
    }

    /// Whether it fired; if so it is re-armed with twice the interval.
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        if now < self.at {
            return false;
        }
        self.interval = self.interval.saturating_mul(2);
        self.at = now.saturating_add(self.interval);
        true
    }
}

pub(crate) enum Rekey {
    /// The next rekey is due at `next_at`.
    Idle { next_at: Instant },
    /// This side proposed `epoch` and waits for the ack.
    Proposed {
        epoch: u32,
        secret: X25519Secret,
        retransmit: Option<Backoff>,
        deadline: Instant,
    },
    /// This side accepted the peer's proposal; it switches its sending on the peer's first frame in
    /// the new epoch.
    Accepted {
        epoch: u32,
        ephemeral: X25519Public,
        deadline: Instant,
    },
    /// This side switched and repeats a confirm until the peer's first frame in the new epoch.
    Confirming {
        epoch: u32,
        retransmit: Option<Backoff>,
        deadline: Instant,
    },
}

/// Both directions' epoch secrets.
pub(crate) struct Keys {
    pub(crate) send: EpochSecret,
    /// The next send secret, while a rekey this side accepted waits for the peer to move first.
    pub(crate) send_next: Option<EpochSecret>,
    pub(crate) recv: EpochSecret,
    /// The previous receive secret, and when it is erased (set once the peer sends in the new one).
    pub(crate) recv_prev: Option<(EpochSecret, Option<Instant>)>,
}

/// A secure session with one peer: the Noise handshake, then many streams with their own keys,
/// rotated under the control stream. Sans-IO: feed it frames and time, drain frames, events and the
/// next deadline. See the module documentation for the calls and `docs/spec/session.md` for the
/// bytes.
///
/// `P` implements the stream ciphers; `STREAMS` bounds the streams held at once.
pub struct Session<P: AeadProvider, const STREAMS: usize> {
    pub(crate) config: Config,
    pub(crate) initiator: bool,
    pub(crate) local: PeerId,
    /// The static X25519 key, until the handshake no longer needs it.
    pub(crate) static_key: Option<X25519Secret>,
    pub(crate) rng: KeyRng,
    pub(crate) phase: Phase,
    pub(crate) peer: Option<PeerId>,
    pub(crate) peer_hello: Option<Hello>,
    pub(crate) ciphers: CipherSet,

    pub(crate) handshake_out: heapless::Vec<u8, MAX_HANDSHAKE_FRAME>,
    pub(crate) handshake_due: bool,
    pub(crate) handshake_retransmit: Option<Backoff>,
    pub(crate) handshake_deadline: Option<Instant>,
    /// BLAKE3 of the peer's handshake frame that `handshake_out` answers, to recognise duplicates.
    pub(crate) answered: Option<[u8; 32]>,

    pub(crate) keys: Option<Keys>,
    pub(crate) rekey: Rekey,
    pub(crate) rekey_due: bool,
    pub(crate) ack_due: bool,
    pub(crate) confirm_due: Option<bool>,
    pub(crate) close_due: Option<u8>,
    pub(crate) resets_due: heapless::Vec<u32, RESET_QUEUE>,

    pub(crate) control: Stream<P::Key>,
    pub(crate) streams: heapless::Vec<Stream<P::Key>, STREAMS>,
    pub(crate) next_local_stream: u32,
    /// The lowest id of the peer's that no frame has opened yet (ids are opened in order; a frame
    /// on a higher id opens the ones below it too, as in QUIC).
    pub(crate) peer_next_stream: u32,

    pub(crate) events: Deque<Event, EVENT_CAPACITY>,
    pub(crate) closed: Option<CloseReason>,
    pub(crate) provider: PhantomData<P>,
}

/// The Noise prologue of every gofast session: binds the transcript to this protocol and version.
pub const PROLOGUE: &[u8] = b"gofast 2026-11-26 session v1";

impl<P: AeadProvider, const STREAMS: usize> Session<P, STREAMS> {
    fn new(
        config: Config,
        identity: &KeyPair,
        seed: SecretBytes<32>,
        initiator: bool,
    ) -> Result<Self, SetupError> {
        if (config.max_frame_payload as usize) < super::MIN_FRAME_PAYLOAD
            || config.max_frame_payload as usize > MAX_FRAME_PAYLOAD
            || config.stream_window == 0
            || config.rekey_after_frames == 0
            || config.max_frames_per_epoch < config.rekey_after_frames
            || STREAMS > usize::from(u16::MAX)
        {
            return Err(SetupError::InvalidConfig);
        }
        Ok(Session {
            config,
            initiator,
            local: identity.peer_id(),
            static_key: Some(identity.x25519_secret()),
            rng: KeyRng::new(seed),
            phase: Phase::Listening,
            peer: None,
            peer_hello: None,
            ciphers: CipherSet::CHACHA_ONLY,
            handshake_out: heapless::Vec::new(),
            handshake_due: false,
            handshake_retransmit: None,
            handshake_deadline: None,
            answered: None,
            keys: None,
            rekey: Rekey::Idle {
                next_at: Instant::from_micros(u64::MAX),
            },
            rekey_due: false,
            ack_due: false,
            confirm_due: None,
            close_due: None,
            resets_due: heapless::Vec::new(),
            control: Stream::new(0, Some(CipherId::ChaCha20Poly1305), u64::MAX, u64::MAX),
            streams: heapless::Vec::new(),
            next_local_stream: if initiator { 1 } else { 2 },
            peer_next_stream: if initiator { 2 } else { 1 },
            events: Deque::new(),
            closed: None,
            provider: PhantomData,
        })
    }

    /// Starts a first contact (Noise XX) as the initiator. `seed` is 32 bytes from a CSPRNG; every
    /// ephemeral key of the session is drawn from it. Send what `poll_transmit` gives.
    pub fn connect(
        config: Config,
        identity: &KeyPair,
        seed: SecretBytes<32>,
        now: Instant,
    ) -> Result<Self, SetupError> {
        let mut s = Self::new(config, identity, seed, true)?;
        let hs = s
            .new_handshake(&crate::noise::pattern::XX, None)
            .map_err(SetupError::Handshake)?;
        s.start_initiator(now, hs, super::frame::FrameType::Xx1, Awaiting::Xx2, &[])?;
        Ok(s)
    }

    /// Starts a session with a known peer (Noise IK): one round trip, and `early_data` (at most
    /// [`super::MAX_EARLY_DATA`] bytes) travels encrypted in the first message. Early data is not
    /// forward-secret against a later theft of the peer's identity key and may be replayed to the
    /// peer; send only what is safe to repeat.
    pub fn connect_known(
        config: Config,
        identity: &KeyPair,
        peer: PeerId,
        seed: SecretBytes<32>,
        now: Instant,
        early_data: &[u8],
    ) -> Result<Self, SetupError> {
        let mut s = Self::new(config, identity, seed, true)?;
        let hs = s
            .new_handshake(&crate::noise::pattern::IK, Some(peer.x25519_public()))
            .map_err(SetupError::Handshake)?;
        s.peer = Some(peer);
        s.start_initiator(
            now,
            hs,
            super::frame::FrameType::Ik1,
            Awaiting::Ik2,
            early_data,
        )?;
        Ok(s)
    }

    /// A responder waiting for an initiator's first message (XX or IK, whichever arrives).
    pub fn accept(
        config: Config,
        identity: &KeyPair,
        seed: SecretBytes<32>,
    ) -> Result<Self, SetupError> {
        Self::new(config, identity, seed, false)
    }

    /// What this side offers in its handshake.
    pub(crate) fn hello(&self) -> Hello {
        Hello {
            ciphers: CipherSet::CHACHA_ONLY.with_all(self.config.ciphers.intersect(P::supported())),
            max_streams: u16::try_from(STREAMS).unwrap_or(u16::MAX),
            window: self.config.stream_window,
            max_payload: self.config.max_frame_payload,
        }
    }

    /// Longest payload this side may send: its own limit, and the peer's once known.
    pub fn max_send_payload(&self) -> usize {
        let own = self.config.max_frame_payload;
        self.peer_hello.map_or(own, |h| {
            own.min(h.max_payload).min(MAX_FRAME_PAYLOAD as u32)
        }) as usize
    }

    /// Whether this side started the session.
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether the handshake finished and streams may be used.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// The peer, once it proved its identity.
    pub fn peer(&self) -> Option<PeerId> {
        if matches!(self.phase, Phase::Handshaking { .. }) && self.initiator {
            // An IK initiator names the peer before the peer proved anything.
            return None;
        }
        self.peer
    }

    /// The ciphers both peers offered.
    pub fn ciphers(&self) -> CipherSet {
        self.ciphers
    }

    /// The epoch this side sends in (0 after the handshake, +1 per rekey).
    pub fn send_epoch(&self) -> Option<u32> {
        self.keys.as_ref().map(|k| k.send.epoch)
    }

    /// Streams open (not counting the control stream).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes in front of the payload in a buffer given to `send_in_place`.
    pub fn payload_offset(&self) -> usize {
        self.prefix_len() + super::frame::DATA_HEADER_LEN
    }

    pub(crate) fn prefix_len(&self) -> usize {
        match self.config.framing {
            Framing::Datagram => 0,
            Framing::ByteStream => super::frame::LENGTH_PREFIX_LEN,
        }
    }

    pub(crate) fn datagram(&self) -> bool {
        self.config.framing == Framing::Datagram
    }

    /// The next event, if any. Drain after every input and timeout.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        // Inputs are refused while fewer than EVENTS_PER_INPUT slots are free, so this has room; if
        // it had not, dropping the newest is the policy.
        let _ = self.events.push_back(event);
    }

    /// Ends the session: a close is sent (when established) and every key is erased.
    pub fn close(&mut self, code: u8) {
        if self.closed.is_some() {
            return;
        }
        if self.is_established() {
            self.close_due = Some(code);
        } else {
            self.finish_close(CloseReason::Local);
        }
    }

    /// Erases all keys and reports `reason`.
    pub(crate) fn finish_close(&mut self, reason: CloseReason) {
        self.phase = Phase::Closed;
        self.keys = None;
        self.static_key = None;
        self.rekey = Rekey::Idle {
            next_at: Instant::from_micros(u64::MAX),
        };
        self.streams.clear();
        self.control.send_key = None;
        self.control.recv_keys = [None, None];
        self.handshake_out.clear();
        self.handshake_retransmit = None;
        self.handshake_deadline = None;
        self.close_due = None;
        self.closed = Some(reason);
        self.push_event(Event::Closed(reason));
    }

    /// The earliest time `handle_timeout` has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.handshake_retransmit.map(|b| b.at));
        consider(self.handshake_deadline);
        match &self.rekey {
            Rekey::Idle { next_at } => {
                if self.is_established() {
                    consider(Some(*next_at));
                }
            }
            Rekey::Proposed {
                retransmit,
                deadline,
                ..
            } => {
                consider(retransmit.map(|b| b.at));
                consider(Some(*deadline));
            }
            Rekey::Accepted { deadline, .. } => consider(Some(*deadline)),
            Rekey::Confirming {
                retransmit,
                deadline,
                ..
            } => {
                consider(retransmit.map(|b| b.at));
                consider(Some(*deadline));
            }
        }
        if let Some(keys) = &self.keys {
            consider(keys.recv_prev.as_ref().and_then(|(_, at)| *at));
        }
        for s in &self.streams {
            consider(s.blocked_retry_at);
        }
        next
    }

    /// Does what is due at `now`: retransmissions, rekeys, erasing old keys, giving up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed.is_some() {
            return;
        }
        if let Some(b) = &mut self.handshake_retransmit
            && b.fire(now)
        {
            self.handshake_due = true;
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            if self.is_established() {
                // The last handshake message was retransmitted long enough.
                self.handshake_retransmit = None;
                self.handshake_deadline = None;
            } else {
                self.finish_close(CloseReason::HandshakeTimeout);
                return;
            }
        }
        if !self.is_established() {
            return;
        }
        self.rekey_timeout(now);
        if self.closed.is_some() {
            return;
        }
        self.erase_expired(now);
        let datagram = self.datagram();
        let interval = self.config.retransmit_interval;
        for s in &mut self.streams {
            if s.blocked && s.blocked_retry_at.is_some_and(|t| now >= t) {
                s.blocked_due = true;
                s.blocked_retry_at = datagram.then(|| now.saturating_add(interval));
            }
        }
    }

    /// Erases the previous epoch's receive keys once their grace time is over.
    fn erase_expired(&mut self, now: Instant) {
        let Some(keys) = &mut self.keys else { return };
        if keys
            .recv_prev
            .as_ref()
            .is_some_and(|(_, at)| at.is_some_and(|t| now >= t))
        {
            keys.recv_prev = None;
            let current = keys.recv.epoch;
            self.forget_recv_keys_before(current);
        }
    }

    /// Drops every cached stream receive key of an epoch before `epoch`.
    pub(crate) fn forget_recv_keys_before(&mut self, epoch: u32) {
        self.control.forget_recv_before(epoch);
        for s in &mut self.streams {
            s.forget_recv_before(epoch);
        }
    }
}

impl<P: AeadProvider, const STREAMS: usize> core::fmt::Debug for Session<P, STREAMS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("initiator", &self.initiator)
            .field("established", &self.is_established())
            .field("peer", &self.peer)
            .field("send_epoch", &self.send_epoch())
            .field("streams", &self.streams.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
