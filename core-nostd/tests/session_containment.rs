//! Containment: an attacker who records every frame of a session (3 streams, 6 epochs, both
//! directions, two ciphers) and is handed one stream-epoch key opens exactly that stream's frames of
//! that epoch in that direction, and nothing else. Checked for every key of the session.

mod support;

use gofast_core::crypto::SecretBytes;
use gofast_core::session::{CipherId, Config};
use support::{Pair, opens};

struct StolenKey {
    stream: u32,
    epoch: u32,
    from_initiator: bool,
    key: SecretBytes<32>,
}

#[test]
fn one_stream_epoch_key_opens_exactly_its_own_frames() {
    let config = Config::default();
    let mut p = Pair::xx(config);
    p.run();
    let streams = [
        (
            p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap(),
            CipherId::ChaCha20Poly1305,
        ),
        (
            p.a.open_stream(CipherId::Aes256Gcm).unwrap(),
            CipherId::Aes256Gcm,
        ),
        (
            p.b.open_stream(CipherId::ChaCha20Poly1305).unwrap(),
            CipherId::ChaCha20Poly1305,
        ),
    ];
    let mut stolen = Vec::new();
    for epoch in 0..6u32 {
        assert_eq!(p.a.send_epoch(), Some(epoch));
        for &(s, cipher) in &streams {
            for n in 0..3 {
                let msg = format!("stream {s} epoch {epoch} frame {n}");
                // The opener speaks first: the other side hears of a stream with its first frame.
                let opener_is_initiator = s % 2 == 1;
                p.send(opener_is_initiator, s, msg.as_bytes(), false);
                p.send(!opener_is_initiator, s, msg.as_bytes(), false);
            }
            // The keys of this stream and epoch, as a thief of this moment would take them.
            for from_initiator in [true, false] {
                let key =
                    p.a.export_stream_key(s, epoch, from_initiator, cipher)
                        .expect("current epoch key");
                stolen.push(StolenKey {
                    stream: s,
                    epoch,
                    from_initiator,
                    key,
                });
            }
        }
        // The control stream's key of this epoch is a stream-epoch key too.
        for from_initiator in [true, false] {
            let key =
                p.a.export_stream_key(0, epoch, from_initiator, CipherId::ChaCha20Poly1305)
                    .unwrap();
            stolen.push(StolenKey {
                stream: 0,
                epoch,
                from_initiator,
                key,
            });
        }
        p.advance(config.rekey_interval);
    }

    let frames = p.data_frames();
    let epochs: std::collections::BTreeSet<u32> = frames.iter().map(|f| f.header.epoch).collect();
    assert!(epochs.len() >= 6, "frames in epochs {epochs:?}");
    assert!(frames.len() > 100);

    for k in &stolen {
        let mut opened = 0;
        for f in &frames {
            let own = f.header.stream == k.stream
                && f.header.epoch == k.epoch
                && f.from_initiator == k.from_initiator;
            assert_eq!(
                opens(&k.key, f),
                own,
                "key of stream {} epoch {} (from initiator: {}) against frame of stream {} epoch {} (from initiator: {})",
                k.stream,
                k.epoch,
                k.from_initiator,
                f.header.stream,
                f.header.epoch,
                f.from_initiator
            );
            opened += usize::from(own);
        }
        if k.stream != 0 {
            assert_eq!(opened, 3, "each stream-epoch-direction carried 3 frames");
        } else {
            assert!(opened >= 1, "control frames of epoch {}", k.epoch);
        }
    }
}
