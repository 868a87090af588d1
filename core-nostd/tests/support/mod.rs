//! Two sessions joined by an in-memory wire that records every frame: the harness of the session
//! tests. Deterministic: keys come from fixed seeds, time is a counter the test moves.

#![allow(dead_code, unreachable_pub)]

pub mod hashes;

use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use gofast_core::session::{
    Config, Event, Framing, Input, MAX_FRAME_LEN, PortableAead, Session, StreamId,
};
use gofast_core::time::{Duration, Instant};

pub type S = Session<PortableAead, 8>;

/// A frame seen on the wire.
#[derive(Clone, Debug)]
pub struct WireFrame {
    /// Sent by the initiator.
    pub from_initiator: bool,
    /// The frame (without byte-stream prefix).
    pub bytes: Vec<u8>,
}

/// What one side received.
#[derive(Default, Debug)]
pub struct Received {
    pub data: Vec<(StreamId, Vec<u8>, bool)>,
    pub events: Vec<Event>,
    pub early_data: Vec<Vec<u8>>,
    pub errors: Vec<gofast_core::session::InputError>,
}

pub struct Pair {
    pub config: Config,
    pub a: S,
    pub b: S,
    pub now: Instant,
    pub wire: Vec<WireFrame>,
    pub got_a: Received,
    pub got_b: Received,
    /// Whether peers are approved automatically.
    pub approve: bool,
}

pub fn identity(n: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([n; 32]))
}

pub fn seed(n: u8) -> SecretBytes<32> {
    SecretBytes::new([n.wrapping_add(100); 32])
}

fn strip_prefix(config: &Config, bytes: &[u8]) -> Vec<u8> {
    match config.framing {
        Framing::Datagram => bytes.to_vec(),
        Framing::ByteStream => {
            let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
            assert_eq!(len + 4, bytes.len(), "length prefix");
            bytes[4..].to_vec()
        }
    }
}

impl Pair {
    /// An XX session between identities 1 (initiator) and 2, not yet run.
    pub fn xx(config: Config) -> Pair {
        Pair::xx_seeded(config, 0)
    }

    /// An XX session whose ephemeral keys come from seeds shifted by `n`: another session between
    /// the same peers.
    pub fn xx_seeded(config: Config, n: u8) -> Pair {
        let now = Instant::from_micros(1_000_000);
        let a = S::connect(config, &identity(1), seed(1 + n), now).unwrap();
        let b = S::accept(config, &identity(2), seed(2 + n)).unwrap();
        Pair::new(config, a, b, now)
    }

    /// An IK session from identity 1 to identity 2, with early data.
    pub fn ik(config: Config, early: &[u8]) -> Pair {
        let now = Instant::from_micros(1_000_000);
        let a = S::connect_known(
            config,
            &identity(1),
            identity(2).peer_id(),
            seed(1),
            now,
            early,
        )
        .unwrap();
        let b = S::accept(config, &identity(2), seed(2)).unwrap();
        Pair::new(config, a, b, now)
    }

    fn new(config: Config, a: S, b: S, now: Instant) -> Pair {
        Pair {
            config,
            a,
            b,
            now,
            wire: Vec::new(),
            got_a: Received::default(),
            got_b: Received::default(),
            approve: true,
        }
    }

    /// One side's pending session frames, taken off it.
    pub fn take_transmits(&mut self, from_initiator: bool) -> Vec<Vec<u8>> {
        let now = self.now;
        let s = if from_initiator {
            &mut self.a
        } else {
            &mut self.b
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; MAX_FRAME_LEN + 4];
        while let Some(n) = s.poll_transmit(now, &mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// Hands one frame to a side (as the wire would), recording it and what it gave.
    pub fn deliver(&mut self, to_initiator: bool, frame: &[u8]) {
        let now = self.now;
        self.wire.push(WireFrame {
            from_initiator: !to_initiator,
            bytes: frame.to_vec(),
        });
        let approve = self.approve;
        let (s, got) = if to_initiator {
            (&mut self.a, &mut self.got_a)
        } else {
            (&mut self.b, &mut self.got_b)
        };
        let mut copy = frame.to_vec();
        let result = s.handle_input(now, &mut copy);
        let mut identified = false;
        match result {
            Ok(Input::Nothing) => {}
            Ok(Input::Data { stream, data, fin }) => got.data.push((stream, data.to_vec(), fin)),
            Ok(Input::PeerIdentified { early_data, .. }) => {
                got.early_data.push(early_data.to_vec());
                identified = true;
            }
            Err(e) => got.errors.push(e),
        }
        if identified && approve {
            s.approve_peer(now).unwrap();
        }
        while let Some(e) = s.poll_event() {
            got.events.push(e);
        }
    }

    /// Moves frames both ways until neither side has anything to send. `send_filter` may drop or
    /// alter frames (return None to drop).
    pub fn run_with(&mut self, mut filter: impl FnMut(bool, Vec<u8>) -> Option<Vec<u8>>) {
        for _ in 0..10_000 {
            let from_a = self.take_transmits(true);
            let from_b = self.take_transmits(false);
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for f in from_a {
                let stripped = strip_prefix(&self.config, &f);
                if let Some(f) = filter(true, stripped) {
                    self.deliver(false, &f);
                }
            }
            for f in from_b {
                let stripped = strip_prefix(&self.config, &f);
                if let Some(f) = filter(false, stripped) {
                    self.deliver(true, &f);
                }
            }
        }
        panic!("the sessions kept talking for 10,000 rounds");
    }

    pub fn run(&mut self) {
        self.run_with(|_, f| Some(f));
    }

    /// Sends application data from one side, delivering the frame at once.
    pub fn send(&mut self, from_initiator: bool, stream: StreamId, data: &[u8], fin: bool) {
        let frame = self.seal(from_initiator, stream, data, fin).unwrap();
        self.deliver(!from_initiator, &frame);
    }

    /// Seals application data from one side without delivering it (prefix stripped).
    pub fn seal(
        &mut self,
        from_initiator: bool,
        stream: StreamId,
        data: &[u8],
        fin: bool,
    ) -> Result<Vec<u8>, gofast_core::session::SendError> {
        let now = self.now;
        let config = self.config;
        let s = if from_initiator {
            &mut self.a
        } else {
            &mut self.b
        };
        let mut buf = vec![0u8; data.len() + 64];
        let n = s.send(now, stream, data, fin, &mut buf)?;
        Ok(strip_prefix(&config, &buf[..n]))
    }

    /// Advances time by `d`, firing both sides' timers that are due (in order), moving frames after each.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            self.drain_events();
            self.run();
        }
        self.now = end;
        self.a.handle_timeout(end);
        self.b.handle_timeout(end);
        self.drain_events();
        self.run();
    }

    pub fn drain_events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            self.got_a.events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.got_b.events.push(e);
        }
    }
}

/// A data frame recorded on the wire, with its clear header.
pub struct SealedFrame {
    pub from_initiator: bool,
    pub header: gofast_core::session::DataHeader,
    pub bytes: Vec<u8>,
}

impl Pair {
    /// Every data frame that crossed the wire so far.
    pub fn data_frames(&self) -> Vec<SealedFrame> {
        self.wire
            .iter()
            .filter_map(|f| {
                let header = gofast_core::session::DataHeader::decode(&f.bytes).ok()?;
                Some(SealedFrame {
                    from_initiator: f.from_initiator,
                    header,
                    bytes: f.bytes.clone(),
                })
            })
            .collect()
    }
}

/// Whether `key` opens `frame` (as an attacker holding the key would try).
pub fn opens(key: &SecretBytes<32>, frame: &SealedFrame) -> bool {
    use gofast_core::session::{AeadProvider, DATA_HEADER_LEN};
    let Some(k) = PortableAead::prepare(frame.header.cipher, key) else {
        return false;
    };
    let mut bytes = frame.bytes.clone();
    let (head, rest) = bytes.split_at_mut(DATA_HEADER_LEN);
    let (body, tag) = rest.split_at_mut(rest.len() - 16);
    let tag: [u8; 16] = (&*tag).try_into().unwrap();
    PortableAead::open(&k, &frame.header.nonce(), head, body, &tag).is_ok()
}
