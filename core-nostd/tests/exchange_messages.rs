//! The block-exchange messages: every kind round-trips, a Block's header written alone plus its data is
//! the whole message, and every refusal (empty or oversized lists, empty or oversized blocks, unknown
//! kinds, trailing bytes, truncations, foreign headers) is the typed error the spec names.

use gofast_core::block::{BlockId, MAX_BLOCK_LEN, verify};
use gofast_core::block::{BlockKey, BlockRef};
use gofast_core::codec::{
    DecodeError, EncodeError, MESSAGE_HEADER_LEN, decode_exact, decode_message, encode_message,
    encode_to_slice, encode_to_vec, message_len,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_core::dht::DhtMessage;
use gofast_core::exchange::{
    BLOCK_MESSAGE_HEADER_LEN, DeltaWant, ExchangeMessage, MAX_DELTA_BASES, MAX_DELTA_WANTS,
    MAX_EXCHANGE_MESSAGE_LEN, MAX_IDS, encode_block_header,
};
use proptest::prelude::*;

type Ids = heapless::Vec<BlockId, MAX_IDS>;

fn ids(n: usize) -> Ids {
    (0..n).map(|i| BlockId([i as u8; 32])).collect()
}

/// The five list kinds around `ids`, in kind-byte order (1..=5).
fn list_kinds(ids: &Ids) -> [ExchangeMessage<'static>; 5] {
    [
        ExchangeMessage::Want { ids: ids.clone() },
        ExchangeMessage::Cancel { ids: ids.clone() },
        ExchangeMessage::WantHave { ids: ids.clone() },
        ExchangeMessage::Have { ids: ids.clone() },
        ExchangeMessage::DontHave { ids: ids.clone() },
    ]
}

/// Encodes behind the header into a buffer of the largest message's size.
fn message(m: &ExchangeMessage<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_EXCHANGE_MESSAGE_LEN];
    let n = encode_message(m, &mut buf).unwrap();
    assert_eq!(n, message_len(m), "encoded_len agrees with encode");
    buf.truncate(n);
    buf
}

fn id_list() -> impl Strategy<Value = Ids> {
    proptest::collection::vec(any::<[u8; 32]>(), 1..=MAX_IDS)
        .prop_map(|v| v.into_iter().map(BlockId).collect())
}

proptest! {
    #[test]
    fn lists_round_trip(ids in id_list()) {
        for (kind, m) in list_kinds(&ids).iter().enumerate() {
            let bytes = message(m);
            prop_assert_eq!(&bytes[..4], &[1, 5, kind as u8 + 1, ids.len() as u8]);
            prop_assert_eq!(bytes.len(), 2 + 1 + 1 + 32 * ids.len());
            prop_assert_eq!(&decode_message::<ExchangeMessage<'_>>(&bytes).unwrap(), m);
            prop_assert_eq!(&decode_exact::<ExchangeMessage<'_>>(&bytes[2..]).unwrap(), m);
            prop_assert_eq!(m.ids(), Some(&ids[..]));
        }
    }

    #[test]
    fn blocks_round_trip(id in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 1..3000)) {
        let m = ExchangeMessage::Block { id: BlockId(id), data: &data };
        let bytes = message(&m);
        prop_assert_eq!(bytes.len(), BLOCK_MESSAGE_HEADER_LEN + data.len());
        prop_assert_eq!(decode_message::<ExchangeMessage<'_>>(&bytes).unwrap(), m.clone());
        prop_assert_eq!(m.ids(), None);
        // The data is borrowed from the input, not copied.
        let ExchangeMessage::Block { data: borrowed, .. } = decode_message::<ExchangeMessage<'_>>(&bytes).unwrap() else {
            unreachable!()
        };
        prop_assert_eq!(borrowed.as_ptr(), bytes[BLOCK_MESSAGE_HEADER_LEN..].as_ptr());
    }

    #[test]
    fn block_header_then_data_is_the_message(id in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 1..3000)) {
        let id = BlockId(id);
        let mut header = [0u8; BLOCK_MESSAGE_HEADER_LEN];
        prop_assert_eq!(encode_block_header(&id, data.len(), &mut header), Ok(BLOCK_MESSAGE_HEADER_LEN));
        prop_assert_eq!([&header[..], &data].concat(), message(&ExchangeMessage::Block { id, data: &data }));
    }

    /// Arbitrary bytes behind each kind byte: a value or an error, never a panic, and what decodes
    /// encodes back to the same bytes.
    #[test]
    fn random_bodies_never_panic(kind in 0u8..=8, rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![1, 5, kind];
        bytes.extend_from_slice(&rest);
        if let Ok(m) = decode_message::<ExchangeMessage<'_>>(&bytes) {
            prop_assert_eq!(encode_to_vec(&m), &bytes[2..]);
        }
    }
}

#[test]
fn the_bounds_themselves_round_trip() {
    for m in list_kinds(&ids(MAX_IDS)) {
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&message(&m)).unwrap(),
            m
        );
    }
    for m in list_kinds(&ids(1)) {
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&message(&m)).unwrap(),
            m
        );
    }
    let data = vec![0xa5; MAX_BLOCK_LEN];
    for len in [1, MAX_BLOCK_LEN] {
        let m = ExchangeMessage::Block {
            id: BlockId(hash(&data[..len])),
            data: &data[..len],
        };
        let bytes = message(&m);
        assert_eq!(decode_message::<ExchangeMessage<'_>>(&bytes).unwrap(), m);
        let mut header = [0u8; BLOCK_MESSAGE_HEADER_LEN];
        encode_block_header(&BlockId(hash(&data[..len])), len, &mut header).unwrap();
        assert_eq!(
            [&header[..], &data[..len]].concat(),
            bytes,
            "header ++ data for {len} bytes"
        );
        if len == MAX_BLOCK_LEN {
            assert_eq!(bytes.len(), MAX_EXCHANGE_MESSAGE_LEN, "the largest message");
        }
    }
    assert_eq!(MAX_EXCHANGE_MESSAGE_LEN, 2 + 1 + 32 + 4 + 65_536);
    assert!(message_len(&ExchangeMessage::Want { ids: ids(MAX_IDS) }) < MAX_EXCHANGE_MESSAGE_LEN);
}

#[test]
fn empty_lists_are_refused_both_ways() {
    for (i, m) in list_kinds(&Ids::new()).iter().enumerate() {
        let kind = i as u8 + 1;
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&[1, 5, kind, 0]),
            Err(DecodeError::InvalidValue {
                field: "exchange.ids",
                reason: "an id list holds at least one id"
            }),
            "kind {kind}"
        );
        let mut buf = [0u8; 64];
        assert!(matches!(
            encode_message(m, &mut buf),
            Err(EncodeError::InvalidValue {
                field: "exchange.ids",
                ..
            })
        ));
    }
}

#[test]
fn lists_over_the_bound_are_refused_before_reading_them() {
    for kind in 1..=5u8 {
        for count in [MAX_IDS as u8 + 1, u8::MAX] {
            // No ids follow: the count alone is refused, so the input is never read for them.
            assert_eq!(
                decode_message::<ExchangeMessage<'_>>(&[1, 5, kind, count]),
                Err(DecodeError::LengthTooLarge {
                    field: "exchange.ids",
                    max: MAX_IDS,
                    found: usize::from(count)
                })
            );
        }
    }
}

#[test]
fn empty_and_oversized_blocks_are_refused_both_ways() {
    let block_with_len = |len: u32| {
        let mut b = vec![1, 5, 6];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&len.to_le_bytes());
        b
    };
    assert_eq!(
        decode_message::<ExchangeMessage<'_>>(&block_with_len(0)),
        Err(DecodeError::InvalidValue {
            field: "exchange.block.data",
            reason: "a block is at least one byte"
        })
    );
    for len in [MAX_BLOCK_LEN as u32 + 1, u32::MAX] {
        // The length alone is refused: no data follows it.
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&block_with_len(len)),
            Err(DecodeError::LengthTooLarge {
                field: "exchange.block.data",
                max: MAX_BLOCK_LEN,
                found: len as usize
            })
        );
    }

    let mut buf = vec![0u8; MAX_EXCHANGE_MESSAGE_LEN + 16];
    let id = BlockId([7; 32]);
    let empty = ExchangeMessage::Block { id, data: &[] };
    assert!(matches!(
        encode_message(&empty, &mut buf),
        Err(EncodeError::InvalidValue {
            field: "exchange.block.data",
            ..
        })
    ));
    let big = vec![0u8; MAX_BLOCK_LEN + 1];
    let too_big = ExchangeMessage::Block { id, data: &big };
    assert_eq!(
        encode_message(&too_big, &mut buf),
        Err(EncodeError::TooLong {
            max: MAX_BLOCK_LEN,
            len: MAX_BLOCK_LEN + 1
        })
    );
    let mut header = [0u8; BLOCK_MESSAGE_HEADER_LEN];
    assert!(matches!(
        encode_block_header(&id, 0, &mut header),
        Err(EncodeError::InvalidValue { .. })
    ));
    assert_eq!(
        encode_block_header(&id, MAX_BLOCK_LEN + 1, &mut header),
        Err(EncodeError::TooLong {
            max: MAX_BLOCK_LEN,
            len: MAX_BLOCK_LEN + 1
        })
    );
    assert_eq!(
        encode_block_header(&id, 1, &mut header[..BLOCK_MESSAGE_HEADER_LEN - 1]),
        Err(EncodeError::BufferTooSmall {
            needed: 4,
            available: 3
        })
    );
}

#[test]
fn unknown_kinds_are_refused() {
    for kind in [0u8, 9, 0x80, 0xff] {
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&[1, 5, kind, 1]),
            Err(DecodeError::InvalidTag {
                field: "exchange.kind",
                tag: kind
            })
        );
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let data = [9u8; 10];
    let mut all: Vec<ExchangeMessage<'_>> = list_kinds(&ids(3)).into();
    all.push(ExchangeMessage::Block {
        id: BlockId([1; 32]),
        data: &data,
    });
    all.push(ExchangeMessage::Delta {
        id: BlockId([2; 32]),
        data: &data,
    });
    all.push(ExchangeMessage::WantDelta { wants: wants(2, 3) });
    for m in &all {
        let mut bytes = message(m);
        bytes.push(0);
        assert_eq!(
            decode_message::<ExchangeMessage<'_>>(&bytes),
            Err(DecodeError::TrailingBytes { extra: 1 }),
            "{m:?}"
        );
        assert_eq!(
            decode_exact::<ExchangeMessage<'_>>(&bytes[MESSAGE_HEADER_LEN..]),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
    }
}

#[test]
fn every_truncation_is_refused() {
    let data = [9u8; 10];
    let mut all: Vec<ExchangeMessage<'_>> = list_kinds(&ids(3)).into();
    all.push(ExchangeMessage::Block {
        id: BlockId([1; 32]),
        data: &data,
    });
    all.push(ExchangeMessage::Delta {
        id: BlockId([2; 32]),
        data: &data,
    });
    all.push(ExchangeMessage::WantDelta { wants: wants(2, 3) });
    for m in &all {
        let bytes = message(m);
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    decode_message::<ExchangeMessage<'_>>(&bytes[..cut]),
                    Err(DecodeError::UnexpectedEnd { .. })
                ),
                "{m:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn the_header_names_the_exchange() {
    let bytes = message(&ExchangeMessage::Have { ids: ids(1) });
    assert_eq!(&bytes[..2], &[0x01, 0x05]);
    let mut wrong_version = bytes.clone();
    wrong_version[0] = 2;
    assert_eq!(
        decode_message::<ExchangeMessage<'_>>(&wrong_version),
        Err(DecodeError::UnsupportedVersion { version: 2 })
    );
    assert_eq!(
        decode_message::<DhtMessage>(&bytes),
        Err(DecodeError::UnexpectedMessageType {
            expected: 0x04,
            found: 0x05
        })
    );
    let mut as_dht = bytes.clone();
    as_dht[1] = 0x04;
    assert_eq!(
        decode_message::<ExchangeMessage<'_>>(&as_dht),
        Err(DecodeError::UnexpectedMessageType {
            expected: 0x05,
            found: 0x04
        })
    );
}

/// The decoder checks a block's length only: a block under a wrong id decodes, and `verify` is what
/// refuses it.
#[test]
fn a_block_under_a_wrong_id_decodes_and_verify_refuses_it() {
    let data = b"some ciphertext";
    let right = ExchangeMessage::Block {
        id: BlockId(hash(data)),
        data,
    };
    let wrong = ExchangeMessage::Block {
        id: BlockId([0; 32]),
        data,
    };
    for (m, ok) in [(right, true), (wrong, false)] {
        let bytes = message(&m);
        let ExchangeMessage::Block { id, data } = decode_message(&bytes).unwrap() else {
            unreachable!()
        };
        assert_eq!(verify(&id, data).is_ok(), ok);
    }
}

#[test]
fn encoding_needs_room() {
    let m = ExchangeMessage::Want { ids: ids(2) };
    let mut small = [0u8; 40];
    assert!(matches!(
        encode_to_slice(&m, &mut small),
        Err(EncodeError::BufferTooSmall { .. })
    ));
    let mut exact = vec![0u8; message_len(&m)];
    assert_eq!(encode_message(&m, &mut exact), Ok(message_len(&m)));
}

fn a_ref(i: u8) -> BlockRef {
    BlockRef {
        id: BlockId([i; 32]),
        key: BlockKey(SecretBytes::new([i ^ 0xaa; 32])),
    }
}

/// `n` delta requests of `bases` bases each.
fn wants(n: usize, bases: usize) -> heapless::Vec<DeltaWant, MAX_DELTA_WANTS> {
    (0..n)
        .map(|i| DeltaWant {
            target: a_ref(i as u8),
            bases: (0..bases).map(|j| a_ref(100 + j as u8)).collect(),
        })
        .collect()
}

proptest! {
    #[test]
    fn delta_requests_and_deltas_round_trip(
        n in 1..=MAX_DELTA_WANTS,
        b in 1..=MAX_DELTA_BASES,
        data in proptest::collection::vec(any::<u8>(), 1..2000),
    ) {
        let m = ExchangeMessage::WantDelta { wants: wants(n, b) };
        let bytes = message(&m);
        prop_assert_eq!(&bytes[..4], &[1, 5, 7, n as u8]);
        prop_assert_eq!(bytes.len(), 2 + 1 + 1 + n * (64 + 1 + 64 * b));
        prop_assert_eq!(&decode_message::<ExchangeMessage<'_>>(&bytes).unwrap(), &m);
        prop_assert_eq!(m.ids(), None);
        let d = ExchangeMessage::Delta { id: BlockId([5; 32]), data: &data };
        let bytes = message(&d);
        prop_assert_eq!(&bytes[..3], &[1, 5, 8]);
        prop_assert_eq!(&decode_message::<ExchangeMessage<'_>>(&bytes).unwrap(), &d);
    }
}

#[test]
fn the_longest_delta_request_is_shorter_than_the_longest_id_list() {
    let longest = message_len(&ExchangeMessage::WantDelta {
        wants: wants(MAX_DELTA_WANTS, MAX_DELTA_BASES),
    });
    assert_eq!(longest, 1_930);
    assert!(longest <= message_len(&ExchangeMessage::Want { ids: ids(MAX_IDS) }));
}

#[test]
fn delta_counts_out_of_bounds_are_refused() {
    // No requests, too many requests, a request without bases, one with too many.
    let target = a_ref(1).to_bytes();
    let with_bases = |n: u8| {
        let mut b = vec![1, 5, 7, 1];
        b.extend_from_slice(&target);
        b.push(n);
        b.extend(std::iter::repeat_n(3u8, 64 * usize::from(n)));
        b
    };
    for (bytes, field) in [
        (vec![1, 5, 7, 0], "exchange.want_delta.wants"),
        (vec![1, 5, 7, 7], "exchange.want_delta.wants"),
        (with_bases(0), "exchange.want_delta.bases"),
        (with_bases(5), "exchange.want_delta.bases"),
    ] {
        let err = decode_message::<ExchangeMessage<'_>>(&bytes).unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidValue { field: f, .. } | DecodeError::LengthTooLarge { field: f, .. } if f == field),
            "{bytes:?}: {err:?}"
        );
    }
    assert!(decode_message::<ExchangeMessage<'_>>(&with_bases(4)).is_ok());
    // An empty delta, both ways.
    let mut empty = vec![1, 5, 8];
    empty.extend_from_slice(&[0; 32]);
    empty.extend_from_slice(&0u32.to_le_bytes());
    assert!(decode_message::<ExchangeMessage<'_>>(&empty).is_err());
    let mut buf = vec![0u8; 100];
    assert!(
        encode_message(
            &ExchangeMessage::Delta {
                id: BlockId([0; 32]),
                data: &[]
            },
            &mut buf
        )
        .is_err()
    );
    // Keys stay out of Debug.
    // (Target key bytes 0xaa, base key bytes 0xce.)
    let shown = format!("{:?}", ExchangeMessage::WantDelta { wants: wants(1, 1) });
    for key in ["aaaa", "AAAA", "170", "cece", "CECE", "206"] {
        assert!(!shown.contains(key), "{shown}");
    }
}
