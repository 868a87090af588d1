//! Key rotation: on time and on frame count, both directions move to a new epoch, data keeps
//! flowing through the switch (including frames reordered across it), old keys are erased after the
//! grace time, and lost control messages are repeated.

mod support;

use gofast_core::session::{CipherId, Config, Event, InputError, SendError};
use gofast_core::time::Duration;
use support::Pair;

fn established(config: Config) -> Pair {
    let mut p = Pair::xx(config);
    p.run();
    assert!(p.a.is_established() && p.b.is_established());
    p
}

/// Runs the initiator's timers with nothing reaching the responder, until it has nothing left to do.
fn run_initiator_alone(p: &mut Pair) {
    for _ in 0..100 {
        let _ = p.take_transmits(true);
        match p.a.poll_timeout() {
            Some(t) => {
                p.now = t;
                p.a.handle_timeout(t);
            }
            None => break,
        }
    }
    p.drain_events();
}

fn rekeyed(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Rekeyed { epoch } => Some(*epoch),
            _ => None,
        })
        .collect()
}

#[test]
fn rekeys_on_time_and_keeps_streams_working() {
    let config = Config::default();
    let mut p = established(config);
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    for round in 1..=5u32 {
        p.advance(config.rekey_interval);
        assert_eq!(p.a.send_epoch(), Some(round), "round {round}");
        assert_eq!(p.b.send_epoch(), Some(round), "round {round}");
        p.send(true, s, format!("a{round}").as_bytes(), false);
        p.send(false, s, format!("b{round}").as_bytes(), false);
    }
    assert_eq!(rekeyed(&p.got_a.events), vec![1, 2, 3, 4, 5]);
    assert_eq!(rekeyed(&p.got_b.events), vec![1, 2, 3, 4, 5]);
    assert_eq!(p.got_b.data.len(), 5);
    assert_eq!(p.got_a.data.len(), 5);
    assert!(p.got_a.errors.is_empty() && p.got_b.errors.is_empty());
}

#[test]
fn rekeys_on_frame_count_and_holds_senders_at_the_hard_bound() {
    let config = Config {
        rekey_after_frames: 8,
        max_frames_per_epoch: 10,
        stream_window: 1000,
        ..Config::default()
    };
    let mut p = established(config);
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    // Frames sealed while the rekey's messages are not moved: the 11th in the epoch must wait.
    let mut sealed = Vec::new();
    for _ in 0..10 {
        sealed.push(p.seal(true, s, b"x", false).unwrap());
    }
    assert_eq!(p.seal(true, s, b"x", false), Err(SendError::WaitForRekey));
    for f in sealed {
        p.deliver(false, &f);
    }
    p.run();
    assert_eq!(p.a.send_epoch(), Some(1));
    assert!(p.seal(true, s, b"x", false).is_ok());
}

#[test]
fn frames_reordered_across_the_switch_still_open_until_the_grace_ends() {
    let config = Config::default();
    let mut p = established(config);
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    // Sealed in epoch 0, held back while the sessions rekey.
    let late = p.seal(true, s, b"from epoch 0", false).unwrap();
    let later = p.seal(true, s, b"also epoch 0", false).unwrap();
    p.advance(config.rekey_interval);
    assert_eq!(p.b.send_epoch(), Some(1));
    p.deliver(false, &late);
    assert_eq!(p.got_b.data.last().unwrap().1, b"from epoch 0");
    // After the grace time the old keys are gone: the last straggler is refused.
    p.advance(config.key_grace + Duration::from_millis(1));
    p.deliver(false, &later);
    assert_eq!(p.got_b.errors, vec![InputError::UnknownEpoch]);
}

#[test]
fn lost_rekey_messages_are_repeated() {
    let config = Config::default();
    let mut p = established(config);
    // Drop the first copy of every control frame in both directions.
    let mut dropped = 0;
    p.now += config.rekey_interval;
    let now = p.now;
    p.a.handle_timeout(now);
    p.b.handle_timeout(now);
    p.run_with(|_, f| {
        if dropped < 1 {
            dropped += 1;
            None
        } else {
            Some(f)
        }
    });
    for _ in 0..30 {
        if p.a.send_epoch() == Some(1) && p.b.send_epoch() == Some(1) {
            break;
        }
        p.advance(Duration::from_millis(200));
    }
    assert_eq!(p.a.send_epoch(), Some(1));
    assert_eq!(p.b.send_epoch(), Some(1));
}

#[test]
fn both_proposing_at_once_resolves_to_one_epoch() {
    let config = Config::default();
    let mut p = established(config);
    // Both timers fire before either proposal arrives.
    p.now += config.rekey_interval;
    let now = p.now;
    p.a.handle_timeout(now);
    p.b.handle_timeout(now);
    p.run();
    assert_eq!(p.a.send_epoch(), Some(1));
    assert_eq!(p.b.send_epoch(), Some(1));
    let s = p.b.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    p.send(false, s, b"ok", false);
    p.send(true, s, b"ok", false);
    assert!(p.got_a.errors.is_empty() && p.got_b.errors.is_empty());
}

#[test]
fn an_unanswered_rekey_closes_the_session() {
    let config = Config::default();
    let mut p = established(config);
    p.now += config.rekey_interval;
    let now = p.now;
    p.a.handle_timeout(now);
    // The peer is gone: nothing a sends arrives.
    run_initiator_alone(&mut p);
    assert!(p.got_a.events.contains(&Event::Closed(
        gofast_core::session::CloseReason::RekeyTimeout
    )));
}

#[test]
fn a_peer_that_vanishes_after_acknowledging_a_rekey_closes_the_session() {
    let config = Config::default();
    let mut p = established(config);
    p.now += config.rekey_interval;
    let now = p.now;
    p.a.handle_timeout(now);
    // Rekey goes out, the ack comes back; then nothing more from b.
    for f in p.take_transmits(true) {
        p.deliver(false, &f[..]);
    }
    for f in p.take_transmits(false) {
        p.deliver(true, &f[..]);
    }
    assert_eq!(p.a.send_epoch(), Some(1));
    run_initiator_alone(&mut p);
    assert!(p.got_a.events.contains(&Event::Closed(
        gofast_core::session::CloseReason::RekeyTimeout
    )));
}
