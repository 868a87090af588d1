//! A peer that asks for blocks and never takes them: it completes the handshake, sends thousands of
//! wants, then reads the node's frames without processing them, so it never gives stream credit
//! back. The node must not hold the answers without bound: it closes the connection once they pass
//! its limit (32 MiB), and keeps serving others.

mod support;

use std::time::Duration;

use gofast_core::codec::encode_message;
use gofast_core::crypto::SecretBytes;
use gofast_core::exchange::{ExchangeMessage, MAX_IDS};
use gofast_core::identity::KeyPair;
use gofast_core::session::{
    CipherId, Config, Deframer, Framing, Input, LENGTH_PREFIX_LEN, MAX_FRAME_LEN,
    MAX_FRAME_PAYLOAD, PortableAead, Session,
};
use gofast_core::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);
/// How long the node has to close the connection. Its session would end it too, but only when the
/// peer's missing acknowledgements time out (about 45 s, measured), holding every answer till then;
/// the bound closes it as soon as the answers pass 32 MiB (well under a second here).
const WAIT_CLOSE: Duration = Duration::from_secs(20);
/// One block of 4,000 bytes (under the chunker's minimum, so the file is a single leaf, its root).
const BLOCK: usize = 4000;
/// Wants for it: 40 MB of answers, past the node's 32 MiB bound.
const WANT_MESSAGES: usize = 160;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_takes_nothing_is_cut_off() {
    let base = tempfile::tempdir().unwrap();
    let a = support::start_node(base.path(), "a", vec![]).await;
    let added = a.add_bytes("one", vec![9u8; BLOCK]).await.unwrap();

    let start = tokio::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as u64 + 1);
    let config = Config {
        max_frame_payload: MAX_FRAME_PAYLOAD as u32,
        ..Config::default().with_framing(Framing::ByteStream)
    };
    let me = KeyPair::from_seed(&SecretBytes::new([0x3c; 32]));
    let mut session: Session<PortableAead, 4> = Session::connect_known(
        config,
        &me,
        a.peer_id(),
        SecretBytes::new([5; 32]),
        now(),
        &[],
    )
    .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(a.local_addr())
        .await
        .unwrap();
    let mut frame = vec![0u8; MAX_FRAME_LEN + LENGTH_PREFIX_LEN];
    let mut deframer = Deframer::new(vec![0u8; MAX_FRAME_LEN + LENGTH_PREFIX_LEN]);
    let mut rbuf = vec![0u8; 64 * 1024];

    // The handshake.
    while !session.is_established() {
        while let Some(n) = session.poll_transmit(now(), &mut frame) {
            tcp.write_all(&frame[..n]).await.unwrap();
        }
        let n = tokio::time::timeout(WAIT, tcp.read(&mut rbuf))
            .await
            .expect("the node answers the handshake")
            .unwrap();
        assert!(n > 0, "the node closed during the handshake");
        let mut fed = &rbuf[..n];
        while !fed.is_empty() {
            let took = deframer.push(fed);
            fed = &fed[took..];
            while let Some(f) = deframer.next_frame().unwrap() {
                if let Ok(Input::PeerIdentified { .. }) = session.handle_input(now(), f) {
                    session.approve_peer(now()).unwrap();
                }
            }
        }
    }
    while let Some(n) = session.poll_transmit(now(), &mut frame) {
        tcp.write_all(&frame[..n]).await.unwrap();
    }

    // The wants: each message is the same id MAX_IDS times, behind its 4-byte length.
    let stream = session.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    let ids: heapless::Vec<_, MAX_IDS> = (0..MAX_IDS).map(|_| added.root.id).collect();
    let mut msg = vec![0u8; 4 + 4096];
    let len = encode_message(&ExchangeMessage::Want { ids }, &mut msg[4..]).unwrap();
    msg.truncate(4 + len);
    msg[..4].copy_from_slice(&(len as u32).to_le_bytes());
    for _ in 0..WANT_MESSAGES {
        let n = session
            .send(now(), stream, &msg, false, &mut frame)
            .unwrap();
        tcp.write_all(&frame[..n]).await.unwrap();
    }

    // Read without processing (no credit ever goes back) until the node closes the connection.
    let closed = tokio::time::timeout(WAIT_CLOSE, async {
        loop {
            match tcp.read(&mut rbuf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the node kept the connection of a peer that takes nothing"
    );

    // It still serves a real peer.
    let entry = support::entry(&a);
    let b = support::start_node(base.path(), "b", vec![entry]).await;
    b.net().add_peer(entry).await.unwrap();
    let got = tokio::time::timeout(WAIT, b.get_bytes(&added.root, "one", 1 << 20))
        .await
        .expect("the fetch finishes")
        .unwrap();
    assert_eq!(got, vec![9u8; BLOCK]);
}
