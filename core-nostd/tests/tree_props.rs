//! Merkle trees of blocks: files of any size round-trip, trees are canonical within a scope, edits touch
//! few blocks, and readers refuse trees that lie about themselves.

use std::collections::HashMap;

use gofast_core::block::{
    Block, BlockId, BlockKind, BlockRef, ChunkerParams, ConvergenceKey, EncodedFile, FileEncoder,
    MAX_TREE_CHILDREN, ReadError, ScopeSecret, TreeEntry, TreeNode, encode_tree_node,
    open_in_place, read_tree, seal_in_place,
};
use gofast_core::crypto::SecretBytes;
use proptest::prelude::*;

type Store = HashMap<BlockId, Vec<u8>>;

fn scope(seed: u8) -> ScopeSecret {
    ScopeSecret::from_secret(SecretBytes::new([seed; 32]))
}

/// Small chunks so that modest inputs make deep trees.
fn small() -> ChunkerParams {
    ChunkerParams::new(64, 128, 512).unwrap()
}

fn encode(
    data: &[u8],
    scope: &ScopeSecret,
    params: ChunkerParams,
    piece: usize,
    store: &mut Store,
) -> EncodedFile {
    let mut enc = FileEncoder::new(scope, params);
    let mut sink = |id: &BlockId, bytes: &[u8]| -> Result<(), String> {
        gofast_core::block::verify(id, bytes).map_err(|e| e.to_string())?;
        store.insert(*id, bytes.to_vec());
        Ok(())
    };
    for part in data.chunks(piece.max(1)) {
        enc.write(part, &mut sink).unwrap();
    }
    enc.finish(&mut sink).unwrap()
}

fn read(root: &BlockRef, store: &Store) -> Result<Vec<u8>, ReadError<String>> {
    let mut out = Vec::new();
    read_tree(
        root,
        u64::MAX,
        |id| {
            store
                .get(id)
                .cloned()
                .ok_or_else(|| format!("missing {id}"))
        },
        |d| {
            out.extend_from_slice(d);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Deterministic pseudo-random bytes (xorshift), so that large inputs cost nothing to describe.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Depth of the tree under `root`.
fn depth(root: &BlockRef, store: &Store) -> u8 {
    let mut block = store[&root.id].clone();
    match open_in_place(root, &mut block).unwrap() {
        Block::Data(_) => 0,
        Block::Tree(n) => n.level(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_data_round_trips_whatever_the_write_sizes(len in 0usize..60_000, seed in any::<u64>(), piece in 1usize..5000) {
        let data = noise(seed, len);
        let mut store = Store::new();
        let file = encode(&data, &scope(1), small(), piece, &mut store);
        prop_assert_eq!(file.size, len as u64);
        prop_assert_eq!(read(&file.root, &store).unwrap(), data);
    }

    #[test]
    fn the_root_depends_on_data_and_scope_not_on_how_it_was_written(len in 1usize..20_000, seed in any::<u64>(), p1 in 1usize..3000, p2 in 1usize..3000) {
        let data = noise(seed, len);
        let a = encode(&data, &scope(1), small(), p1, &mut Store::new());
        let b = encode(&data, &scope(1), small(), p2, &mut Store::new());
        let c = encode(&data, &scope(2), small(), p1, &mut Store::new());
        prop_assert_eq!(&a.root, &b.root);
        prop_assert_ne!(a.root.id, c.root.id);
    }
}

/// An insertion re-sends few blocks: the chunks around it and the path to the root. Fixed cases, so the
/// bound is checked against the same inputs every run (measured: mean 1.3, max 6 changed leaves).
#[test]
fn an_insertion_changes_few_blocks() {
    let params = ChunkerParams::new(256, 1024, 4096).unwrap();
    let mut changed = Vec::new();
    for case in 0..100u64 {
        let data = noise(case * 7 + 1, 100_000);
        let mut edited = data.clone();
        let at = (case as usize * 7919) % data.len();
        edited.splice(at..at, noise(case + 99, 1 + (case as usize % 200)));
        let (mut before, mut after) = (Store::new(), Store::new());
        encode(&data, &scope(3), params, 8192, &mut before);
        encode(&edited, &scope(3), params, 8192, &mut after);
        changed.push(after.keys().filter(|id| !before.contains_key(id)).count());
    }
    let mean = changed.iter().sum::<usize>() as f64 / changed.len() as f64;
    let max = changed.iter().max().copied().unwrap_or(0);
    // About 100 leaves and a couple of tree nodes per file: a few leaves plus the tree path may change.
    assert!(
        mean <= 4.5 && max <= 10,
        "changed blocks per edit: mean {mean:.2}, max {max}, all {changed:?}"
    );
}

#[test]
fn empty_data_is_one_empty_leaf() {
    let mut store = Store::new();
    let file = encode(&[], &scope(1), small(), 1, &mut store);
    assert_eq!((file.size, file.leaves, store.len()), (0, 1, 1));
    assert_eq!(read(&file.root, &store).unwrap(), Vec::<u8>::new());
}

#[test]
fn one_chunk_of_data_is_its_own_root() {
    let mut store = Store::new();
    let file = encode(b"hello", &scope(1), small(), 100, &mut store);
    assert_eq!(store.len(), 1);
    assert_eq!(depth(&file.root, &store), 0);
}

#[test]
fn large_inputs_make_multi_level_trees_that_read_back() {
    // ~400 KiB at ~128-byte chunks: thousands of leaves, several levels.
    let data = noise(7, 400_000);
    let mut store = Store::new();
    let file = encode(&data, &scope(9), small(), 65_536, &mut store);
    assert!(depth(&file.root, &store) >= 2, "expected a deep tree");
    assert!(file.leaves > 1000);
    assert_eq!(read(&file.root, &store).unwrap(), data);
}

#[test]
fn identical_chunks_are_stored_once() {
    let chunk = noise(11, 4096);
    let data: Vec<u8> = chunk.iter().copied().cycle().take(4096 * 40).collect();
    let mut store = Store::new();
    let file = encode(
        &data,
        &scope(1),
        ChunkerParams::new(1024, 2048, 4096).unwrap(),
        10_000,
        &mut store,
    );
    assert!(file.leaves >= 40);
    assert!(
        store.len() < 12,
        "repeated content should deduplicate, got {} blocks",
        store.len()
    );
    assert_eq!(read(&file.root, &store).unwrap(), data);
}

#[test]
fn reading_fails_cleanly_on_a_missing_or_substituted_block() {
    let data = noise(3, 20_000);
    let mut store = Store::new();
    let file = encode(&data, &scope(1), small(), 20_000, &mut store);
    let victim = *store.keys().find(|id| **id != file.root.id).unwrap();

    let mut missing = store.clone();
    missing.remove(&victim);
    assert!(matches!(
        read(&file.root, &missing),
        Err(ReadError::Fetch(_))
    ));

    let mut substituted = store.clone();
    let other = noise(4, 100);
    substituted.insert(victim, other);
    assert!(matches!(
        read(&file.root, &substituted),
        Err(ReadError::Block { .. })
    ));
}

/// A tree node that claims the wrong size for its child, or puts a leaf under a level-2 node, is refused
/// even though every block in it is validly sealed.
#[test]
fn lying_trees_are_refused() {
    let conv = ConvergenceKey::derive(&scope(5));
    let mut store = Store::new();
    let mut seal = |plain: &mut Vec<u8>| {
        let r = seal_in_place(&conv, plain).unwrap();
        store.insert(r.id, plain.clone());
        r
    };
    let leaf = seal(&mut vec![BlockKind::Data as u8, 1, 2, 3]);
    // A level-`level` node over the leaf, claiming `size` bytes beneath it.
    let mut node_over_leaf = |level: u8, size: u64| {
        let mut node = vec![0u8; 1024];
        let n = encode_tree_node(
            level,
            &[TreeEntry {
                child: leaf.clone(),
                size,
            }],
            &mut node,
        )
        .unwrap();
        seal(&mut node[..n].to_vec())
    };
    let wrong_size = node_over_leaf(1, 4); // the leaf holds 3 bytes
    let wrong_level = node_over_leaf(2, 3); // level 2 directly over a leaf
    let good = node_over_leaf(1, 3);

    assert!(matches!(
        read(&wrong_size, &store),
        Err(ReadError::Inconsistent { .. })
    ));
    assert!(matches!(
        read(&wrong_level, &store),
        Err(ReadError::Inconsistent { .. })
    ));
    assert_eq!(read(&good, &store).unwrap(), vec![1, 2, 3]);
}

/// A few small blocks can declare exabytes by listing one child many times; the reader refuses a tree
/// larger than the caller's limit before producing anything.
#[test]
fn a_tree_declaring_more_than_the_limit_is_refused_up_front() {
    let conv = ConvergenceKey::derive(&scope(6));
    let mut store = Store::new();
    let mut leaf_block = vec![BlockKind::Data as u8];
    leaf_block.extend_from_slice(&[7u8; 65_535]);
    let leaf = seal_in_place(&conv, &mut leaf_block).unwrap();
    store.insert(leaf.id, leaf_block);
    let mut child = TreeEntry {
        child: leaf,
        size: 65_535,
    };
    let mut node = vec![0u8; 70_000];
    for level in 1..=4u8 {
        let n =
            encode_tree_node(level, &vec![child.clone(); MAX_TREE_CHILDREN], &mut node).unwrap();
        let mut block = node[..n].to_vec();
        let r = seal_in_place(&conv, &mut block).unwrap();
        store.insert(r.id, block);
        child = TreeEntry {
            child: r,
            size: child.size * MAX_TREE_CHILDREN as u64,
        };
    }
    // Five blocks, about 330 KB, declaring 65535 * 910^4 bytes (~45 PB).
    let mut produced = 0u64;
    let err = read_tree(
        &child.child,
        1 << 30,
        |id| store.get(id).cloned().ok_or("missing".to_string()),
        |d| {
            produced += d.len() as u64;
            Ok(())
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        ReadError::TooLarge {
            declared: child.size,
            max: 1 << 30
        }
    );
    assert_eq!(produced, 0, "nothing is produced before the refusal");
    // A single leaf over the limit is refused too.
    let mut one_leaf = Store::new();
    let f = encode(&[1u8; 100], &scope(6), small(), 100, &mut one_leaf);
    let err = read_tree(
        &f.root,
        99,
        |id| one_leaf.get(id).cloned().ok_or(String::new()),
        |_| Ok(()),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ReadError::TooLarge {
            declared: 100,
            max: 99
        }
    );
}

#[test]
fn debug_output_of_opened_blocks_shows_no_keys_or_data() {
    let mut store = Store::new();
    let data = noise(5, 50_000);
    let file = encode(&data, &scope(1), small(), 50_000, &mut store);
    let mut block = store[&file.root.id].clone();
    let opened = open_in_place(&file.root, &mut block).unwrap();
    let shown = format!("{opened:?}");
    let Block::Tree(node) = &opened else {
        panic!("expected a tree root")
    };
    let first = node.get(0).unwrap();
    let key_hex: String = first
        .child
        .key
        .0
        .expose()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&key_hex), "{shown}");
    assert!(shown.contains("children"), "{shown}");
    assert!(!format!("{:?}", node.entries()).contains(&key_hex));
    // Descend along first children to a data leaf.
    let mut r = first.child;
    loop {
        let mut b = store[&r.id].clone();
        let opened = open_in_place(&r, &mut b).unwrap();
        let shown = format!("{opened:?}");
        match opened {
            Block::Tree(n) => {
                assert!(!shown.contains(&key_hex));
                r = n.get(0).unwrap().child;
            }
            Block::Data(_) => {
                assert!(
                    shown.starts_with("Block::Data(") && shown.ends_with("bytes)"),
                    "{shown}"
                );
                break;
            }
        }
    }
}

#[test]
fn tree_nodes_hold_at_most_max_children() {
    let leaf = TreeEntry {
        child: BlockRef::from_bytes(&[1; 64]),
        size: 1,
    };
    let mut out = vec![0u8; 70_000];
    let full = vec![leaf.clone(); MAX_TREE_CHILDREN];
    let n = encode_tree_node(1, &full, &mut out).unwrap();
    assert!(n <= gofast_core::block::MAX_BLOCK_LEN);
    assert_eq!(
        TreeNode::decode(&out[1..n]).unwrap().len(),
        MAX_TREE_CHILDREN
    );
    let over = vec![leaf; MAX_TREE_CHILDREN + 1];
    assert!(encode_tree_node(1, &over, &mut out).is_err());
}
