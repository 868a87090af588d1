//! Signed records: encoding, signatures, limits, and the update rule against a reference model.

use gofast_core::codec::{
    DecodeError, decode_exact, decode_message, encode_message, encode_to_vec, message_len,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use gofast_core::record::{MAX_SALT_LEN, MAX_VALUE_LEN, Record, RecordError, UpdateError};
use proptest::prelude::*;

fn keypair(seed: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([seed; 32]))
}

fn salt() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=MAX_SALT_LEN)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=MAX_VALUE_LEN)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encode_decode_round_trips(k in any::<u8>(), salt in salt(), seq in any::<u64>(), value in value()) {
        let r = Record::sign(&keypair(k), &salt, seq, &value).unwrap();
        let bytes = encode_to_vec(&r);
        prop_assert_eq!(bytes.len(), 32 + 1 + salt.len() + 8 + 2 + value.len() + 64);
        let back: Record = decode_exact(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.value(), &value[..]);
        prop_assert_eq!(back.salt(), &salt[..]);
        prop_assert_eq!(back.seq(), seq);

        let mut msg = vec![0u8; message_len(&r)];
        let n = encode_message(&r, &mut msg).unwrap();
        prop_assert_eq!(n, msg.len());
        prop_assert_eq!(decode_message::<Record>(&msg).unwrap(), r);
    }

    /// Any change to any byte of an encoded record makes it undecodable: the signature covers everything,
    /// and a changed length prefix breaks the structure.
    #[test]
    fn every_byte_is_covered(salt in salt(), value in proptest::collection::vec(any::<u8>(), 0..64), pos in any::<usize>(), flip in 1u8..=255) {
        let r = Record::sign(&keypair(3), &salt, 7, &value).unwrap();
        let mut bytes = encode_to_vec(&r);
        let pos = pos % bytes.len();
        bytes[pos] ^= flip;
        prop_assert!(decode_exact::<Record>(&bytes).is_err());
    }

    /// Offers in random order: the storer's state and every verdict match a model that keeps the record
    /// with the highest sequence seen.
    #[test]
    fn update_rule_matches_the_model(offers in proptest::collection::vec((0u64..6, 0u8..3), 1..30)) {
        let kp = keypair(9);
        let mut stored: Option<Record> = None;
        for (seq, v) in offers {
            let offered = Record::sign(&kp, b"slot", seq, &[v]).unwrap();
            let verdict = stored.as_ref().map(|s| s.check_update(&offered));
            let expected = stored.as_ref().map(|s| {
                if seq > s.seq() { Ok(()) }
                else if seq < s.seq() { Err(UpdateError::Stale { current: s.seq(), offered: seq }) }
                else if s.value() == [v] { Err(UpdateError::Duplicate) }
                else { Err(UpdateError::Conflict { seq }) }
            });
            prop_assert_eq!(verdict, expected);
            if matches!(verdict, None | Some(Ok(()))) {
                stored = Some(offered);
            }
            prop_assert!(stored.as_ref().is_some_and(|s| s.seq() >= seq));
        }
    }
}

#[test]
fn limits_are_enforced_when_signing_and_decoding() {
    let kp = keypair(1);
    assert!(Record::sign(&kp, &[0; MAX_SALT_LEN], 0, &[0; MAX_VALUE_LEN]).is_ok());
    assert_eq!(
        Record::sign(&kp, &[0; MAX_SALT_LEN + 1], 0, &[]),
        Err(RecordError::SaltTooLong { len: 65 })
    );
    assert_eq!(
        Record::sign(&kp, &[], 0, &[0; MAX_VALUE_LEN + 1]),
        Err(RecordError::ValueTooLong { len: 1001 })
    );

    // A record whose value length prefix says 1001: refused before the bytes are read.
    let r = Record::sign(&kp, &[], 0, &[]).unwrap();
    let mut bytes = encode_to_vec(&r);
    let value_len_at = 32 + 1 + 8;
    bytes[value_len_at..value_len_at + 2].copy_from_slice(&1001u16.to_le_bytes());
    assert_eq!(
        decode_exact::<Record>(&bytes),
        Err(DecodeError::LengthTooLarge {
            field: "record.value",
            max: 1000,
            found: 1001
        })
    );
    bytes[32] = 65;
    assert_eq!(
        decode_exact::<Record>(&bytes),
        Err(DecodeError::LengthTooLarge {
            field: "record.salt",
            max: 64,
            found: 65
        })
    );
}

#[test]
fn a_record_signed_by_someone_else_is_refused() {
    let owner = keypair(1);
    let forger = keypair(2);
    let real = Record::sign(&owner, b"", 5, b"real").unwrap();
    let forged = Record::sign(&forger, b"", 6, b"forged").unwrap();
    // Splice the owner's key into the forger's record.
    let mut bytes = encode_to_vec(&forged);
    bytes[..32].copy_from_slice(real.public_key().as_bytes());
    assert_eq!(
        decode_exact::<Record>(&bytes),
        Err(DecodeError::BadSignature)
    );
}

#[test]
fn slots_are_keyed_by_public_key_and_salt() {
    let a = keypair(1);
    let b = keypair(2);
    let r = Record::sign(&a, b"name", 0, b"x").unwrap();
    assert_eq!(Ok(r.dht_key()), Record::slot_key(&a.peer_id(), b"name"));
    assert_ne!(Ok(r.dht_key()), Record::slot_key(&a.peer_id(), b"other"));
    assert_ne!(Ok(r.dht_key()), Record::slot_key(&b.peer_id(), b"name"));
    assert_eq!(
        Record::slot_key(&a.peer_id(), &[0; 65]),
        Err(RecordError::SaltTooLong { len: 65 })
    );
    // Salts of every length up to the maximum name distinct slots (no truncation, no padding collisions).
    let keys: std::collections::HashSet<_> = (0..=MAX_SALT_LEN)
        .map(|n| Record::slot_key(&a.peer_id(), &vec![0; n]).unwrap())
        .collect();
    assert_eq!(keys.len(), MAX_SALT_LEN + 1);
    assert_ne!(
        r.dht_key(),
        a.peer_id().dht_key(),
        "record and peer keys live in separate derivations"
    );
    let other_slot = Record::sign(&a, b"other", 9, b"x").unwrap();
    assert_eq!(r.check_update(&other_slot), Err(UpdateError::DifferentSlot));
}

#[test]
fn debug_output_shows_no_value_bytes() {
    let r = Record::sign(&keypair(1), b"", 1, b"secret-capability-text").unwrap();
    let shown = format!("{r:?}");
    assert!(!shown.contains("secret-capability-text"));
    assert!(shown.contains("value_len: 22"));
}
