//! 1,000 TCP connections of random bytes at a node's exchange port: each is dropped, the node keeps
//! running, and a real fetch from it afterwards works.

mod support;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_connections_leave_the_node_serving() {
    let base = tempfile::tempdir().unwrap();
    let a = support::start_node(base.path(), "a", vec![]).await;
    let target = a.local_addr();
    let added = a.add_bytes("data", vec![7u8; 1 << 20]).await.unwrap();

    let mut state = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for batch in 0..20 {
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let len = (next() % 4000) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Some start like a frame: a length prefix, then a frame type the session knows.
            if i % 2 == 0 && bytes.len() > 5 {
                bytes[..4].copy_from_slice(&((len as u32) - 4).to_be_bytes());
                bytes[4] = [0x01, 0x04, 0x10][(i / 2 % 3) as usize];
            }
            tasks.push(tokio::spawn(async move {
                let Ok(mut s) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
                // The node closes it: reading ends (EOF or reset), it does not hang.
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut sink)).await;
            }));
        }
        for t in tasks {
            tokio::time::timeout(WAIT, t)
                .await
                .unwrap_or_else(|_| panic!("a garbage connection hung (batch {batch})"))
                .unwrap();
        }
    }

    // A real peer still fetches from it.
    let entry = support::entry(&a);
    let b = support::start_node(base.path(), "b", vec![entry]).await;
    b.net().add_peer(entry).await.unwrap();
    let got = tokio::time::timeout(WAIT, b.get_bytes(&added.root, "data", 1 << 20))
        .await
        .expect("the fetch finishes")
        .expect("the fetch succeeds");
    assert_eq!(got, vec![7u8; 1 << 20]);
}
