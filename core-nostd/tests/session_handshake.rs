//! Handshakes between two core sessions: XX and IK, over datagrams and byte streams; identities are
//! learned, can be refused, and a bad handshake message ends nothing but itself.

mod support;

use gofast_core::session::{
    CipherId, CloseReason, Config, Event, Framing, Input, InputError, MAX_FRAME_LEN,
};
use support::{Pair, identity};

fn established(events: &[Event]) -> Option<gofast_core::identity::PeerId> {
    events.iter().find_map(|e| match e {
        Event::Established { peer } => Some(*peer),
        _ => None,
    })
}

#[test]
fn xx_both_sides_learn_each_other() {
    for framing in [Framing::Datagram, Framing::ByteStream] {
        let mut p = Pair::xx(Config::default().with_framing(framing));
        p.run();
        assert!(p.a.is_established() && p.b.is_established(), "{framing:?}");
        assert_eq!(established(&p.got_a.events), Some(identity(2).peer_id()));
        assert_eq!(established(&p.got_b.events), Some(identity(1).peer_id()));
        // Three handshake messages and the responder's confirmation, nothing more.
        assert_eq!(p.wire.len(), 4, "{framing:?}");
        assert!(p.a.ciphers().contains(CipherId::Aes256Gcm));
    }
}

#[test]
fn ik_one_round_trip_with_early_data() {
    let mut p = Pair::ik(Config::default(), b"hello early");
    p.run();
    assert!(p.a.is_established() && p.b.is_established());
    assert_eq!(p.got_b.early_data, vec![b"hello early".to_vec()]);
    assert_eq!(established(&p.got_b.events), Some(identity(1).peer_id()));
    assert_eq!(p.wire.len(), 2, "IK is one round trip");
}

#[test]
fn refusing_the_peer_ends_only_that_handshake() {
    let mut p = Pair::xx(Config::default());
    p.approve = false;
    p.run();
    // The initiator saw the responder's identity and waits for a decision.
    assert!(!p.a.is_established());
    assert_eq!(p.a.peer(), Some(identity(2).peer_id()));
    p.a.refuse_peer().unwrap();
    assert_eq!(p.a.close_reason(), Some(CloseReason::Refused));
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    assert_eq!(
        p.a.poll_transmit(p.now, &mut buf),
        None,
        "a refusal sends nothing"
    );

    // The same responder identity completes a fresh handshake with another initiator.
    let mut q = Pair::xx(Config::default());
    q.run();
    assert!(q.a.is_established() && q.b.is_established());
}

#[test]
fn responder_refuses_ik_initiator() {
    let mut p = Pair::ik(Config::default(), b"x");
    p.approve = false;
    p.run();
    assert_eq!(p.b.peer(), Some(identity(1).peer_id()));
    p.b.refuse_peer().unwrap();
    p.run();
    assert!(!p.b.is_established());
    assert!(!p.a.is_established(), "the initiator never got message 2");
}

#[test]
fn wrong_responder_key_fails_ik() {
    // The initiator believes it talks to identity 3; identity 2 answers.
    let now = gofast_core::time::Instant::from_micros(1);
    let mut a = support::S::connect_known(
        Config::default(),
        &identity(1),
        identity(3).peer_id(),
        support::seed(1),
        now,
        b"",
    )
    .unwrap();
    let mut b = support::S::accept(Config::default(), &identity(2), support::seed(2)).unwrap();
    let mut buf = vec![0u8; 1024];
    let n = a.poll_transmit(now, &mut buf).unwrap();
    assert!(matches!(
        b.handle_input(now, &mut buf[..n]),
        Err(InputError::Handshake(_))
    ));
}

#[test]
fn damaged_handshake_messages_are_dropped_and_the_real_one_still_works() {
    let mut p = Pair::xx(Config::default());
    let m1 = p.take_transmits(true).remove(0);
    p.deliver(false, &m1);
    let m2 = p.take_transmits(false).remove(0);
    // Every single-bit flip of message 2 is refused without spoiling the handshake.
    for i in 0..m2.len() {
        let mut bad = m2.clone();
        bad[i] ^= 0x20;
        p.deliver(true, &bad);
        assert!(p.got_a.data.is_empty());
    }
    assert_eq!(p.got_a.errors.len(), m2.len());
    // Truncated too.
    p.deliver(true, &m2[..m2.len() - 1]);
    p.deliver(true, &m2);
    p.run();
    assert!(p.a.is_established() && p.b.is_established());
}

#[test]
fn lost_handshake_messages_are_retransmitted() {
    use gofast_core::time::Duration;
    let mut p = Pair::xx(Config::default());
    // Lose the first copy of every handshake message in each direction.
    let mut seen = std::collections::HashSet::new();
    let drop_first = |_: bool, f: Vec<u8>| {
        if f[0] <= 0x05 && seen.insert(f[0]) {
            None
        } else {
            Some(f)
        }
    };
    p.run_with(drop_first);
    for _ in 0..20 {
        if p.a.is_established() && p.b.is_established() {
            break;
        }
        p.advance(Duration::from_millis(300));
    }
    assert!(p.a.is_established() && p.b.is_established());
}

#[test]
fn handshake_times_out() {
    use gofast_core::time::Duration;
    let mut p = Pair::xx(Config::default());
    let _ = p.take_transmits(true); // lost
    p.now += Duration::from_secs(11);
    p.a.handle_timeout(p.now);
    p.drain_events();
    assert!(
        p.got_a
            .events
            .contains(&Event::Closed(CloseReason::HandshakeTimeout))
    );
}

#[test]
fn data_before_the_handshake_is_refused() {
    let mut p = Pair::xx(Config::default());
    p.run();
    let frame = p.seal(true, 0, b"", false);
    assert!(frame.is_err(), "stream 0 is the session's own");
    let mut fresh = support::S::accept(Config::default(), &identity(2), support::seed(9)).unwrap();
    let id = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    let frame = p.seal(true, id, b"data", false).unwrap();
    let mut copy = frame.clone();
    assert_eq!(
        fresh.handle_input(p.now, &mut copy),
        Err(InputError::Unexpected)
    );
    let _ = Input::Nothing;
}

#[test]
fn stripping_a_cipher_from_the_offer_fails_the_handshake() {
    // A man in the middle removes AES-256-GCM from the initiator's clear-text hello (byte 34: the
    // frame type, 32 bytes of ephemeral key, the version, then the cipher bits).
    let mut p = Pair::xx(Config::default());
    let mut m1 = p.take_transmits(true).remove(0);
    assert_eq!(m1[34], 0b11, "ChaCha20-Poly1305 and AES-256-GCM offered");
    m1[34] = 0b01;
    p.deliver(false, &m1);
    // The responder accepts the altered hello, but its transcript differs: the initiator cannot read
    // message 2, and nothing is established with the weaker offer.
    p.run();
    assert!(matches!(
        p.got_a.errors.as_slice(),
        [InputError::Handshake(_)]
    ));
    assert!(!p.a.is_established() && !p.b.is_established());
}
