//! Every handshake message, at the stage that receives it, as raw bytes and as a well-formed Noise
//! message around a fuzzed payload (so the payload decoders behind the encryption are reached too).
//! Also raw frames to an established session.
//!
//! Input: byte 0 picks the message and the mode, the rest is the frame or the payload.
#![no_main]

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::x25519::X25519Secret;
use gofast_core::identity::KeyPair;
use gofast_core::noise::{Blake3, HandshakeState, pattern};
use gofast_core::session::{Config, Input, PROLOGUE, PortableAead, Session};
use gofast_core::time::Instant;
use libfuzzer_sys::fuzz_target;

type S = Session<PortableAead, 4>;

fn id(n: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([n; 32]))
}

fn eph(n: u8) -> X25519Secret {
    X25519Secret::from_bytes(&SecretBytes::new([n; 32]))
}

fn now() -> Instant {
    Instant::from_micros(1)
}

fn first_frame(s: &mut S) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = s
        .poll_transmit(now(), &mut buf)
        .expect("a handshake message is due");
    buf.truncate(n);
    buf
}

/// The other side of the handshake, played with the core's Noise code directly.
fn counterpart(
    pattern: &'static gofast_core::noise::Pattern,
    initiator: bool,
    rs: Option<gofast_core::crypto::x25519::X25519Public>,
) -> HandshakeState<Blake3> {
    let (me, e) = if initiator {
        (id(1), eph(3))
    } else {
        (id(2), eph(4))
    };
    HandshakeState::<Blake3>::new(
        pattern,
        initiator,
        PROLOGUE,
        Some(me.x25519_secret()),
        e,
        rs,
    )
    .unwrap()
}

fn framed(kind: u8, hs: &mut HandshakeState<Blake3>, payload: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let n = hs.write_message(payload, &mut buf[1..]).ok()?;
    buf[0] = kind;
    buf.truncate(n + 1);
    Some(buf)
}

/// Feeds `frame` to `s`, checks the session's promises about the result, and returns what the
/// session sends in answer.
fn feed(s: &mut S, frame: &mut [u8]) -> Vec<Vec<u8>> {
    let len = frame.len();
    match s.handle_input(now(), frame) {
        Ok(Input::PeerIdentified { early_data, .. }) => {
            assert!(early_data.len() <= len);
            let _ = s.approve_peer(now());
        }
        Ok(Input::Data { data, .. }) => assert!(data.len() <= len),
        Ok(Input::Nothing) | Err(_) => {}
    }
    while s.poll_event().is_some() {}
    let mut out = vec![0u8; 1024];
    let mut sent = Vec::new();
    while let Some(n) = s.poll_transmit(now(), &mut out) {
        sent.push(out[..n].to_vec());
    }
    sent
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config = Config::default();
    let wrap = selector & 0x80 != 0;
    // The session that receives the message, the counterpart ready to write it (for the wrapped
    // mode), and the frame type.
    let (mut target, mut writer, kind) = match selector & 0x07 {
        // XX message 1 / IK message 1 to a listening responder.
        0 => (
            S::accept(config, &id(2), SecretBytes::new([9; 32])).unwrap(),
            counterpart(&pattern::XX, true, None),
            0x01,
        ),
        3 => (
            S::accept(config, &id(2), SecretBytes::new([9; 32])).unwrap(),
            counterpart(&pattern::IK, true, Some(id(2).peer_id().x25519_public())),
            0x04,
        ),
        // XX message 2 / IK message 2 to an initiator, after its message 1.
        1 | 4 => {
            let ik = selector & 0x07 == 4;
            let mut init = if ik {
                S::connect_known(
                    config,
                    &id(1),
                    id(2).peer_id(),
                    SecretBytes::new([8; 32]),
                    now(),
                    b"",
                )
            } else {
                S::connect(config, &id(1), SecretBytes::new([8; 32]), now())
            }
            .unwrap();
            let mut m1 = first_frame(&mut init);
            let mut hs = counterpart(if ik { &pattern::IK } else { &pattern::XX }, false, None);
            hs.read_message(&mut m1[1..]).unwrap();
            (init, hs, if ik { 0x05 } else { 0x02 })
        }
        // XX message 3 to a responder, after a valid message 1 and its answer.
        2 => {
            let mut resp = S::accept(config, &id(2), SecretBytes::new([9; 32])).unwrap();
            let mut hs = counterpart(&pattern::XX, true, None);
            // Hello: version 1, ChaCha only, 4 streams, window 4, 1 KiB frames.
            let mut m1 = framed(0x01, &mut hs, &[1, 1, 4, 0, 4, 0, 0, 4, 0, 0]).unwrap();
            let Some(mut m2) = feed(&mut resp, &mut m1).into_iter().next() else {
                panic!("the responder answers a valid message 1");
            };
            hs.read_message(&mut m2[1..]).unwrap();
            (resp, hs, 0x03)
        }
        // Raw frames to an established responder.
        _ => {
            let mut init = S::connect(config, &id(1), SecretBytes::new([8; 32]), now()).unwrap();
            let mut resp = S::accept(config, &id(2), SecretBytes::new([9; 32])).unwrap();
            // Ping-pong until both sides fall silent.
            let mut to_resp = vec![first_frame(&mut init)];
            for _ in 0..8 {
                let mut to_init = Vec::new();
                for mut f in to_resp.drain(..) {
                    to_init.extend(feed(&mut resp, &mut f));
                }
                for mut f in to_init {
                    to_resp.extend(feed(&mut init, &mut f));
                }
            }
            assert!(resp.is_established());
            feed(&mut resp, &mut rest.to_vec());
            return;
        }
    };
    let mut frame = if wrap {
        let Some(f) = framed(kind, &mut writer, rest) else {
            return;
        };
        f
    } else {
        rest.to_vec()
    };
    feed(&mut target, &mut frame);
});
