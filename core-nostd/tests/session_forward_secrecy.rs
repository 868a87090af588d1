//! Forward secrecy: after rotations and the grace time, nothing the two sessions hold (epoch
//! secrets, cached stream keys) opens any frame of an earlier epoch. The attacker derives every
//! stream key it can from what it finds, with the construction of `docs/spec/session.md`.

mod support;

use gofast_core::crypto::hash::derive_key;
use gofast_core::crypto::{KdfContext, SecretBytes};
use gofast_core::session::{CipherId, Config};
use support::{Pair, opens};

/// `derive_key("… session stream key", secret || stream || epoch || cipher)`, from the spec.
fn stream_key(
    secret: &SecretBytes<32>,
    stream: u32,
    epoch: u32,
    cipher: CipherId,
) -> SecretBytes<32> {
    let mut m = Vec::new();
    m.extend_from_slice(secret.expose());
    m.extend_from_slice(&stream.to_le_bytes());
    m.extend_from_slice(&epoch.to_le_bytes());
    m.push(cipher as u8);
    derive_key(KdfContext::SessionStreamKey, &m)
}

#[test]
fn after_rotation_and_erasure_no_held_key_opens_earlier_frames() {
    let config = Config::default();
    let mut p = Pair::xx(config);
    p.run();
    let s1 = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    let s2 = p.b.open_stream(CipherId::Aes256Gcm).unwrap();
    for epoch in 0..5u32 {
        p.send(true, s1, format!("a {epoch}").as_bytes(), false);
        p.send(false, s2, format!("b {epoch}").as_bytes(), false);
        p.advance(config.rekey_interval);
    }
    // Let the last grace time pass: the previous epoch's keys are erased.
    p.advance(config.key_grace);
    let current = p.a.send_epoch().unwrap();
    assert_eq!(current, 5);

    // Sanity check of the attack: the current epoch's secrets do open current frames.
    p.send(true, s1, b"now", false);
    let frames = p.data_frames();
    let mut current_opened = 0;

    for session in [&p.a, &p.b] {
        for epoch in session.cached_key_epochs() {
            assert_eq!(
                epoch, current,
                "a cached stream key of epoch {epoch} survived"
            );
        }
        for (epoch, secret) in session.export_epoch_secrets() {
            assert_eq!(epoch, current, "an epoch secret of epoch {epoch} survived");
            for f in &frames {
                for stream in [0, s1, s2] {
                    for cipher in CipherId::ALL {
                        // Try the key under every epoch label, not only its own.
                        for label in 0..=current {
                            let key = stream_key(&secret, stream, label, cipher);
                            let opened = opens(&key, f);
                            if f.header.epoch < current {
                                assert!(
                                    !opened,
                                    "a held key opened a frame of epoch {}",
                                    f.header.epoch
                                );
                            }
                            current_opened += usize::from(opened);
                        }
                    }
                }
            }
        }
    }
    assert!(
        current_opened > 0,
        "the attack never worked even on current frames"
    );
}

#[test]
fn rekeys_faster_than_the_grace_time_still_erase_old_stream_keys() {
    // A stream that received in epoch 0 and then went quiet, while rekeys come every second (a fast
    // link hits the frame bound that often) and the grace time is 3 s.
    let config = Config {
        rekey_interval: gofast_core::time::Duration::from_secs(1),
        ..Config::default()
    };
    let mut p = Pair::xx(config);
    p.run();
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    p.send(true, s, b"epoch 0", false);
    p.send(false, s, b"epoch 0", false);
    for _ in 0..10 {
        p.advance(config.rekey_interval);
    }
    let current = p.a.send_epoch().unwrap();
    assert!(current >= 10);
    for session in [&p.a, &p.b] {
        for epoch in session.cached_key_epochs() {
            assert!(
                epoch + 1 >= current,
                "a stream key of epoch {epoch} survived to epoch {current}"
            );
        }
        for (epoch, _) in session.export_epoch_secrets() {
            assert!(
                epoch + 1 >= current,
                "the secret of epoch {epoch} survived to epoch {current}"
            );
        }
    }
}
