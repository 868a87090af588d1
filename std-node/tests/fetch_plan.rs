//! The fetch plan on real encrypted trees: several providers share the blocks, a lying provider is
//! dropped and its blocks come from the others, a vanished provider's requests move on, and a
//! block nobody holds ends the fetch with a clear error.

use std::collections::HashMap;

use gofast_core::block::{BlockId, BlockRef, ChunkerParams, FileEncoder, ScopeSecret};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_node::exchange::{Accepted, Fetch, FetchError};

fn tree(len: usize, seed: u8) -> (BlockRef, HashMap<BlockId, Vec<u8>>) {
    let scope = ScopeSecret::from_secret(SecretBytes::new([seed; 32]));
    let mut data = vec![0u8; len];
    let mut x = u64::from(seed) + 1;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut blocks = HashMap::new();
    let mut sink = |id: &BlockId, bytes: &[u8]| -> Result<(), std::convert::Infallible> {
        blocks.insert(*id, bytes.to_vec());
        Ok(())
    };
    let mut enc = FileEncoder::new(&scope, ChunkerParams::DEFAULT);
    enc.write(&data, &mut sink).unwrap();
    let root = enc.finish(&mut sink).unwrap().root;
    (root, blocks)
}

fn peer(i: u8) -> PeerId {
    KeyPair::from_seed(&SecretBytes::new([i; 32])).peer_id()
}

#[test]
fn providers_share_the_work_and_the_fetch_completes() {
    let (root, blocks) = tree(3 << 20, 1);
    let mut fetch = Fetch::new(root, 8);
    let (a, b, c) = (peer(1), peer(2), peer(3));
    for p in [a, b, c] {
        fetch.add_provider(p);
    }
    let mut rounds = 0;
    while !fetch.is_complete() {
        rounds += 1;
        assert!(rounds < 10_000, "the fetch does not finish");
        let mut asked = Vec::new();
        while let Some(req) = fetch.next_request() {
            asked.push(req);
        }
        assert!(!asked.is_empty(), "nothing to ask while incomplete");
        for (p, ids) in asked {
            for id in ids {
                assert_eq!(
                    fetch.on_block(&p, &id, &blocks[&id]).unwrap(),
                    Accepted::Store
                );
            }
        }
    }
    let progress = fetch.progress();
    assert_eq!(progress.blocks as usize, blocks.len());
    assert_eq!(progress.total_data, Some(3 << 20));
    let delivered: Vec<u64> = fetch.delivered().map(|(_, n)| n).collect();
    assert!(
        delivered.iter().all(|&n| n > 0),
        "every provider served: {delivered:?}"
    );
}

#[test]
fn a_wrong_block_drops_its_sender_and_the_others_deliver() {
    let (root, blocks) = tree(1 << 20, 2);
    let mut fetch = Fetch::new(root, 4);
    let (liar, honest) = (peer(1), peer(2));
    fetch.add_provider(liar);
    fetch.add_provider(honest);
    let mut caught = false;
    while !fetch.is_complete() {
        let Some((p, ids)) = fetch.next_request() else {
            panic!("stuck: {:?}", fetch.check_stuck());
        };
        for id in ids {
            if p == liar {
                let mut bad = blocks[&id].clone();
                bad[0] ^= 1;
                match fetch.on_block(&p, &id, &bad) {
                    Err(FetchError::WrongBlock { peer }) => {
                        assert_eq!(peer, liar);
                        caught = true;
                    }
                    // Its later blocks are no longer wanted from it.
                    Ok(Accepted::Unwanted) => {}
                    other => panic!("a wrong block was taken: {other:?}"),
                }
            } else {
                fetch.on_block(&p, &id, &blocks[&id]).unwrap();
            }
        }
    }
    assert!(caught);
    assert!(fetch.providers().all(|p| *p == honest));
}

#[test]
fn a_vanished_provider_s_requests_move_on_and_a_missing_block_is_reported() {
    let (root, blocks) = tree(1 << 20, 3);
    let mut fetch = Fetch::new(root, 4);
    let (gone, stays) = (peer(1), peer(2));
    fetch.add_provider(gone);
    fetch.add_provider(stays);
    // Both get requests; one vanishes before answering.
    let first = fetch.next_request().unwrap();
    let second = fetch.next_request();
    fetch.remove_provider(&gone);
    for (p, ids) in [Some(first), second].into_iter().flatten() {
        if p == stays {
            for id in ids {
                fetch.on_block(&p, &id, &blocks[&id]).unwrap();
            }
        }
    }
    // The one left says it lacks one leaf: nothing else can serve it.
    let mut lacking = None;
    while !fetch.is_complete() {
        let Some((p, ids)) = fetch.next_request() else {
            break;
        };
        for id in ids {
            if lacking.is_none() && fetch.progress().blocks > 2 {
                lacking = Some(id);
                fetch.on_dont_have(&p, &[id]);
            } else {
                fetch.on_block(&p, &id, &blocks[&id]).unwrap();
            }
        }
    }
    assert!(lacking.is_some());
    assert!(!fetch.is_complete());
    assert_eq!(
        fetch.check_stuck(),
        Err(FetchError::NoProviders { missing: 1 })
    );
}

#[test]
fn held_blocks_are_not_asked_for() {
    let (root, blocks) = tree(1 << 20, 4);
    let mut fetch = Fetch::new(root, 4);
    fetch.take_local(|id| blocks.get(id).cloned()).unwrap();
    assert!(fetch.is_complete());
    assert_eq!(fetch.progress().received, 0);
    assert_eq!(fetch.progress().blocks as usize, blocks.len());
}
