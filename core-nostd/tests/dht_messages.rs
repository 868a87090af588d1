//! The DHT's RPC messages and provider records: every kind round-trips, every truncation is refused,
//! lists over their bound and forged signatures are refused, and the header names the message type.

use gofast_core::codec::{
    DecodeError, decode_exact, decode_message, encode_message, encode_to_vec,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{
    Body, CLIENT_FLAG, DhtMessage, MAX_DHT_MESSAGE_LEN, MAX_NODES, MAX_PROVIDERS, NodeInfo, Nodes,
    Provider, RecordlessDhtMessage, StoreResult,
};
use gofast_core::identity::{DhtKey, KeyPair};
use gofast_core::record::Record;
use proptest::prelude::*;

fn keypair(n: u8) -> KeyPair {
    KeyPair::from_seed(&SecretBytes::new([n; 32]))
}

fn nodes(count: usize, addr_len: usize) -> Nodes {
    (0..count)
        .map(|i| NodeInfo {
            peer: keypair(i as u8 + 1).peer_id(),
            addr: heapless::Vec::from_slice(&vec![i as u8; addr_len]).unwrap(),
        })
        .collect()
}

fn every_kind(n: usize, addr_len: usize) -> Vec<DhtMessage> {
    let record = Record::sign(&keypair(40), b"salt", 7, b"value").unwrap();
    let provider = Provider::sign(&keypair(41), [9; 32], 1_800_000_000).unwrap();
    let providers: heapless::Vec<Provider, MAX_PROVIDERS> = (0..n.min(MAX_PROVIDERS))
        .map(|_| provider.clone())
        .collect();
    [
        Body::Ping,
        Body::Pong,
        Body::FindNode {
            target: DhtKey([5; 32]),
        },
        Body::Nodes {
            nodes: nodes(n, addr_len),
        },
        Body::FindValue {
            key: record.dht_key(),
        },
        Body::Value {
            record: Some(record.clone()),
            nodes: nodes(n, addr_len),
        },
        Body::Value {
            record: None,
            nodes: nodes(n, addr_len),
        },
        Body::Store {
            record: record.clone(),
        },
        Body::Stored {
            result: StoreResult::Conflict,
        },
        Body::AddProvider {
            provider: provider.clone(),
        },
        Body::GetProviders { root: [9; 32] },
        Body::Providers {
            providers,
            nodes: nodes(n, addr_len),
        },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, body)| DhtMessage {
        client: false,
        request_id: 0x0102_0304_0506_0700 + i as u64,
        body,
    })
    .collect()
}

proptest! {
    #[test]
    fn every_kind_round_trips(n in 0..=MAX_NODES, addr_len in 0usize..=32) {
        for m in every_kind(n, addr_len) {
            let mut buf = vec![0u8; MAX_DHT_MESSAGE_LEN];
            let len = encode_message(&m, &mut buf).unwrap();
            prop_assert!(len <= MAX_DHT_MESSAGE_LEN);
            prop_assert_eq!(decode_message::<DhtMessage>(&buf[..len]).unwrap(), m);
        }
    }

    /// A client's messages: the kind's high bit, and the same bytes otherwise.
    #[test]
    fn the_client_flag_round_trips(n in 0..=MAX_NODES, addr_len in 0usize..=32) {
        for m in every_kind(n, addr_len) {
            let from_client = DhtMessage { client: true, ..m.clone() };
            let (plain, flagged) = (encode_to_vec(&m), encode_to_vec(&from_client));
            prop_assert_eq!(flagged[0], plain[0] | CLIENT_FLAG);
            prop_assert_eq!(&flagged[1..], &plain[1..]);
            prop_assert_eq!(decode_exact::<DhtMessage>(&flagged).unwrap(), from_client);
        }
    }

    /// The record-less decoder takes every message without records exactly as the full one does,
    /// and refuses the others.
    #[test]
    fn the_recordless_decoder_refuses_records_only(n in 0..=MAX_NODES, addr_len in 0usize..=32, client: bool) {
        for m in every_kind(n, addr_len) {
            let m = DhtMessage { client, ..m };
            let bytes = encode_to_vec(&m);
            let carries = match &m.body {
                Body::Value { record, .. } => record.is_some(),
                Body::Store { .. } | Body::AddProvider { .. } => true,
                Body::Providers { providers, .. } => !providers.is_empty(),
                _ => false,
            };
            match decode_exact::<RecordlessDhtMessage>(&bytes) {
                Ok(RecordlessDhtMessage(d)) => {
                    prop_assert!(!carries, "decoded a message with records: {:?}", m.body);
                    prop_assert_eq!(d, m);
                }
                Err(e) => {
                    prop_assert!(carries, "refused {:?}: {}", m.body, e);
                    prop_assert!(
                        matches!(e, DecodeError::InvalidValue { field: "dht.kind", .. }),
                        "{}", e
                    );
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_refused() {
    for m in every_kind(3, 18) {
        let bytes = encode_to_vec(&m);
        for cut in 0..bytes.len() {
            assert!(
                decode_exact::<DhtMessage>(&bytes[..cut]).is_err(),
                "{m:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn lists_over_their_bound_are_refused_before_reading_them() {
    let mut bytes = encode_to_vec(&DhtMessage {
        client: false,
        request_id: 1,
        body: Body::Nodes { nodes: nodes(0, 0) },
    });
    *bytes.last_mut().unwrap() = MAX_NODES as u8 + 1;
    assert!(matches!(
        decode_exact::<DhtMessage>(&bytes),
        Err(DecodeError::LengthTooLarge {
            field: "dht.nodes",
            ..
        })
    ));
    let mut bytes = encode_to_vec(&DhtMessage {
        client: false,
        request_id: 1,
        body: Body::Providers {
            providers: heapless::Vec::new(),
            nodes: nodes(0, 0),
        },
    });
    bytes[9] = MAX_PROVIDERS as u8 + 1;
    assert!(matches!(
        decode_exact::<DhtMessage>(&bytes),
        Err(DecodeError::LengthTooLarge {
            field: "dht.providers",
            ..
        })
    ));
}

#[test]
fn forged_provider_records_and_records_are_refused() {
    let provider = Provider::sign(&keypair(41), [9; 32], 1_800_000_000).unwrap();
    let good = encode_to_vec(&provider);
    assert_eq!(decode_exact::<Provider>(&good).unwrap(), provider);
    // Another root, expiry or provider under the same signature.
    for i in [40, 64, 70] {
        let mut bad = good.clone();
        bad[i] ^= 1;
        assert!(decode_exact::<Provider>(&bad).is_err(), "byte {i}");
    }
    let m = DhtMessage {
        client: false,
        request_id: 9,
        body: Body::AddProvider { provider },
    };
    let mut bytes = encode_to_vec(&m);
    bytes[9 + 40] ^= 1;
    assert_eq!(
        decode_exact::<DhtMessage>(&bytes),
        Err(DecodeError::BadSignature)
    );
}

#[test]
fn provider_expiry_and_position() {
    let p = Provider::sign(&keypair(41), [9; 32], 1000).unwrap();
    assert!(!p.is_expired(999));
    assert!(p.is_expired(1000));
    assert_eq!(p.dht_key(), gofast_core::dht::root_dht_key(&[9; 32]));
    assert_ne!(
        p.dht_key().0,
        [9; 32],
        "the position is derived, not the root itself"
    );
}

#[test]
fn unknown_kinds_and_results_are_refused() {
    let mut bytes = encode_to_vec(&DhtMessage {
        client: false,
        request_id: 1,
        body: Body::Ping,
    });
    bytes[0] = 0;
    assert!(matches!(
        decode_exact::<DhtMessage>(&bytes),
        Err(DecodeError::InvalidTag {
            field: "dht.kind",
            ..
        })
    ));
    let mut bytes = encode_to_vec(&DhtMessage {
        client: false,
        request_id: 1,
        body: Body::Stored {
            result: StoreResult::Full,
        },
    });
    *bytes.last_mut().unwrap() = 6;
    assert!(matches!(
        decode_exact::<DhtMessage>(&bytes),
        Err(DecodeError::InvalidTag {
            field: "dht.stored.result",
            ..
        })
    ));
}
