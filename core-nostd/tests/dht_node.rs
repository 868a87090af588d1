//! The DHT node machine in a small network with instant, lossless delivery: queries find peers,
//! records and providers; full buckets ping their oldest contact; failures, bad input and full
//! query slots behave as documented. The simulator (`gofast-tests`, `dht-sim`) measures it at scale.

use std::collections::VecDeque;

use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{
    Body, DhtConfig, DhtError, DhtEvent, DhtMessage, MAX_ADDR_LEN, MemoryRecordStore, Node,
    NodeAddress, Provider, QueryId, QueryOutcome, RecordStore, StoreConfig,
};
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::record::Record;
use gofast_core::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Addr(u32);

impl NodeAddress for Addr {
    fn to_bytes(&self) -> heapless::Vec<u8, MAX_ADDR_LEN> {
        heapless::Vec::from_slice(&self.0.to_be_bytes()).unwrap()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Addr(u32::from_be_bytes(bytes.try_into().ok()?)))
    }
}

/// k = 4 keeps buckets small enough to fill with a few dozen nodes.
type TestNode = Node<Addr, MemoryRecordStore<16>, 4, 64, 8, 2, 16, 4, 32, 8>;

struct Net {
    keys: Vec<KeyPair>,
    nodes: Vec<TestNode>,
    /// Nodes that are down: messages to them vanish.
    down: Vec<bool>,
    now: Instant,
    events: Vec<(usize, DhtEvent<Addr>)>,
    /// Every message sent: (from, to, message).
    log: Vec<(usize, usize, DhtMessage)>,
}

fn key(i: usize) -> KeyPair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    KeyPair::from_seed(&SecretBytes::new(seed))
}

impl Net {
    fn new(n: usize, config: DhtConfig) -> Net {
        let now = Instant::from_micros(0);
        let keys: Vec<KeyPair> = (0..n).map(key).collect();
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let store = MemoryRecordStore::new(k.peer_id().dht_key(), StoreConfig::default());
                TestNode::new(k.peer_id(), config, store, [i as u8; 32], now)
            })
            .collect();
        Net {
            keys,
            nodes,
            down: vec![false; n],
            now,
            events: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Every node joins through node 0, one after the other.
    fn join_all(&mut self) {
        for i in 1..self.nodes.len() {
            let p0 = self.keys[0].peer_id();
            self.nodes[i].add_contact(p0, Addr(0), self.now);
            self.nodes[i].bootstrap(self.now).unwrap();
            self.settle();
        }
        self.events.clear();
    }

    /// Delivers messages until no node has anything to send.
    fn settle(&mut self) {
        let mut queue: VecDeque<(usize, usize, DhtMessage)> = VecDeque::new();
        for _ in 0..100_000 {
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit(self.now) {
                    queue.push_back((i, t.addr.0 as usize, t.message));
                }
                while let Some(e) = self.nodes[i].poll_event() {
                    self.events.push((i, e));
                }
            }
            let Some((from, to, msg)) = queue.pop_front() else {
                return;
            };
            self.log.push((from, to, msg.clone()));
            if !self.down[to] {
                let peer = self.keys[from].peer_id();
                self.nodes[to].handle_message(self.now, peer, Addr(from as u32), &msg);
            }
        }
        panic!("the network did not settle");
    }

    /// Moves time on by `d`, firing timers.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.down[*i])
                .filter_map(|(_, n)| n.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if !self.down[i]
                            && self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now)
                        {
                            self.nodes[i].handle_timeout(self.now);
                            // Whatever was due is done: the next wake-up is later (no busy loop).
                            let next = self.nodes[i].poll_timeout();
                            assert!(
                                next.is_none_or(|t| t > self.now),
                                "node {i} due again at once"
                            );
                        }
                    }
                    self.settle();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn outcome(&mut self, node: usize, id: QueryId) -> QueryOutcome<Addr> {
        // Requests to nodes that are down end at their deadlines.
        for _ in 0..30 {
            if self.events.iter().any(|(n, e)| *n == node && e.id == id) {
                break;
            }
            self.advance(Duration::from_secs(1));
        }
        let pos = self
            .events
            .iter()
            .position(|(n, e)| *n == node && e.id == id)
            .expect("the query reported");
        self.events.remove(pos).1.outcome
    }
}

#[test]
fn queries_find_peers_records_and_providers() {
    let mut net = Net::new(40, DhtConfig::default());
    net.join_all();
    // Every node can find every other.
    for (from, to) in [(3, 17), (39, 1), (20, 38), (5, 6)] {
        let target = net.keys[to].peer_id();
        let q = net.nodes[from].find_peer(net.now, target).unwrap();
        net.settle();
        match net.outcome(from, q) {
            QueryOutcome::Peer(Some(c)) => assert_eq!((c.peer, c.addr), (target, Addr(to as u32))),
            other => panic!("{from} did not find {to}: {other:?}"),
        }
    }
    // A record put by one node is got by another, and a newer version wins.
    let owner = key(7);
    let v1 = Record::sign(&owner, b"profile", 1, b"one").unwrap();
    let q = net.nodes[7].put_record(net.now, v1.clone()).unwrap();
    net.settle();
    match net.outcome(7, q) {
        QueryOutcome::Stored {
            stored,
            refused,
            failed,
        } => {
            // The k closest over both paths, and each path's closest: between k and 2k storers.
            assert!((4..=8).contains(&stored), "stored at {stored}");
            assert_eq!((refused, failed), (0, 0));
        }
        other => panic!("{other:?}"),
    }
    let q = net.nodes[30].get_record(net.now, v1.dht_key()).unwrap();
    net.settle();
    assert_eq!(net.outcome(30, q), QueryOutcome::Record(Some(v1.clone())));
    let v2 = Record::sign(&owner, b"profile", 2, b"two").unwrap();
    let q = net.nodes[7].put_record(net.now, v2.clone()).unwrap();
    net.settle();
    net.outcome(7, q);
    // Putting the old one again is refused by every storer that holds the new one.
    let q = net.nodes[7].put_record(net.now, v1.clone()).unwrap();
    net.settle();
    match net.outcome(7, q) {
        QueryOutcome::Stored { refused, .. } => assert!(refused >= 4, "refused by {refused}"),
        other => panic!("{other:?}"),
    }
    let q = net.nodes[12].get_record(net.now, v1.dht_key()).unwrap();
    net.settle();
    assert_eq!(net.outcome(12, q), QueryOutcome::Record(Some(v2)));
    // Provider records.
    let root = [0xab; 32];
    let provider = Provider::sign(&net.keys[9], root, 3600).unwrap();
    let q = net.nodes[9]
        .add_provider(net.now, provider.clone())
        .unwrap();
    net.settle();
    match net.outcome(9, q) {
        QueryOutcome::Stored { stored, .. } => assert!(stored >= 4, "stored at {stored}"),
        other => panic!("{other:?}"),
    }
    let q = net.nodes[25].get_providers(net.now, root).unwrap();
    net.settle();
    match net.outcome(25, q) {
        QueryOutcome::Providers(found) => assert_eq!(found.as_slice(), &[provider]),
        other => panic!("{other:?}"),
    }
    // Expired provider records are not served.
    net.advance(Duration::from_secs(3601));
    let q = net.nodes[26].get_providers(net.now, root).unwrap();
    net.settle();
    assert_eq!(
        net.outcome(26, q),
        QueryOutcome::Providers(heapless::Vec::new())
    );
}

#[test]
fn a_record_outlives_its_publisher_and_half_its_storers() {
    let mut net = Net::new(40, DhtConfig::default());
    net.join_all();
    let record = Record::sign(&net.keys[3], b"s", 1, b"kept").unwrap();
    let q = net.nodes[3].put_record(net.now, record.clone()).unwrap();
    net.settle();
    net.outcome(3, q);
    // The publisher and half of the storers go down; storers republish hourly and records live two
    // hours, so after five hours only republishing can have kept it.
    net.down[3] = true;
    let key = record.dht_key();
    // The publisher holds its record too; it is down, so only the storers count.
    assert!(net.nodes[3].store().get(&key).is_some());
    let holders: Vec<usize> = (0..40)
        .filter(|&i| i != 3 && net.nodes[i].store().get(&key).is_some())
        .collect();
    assert!(
        (4..=8).contains(&holders.len()),
        "{} storers",
        holders.len()
    );
    for &h in &holders[..holders.len() / 2] {
        net.down[h] = true;
    }
    for _ in 0..5 {
        net.advance(Duration::from_secs(3600));
    }
    let q = net.nodes[20].get_record(net.now, key).unwrap();
    net.settle();
    assert_eq!(net.outcome(20, q), QueryOutcome::Record(Some(record)));
}

/// `peer` (node `from`) pings node 0, which thereby hears of it.
fn ping_node_0(net: &mut Net, peer: PeerId, from: usize, request_id: u64) {
    let now = net.now;
    net.nodes[0].handle_message(
        now,
        peer,
        Addr(from as u32),
        &DhtMessage {
            client: false,
            request_id,
            body: Body::Ping,
        },
    );
}

#[test]
fn a_full_bucket_keeps_a_live_contact_and_replaces_a_dead_one() {
    let mut net = Net::new(60, DhtConfig::default());
    net.join_all();
    // Node 0 has heard of everyone; its far bucket (0) is full with k = 4.
    let table = net.nodes[0].table();
    assert_eq!(table.bucket_len(0), 4);
    let local = net.keys[0].peer_id().dht_key();
    let in_bucket0: Vec<PeerId> = table
        .contacts()
        .filter(|c| gofast_core::dht::bucket_index(&local, &c.key) == Some(0))
        .map(|c| c.peer)
        .collect();
    let outsider = (0..60)
        .map(|i| net.keys[i].peer_id())
        .find(|p| {
            gofast_core::dht::bucket_index(&local, &p.dht_key()) == Some(0)
                && !in_bucket0.contains(p)
        })
        .expect("a bucket-0 peer not in the table");
    let from = (0..60)
        .find(|&i| net.keys[i].peer_id() == outsider)
        .unwrap();
    let pings_from_0 = |net: &Net, since: usize| {
        net.log[since..]
            .iter()
            .filter(|(f, _, m)| *f == 0 && m.body == Body::Ping)
            .count()
    };
    // Every contact was heard from just now: the newcomer waits, nobody is pinged.
    let sent_before = net.log.len();
    ping_node_0(&mut net, outsider, from, 1);
    net.settle();
    assert_eq!(
        pings_from_0(&net, sent_before),
        0,
        "recently heard contacts are not pinged"
    );
    // A quarter hour later the oldest is questionable: it is pinged, answers, and stays.
    net.advance(Duration::from_secs(16 * 60));
    let sent_before = net.log.len();
    ping_node_0(&mut net, outsider, from, 2);
    net.settle();
    assert_eq!(
        pings_from_0(&net, sent_before),
        1,
        "the oldest contact is pinged"
    );
    assert!(net.nodes[0].table().get(&outsider).is_none());
    // The oldest contact goes down: the next newcomer's ping fails and it takes the place.
    let oldest = net.nodes[0]
        .table()
        .contacts()
        .filter(|c| in_bucket0.contains(&c.peer))
        .min_by_key(|c| c.last_seen)
        .unwrap()
        .clone();
    net.down[oldest.addr.0 as usize] = true;
    net.advance(Duration::from_secs(16 * 60));
    ping_node_0(&mut net, outsider, from, 2);
    net.settle();
    net.advance(Duration::from_secs(3));
    assert!(net.nodes[0].table().get(&oldest.peer).is_none());
    assert!(net.nodes[0].table().get(&outsider).is_some());
}

#[test]
fn unasked_answers_bad_input_and_full_slots() {
    let mut net = Net::new(10, DhtConfig::default());
    net.join_all();
    let stranger = net.keys[5].peer_id();
    let before = net.nodes[0].stats().unexpected;
    net.nodes[0].handle_message(
        net.now,
        stranger,
        Addr(5),
        &DhtMessage {
            client: false,
            request_id: 77,
            body: Body::Pong,
        },
    );
    assert_eq!(net.nodes[0].stats().unexpected, before + 1);
    // Four query slots: the fifth start is refused.
    let target = net.keys[9].peer_id().dht_key();
    for _ in 0..4 {
        net.nodes[1].find_node(net.now, target).unwrap();
    }
    assert_eq!(net.nodes[1].find_node(net.now, target), Err(DhtError::Busy));
    // A peer that sends garbage fails its requests at once, not at the deadline.
    let mut n = TestNode::new(
        net.keys[0].peer_id(),
        DhtConfig::default(),
        MemoryRecordStore::new(net.keys[0].peer_id().dht_key(), StoreConfig::default()),
        [0; 32],
        net.now,
    );
    n.add_contact(stranger, Addr(5), net.now);
    let q = n.find_node(net.now, target).unwrap();
    let t = n
        .poll_transmit(net.now)
        .expect("a request to the only contact");
    assert_eq!(t.peer, stranger);
    n.handle_bad_message(net.now, &stranger);
    let e = n.poll_event().expect("the lookup ended");
    assert_eq!(e.id, q);
    assert_eq!(e.stats.failures, 1);
    assert_eq!(n.stats().bad_messages, 1);
}

/// A node asking one contact, to feed it answers by hand.
fn lonely(net: &Net, contact: usize) -> TestNode {
    let mut n = TestNode::new(
        net.keys[0].peer_id(),
        DhtConfig::default(),
        MemoryRecordStore::new(net.keys[0].peer_id().dht_key(), StoreConfig::default()),
        [0; 32],
        net.now,
    );
    n.add_contact(net.keys[contact].peer_id(), Addr(contact as u32), net.now);
    n
}

#[test]
fn lying_wrong_and_duplicate_answers() {
    let net = Net::new(6, DhtConfig::default());
    let liar = net.keys[5].peer_id();
    let wanted = Record::sign(&net.keys[1], b"wanted", 1, b"x").unwrap();
    let other = Record::sign(&net.keys[2], b"other", 9, b"y").unwrap();
    // A record of another slot is refused and counts against its sender.
    let mut n = lonely(&net, 5);
    let q = n.get_record(net.now, wanted.dht_key()).unwrap();
    let t = n.poll_transmit(net.now).unwrap();
    assert!(matches!(t.message.body, Body::FindValue { .. }));
    assert_eq!(t.query, Some(q));
    let lie = DhtMessage {
        client: false,
        request_id: t.message.request_id,
        body: Body::Value {
            record: Some(other),
            nodes: heapless::Vec::new(),
        },
    };
    n.handle_message(net.now, liar, Addr(5), &lie);
    let e = n.poll_event().expect("the get ended: its only peer lied");
    assert_eq!(e.outcome, QueryOutcome::Record(None));
    assert_eq!(e.stats.failures, 1);
    assert_eq!(n.table().get(&liar).unwrap().failures, 1);
    // The same answer again matches no request.
    n.handle_message(net.now, liar, Addr(5), &lie);
    assert_eq!(n.stats().unexpected, 1);
    // An answer of the wrong kind fails the request too.
    let mut n = lonely(&net, 5);
    n.find_node(net.now, wanted.dht_key()).unwrap();
    let t = n.poll_transmit(net.now).unwrap();
    n.handle_message(
        net.now,
        liar,
        Addr(5),
        &DhtMessage {
            client: false,
            request_id: t.message.request_id,
            body: Body::Pong,
        },
    );
    let e = n.poll_event().expect("the lookup ended");
    assert_eq!(e.stats.failures, 1);
    assert_eq!(n.table().get(&liar).unwrap().failures, 1);
    // An answer from another peer than the one asked matches nothing.
    let mut n = lonely(&net, 5);
    n.find_node(net.now, wanted.dht_key()).unwrap();
    let t = n.poll_transmit(net.now).unwrap();
    n.handle_message(
        net.now,
        net.keys[4].peer_id(),
        Addr(4),
        &DhtMessage {
            client: false,
            request_id: t.message.request_id,
            body: Body::Nodes {
                nodes: heapless::Vec::new(),
            },
        },
    );
    assert_eq!(n.stats().unexpected, 1);
    assert!(n.poll_event().is_none());
}

#[test]
fn a_get_repairs_storers_that_hold_an_older_record() {
    let mut net = Net::new(40, DhtConfig::default());
    net.join_all();
    let owner = key(7);
    let v1 = Record::sign(&owner, b"r", 1, b"one").unwrap();
    let v2 = Record::sign(&owner, b"r", 2, b"two").unwrap();
    let q = net.nodes[7].put_record(net.now, v1.clone()).unwrap();
    net.settle();
    net.outcome(7, q);
    let slot = v1.dht_key();
    let holders: Vec<usize> = (0..40)
        .filter(|&i| net.nodes[i].store().get(&slot).is_some())
        .collect();
    // Version 2 reaches one storer only (as if the put had been cut short).
    let first = holders[0];
    let peer = owner.peer_id();
    net.nodes[first].handle_message(
        net.now,
        peer,
        Addr(7),
        &DhtMessage {
            client: false,
            request_id: 99,
            body: Body::Store { record: v2.clone() },
        },
    );
    net.settle();
    let q = net.nodes[30].get_record(net.now, slot).unwrap();
    net.settle();
    assert_eq!(net.outcome(30, q), QueryOutcome::Record(Some(v2.clone())));
    net.advance(Duration::from_secs(5));
    // The nearest storers that answered with version 1 were given version 2.
    let updated = holders
        .iter()
        .filter(|&&i| net.nodes[i].store().get(&slot) == Some(&v2))
        .count();
    assert!(updated >= 2, "read repair reached {updated} storers");
}

#[test]
fn a_ping_ends_with_the_answer_or_at_its_deadline() {
    let mut net = Net::new(4, DhtConfig::default());
    net.join_all();
    let (p2, p3) = (net.keys[2].peer_id(), net.keys[3].peer_id());
    let id = net.nodes[1].ping(net.now, p2, Addr(2)).unwrap();
    net.settle();
    assert_eq!(
        net.outcome(1, id),
        QueryOutcome::Ping { answered: true },
        "a live peer answers"
    );
    // A dead peer: the ping fails at its deadline, and the contact is marked as having missed.
    net.down[3] = true;
    let id = net.nodes[1].ping(net.now, p3, Addr(3)).unwrap();
    net.settle();
    assert!(
        !net.events.iter().any(|(n, e)| *n == 1 && e.id == id),
        "no verdict before the deadline"
    );
    assert_eq!(net.outcome(1, id), QueryOutcome::Ping { answered: false });
    // A pong from another peer than the one pinged, or a wrong kind of answer, is no answer.
    let mut n = lonely(&net, 2);
    let id = n.ping(net.now, p2, Addr(2)).unwrap();
    let t = n.poll_transmit(net.now).expect("the ping leaves");
    assert_eq!((t.peer, &t.message.body), (p2, &Body::Ping));
    let request_id = t.message.request_id;
    n.handle_message(
        net.now,
        p3,
        Addr(3),
        &DhtMessage {
            client: false,
            request_id,
            body: Body::Pong,
        },
    );
    assert!(n.poll_event().is_none(), "a stranger's pong does not count");
    n.handle_message(
        net.now,
        p2,
        Addr(2),
        &DhtMessage {
            client: false,
            request_id,
            body: Body::Nodes {
                nodes: heapless::Vec::new(),
            },
        },
    );
    let e = n.poll_event().expect("the wrong answer ends it");
    assert_eq!(
        (e.id, e.outcome, e.stats.failures),
        (id, QueryOutcome::Ping { answered: false }, 1)
    );
    // As many pings as query slots wait at once; the next is refused.
    for _ in 0..4 {
        n.ping(net.now, p2, Addr(2)).unwrap();
    }
    assert_eq!(n.ping(net.now, p2, Addr(2)), Err(DhtError::Busy));
}

#[test]
fn a_client_uses_the_network_but_never_enters_a_table() {
    let mut net = Net::new(21, DhtConfig::default());
    let client = 20;
    let store =
        MemoryRecordStore::new(net.keys[client].peer_id().dht_key(), StoreConfig::default());
    let config = DhtConfig {
        client: true,
        ..DhtConfig::default()
    };
    net.nodes[client] = TestNode::new(net.keys[client].peer_id(), config, store, [7; 32], net.now);
    let pc = net.keys[client].peer_id();
    // Node 0 takes the client as a contact when its session comes up, as a std node does.
    net.nodes[0].add_contact(pc, Addr(client as u32), net.now);
    net.join_all();
    assert!(
        net.nodes[client].table().len() > 4,
        "the client has a table"
    );
    // It stores and gets records like any node.
    let record = Record::sign(&key(client), b"reading", 1, b"t=21.50C").unwrap();
    let q = net.nodes[client]
        .put_record(net.now, record.clone())
        .unwrap();
    net.settle();
    match net.outcome(client, q) {
        QueryOutcome::Stored { stored, .. } => assert!(stored >= 4, "stored at {stored}"),
        other => panic!("{other:?}"),
    }
    let q = net.nodes[5].get_record(net.now, record.dht_key()).unwrap();
    net.settle();
    assert_eq!(net.outcome(5, q), QueryOutcome::Record(Some(record)));
    // It answers a ping, and its answer does not make it a contact either.
    let q = net.nodes[0].ping(net.now, pc, Addr(client as u32)).unwrap();
    net.settle();
    assert_eq!(net.outcome(0, q), QueryOutcome::Ping { answered: true });
    // Every message it sent said it is a client, and no other node's did.
    assert!(net.log.iter().any(|(from, _, _)| *from == client));
    for (from, to, m) in &net.log {
        assert_eq!(m.client, *from == client, "{from} -> {to}: {m:?}");
    }
    // No table holds it (node 0's contact from the session was forgotten; until the client's first
    // message, node 0 named it to the nodes that joined first), so no answer names it now and no
    // lookup finds it: a client is not a peer others reach through the DHT.
    for (i, n) in net.nodes.iter().enumerate().take(client) {
        assert!(n.table().get(&pc).is_none(), "node {i} holds the client");
    }
    let mark = net.log.len();
    let q = net.nodes[5].find_peer(net.now, pc).unwrap();
    net.settle();
    assert_eq!(net.outcome(5, q), QueryOutcome::Peer(None));
    assert!(net.log.len() > mark + 4, "the lookup asked around");
    for (from, to, m) in &net.log[mark..] {
        if let Body::Nodes { nodes } = &m.body {
            assert!(
                nodes.iter().all(|n| n.peer != pc),
                "{from} -> {to} named the client"
            );
        }
    }
}
