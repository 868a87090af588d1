//! A device's stream kept by a real node: a device written here with the core alone (a secure session
//! over a UDP socket, as the firmware does) pushes signed stream entries and stores the head record
//! through the DHT; the node answers each push with `Have` once stored, and `read_stream` reads the
//! readings back, checked. A device the node does not accept, and a block that is not what it
//! claims, get `DontHave` and leave nothing behind.

use std::net::SocketAddr;
use std::time::Duration;

use gofast_core::block::BlockId;
use gofast_core::codec::{decode_message, encode_message};
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{Body, DhtMessage, StoreResult};
use gofast_core::exchange::ExchangeMessage;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::session::{
    CipherId, Config, Event, Input, MAX_FRAME_LEN, PortableAead, Session, StreamId,
};
use gofast_core::stream::{Entry, Head, MAX_ENTRY_BLOCK_LEN, seal_entry};
use gofast_core::time::Instant;
use gofast_node::node::{Node, NodeOptions};
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(30);

/// A device: one session to the node, one stream of its own for messages.
struct Device {
    socket: UdpSocket,
    node: SocketAddr,
    session: Session<PortableAead, 2>,
    stream: Option<StreamId>,
    started: std::time::Instant,
    next_request: u64,
}

impl Device {
    async fn connect(key: &KeyPair, node: &Node) -> Device {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let session = Session::connect_known(
            Config::small(),
            key,
            node.peer_id(),
            SecretBytes::new([9; 32]),
            Instant::from_micros(0),
            &[],
        )
        .unwrap();
        let mut d = Device {
            socket,
            node: node.local_addr(),
            session,
            stream: None,
            started: std::time::Instant::now(),
            next_request: 1,
        };
        d.flush().await;
        while !d.session.is_established() {
            assert!(
                d.recv().await.is_none(),
                "no data before the handshake ends"
            );
        }
        d.stream = Some(d.session.open_stream(CipherId::ChaCha20Poly1305).unwrap());
        d
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.started.elapsed().as_micros() as u64)
    }

    async fn flush(&mut self) {
        let mut frame = vec![0u8; MAX_FRAME_LEN];
        while let Some(n) = self.session.poll_transmit(self.now(), &mut frame) {
            self.socket.send_to(&frame[..n], self.node).await.unwrap();
        }
    }

    /// The next datagram's data for the application, if it carried any.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; MAX_FRAME_LEN];
        let (n, _) = tokio::time::timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("the node answers in time")
            .unwrap();
        let now = self.now();
        let data = match self.session.handle_input(now, &mut buf[..n]).unwrap() {
            Input::Data { data, .. } => Some(data.to_vec()),
            Input::PeerIdentified { .. } => {
                self.session.approve_peer(now).unwrap();
                None
            }
            Input::Nothing => None,
        };
        while let Some(e) = self.session.poll_event() {
            assert!(!matches!(e, Event::Closed(_)), "the session closed: {e:?}");
        }
        self.flush().await;
        data
    }

    async fn send(&mut self, msg: &[u8]) {
        let mut frame = vec![0u8; MAX_FRAME_LEN];
        let now = self.now();
        let n = self
            .session
            .send(now, self.stream.unwrap(), msg, false, &mut frame)
            .unwrap();
        self.socket.send_to(&frame[..n], self.node).await.unwrap();
    }

    /// Pushes a block and returns the node's answer: `true` for Have, `false` for DontHave.
    async fn push(&mut self, id: BlockId, data: &[u8]) -> bool {
        let mut buf = vec![0u8; 2048];
        let n = encode_message(&ExchangeMessage::Block { id, data }, &mut buf).unwrap();
        self.send(&buf[..n]).await;
        loop {
            let Some(reply) = self.recv().await else {
                continue;
            };
            // The node's own DHT requests (it pings a new contact) go unanswered here.
            let Ok(answer) = decode_message::<ExchangeMessage<'_>>(&reply) else {
                continue;
            };
            match answer {
                ExchangeMessage::Have { ids } if ids.as_slice() == [id] => return true,
                ExchangeMessage::DontHave { ids } if ids.as_slice() == [id] => return false,
                other => panic!("an answer to another push: {other:?}"),
            }
        }
    }

    /// Stores `record` at the node with a DHT Store; returns its answer.
    async fn store(&mut self, record: gofast_core::record::Record) -> StoreResult {
        let request_id = self.next_request;
        self.next_request += 1;
        let msg = DhtMessage {
            client: false,
            request_id,
            body: Body::Store { record },
        };
        let mut buf = vec![0u8; 4096];
        let n = encode_message(&msg, &mut buf).unwrap();
        self.send(&buf[..n]).await;
        loop {
            let Some(reply) = self.recv().await else {
                continue;
            };
            let Ok(answer) = decode_message::<DhtMessage>(&reply) else {
                continue;
            };
            if answer.request_id == request_id {
                match answer.body {
                    Body::Stored { result } => return result,
                    other => panic!("a Store answered with {other:?}"),
                }
            }
        }
    }
}

/// Seals entry `seq` of the device's stream "sensor".
fn entry(
    key: &KeyPair,
    seq: u64,
    prev: Option<gofast_core::block::BlockRef>,
) -> (Vec<u8>, gofast_core::block::BlockRef) {
    let reading = format!("{}.5C", 20 + seq);
    let e = Entry {
        seq,
        time_ms: seq * 1000,
        prev,
        reading: reading.as_bytes(),
    };
    let mut block = [0u8; MAX_ENTRY_BLOCK_LEN];
    let (len, r) = seal_entry(key, b"sensor", &e, &mut block).unwrap();
    (block[..len].to_vec(), r)
}

async fn node_accepting(base: &std::path::Path, devices: Vec<PeerId>) -> Node {
    let dir = base.join("node");
    Node::init(&dir).unwrap();
    let mut o = NodeOptions::new(&dir);
    o.net.accept_pushes_from = devices;
    Node::start(o).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_pushes_its_stream_and_the_node_reads_it_back_checked() {
    let base = tempfile::tempdir().unwrap();
    let device_key = KeyPair::from_seed(&SecretBytes::new([0x5e; 32]));
    let node = node_accepting(base.path(), vec![device_key.peer_id()]).await;
    let mut device = Device::connect(&device_key, &node).await;

    let mut prev = None;
    for seq in 1..=12u64 {
        let (block, r) = entry(&device_key, seq, prev.clone());
        assert!(device.push(r.id, &block).await, "entry {seq} was not kept");
        let head = Head {
            seq,
            entry: r.clone(),
        }
        .sign(&device_key, b"sensor")
        .unwrap();
        assert_ne!(device.store(head).await, StoreResult::Stale);
        prev = Some(r);
    }

    let read = tokio::time::timeout(WAIT, node.read_stream(device_key.peer_id(), "sensor", 100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.head_seq, 12);
    assert_eq!(read.missing_before, None);
    let seqs: Vec<u64> = read.readings.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert_eq!(read.readings[4].reading, b"25.5C");
    // A limit reads the newest.
    let read = node
        .read_stream(device_key.peer_id(), "sensor", 3)
        .await
        .unwrap();
    let seqs: Vec<u64> = read.readings.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![10, 11, 12]);

    // A block that does not hash to its id is refused.
    let (block, r) = entry(&device_key, 13, prev);
    let mut forged = block.clone();
    forged[10] ^= 1;
    assert!(!device.push(r.id, &forged).await);
    let stats = node.net_stats().await.unwrap();
    assert_eq!((stats.pushes_stored, stats.pushes_refused), (12, 1));

    // `gofast stream cat` over the node's control socket prints the same readings.
    let node = std::sync::Arc::new(node);
    let dir = base.path().join("node");
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let served = tokio::spawn({
        let (node, dir) = (std::sync::Arc::clone(&node), dir.clone());
        async move {
            gofast_node::control::serve(node, &dir, move || {
                let _ = ready_tx.send(());
            })
            .await
        }
    });
    tokio::time::timeout(WAIT, ready_rx).await.unwrap().unwrap();
    let device_id = device_key.peer_id().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gofast"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["stream", "cat", &device_id, "--limit", "3"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["10\t10000\t30.5C", "11\t11000\t31.5C", "12\t12000\t32.5C"]
    );
    served.abort();
    let _ = served.await;
    match std::sync::Arc::try_unwrap(node) {
        Ok(node) => node.shutdown().await.unwrap(),
        Err(_) => panic!("the control server still holds the node"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_the_node_does_not_host_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let hosted = KeyPair::from_seed(&SecretBytes::new([1; 32])).peer_id();
    let node = node_accepting(base.path(), vec![hosted]).await;
    let stranger = KeyPair::from_seed(&SecretBytes::new([2; 32]));
    let mut device = Device::connect(&stranger, &node).await;
    let (block, r) = entry(&stranger, 1, None);
    assert!(!device.push(r.id, &block).await);
    let stored = node.store_stats().await.unwrap();
    assert_eq!(stored.cache.blocks, 0, "nothing of the stranger's was kept");
    node.shutdown().await.unwrap();
}
