//! Every decoder meets random and mangled bytes: it returns an error or a value, never panics, and
//! valid encodings cut short are always refused. (The fuzz targets in `fuzz/` push the same decoders
//! much further; this runs on every test.)

use std::str::FromStr;

use gofast_core::block::{BlockId, BlockRef, TreeEntry, TreeNode, open_in_place, verify};
use gofast_core::codec::{
    DecodeError, EncodeError, FORMAT_VERSION, Reader, Writer, decode_exact, decode_message,
    encode_message, encode_to_vec, message_len,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::{DhtKey, KeyPair, PeerId};
use gofast_core::record::Record;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Runs every byte decoder of the core on `b`. Each may fail; none may panic.
fn decode_all(b: &[u8]) {
    let _ = decode_exact::<Record>(b);
    let _ = decode_message::<Record>(b);
    let _ = decode_exact::<PeerId>(b);
    let _ = decode_message::<PeerId>(b);
    let _ = decode_exact::<BlockRef>(b);
    let _ = decode_message::<BlockRef>(b);
    let _ = decode_exact::<BlockId>(b);
    let _ = decode_exact::<DhtKey>(b);
    let _ = decode_exact::<TreeEntry>(b);
    let _ = decode_exact::<gofast_core::dht::Provider>(b);
    if let Ok(m) = decode_message::<gofast_core::dht::DhtMessage>(b) {
        // What decodes re-encodes to the same bytes.
        assert_eq!(encode_to_vec(&m), b[2..]);
    }
    if let Ok(m) = decode_message::<gofast_core::exchange::ExchangeMessage<'_>>(b) {
        assert_eq!(encode_to_vec(&m), b[2..]);
    }
    if let Ok(listing) = gofast_core::fs::DirListing::decode(b) {
        // A listing that decodes yields every entry, in order, and encodes back to itself.
        let mut entries: Vec<_> = listing.entries().collect();
        assert_eq!(entries.len(), listing.len());
        assert_eq!(gofast_core::fs::encode_listing(&mut entries).unwrap(), b);
    }
    if let Ok(node) = TreeNode::decode(b) {
        // A node that decodes must be fully usable.
        assert_eq!(node.entries().count(), node.len());
        let sum: u64 = node.entries().map(|e| e.size).sum();
        assert_eq!(sum, node.total_size());
    }
    let _ = verify(&BlockId([0; 32]), b);
    // Under a wrong id (refused before decryption) and under the right id with an arbitrary key, so that
    // decryption and plaintext parsing see arbitrary bytes too.
    let mut copy = b.to_vec();
    let _ = open_in_place(&BlockRef::from_bytes(&[3; 64]), &mut copy);
    let mut right_id = BlockRef::from_bytes(&[3; 64]);
    right_id.id = BlockId(gofast_core::crypto::hash::hash(b));
    let mut copy = b.to_vec();
    let _ = open_in_place(&right_id, &mut copy);
    let text = String::from_utf8_lossy(b);
    let _ = PeerId::from_str(&text);
    let _ = BlockRef::from_str(&text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(b in bytes(1300)) {
        decode_all(&b);
    }

    #[test]
    fn random_tree_payloads_never_panic(level in any::<u8>(), count in any::<u16>(), rest in bytes(4000)) {
        let mut b = vec![level];
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&rest);
        decode_all(&b);
    }

    /// Payloads of exactly the length their count says, so that most decode and the checks on a decoded
    /// node actually run; random sizes still break the size rules now and then.
    #[test]
    fn well_framed_tree_payloads_decode_into_usable_nodes(
        level in 0u8..=66,
        entries in proptest::collection::vec((any::<[u8; 64]>(), prop_oneof![1u64..70_000, any::<u64>()]), 1..56),
    ) {
        let mut b = vec![level];
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (r, size) in &entries {
            b.extend_from_slice(r);
            b.extend_from_slice(&size.to_le_bytes());
        }
        decode_all(&b);
        let valid_sizes = entries.iter().all(|(_, s)| *s > 0 && (level != 1 || *s <= 65_535))
            && entries.iter().try_fold(0u64, |acc, (_, s)| acc.checked_add(*s)).is_some();
        prop_assert_eq!(TreeNode::decode(&b).is_ok(), (1..=64).contains(&level) && valid_sizes);
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,130}", prefix in prop_oneof![Just("gfp1"), Just("gfb1"), Just("GFP1"), Just("")]) {
        let text = format!("{prefix}{s}");
        let _ = PeerId::from_str(&text);
        let _ = BlockRef::from_str(&text);
    }
}

#[test]
fn every_truncation_of_valid_encodings_is_refused() {
    let kp = KeyPair::from_seed(&SecretBytes::new([1; 32]));
    let record = Record::sign(&kp, b"salt", 42, b"a value").unwrap();
    let mut msg = vec![0u8; message_len(&record)];
    encode_message(&record, &mut msg).unwrap();
    for n in 0..msg.len() {
        assert!(
            decode_message::<Record>(&msg[..n]).is_err(),
            "record message cut at {n}"
        );
    }
    let body = encode_to_vec(&record);
    for n in 0..body.len() {
        assert!(
            matches!(
                decode_exact::<Record>(&body[..n]),
                Err(DecodeError::UnexpectedEnd { .. }) | Err(DecodeError::BadSignature)
            ),
            "cut at {n}"
        );
    }
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        decode_exact::<Record>(&longer),
        Err(DecodeError::TrailingBytes { extra: 1 })
    );
}

#[test]
fn message_headers_are_checked() {
    let r = BlockRef::from_bytes(&[7; 64]);
    let mut msg = vec![0u8; message_len(&r)];
    encode_message(&r, &mut msg).unwrap();
    assert_eq!(msg[0], FORMAT_VERSION);
    assert_eq!(decode_message::<BlockRef>(&msg).unwrap(), r);

    let mut wrong_version = msg.clone();
    wrong_version[0] = 2;
    assert_eq!(
        decode_message::<BlockRef>(&wrong_version),
        Err(DecodeError::UnsupportedVersion { version: 2 })
    );

    assert_eq!(
        decode_message::<Record>(&msg),
        Err(DecodeError::UnexpectedMessageType {
            expected: 0x01,
            found: 0x02
        })
    );
    assert!(matches!(
        decode_message::<BlockRef>(&[]),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
}

#[test]
fn writers_fail_instead_of_overflowing() {
    let r = BlockRef::from_bytes(&[7; 64]);
    let mut small = [0u8; 10];
    assert_eq!(
        encode_message(&r, &mut small),
        Err(EncodeError::BufferTooSmall {
            needed: 32,
            available: 8
        })
    );
    let mut buf = [0u8; 300];
    let mut w = Writer::new(&mut buf);
    assert_eq!(
        w.put_bytes_u8_len(&[0; 256], 255),
        Err(EncodeError::TooLong { max: 255, len: 256 })
    );
    assert_eq!(
        w.put_bytes_u16_len(&[0; 20], 10),
        Err(EncodeError::TooLong { max: 10, len: 20 })
    );
    assert_eq!(w.position(), 0, "a refused field writes nothing");
    // Nor does one refused for lack of room: no length prefix is left behind.
    let mut tiny = [0u8; 4];
    let mut w = Writer::new(&mut tiny);
    assert_eq!(
        w.put_bytes_u8_len(&[1; 5], 255),
        Err(EncodeError::BufferTooSmall {
            needed: 6,
            available: 4
        })
    );
    assert_eq!(w.position(), 0);
}

#[test]
fn readers_check_lengths_before_reading() {
    // A u32 length of 4 GiB in a 6-byte input: refused by the field maximum, not by trying to read.
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
    assert_eq!(
        r.bytes_u32_len("x", 1000),
        Err(DecodeError::LengthTooLarge {
            field: "x",
            max: 1000,
            found: u32::MAX as usize
        })
    );
    let mut r = Reader::new(&[5, 1, 2]);
    assert_eq!(
        r.bytes_u8_len("y", 10),
        Err(DecodeError::UnexpectedEnd {
            needed: 5,
            remaining: 2
        })
    );
    let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        (r.u8(), r.u8(), r.u32(), r.u64()),
        (Ok(1), Ok(0), Ok(2), Ok(3))
    );
    assert!(r.finish().is_ok());
}
