//! Handshakes between the core's Noise code and the `snow` crate, both ways, for XX and IK with
//! BLAKE2s (a suite both implement; snow has no BLAKE3): same handshake hash, payloads and
//! transport messages in both directions.

mod support;

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::x25519::{X25519Public, X25519Secret};
use gofast_core::noise::{CipherState, HandshakeState, Pattern, pattern};
use support::hashes::Blake2s;

const PROLOGUE: &[u8] = b"interop";

fn key(n: u8) -> X25519Secret {
    X25519Secret::from_bytes(&SecretBytes::new([n; 32]))
}

enum Side {
    Core(Box<HandshakeState<Blake2s>>),
    Snow(Box<snow::HandshakeState>),
}

impl Side {
    fn write(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let n = match self {
            Side::Core(h) => h.write_message(payload, &mut buf).unwrap(),
            Side::Snow(h) => h.write_message(payload, &mut buf).unwrap(),
        };
        buf.truncate(n);
        buf
    }

    fn read(&mut self, msg: &[u8]) -> Vec<u8> {
        match self {
            Side::Core(h) => {
                let mut m = msg.to_vec();
                let r = h.read_message(&mut m).unwrap();
                m[r].to_vec()
            }
            Side::Snow(h) => {
                let mut out = vec![0u8; 1024];
                let n = h.read_message(msg, &mut out).unwrap();
                out.truncate(n);
                out
            }
        }
    }

    fn hash(&self) -> Vec<u8> {
        match self {
            Side::Core(h) => h.handshake_hash().to_vec(),
            Side::Snow(h) => h.get_handshake_hash().to_vec(),
        }
    }
}

fn core_side(p: &'static Pattern, initiator: bool, s: u8, rs: Option<u8>) -> Side {
    Side::Core(Box::new(
        HandshakeState::new(
            p,
            initiator,
            PROLOGUE,
            Some(key(s)),
            key(s.wrapping_add(50)),
            rs.map(|r| key(r).public_key()),
        )
        .unwrap(),
    ))
}

fn snow_side(name: &str, initiator: bool, s: u8, rs: Option<u8>) -> Side {
    let secret = [s; 32];
    let remote: Option<X25519Public> = rs.map(|r| key(r).public_key());
    let mut b = snow::Builder::new(name.parse().unwrap())
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(&secret)
        .unwrap();
    if let Some(r) = &remote {
        b = b.remote_public_key(&r.0).unwrap();
    }
    Side::Snow(Box::new(if initiator {
        b.build_initiator().unwrap()
    } else {
        b.build_responder().unwrap()
    }))
}

/// Runs the handshake and three transport messages each way between `init` and `resp`.
fn exchange(mut init: Side, mut resp: Side, messages: usize, label: &str) {
    for i in 0..messages {
        let payload = format!("{label} handshake payload {i}").into_bytes();
        let (w, r) = if i % 2 == 0 {
            (&mut init, &mut resp)
        } else {
            (&mut resp, &mut init)
        };
        let msg = w.write(&payload);
        assert_eq!(r.read(&msg), payload, "{label}: message {i}");
    }
    assert_eq!(init.hash(), resp.hash(), "{label}: handshake hash");

    // Transport: the core side's split keys against snow's transport state.
    let (mut core_send, mut core_recv, mut snow_t, core_is_init) = match (init, resp) {
        (Side::Core(c), Side::Snow(s)) => {
            let k = c.split().unwrap();
            (
                CipherState::new(k.initiator_to_responder),
                CipherState::new(k.responder_to_initiator),
                s.into_transport_mode().unwrap(),
                true,
            )
        }
        (Side::Snow(s), Side::Core(c)) => {
            let k = c.split().unwrap();
            (
                CipherState::new(k.responder_to_initiator),
                CipherState::new(k.initiator_to_responder),
                s.into_transport_mode().unwrap(),
                false,
            )
        }
        _ => unreachable!(),
    };
    for n in 0..3 {
        let text = format!("{label} transport {n} (core initiator: {core_is_init})");
        let mut buf = vec![0u8; 256];
        buf[..text.len()].copy_from_slice(text.as_bytes());
        let len = core_send
            .encrypt_with_ad(&[], &mut buf, text.len())
            .unwrap();
        let mut out = vec![0u8; 256];
        let got = snow_t.read_message(&buf[..len], &mut out).unwrap();
        assert_eq!(&out[..got], text.as_bytes());

        let len = snow_t.write_message(text.as_bytes(), &mut buf).unwrap();
        let plain = core_recv.decrypt_with_ad(&[], &mut buf[..len]).unwrap();
        assert_eq!(&buf[..plain], text.as_bytes());
    }
}

#[test]
fn xx_core_initiator_snow_responder() {
    exchange(
        core_side(&pattern::XX, true, 1, None),
        snow_side("Noise_XX_25519_ChaChaPoly_BLAKE2s", false, 2, None),
        3,
        "XX core→snow",
    );
}

#[test]
fn xx_snow_initiator_core_responder() {
    exchange(
        snow_side("Noise_XX_25519_ChaChaPoly_BLAKE2s", true, 1, None),
        core_side(&pattern::XX, false, 2, None),
        3,
        "XX snow→core",
    );
}

#[test]
fn ik_core_initiator_snow_responder() {
    exchange(
        core_side(&pattern::IK, true, 1, Some(2)),
        snow_side("Noise_IK_25519_ChaChaPoly_BLAKE2s", false, 2, None),
        2,
        "IK core→snow",
    );
}

#[test]
fn ik_snow_initiator_core_responder() {
    exchange(
        snow_side("Noise_IK_25519_ChaChaPoly_BLAKE2s", true, 1, Some(2)),
        core_side(&pattern::IK, false, 2, None),
        2,
        "IK snow→core",
    );
}
