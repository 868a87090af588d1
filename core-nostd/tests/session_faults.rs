//! Hostile and broken input on an established session: every bad frame is refused with a typed
//! error, and the session goes on working.

mod support;

use gofast_core::session::{CipherId, Config, InputError, REPLAY_WINDOW, ReplayError};
use support::Pair;

fn established() -> (Pair, u32) {
    let config = Config {
        stream_window: u16::MAX,
        ..Config::default()
    };
    let mut p = Pair::xx(config);
    p.run();
    let s = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    (p, s)
}

/// The session still carries data after whatever a test threw at it.
fn still_works(p: &mut Pair, s: u32) {
    let before = p.got_b.data.len();
    p.send(true, s, b"still working", false);
    assert_eq!(p.got_b.data.len(), before + 1);
    assert_eq!(p.got_b.data.last().unwrap().1, b"still working");
}

#[test]
fn replayed_frames_are_refused() {
    let (mut p, s) = established();
    let f = p.seal(true, s, b"once", false).unwrap();
    p.deliver(false, &f);
    p.deliver(false, &f);
    assert_eq!(
        p.got_b.errors,
        vec![InputError::Replay(ReplayError::Replayed)]
    );
    assert_eq!(p.got_b.data.len(), 1);
    still_works(&mut p, s);
}

#[test]
fn reordering_inside_the_window_is_fine_and_past_it_is_refused() {
    let (mut p, s) = established();
    let old = p.seal(true, s, b"old", false).unwrap();
    let mut frames = Vec::new();
    for _ in 0..REPLAY_WINDOW {
        frames.push(p.seal(true, s, b"n", false).unwrap());
    }
    // Delivered newest first: all inside the window.
    for f in frames.iter().rev() {
        p.deliver(false, f);
    }
    assert!(p.got_b.errors.is_empty());
    assert_eq!(p.got_b.data.len() as u64, REPLAY_WINDOW);
    // The first frame is now 2049 counters behind the newest.
    p.deliver(false, &old);
    assert_eq!(
        p.got_b.errors,
        vec![InputError::Replay(ReplayError::TooOld)]
    );
    still_works(&mut p, s);
}

#[test]
fn truncated_and_bit_flipped_frames_are_refused() {
    let (mut p, s) = established();
    let f = p.seal(true, s, b"some payload bytes", false).unwrap();
    for len in 0..f.len() {
        p.deliver(false, &f[..len]);
    }
    for i in 0..f.len() {
        for bit in [0x01, 0x80] {
            let mut bad = f.clone();
            bad[i] ^= bit;
            p.deliver(false, &bad);
        }
    }
    assert!(p.got_b.data.is_empty(), "nothing damaged was delivered");
    assert_eq!(p.got_b.errors.len(), f.len() + 2 * f.len());
    for e in &p.got_b.errors {
        assert!(
            matches!(
                e,
                InputError::Malformed(_)
                    | InputError::Authentication
                    | InputError::UnknownStream
                    | InputError::UnknownEpoch
                    | InputError::CipherNotNegotiated
                    | InputError::FlowControl
                    | InputError::Replay(_)
                    | InputError::Unexpected
                    | InputError::Handshake(_)
                    | InputError::TooLarge
                    | InputError::StreamLimit
            ),
            "{e:?}"
        );
    }
    // The original, untouched, still opens: no damaged copy consumed its counter.
    p.deliver(false, &f);
    assert_eq!(p.got_b.data.len(), 1);
    still_works(&mut p, s);
}

#[test]
fn a_frame_moved_to_another_stream_is_refused() {
    let (mut p, s) = established();
    let other = p.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    p.send(true, other, b"open it", false);
    // Move s's counter past the ones `other` and the control stream have used, so that only the
    // authentication can catch the move.
    for _ in 0..5 {
        p.send(true, s, b"earlier", false);
    }
    let f = p.seal(true, s, b"for stream s", false).unwrap();
    let mut moved = f.clone();
    moved[2..6].copy_from_slice(&other.to_le_bytes());
    p.deliver(false, &moved);
    // Relabelled as the control stream too.
    let mut to_control = f.clone();
    to_control[2..6].copy_from_slice(&0u32.to_le_bytes());
    p.deliver(false, &to_control);
    assert_eq!(
        p.got_b.errors,
        vec![InputError::Authentication, InputError::Authentication]
    );
    p.deliver(false, &f);
    assert_eq!(p.got_b.data.last().unwrap().1, b"for stream s");
    still_works(&mut p, s);
}

#[test]
fn a_frame_from_another_session_is_refused() {
    let (mut p, s) = established();
    // The same two peers in another session: other ephemeral keys, so other stream keys.
    let mut q = Pair::xx_seeded(Config::default(), 10);
    q.run();
    let qs = q.a.open_stream(CipherId::ChaCha20Poly1305).unwrap();
    assert_eq!(qs, s);
    let f = q.seal(true, qs, b"other session", false).unwrap();
    p.deliver(false, &f);
    assert_eq!(p.got_b.errors, vec![InputError::Authentication]);
    still_works(&mut p, s);
}

#[test]
fn unknown_frame_types_and_late_handshakes_are_refused() {
    let (mut p, s) = established();
    p.deliver(false, &[0x7f, 1, 2, 3]);
    p.deliver(false, &[]);
    p.deliver(false, &[0x01; 40]); // an XX first message to an established responder
    assert_eq!(p.got_b.errors.len(), 3);
    assert!(matches!(p.got_b.errors[0], InputError::Malformed(_)));
    assert!(matches!(p.got_b.errors[1], InputError::Malformed(_)));
    assert_eq!(p.got_b.errors[2], InputError::Unexpected);
    still_works(&mut p, s);
}

#[test]
fn fin_on_the_control_stream_is_refused() {
    let (mut p, s) = established();
    // Any frame on stream 0 with FIN set is refused before decryption.
    let mut f = p.seal(true, s, b"x", false).unwrap();
    f[1] |= 0x01;
    f[2..6].copy_from_slice(&0u32.to_le_bytes());
    p.deliver(false, &f);
    assert!(matches!(
        p.got_b.errors.as_slice(),
        [InputError::Malformed(_)]
    ));
    still_works(&mut p, s);
}
