//! The bounded in-memory record store against a model (a map from slot to record and times): random
//! puts of records from a few keys and salts, at random sequences, and the passing of time. Same
//! answers, same contents, and the rules: never a lower sequence, never a conflicting value, the
//! closest records kept when full, at most `max_per_publisher` records of one key.

use std::collections::BTreeMap;

use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{MemoryRecordStore, PutOutcome, RecordStore, StoreConfig, StoreError};
use gofast_core::identity::{DhtKey, KeyPair};
use gofast_core::record::{Record, UpdateError};
use gofast_core::time::{Duration, Instant};
use proptest::prelude::*;

const N: usize = 6;

fn config() -> StoreConfig {
    StoreConfig {
        record_ttl: Duration::from_secs(100),
        republish_interval: Duration::from_secs(40),
        max_per_publisher: 3,
    }
}

fn local() -> DhtKey {
    DhtKey(gofast_core::crypto::hash::hash(b"record store model"))
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        key: u8,
        salt: u8,
        seq: u64,
        value: u8,
    },
    Wait(u64),
    Remove {
        key: u8,
        salt: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..3, 0u8..4, 0u64..4, 0u8..2).prop_map(|(key, salt, seq, value)| Op::Put { key, salt, seq, value }),
        1 => (1u64..60).prop_map(Op::Wait),
        1 => (0u8..3, 0u8..4).prop_map(|(key, salt)| Op::Remove { key, salt }),
    ]
}

struct ModelEntry {
    record: Record,
    expires_at: Instant,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..120)) {
        let keys: Vec<KeyPair> = (1..=3u8).map(|i| KeyPair::from_seed(&SecretBytes::new([i; 32]))).collect();
        let mut store: MemoryRecordStore<N> = MemoryRecordStore::new(local(), config());
        let mut model: BTreeMap<DhtKey, ModelEntry> = BTreeMap::new();
        let mut now = Instant::from_micros(0);
        for op in ops {
            match op {
                Op::Put { key, salt, seq, value } => {
                    let record = Record::sign(&keys[key as usize], &[salt], seq, &[value]).unwrap();
                    let slot = record.dht_key();
                    let expires_at = now + config().record_ttl;
                    model.retain(|_, e| e.expires_at > now);
                    let held = model.len();
                    let of_publisher = model.values().filter(|e| e.record.public_key() == record.public_key()).count();
                    let expected = match model.get_mut(&slot) {
                        Some(e) => match e.record.check_update(&record) {
                            Ok(()) => {
                                let previous = e.record.seq();
                                *e = ModelEntry { record: record.clone(), expires_at };
                                Ok(PutOutcome::Replaced { previous })
                            }
                            Err(UpdateError::Duplicate) => {
                                e.expires_at = e.expires_at.max(expires_at);
                                Ok(PutOutcome::Refreshed)
                            }
                            Err(other) => Err(StoreError::Update(other)),
                        },
                        None if of_publisher >= config().max_per_publisher => {
                            Err(StoreError::PublisherQuota)
                        }
                        None if held < N => {
                            model.insert(slot, ModelEntry { record: record.clone(), expires_at });
                            Ok(PutOutcome::Stored)
                        }
                        None => {
                            let farthest = *model.keys().max_by_key(|k| k.distance(&local())).unwrap();
                            if slot.distance(&local()) < farthest.distance(&local()) {
                                model.remove(&farthest);
                                model.insert(slot, ModelEntry { record: record.clone(), expires_at });
                                Ok(PutOutcome::Stored)
                            } else {
                                Err(StoreError::Full)
                            }
                        }
                    };
                    prop_assert_eq!(store.put(record, now), expected);
                }
                Op::Remove { key, salt } => {
                    let slot = Record::slot_key(&keys[key as usize].peer_id(), &[salt]).unwrap();
                    let expected = model.remove(&slot).map(|e| e.record);
                    prop_assert_eq!(store.remove(&slot), expected);
                }
                Op::Wait(secs) => {
                    now += Duration::from_secs(secs);
                    let before = model.len();
                    model.retain(|_, e| e.expires_at > now);
                    prop_assert_eq!(store.expire(now), before - model.len());
                }
            }
            prop_assert_eq!(store.len(), model.len());
            for (slot, e) in &model {
                prop_assert_eq!(store.get(slot), Some(&e.record));
            }
        }
    }
}

#[test]
fn records_are_republished_on_the_interval_until_they_expire() {
    let key = KeyPair::from_seed(&SecretBytes::new([9; 32]));
    let mut store: MemoryRecordStore<4> = MemoryRecordStore::new(local(), config());
    let t0 = Instant::from_micros(0);
    store
        .put(Record::sign(&key, b"a", 1, b"x").unwrap(), t0)
        .unwrap();
    assert!(store.next_republish(t0).is_none());
    // Due one interval on, plus a spread of at most a quarter interval.
    let due = store.poll_timeout().unwrap();
    assert!(due >= t0 + Duration::from_secs(40) && due < t0 + Duration::from_secs(50));
    assert!(
        store
            .next_republish(Instant::from_micros(due.as_micros() - 1))
            .is_none()
    );
    assert_eq!(store.next_republish(due).map(Record::seq), Some(1));
    assert!(store.next_republish(due).is_none(), "once per interval");
    let t2 = due + Duration::from_secs(40);
    assert!(store.next_republish(t2).is_some());
    // Not stored again: gone after its time to live, and no longer republished.
    let t3 = t0 + Duration::from_secs(100);
    assert_eq!(store.expire(t3), 1);
    assert!(store.next_republish(t3 + Duration::from_secs(40)).is_none());
}

#[test]
fn a_store_from_another_storer_postpones_the_republish() {
    let key = KeyPair::from_seed(&SecretBytes::new([9; 32]));
    let record = Record::sign(&key, b"a", 1, b"x").unwrap();
    let mut store: MemoryRecordStore<4> = MemoryRecordStore::new(local(), config());
    let t0 = Instant::from_micros(0);
    store.put(record.clone(), t0).unwrap();
    let due = store.poll_timeout().unwrap();
    // Another storer republished it just before this one would have.
    let t1 = Instant::from_micros(due.as_micros() - 1_000_000);
    assert_eq!(store.put(record, t1), Ok(PutOutcome::Refreshed));
    assert!(store.next_republish(due).is_none());
    assert!(store.poll_timeout().unwrap() >= t1 + Duration::from_secs(40));
}
