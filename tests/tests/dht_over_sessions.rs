//! The DHT carried by real secure sessions: every DHT message between two nodes is encoded with the
//! codec and sealed on a session stream (IK to the peer's `PeerId`, the first request as early data),
//! and what a node hears comes only out of its sessions, with the sender the handshake proved. A
//! small network joins, puts, gets and finds peers this way. (The simulator models this layer's
//! guarantee and bytes to reach 10,000 nodes; this test runs the layer itself.)

use std::collections::{HashMap, VecDeque};

use gofast_core::codec::{decode_message, encode_message};
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{
    DhtConfig, DhtMessage, MAX_ADDR_LEN, MAX_DHT_MESSAGE_LEN, MemoryRecordStore, Node, NodeAddress,
    QueryId, QueryOutcome, StoreConfig,
};
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::record::Record;
use gofast_core::session::{Config, Input, MAX_FRAME_LEN, Session, StreamId};
use gofast_core::time::Instant;
use gofast_node::aead::RingAead;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Addr(u32);

impl NodeAddress for Addr {
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN> {
        heapless::Vec::from_slice(&self.0.to_be_bytes()).expect("4 bytes fit")
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Addr(u32::from_be_bytes(bytes.try_into().ok()?)))
    }
}

type DhtNode = Node<Addr, MemoryRecordStore<16>, 8, 64, 8, 4, 24, 4, 32, 8>;

/// Early data of IK's first message is at most 256 bytes.
const MAX_EARLY_DATA: usize = 256;

struct Link {
    session: Session<RingAead, 4>,
    stream: Option<StreamId>,
    /// DHT messages waiting for the handshake to finish.
    waiting: Vec<Vec<u8>>,
}

struct Peer {
    key: KeyPair,
    node: DhtNode,
    links: HashMap<usize, Link>,
}

struct Net {
    peers: Vec<Peer>,
    wire: VecDeque<(usize, usize, Vec<u8>)>,
    now: Instant,
    handshakes: usize,
    dht_messages: usize,
    seeds: u64,
}

impl Net {
    fn new(n: usize) -> Net {
        let now = Instant::from_micros(1);
        let peers = (0..n)
            .map(|i| {
                let key = KeyPair::from_seed(&SecretBytes::new([i as u8 + 1; 32]));
                let store = MemoryRecordStore::new(key.peer_id().dht_key(), StoreConfig::default());
                let node = DhtNode::new(
                    key.peer_id(),
                    DhtConfig::default(),
                    store,
                    [i as u8; 32],
                    now,
                );
                Peer {
                    key,
                    node,
                    links: HashMap::new(),
                }
            })
            .collect();
        Net {
            peers,
            wire: VecDeque::new(),
            now,
            handshakes: 0,
            dht_messages: 0,
            seeds: 0,
        }
    }

    fn seed(&mut self) -> SecretBytes<32> {
        self.seeds += 1;
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&self.seeds.to_le_bytes());
        SecretBytes::new(s)
    }

    /// Sends node `i`'s DHT messages through its sessions, starting sessions as needed.
    fn send_from(&mut self, i: usize) {
        while let Some(t) = self.peers[i].node.poll_transmit(self.now) {
            let to = t.addr.0 as usize;
            assert_eq!(
                t.peer,
                self.peers[to].key.peer_id(),
                "addresses match identities"
            );
            let mut buf = vec![0u8; MAX_DHT_MESSAGE_LEN + 2];
            let n = encode_message(&t.message, &mut buf).expect("a DHT message fits its bound");
            buf.truncate(n);
            if !self.peers[i].links.contains_key(&to) {
                // First contact: IK to the peer's identity, the request as early data if it fits.
                let early = if n <= MAX_EARLY_DATA {
                    buf.clone()
                } else {
                    Vec::new()
                };
                let seed = self.seed();
                let session = Session::connect_known(
                    Config::default(),
                    &self.peers[i].key,
                    t.peer,
                    seed,
                    self.now,
                    &early,
                )
                .expect("connect");
                self.handshakes += 1;
                let waiting = if early.is_empty() {
                    vec![buf]
                } else {
                    Vec::new()
                };
                self.peers[i].links.insert(
                    to,
                    Link {
                        session,
                        stream: None,
                        waiting,
                    },
                );
            } else {
                self.peers[i]
                    .links
                    .get_mut(&to)
                    .expect("link")
                    .waiting
                    .push(buf);
            }
            self.dht_messages += 1;
            self.flush(i, to);
        }
    }

    /// Moves whatever the session from `i` to `to` has to send onto the wire.
    fn flush(&mut self, i: usize, to: usize) {
        let now = self.now;
        let link = self.peers[i].links.get_mut(&to).expect("link");
        let mut frame = vec![0u8; MAX_FRAME_LEN];
        while let Some(n) = link.session.poll_transmit(now, &mut frame) {
            self.wire.push_back((i, to, frame[..n].to_vec()));
        }
        if link.session.is_established() && !link.waiting.is_empty() {
            let stream = match link.stream {
                Some(s) => s,
                None => {
                    let s = link
                        .session
                        .open_stream(gofast_core::session::CipherId::ChaCha20Poly1305)
                        .expect("a stream");
                    link.stream = Some(s);
                    s
                }
            };
            for msg in std::mem::take(&mut link.waiting) {
                let n = link
                    .session
                    .send(now, stream, &msg, false, &mut frame)
                    .expect("send");
                self.wire.push_back((i, to, frame[..n].to_vec()));
            }
        }
        while link.session.poll_event().is_some() {}
    }

    /// Delivers frames until the wire is empty.
    fn settle(&mut self) {
        for i in 0..self.peers.len() {
            self.send_from(i);
        }
        let mut steps = 0;
        while let Some((from, to, mut frame)) = self.wire.pop_front() {
            steps += 1;
            assert!(steps < 2_000_000, "the network did not settle");
            let now = self.now;
            if !self.peers[to].links.contains_key(&from) {
                let seed = self.seed();
                let session =
                    Session::accept(Config::default(), &self.peers[to].key, seed).expect("accept");
                self.peers[to].links.insert(
                    from,
                    Link {
                        session,
                        stream: None,
                        waiting: Vec::new(),
                    },
                );
            }
            let expected = self.peers[from].key.peer_id();
            let link = self.peers[to].links.get_mut(&from).expect("link");
            let mut delivered: Vec<Vec<u8>> = Vec::new();
            let mut identified = None;
            match link.session.handle_input(now, &mut frame) {
                Ok(Input::PeerIdentified { peer, early_data }) => {
                    identified = Some(peer);
                    if !early_data.is_empty() {
                        delivered.push(early_data.to_vec());
                    }
                }
                Ok(Input::Data { data, .. }) => delivered.push(data.to_vec()),
                Ok(Input::Nothing) => {}
                Err(e) => panic!("session from {from} to {to} refused a frame: {e:?}"),
            }
            if let Some(peer) = identified {
                assert_eq!(peer, expected, "the handshake proves the sender");
                link.session.approve_peer(now).expect("approve");
            }
            // The sender is the identity the session proved, never a claim inside the message.
            let sender: PeerId = link.session.peer().expect("an identified session");
            for bytes in delivered {
                let msg: DhtMessage = decode_message(&bytes).expect("a DHT message");
                self.peers[to]
                    .node
                    .handle_message(now, sender, Addr(from as u32), &msg);
            }
            self.flush(to, from);
            self.send_from(to);
        }
    }

    fn outcome(&mut self, node: usize, id: QueryId) -> QueryOutcome<Addr> {
        let e = self.peers[node].node.poll_event().expect("the query ended");
        assert_eq!(e.id, id);
        e.outcome
    }
}

#[test]
fn a_network_joins_puts_gets_and_finds_peers_over_sessions() {
    let mut net = Net::new(16);
    for i in 1..16 {
        let (p0, now) = (net.peers[0].key.peer_id(), net.now);
        net.peers[i].node.add_contact(p0, Addr(0), now);
        let q = net.peers[i].node.bootstrap(now).unwrap();
        net.settle();
        assert!(matches!(net.outcome(i, q), QueryOutcome::Closest(c) if !c.is_empty()));
    }
    let owner = KeyPair::from_seed(&SecretBytes::new([4; 32]));
    let record = Record::sign(&owner, b"over sessions", 1, b"sealed all the way").unwrap();
    let now = net.now;
    let q = net.peers[3].node.put_record(now, record.clone()).unwrap();
    net.settle();
    assert!(matches!(net.outcome(3, q), QueryOutcome::Stored { stored, .. } if stored >= 8));
    let q = net.peers[12]
        .node
        .get_record(now, record.dht_key())
        .unwrap();
    net.settle();
    assert_eq!(net.outcome(12, q), QueryOutcome::Record(Some(record)));
    let target = net.peers[9].key.peer_id();
    let q = net.peers[14].node.find_peer(now, target).unwrap();
    net.settle();
    assert!(
        matches!(net.outcome(14, q), QueryOutcome::Peer(Some(c)) if c.peer == target && c.addr == Addr(9))
    );
    // One IK handshake per pair of nodes that talked, and many messages per session.
    let pairs = net.peers.iter().map(|p| p.links.len()).sum::<usize>() / 2;
    assert_eq!(net.handshakes, pairs, "each pair set up one session");
    assert!(
        net.dht_messages > 4 * pairs,
        "{} messages over {pairs} sessions",
        net.dht_messages
    );
}
