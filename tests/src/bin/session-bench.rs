//! Secure-session throughput and handshake rate, against the raw AEADs measured in the same run.
//!
//! `cargo run --release -p gofast-tests --bin session-bench [-- --quick] [--rounds N]`
//!
//! Prints `name=value` lines and `session-bench: ok` at the end. For each provider (`ring`, the std
//! node's; `portable`, the core's RustCrypto one), cipher and frame size (16 and 64 KiB):
//! - `raw_<provider>_<cipher>_<size>_mb_s`: the AEAD alone sealing and then opening the payload in
//!   place with 18 bytes of associated data, as a session frame has;
//! - `session_<provider>_<cipher>_<size>_mb_s`: one session sealing a frame in place
//!   (`send_in_place`) and its peer opening it (`handle_input`), with credit updates flowing back;
//! - `..._ratio`: session / raw (goal ≥ 0.9).
//!
//! And `handshake_xx_per_s`, `handshake_ik_per_s`: complete handshakes (both sides' work, one core).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant as WallClock;

use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use gofast_core::session::{
    AeadProvider, CipherId, Config, Input, MAX_FRAME_LEN, PortableAead, Session,
};
use gofast_core::time::Instant;
use gofast_node::aead::RingAead;
use gofast_tests::measure::{AlignedBuf, BenchOptions, Case, throughput};

fn identity(n: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([n; 32]))
}

fn bench_config() -> Config {
    Config {
        max_frame_payload: 65536,
        stream_window: 1024,
        // Rekeys would happen in a long run; keep them, at the default frame bound.
        ..Config::default()
    }
}

type Pair<P> = (Session<P, 4>, Session<P, 4>);

/// Moves session frames both ways until both sides are quiet, approving peers.
fn pump<P: AeadProvider>(
    a: &mut Session<P, 4>,
    b: &mut Session<P, 4>,
    now: Instant,
    buf: &mut [u8],
) {
    loop {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, buf) {
            moved = true;
            if let Ok(Input::PeerIdentified { .. }) = b.handle_input(now, &mut buf[..n]) {
                b.approve_peer(now).expect("approve");
            }
        }
        while let Some(n) = b.poll_transmit(now, buf) {
            moved = true;
            if let Ok(Input::PeerIdentified { .. }) = a.handle_input(now, &mut buf[..n]) {
                a.approve_peer(now).expect("approve");
            }
        }
        while a.poll_event().is_some() || b.poll_event().is_some() {}
        if !moved {
            return;
        }
    }
}

fn established<P: AeadProvider>(seed: u8) -> Pair<P> {
    let now = Instant::from_micros(1);
    let mut a = Session::<P, 4>::connect(
        bench_config(),
        &identity(1),
        SecretBytes::new([seed; 32]),
        now,
    )
    .expect("connect");
    let mut b = Session::<P, 4>::accept(
        bench_config(),
        &identity(2),
        SecretBytes::new([seed ^ 0xff; 32]),
    )
    .expect("accept");
    let mut buf = vec![0u8; MAX_FRAME_LEN + 4];
    pump(&mut a, &mut b, now, &mut buf);
    assert!(a.is_established() && b.is_established());
    (a, b)
}

/// The raw AEAD and the session carrying it, as two cases over the same frame size.
fn cases_for<'a, P: AeadProvider + 'static>(
    provider: &'static str,
    cipher: CipherId,
    size: usize,
    bufs: &'a mut [AlignedBuf; 2],
) -> Vec<Case<'a>> {
    let key = P::prepare(cipher, &SecretBytes::new([5; 32])).expect("provider has the cipher");
    let (raw_buf, session_buf) = bufs.split_at_mut(1);
    let raw = raw_buf[0].as_mut_slice();
    let frame = session_buf[0].as_mut_slice();
    let (mut a, mut b) = established::<P>(7);
    let stream = a.open_stream(cipher).expect("stream");
    let mut control = vec![0u8; 2048];
    let now = Instant::from_micros(2);
    let name = |kind: &str| -> &'static str {
        let cipher = match cipher {
            CipherId::ChaCha20Poly1305 => "chacha20poly1305",
            CipherId::Aes256Gcm => "aes256gcm",
        };
        Box::leak(format!("{kind}_{provider}_{cipher}_{}k", size / 1024).into_boxed_str())
    };
    vec![
        Case {
            name: name("raw"),
            bytes: size,
            run: Box::new(move || {
                let body = &mut raw[18..18 + size];
                let (aad, _) = [0u8; 18].split_at(18);
                let tag = P::seal(&key, &[0; 12], aad, body).expect("seal");
                P::open(&key, &[0; 12], aad, body, &tag).expect("open");
                black_box(&body[0]);
            }),
        },
        Case {
            name: name("session"),
            bytes: size,
            run: Box::new(move || {
                let n = match a.send_in_place(now, stream, frame, size, false) {
                    Ok(n) => n,
                    Err(_) => {
                        // Out of credit or waiting for a rekey: let the control frames flow.
                        pump(&mut a, &mut b, now, &mut control);
                        a.send_in_place(now, stream, frame, size, false)
                            .expect("send after pump")
                    }
                };
                match b.handle_input(now, &mut frame[..n]) {
                    Ok(Input::Data { data, .. }) => {
                        black_box(data.len());
                    }
                    other => panic!("unexpected {other:?}"),
                }
                while b.poll_event().is_some() {}
            }),
        },
    ]
}

fn handshakes_per_second(count: usize, ik: bool) -> f64 {
    let ids = (identity(1), identity(2));
    let mut buf = vec![0u8; 2048];
    let start = WallClock::now();
    for i in 0..count {
        let now = Instant::from_micros(1);
        let seed = SecretBytes::new([(i % 251) as u8; 32]);
        let mut a = if ik {
            Session::<RingAead, 4>::connect_known(
                bench_config(),
                &ids.0,
                ids.1.peer_id(),
                seed,
                now,
                b"",
            )
        } else {
            Session::<RingAead, 4>::connect(bench_config(), &ids.0, seed, now)
        }
        .expect("connect");
        let mut b =
            Session::<RingAead, 4>::accept(bench_config(), &ids.1, SecretBytes::new([9; 32]))
                .expect("accept");
        pump(&mut a, &mut b, now, &mut buf);
        assert!(a.is_established() && b.is_established());
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() -> ExitCode {
    let opts = match BenchOptions::parse("session-bench", std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("session-bench: {e}");
            return ExitCode::from(2);
        }
    };
    println!("rounds={}", opts.rounds);
    let handshakes = if opts.quick { 50 } else { 2000 };
    let mut worst = f64::INFINITY;
    for size in [16_384usize, 65_536] {
        for cipher in CipherId::ALL {
            let mut ring_bufs = [
                AlignedBuf::zeroed(MAX_FRAME_LEN + 64),
                AlignedBuf::zeroed(MAX_FRAME_LEN + 64),
            ];
            let mut portable_bufs = [
                AlignedBuf::zeroed(MAX_FRAME_LEN + 64),
                AlignedBuf::zeroed(MAX_FRAME_LEN + 64),
            ];
            let mut cases = cases_for::<RingAead>("ring", cipher, size, &mut ring_bufs);
            cases.extend(cases_for::<PortableAead>(
                "portable",
                cipher,
                size,
                &mut portable_bufs,
            ));
            let figures = throughput(&mut cases, opts.rounds, opts.bytes_per_round);
            for (name, v) in &figures {
                println!("{name}_mb_s={v:.0}");
            }
            for pair in figures.chunks(2) {
                let [(_, raw), (session_name, session)] = pair else {
                    continue;
                };
                let ratio = session / raw;
                worst = worst.min(ratio);
                println!("{session_name}_ratio={ratio:.2}");
            }
        }
    }
    println!("session_worst_ratio={worst:.2}");
    println!(
        "handshake_xx_per_s={:.0}",
        handshakes_per_second(handshakes, false)
    );
    println!(
        "handshake_ik_per_s={:.0}",
        handshakes_per_second(handshakes, true)
    );
    println!("session-bench: ok");
    ExitCode::SUCCESS
}
