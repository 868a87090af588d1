//! The std node's `ring` ciphers and the core's portable ones put the same bytes on the wire: a
//! session sealing with one is opened by a session using the other, for both algorithms, both ways,
//! through the handshake, streams and rekeys.

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::NONCE_LEN;
use gofast_core::identity::KeyPair;
use gofast_core::session::{
    AeadProvider, CipherId, Config, Input, MAX_FRAME_LEN, PortableAead, Session,
};
use gofast_core::time::{Duration, Instant};
use gofast_node::aead::RingAead;

#[test]
fn same_ciphertext_and_tag_for_the_same_inputs() {
    let key = SecretBytes::new([0x42; 32]);
    let nonce = [7u8; NONCE_LEN];
    for cipher in CipherId::ALL {
        for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 1000, 16384, 65536] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let ring_key = RingAead::prepare(cipher, &key).unwrap();
            let portable_key = PortableAead::prepare(cipher, &key).unwrap();
            let mut a = plain.clone();
            let mut b = plain.clone();
            let tag_a = RingAead::seal(&ring_key, &nonce, b"aad", &mut a).unwrap();
            let tag_b = PortableAead::seal(&portable_key, &nonce, b"aad", &mut b).unwrap();
            assert_eq!(a, b, "{cipher} ciphertext, {len} bytes");
            assert_eq!(tag_a, tag_b, "{cipher} tag, {len} bytes");
            PortableAead::open(&portable_key, &nonce, b"aad", &mut a, &tag_a).unwrap();
            RingAead::open(&ring_key, &nonce, b"aad", &mut b, &tag_b).unwrap();
            assert_eq!(a, plain);
            assert_eq!(b, plain);
            let mut bad = tag_a;
            bad[0] ^= 1;
            let mut c = plain.clone();
            let _ = RingAead::seal(&ring_key, &nonce, b"aad", &mut c).unwrap();
            assert!(RingAead::open(&ring_key, &nonce, b"aad", &mut c, &bad).is_err());
        }
    }
}

fn frames_between<A: AeadProvider, B: AeadProvider>(label: &str) {
    let config = Config {
        rekey_interval: Duration::from_secs(1),
        ..Config::default()
    };
    let mut now = Instant::from_micros(1);
    let id_a = KeyPair::from_seed(&SecretBytes::new([1; 32]));
    let id_b = KeyPair::from_seed(&SecretBytes::new([2; 32]));
    let mut a = Session::<A, 4>::connect(config, &id_a, SecretBytes::new([3; 32]), now).unwrap();
    let mut b = Session::<B, 4>::accept(config, &id_b, SecretBytes::new([4; 32])).unwrap();
    let mut buf = vec![0u8; MAX_FRAME_LEN];

    // Moves session frames both ways until both are quiet, approving peers.
    let pump = |a: &mut Session<A, 4>, b: &mut Session<B, 4>, now: Instant, buf: &mut Vec<u8>| {
        for _ in 0..20 {
            let mut moved = false;
            while let Some(n) = a.poll_transmit(now, buf) {
                moved = true;
                if let Ok(Input::PeerIdentified { .. }) = b.handle_input(now, &mut buf[..n]) {
                    b.approve_peer(now).unwrap();
                }
            }
            while let Some(n) = b.poll_transmit(now, buf) {
                moved = true;
                if let Ok(Input::PeerIdentified { .. }) = a.handle_input(now, &mut buf[..n]) {
                    a.approve_peer(now).unwrap();
                }
            }
            while a.poll_event().is_some() || b.poll_event().is_some() {}
            if !moved {
                return;
            }
        }
    };
    pump(&mut a, &mut b, now, &mut buf);
    assert!(a.is_established() && b.is_established(), "{label}");

    for cipher in CipherId::ALL {
        let s = a.open_stream(cipher).unwrap();
        for epoch in 0..3 {
            for size in [0usize, 100, 16384] {
                let msg = vec![epoch as u8; size];
                let n = a.send(now, s, &msg, false, &mut buf).unwrap();
                match b.handle_input(now, &mut buf[..n]).unwrap() {
                    Input::Data { data, .. } => assert_eq!(data, &msg[..], "{label} {cipher}"),
                    other => panic!("{label}: {other:?}"),
                }
                let n = b.send(now, s, &msg, false, &mut buf).unwrap();
                match a.handle_input(now, &mut buf[..n]).unwrap() {
                    Input::Data { data, .. } => assert_eq!(data, &msg[..], "{label} {cipher}"),
                    other => panic!("{label}: {other:?}"),
                }
            }
            now += Duration::from_secs(1);
            a.handle_timeout(now);
            b.handle_timeout(now);
            pump(&mut a, &mut b, now, &mut buf);
        }
    }
    assert!(a.send_epoch().unwrap() >= 3, "{label}: rekeys happened");
}

#[test]
fn ring_sessions_talk_to_portable_sessions() {
    frames_between::<RingAead, PortableAead>("ring → portable");
    frames_between::<PortableAead, RingAead>("portable → ring");
}

#[test]
fn streams_take_aes_gcm_only_where_both_peers_offered_it() {
    use gofast_core::session::CipherSet;
    use gofast_node::aead::{hardware_aes, offered_ciphers, stream_cipher};
    assert!(offered_ciphers().contains(CipherId::ChaCha20Poly1305));
    assert_eq!(
        offered_ciphers().contains(CipherId::Aes256Gcm),
        hardware_aes()
    );
    assert_eq!(
        stream_cipher(CipherSet::CHACHA_ONLY),
        CipherId::ChaCha20Poly1305
    );
    assert_eq!(
        stream_cipher(CipherSet::CHACHA_ONLY.with(CipherId::Aes256Gcm)),
        CipherId::Aes256Gcm
    );
}
