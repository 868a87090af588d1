//! A seeded lossy network between two sessions over datagrams: loss, duplication, reordering and
//! delay, across many rekeys. Nothing is delivered twice or altered, the sessions never wedge, and
//! once the network heals they agree on the epoch and carry data again.
//!
//! Reproduce a failure with `GOFAST_SEED=<seed> cargo test -p gofast-core --test session_chaos`.

mod support;

use std::collections::HashSet;

use gofast_core::session::{CipherId, Config, Event};
use gofast_core::time::{Duration, Instant};
use support::Pair;

/// SplitMix64: a small seeded generator for the network's choices.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct InFlight {
    at: Instant,
    to_initiator: bool,
    bytes: Vec<u8>,
}

fn run(seed: u64) {
    let mut rng = Rng(seed);
    let config = Config {
        rekey_interval: Duration::from_secs(2),
        key_grace: Duration::from_millis(500),
        rekey_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(60),
        ..Config::default()
    };
    let mut p = Pair::xx(config);
    let mut net: Vec<InFlight> = Vec::new();
    let mut streams: Vec<u32> = Vec::new();
    let mut sent: HashSet<Vec<u8>> = HashSet::new();
    let mut serial = 0u64;

    for _ in 0..4000 {
        p.now += Duration::from_millis(rng.next() % 20);
        let now = p.now;
        p.a.handle_timeout(now);
        p.b.handle_timeout(now);
        p.drain_events();

        // The application: open streams and send numbered messages when it can.
        if p.a.is_established() && p.b.is_established() && rng.chance(30) {
            let from_a = rng.chance(50);
            let target = if streams.len() < 4 && rng.chance(5) {
                let s = if from_a { &mut p.a } else { &mut p.b };
                // A new stream; the opener's first frame announces it.
                s.open_stream(CipherId::ChaCha20Poly1305).ok().map(|id| {
                    streams.push(id);
                    (id, format!("open {id}"))
                })
            } else if streams.is_empty() {
                None
            } else {
                let id = streams[(rng.next() % streams.len() as u64) as usize];
                serial += 1;
                Some((id, format!("msg {serial} on {id}")))
            };
            if let Some((id, msg)) = target
                && let Ok(f) = p.seal(from_a, id, msg.as_bytes(), false)
            {
                sent.insert(msg.into_bytes());
                net.push(InFlight {
                    at: now,
                    to_initiator: !from_a,
                    bytes: f,
                });
            }
        }
        // The sessions' own frames.
        for from_a in [true, false] {
            for f in p.take_transmits(from_a) {
                net.push(InFlight {
                    at: now,
                    to_initiator: !from_a,
                    bytes: f,
                });
            }
        }
        // The network: 10 % loss, 5 % duplication, up to 300 ms of jitter (so reordering).
        let mut arriving = Vec::new();
        let mut staying = Vec::new();
        for mut f in net.drain(..) {
            if f.at > now {
                staying.push(f);
                continue;
            }
            if f.at == now {
                if rng.chance(10) {
                    continue;
                }
                if rng.chance(5) {
                    staying.push(InFlight {
                        at: now + Duration::from_millis(rng.next() % 300),
                        to_initiator: f.to_initiator,
                        bytes: f.bytes.clone(),
                    });
                }
                f.at = now + Duration::from_millis(rng.next() % 300);
                staying.push(f);
                continue;
            }
            arriving.push(f);
        }
        net = staying;
        for f in arriving {
            p.deliver(f.to_initiator, &f.bytes);
        }
    }

    // Every delivered message was sent, and none twice.
    let mut delivered = HashSet::new();
    for (_, data, _) in p.got_a.data.iter().chain(&p.got_b.data) {
        assert!(
            sent.contains(data),
            "seed {seed}: delivered bytes nobody sent"
        );
        assert!(
            delivered.insert(data.clone()),
            "seed {seed}: delivered twice"
        );
    }
    assert!(!delivered.is_empty(), "seed {seed}: nothing got through");
    for e in p.got_a.events.iter().chain(&p.got_b.events) {
        assert!(!matches!(e, Event::Closed(_)), "seed {seed}: closed: {e:?}");
    }

    // The network heals: the sessions settle, agree on the epoch, and still carry data.
    for f in net.drain(..) {
        p.deliver(f.to_initiator, &f.bytes);
    }
    p.run();
    p.advance(Duration::from_secs(5));
    assert!(p.a.is_established() && p.b.is_established(), "seed {seed}");
    assert_eq!(p.a.send_epoch(), p.b.send_epoch(), "seed {seed}");
    assert!(
        p.a.send_epoch().unwrap() >= 5,
        "seed {seed}: too few rekeys"
    );
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    p.send(true, s, b"after the storm", false);
    assert_eq!(
        p.got_b.data.last().unwrap().1,
        b"after the storm",
        "seed {seed}"
    );
}

#[test]
fn lossy_network_with_rekeys() {
    let seeds: Vec<u64> = match std::env::var("GOFAST_SEED") {
        Ok(s) => vec![s.parse().expect("GOFAST_SEED is a u64")],
        Err(_) => (1..=8).collect(),
    };
    for seed in seeds {
        let result = std::panic::catch_unwind(|| run(seed));
        if let Err(e) = result {
            eprintln!(
                "session_chaos failed with seed {seed}; reproduce with \
                 GOFAST_SEED={seed} cargo test -p gofast-core --test session_chaos"
            );
            std::panic::resume_unwind(e);
        }
    }
}
