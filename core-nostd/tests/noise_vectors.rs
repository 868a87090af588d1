//! The published cacophony vectors through the core's one Noise implementation, with BLAKE2s and
//! SHA-256 plugged in as the hash (the production suite uses BLAKE3 through the same code).
//!
//! Patterns covered: every non-PSK pattern the core defines (NN, NK, KK, XK, XX, IK). The 64-byte-hash
//! suites (BLAKE2b, SHA-512) are skipped: the core fixes HASHLEN at 32.

mod support;

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::x25519::{X25519Public, X25519Secret};
use gofast_core::noise::{CipherState, HandshakeState, NoiseHash, Pattern, pattern};
use serde::Deserialize;
use support::hashes::{Blake2s, Sha256};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    protocol_name: String,
    init_prologue: String,
    init_static: Option<String>,
    init_ephemeral: String,
    init_remote_static: Option<String>,
    resp_prologue: String,
    resp_static: Option<String>,
    resp_ephemeral: String,
    resp_remote_static: Option<String>,
    handshake_hash: String,
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    payload: String,
    ciphertext: String,
}

fn secret(hex_str: &str) -> X25519Secret {
    let bytes: [u8; 32] = hex::decode(hex_str).unwrap().try_into().unwrap();
    X25519Secret::from_bytes(&SecretBytes::new(bytes))
}

fn public(hex_str: &str) -> X25519Public {
    X25519Public(hex::decode(hex_str).unwrap().try_into().unwrap())
}

fn pattern_by_name(name: &str) -> Option<&'static Pattern> {
    [
        &pattern::NN,
        &pattern::NK,
        &pattern::KK,
        &pattern::XK,
        &pattern::XX,
        &pattern::IK,
    ]
    .into_iter()
    .find(|p| p.name == name)
}

/// Runs one vector: both sides step through the handshake, each message written by its sender must be
/// byte-identical to the vector and readable by the receiver; then the transport messages.
fn run<H: NoiseHash>(v: &Vector, pattern: &'static Pattern) {
    let name = &v.protocol_name;
    let mut init = HandshakeState::<H>::new(
        pattern,
        true,
        &hex::decode(&v.init_prologue).unwrap(),
        v.init_static.as_deref().map(secret),
        secret(&v.init_ephemeral),
        v.init_remote_static.as_deref().map(public),
    )
    .unwrap();
    let mut resp = HandshakeState::<H>::new(
        pattern,
        false,
        &hex::decode(&v.resp_prologue).unwrap(),
        v.resp_static.as_deref().map(secret),
        secret(&v.resp_ephemeral),
        v.resp_remote_static.as_deref().map(public),
    )
    .unwrap();

    let handshake_len = pattern.messages.len();
    let mut buf = vec![0u8; 65535];
    for (i, m) in v.messages.iter().take(handshake_len).enumerate() {
        let (sender, receiver) = if i % 2 == 0 {
            (&mut init, &mut resp)
        } else {
            (&mut resp, &mut init)
        };
        let payload = hex::decode(&m.payload).unwrap();
        let n = sender.write_message(&payload, &mut buf).unwrap();
        assert_eq!(
            hex::encode(&buf[..n]),
            m.ciphertext,
            "{name}: handshake message {i}"
        );
        let range = receiver.read_message(&mut buf[..n]).unwrap();
        assert_eq!(buf[range].to_vec(), payload, "{name}: payload {i}");
    }
    assert_eq!(
        hex::encode(init.handshake_hash()),
        v.handshake_hash,
        "{name}"
    );
    assert_eq!(
        hex::encode(resp.handshake_hash()),
        v.handshake_hash,
        "{name}"
    );

    let i_keys = init.split().unwrap();
    let r_keys = resp.split().unwrap();
    let mut i_send = CipherState::new(i_keys.initiator_to_responder);
    let mut i_recv = CipherState::new(i_keys.responder_to_initiator);
    let mut r_send = CipherState::new(r_keys.responder_to_initiator);
    let mut r_recv = CipherState::new(r_keys.initiator_to_responder);
    for (i, m) in v.messages.iter().enumerate().skip(handshake_len) {
        // Transport messages keep alternating, continuing the handshake's turn order.
        let (send, recv) = if i % 2 == 0 {
            (&mut i_send, &mut r_recv)
        } else {
            (&mut r_send, &mut i_recv)
        };
        let payload = hex::decode(&m.payload).unwrap();
        buf[..payload.len()].copy_from_slice(&payload);
        let n = send.encrypt_with_ad(&[], &mut buf, payload.len()).unwrap();
        assert_eq!(
            hex::encode(&buf[..n]),
            m.ciphertext,
            "{name}: transport message {i}"
        );
        let len = recv.decrypt_with_ad(&[], &mut buf[..n]).unwrap();
        assert_eq!(buf[..len].to_vec(), payload);
    }
}

#[test]
fn cacophony_vectors() {
    let file: File = serde_json::from_str(include_str!(
        "vectors/noise-cacophony-25519-chachapoly.json"
    ))
    .unwrap();
    let mut ran = Vec::new();
    for v in &file.vectors {
        let parts: Vec<&str> = v.protocol_name.split('_').collect();
        let Some(pattern) = pattern_by_name(parts[1]) else {
            continue;
        };
        match parts[4] {
            "BLAKE2s" => run::<Blake2s>(v, pattern),
            "SHA256" => run::<Sha256>(v, pattern),
            _ => continue,
        }
        ran.push(v.protocol_name.clone());
    }
    // The suites the issue names must be among those that ran, so a filter mistake cannot pass.
    for required in [
        "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        "Noise_IK_25519_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_ChaChaPoly_SHA256",
        "Noise_IK_25519_ChaChaPoly_SHA256",
    ] {
        assert!(ran.iter().any(|n| n == required), "{required} did not run");
    }
    assert_eq!(ran.len(), 12, "ran {ran:?}");
}

#[test]
fn altered_message_fails_and_a_clone_goes_on() {
    let prologue = b"p";
    let mut init = HandshakeState::<Blake2s>::new(
        &pattern::XX,
        true,
        prologue,
        Some(secret(&"11".repeat(32))),
        secret(&"22".repeat(32)),
        None,
    )
    .unwrap();
    let mut resp = HandshakeState::<Blake2s>::new(
        &pattern::XX,
        false,
        prologue,
        Some(secret(&"33".repeat(32))),
        secret(&"44".repeat(32)),
        None,
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let n = init.write_message(b"", &mut buf).unwrap();
    resp.read_message(&mut buf[..n]).unwrap();
    let n = resp.write_message(b"hello", &mut buf).unwrap();
    let good = buf[..n].to_vec();
    let before = init.clone();
    buf[40] ^= 1;
    assert!(init.read_message(&mut buf[..n]).is_err());
    let mut init = before;
    let mut copy = good.clone();
    let range = init.read_message(&mut copy).unwrap();
    assert_eq!(&copy[range], b"hello");
}
