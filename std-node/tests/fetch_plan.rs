//! The fetch plan on real encrypted trees: several providers share the blocks, a lying provider is
//! dropped and its blocks come from the others, a vanished provider's requests move on, a
//! block nobody holds ends the fetch with a clear error, and with an older version held the
//! changed blocks come as deltas.

use std::collections::HashMap;

use gofast_core::block::{
    Block, BlockId, BlockRef, ChunkerParams, ConvergenceKey, FileEncoder, ScopeSecret, TreeEntry,
    encode_tree_node, open_in_place, read_tree, seal_in_place,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_node::exchange::{
    Accepted, Fetch, FetchError, LOOKAHEAD, MAX_REPEATS, Placement, Served, rebuild, serve_delta,
};

fn noise(len: usize, seed: u8) -> Vec<u8> {
    let mut data = vec![0u8; len];
    let mut x = u64::from(seed) + 1;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    data
}

fn tree(len: usize, seed: u8) -> (BlockRef, HashMap<BlockId, Vec<u8>>) {
    encode(&noise(len, seed), seed)
}

/// The chunking these tests were written for (the default before 2026-11-28): what they check is
/// the plan's logic, which should not move with the default chunk size.
const SIXTEEN_KIB: ChunkerParams = match ChunkerParams::new(4096, 16_384, 65_535) {
    Ok(p) => p,
    Err(_) => panic!("valid parameters"),
};

fn encode(data: &[u8], seed: u8) -> (BlockRef, HashMap<BlockId, Vec<u8>>) {
    let scope = ScopeSecret::from_secret(SecretBytes::new([seed; 32]));
    let mut blocks = HashMap::new();
    let mut sink = |id: &BlockId, bytes: &[u8]| -> Result<(), std::convert::Infallible> {
        blocks.insert(*id, bytes.to_vec());
        Ok(())
    };
    let mut enc = FileEncoder::new(&scope, SIXTEEN_KIB);
    enc.write(data, &mut sink).unwrap();
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
                assert!(matches!(
                    fetch.on_block(&p, &id, &blocks[&id]).unwrap(),
                    Accepted::Store(_)
                ));
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
fn requests_go_out_a_quarter_window_at_a_time_once_the_window_is_full() {
    // 3 MiB: some 150 leaves, far more than a window.
    let (root, blocks) = tree(3 << 20, 4);
    let mut fetch = Fetch::new(root, 16);
    let a = peer(1);
    fetch.add_provider(a);
    let mut in_flight: Vec<BlockId> = Vec::new();
    // The root, then its children: the queue fills while the window empties.
    while in_flight.len() < 16 && !fetch.is_complete() {
        while let Some((_, ids)) = fetch.next_request() {
            in_flight.extend(ids);
        }
        let id = in_flight.remove(0);
        fetch.on_block(&a, &id, &blocks[&id]).unwrap();
        while let Some((_, ids)) = fetch.next_request() {
            in_flight.extend(ids);
        }
    }
    assert_eq!(in_flight.len(), 16, "the window is full");
    // Three arrivals free less than a quarter: no request; the fourth frees a quarter.
    for n in 1..=4 {
        let id = in_flight.remove(0);
        fetch.on_block(&a, &id, &blocks[&id]).unwrap();
        let req = fetch.next_request();
        if n < 4 {
            assert!(req.is_none(), "a request after {n} arrivals");
        } else {
            let (_, ids) = req.expect("a request once a quarter is free");
            assert_eq!(ids.len(), 4);
            in_flight.extend(ids);
        }
    }
    // And the fetch still completes, the last blocks without waiting for a quarter.
    while !fetch.is_complete() {
        while let Some((_, ids)) = fetch.next_request() {
            in_flight.extend(ids);
        }
        assert!(!in_flight.is_empty(), "nothing in flight while incomplete");
        let id = in_flight.remove(0);
        fetch.on_block(&a, &id, &blocks[&id]).unwrap();
    }
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

/// A file edited in one place: its new root and tree node must travel, and the one or two chunks
/// the edit touched; the chunks the old version shares, found only as the new node opens, are
/// taken from the store when `take_local` runs after each block (the fetch loop's contract; the
/// loop once called it at the start only, and an edited file travelled whole: `cli_push` checks
/// the blocks a real push fetches).
#[test]
fn after_an_edit_only_the_changed_chunks_are_asked_for() {
    let old = noise(1 << 20, 5);
    let mut new = old.clone();
    new.splice(300_000..300_004, *b"EDIT");
    let (_, held) = encode(&old, 5);
    let (root, blocks) = encode(&new, 5);
    let mut fetch = Fetch::new(root, 4);
    fetch.add_provider(peer(1));
    let mut asked = 0;
    loop {
        fetch.take_local(|id| held.get(id).cloned()).unwrap();
        if fetch.is_complete() {
            break;
        }
        let Some((p, ids)) = fetch.next_request() else {
            panic!("nothing to ask while incomplete");
        };
        for id in ids {
            asked += 1;
            fetch.on_block(&p, &id, &blocks[&id]).unwrap();
        }
    }
    let changed = blocks.keys().filter(|id| !held.contains_key(id)).count();
    assert_eq!(asked, changed, "only the blocks not held travel");
    assert!(
        changed <= 4,
        "an edit changes a chunk or two, the node and the root: {changed}"
    );
    assert!(
        blocks.len() > 40,
        "the file is many chunks: {}",
        blocks.len()
    );
}

/// Writes `p`'s data (a leaf, or a whole subtree) from `blocks` into `out` at each offset.
fn place(p: &Placement, blocks: &HashMap<BlockId, Vec<u8>>, out: &mut [u8]) {
    {
        let mut pos = p.offset as usize;
        let n = read_tree(
            &p.block,
            p.size,
            |id| Ok::<_, ()>(blocks[id].clone()),
            |d| {
                out[pos..pos + d.len()].copy_from_slice(d);
                pos += d.len();
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, p.size);
    }
}

/// Data that repeats chunks and whole subtrees, so that placements carry several offsets and some
/// blocks turn up again after they were handled.
fn repetitive() -> Vec<u8> {
    let piece = noise(1 << 20, 7);
    let mut data = Vec::new();
    data.extend_from_slice(&piece);
    data.extend_from_slice(&noise(300_000, 8));
    data.extend_from_slice(&piece);
    data.extend(std::iter::repeat_n(0u8, 700_000));
    data.extend_from_slice(&piece);
    data
}

#[test]
fn placements_put_every_byte_where_it_belongs() {
    let data = repetitive();
    let (root, blocks) = encode(&data, 9);
    let mut fetch = Fetch::new(root, 8);
    let (a, b) = (peer(1), peer(2));
    fetch.add_provider(a);
    fetch.add_provider(b);
    let mut out = vec![0xAAu8; data.len()];
    let mut leaves = 0;
    while !fetch.is_complete() {
        let Some((p, ids)) = fetch.next_request() else {
            panic!("stuck: {:?}", fetch.check_stuck());
        };
        // Answer in reverse, so blocks arrive out of order.
        for id in ids.into_iter().rev() {
            let Accepted::Store(placements) = fetch.on_block(&p, &id, &blocks[&id]).unwrap() else {
                panic!("a block asked for was not taken");
            };
            for pl in placements {
                leaves += 1;
                let mut plain = blocks[&id].clone();
                let Block::Data(d) = open_in_place(&pl.block, &mut plain).unwrap() else {
                    panic!("a placement for a tree node");
                };
                assert_eq!(d.len() as u64, pl.size);
                let at = pl.offset as usize;
                out[at..at + d.len()].copy_from_slice(d);
            }
        }
    }
    // A leaf named again before it arrives comes with a placement per reference; a subtree named
    // again is read back from the store at the end.
    for p in fetch.take_stored() {
        place(&p, &blocks, &mut out);
    }
    assert!(leaves > 0);
    assert_eq!(out.len(), data.len());
    assert!(out == data, "the placed bytes differ from the data");
}

#[test]
fn placements_cover_what_was_held_before_the_fetch() {
    let data = repetitive();
    let (root, blocks) = encode(&data, 10);
    // Held: the root and half the other blocks (every other id), leaves and nodes alike.
    let mut ids: Vec<BlockId> = blocks.keys().copied().collect();
    ids.sort_by_key(|id| id.0);
    let mut held: HashMap<BlockId, Vec<u8>> = ids
        .iter()
        .step_by(2)
        .map(|id| (*id, blocks[id].clone()))
        .collect();
    held.insert(root.id, blocks[&root.id].clone());
    let mut fetch = Fetch::new(root, 8);
    fetch.add_provider(peer(1));
    let mut out = vec![0xAAu8; data.len()];
    let mut from_store = 0;
    loop {
        // The fetch loop's contract: what was found is looked for in the store after each block,
        // and the held leaves are written as they are found.
        fetch.take_local(|id| held.get(id).cloned()).unwrap();
        for pl in fetch.take_held() {
            from_store += 1;
            place(&pl, &blocks, &mut out);
        }
        if fetch.is_complete() {
            break;
        }
        let (p, ids) = fetch.next_request().expect("a request");
        for id in ids {
            if let Accepted::Store(placements) = fetch.on_block(&p, &id, &blocks[&id]).unwrap() {
                for pl in placements {
                    place(&pl, &blocks, &mut out);
                }
            }
        }
    }
    assert!(from_store > 0, "no held data to read from the store");
    for p in fetch.take_stored() {
        place(&p, &blocks, &mut out);
    }
    assert!(fetch.progress().received > 0, "something was fetched");
    assert!(out == data, "the placed bytes differ from the data");
}

/// Hand-made trees, consistent or not, sealed like real ones.
struct Forge {
    convergence: ConvergenceKey,
    blocks: HashMap<BlockId, Vec<u8>>,
}

impl Forge {
    fn new() -> Self {
        let scope = ScopeSecret::from_secret(SecretBytes::new([11; 32]));
        Forge {
            convergence: ConvergenceKey::derive(&scope),
            blocks: HashMap::new(),
        }
    }

    fn leaf(&mut self, fill: u8, len: usize) -> BlockRef {
        let mut b = vec![fill; 1 + len];
        b[0] = 0x01;
        let r = seal_in_place(&self.convergence, &mut b).unwrap();
        self.blocks.insert(r.id, b);
        r
    }

    fn node(&mut self, level: u8, entries: &[(&BlockRef, u64)]) -> BlockRef {
        let entries: Vec<TreeEntry> = entries
            .iter()
            .map(|(r, size)| TreeEntry {
                child: (*r).clone(),
                size: *size,
            })
            .collect();
        let mut buf = vec![0u8; 65_536];
        let n = encode_tree_node(level, &entries, &mut buf).unwrap();
        buf.truncate(n);
        let r = seal_in_place(&self.convergence, &mut buf).unwrap();
        self.blocks.insert(r.id, buf);
        r
    }

    /// Runs a whole fetch of `root` from one provider; the first refusal, or the fetch.
    fn fetch(&self, root: &BlockRef) -> Result<Fetch, FetchError> {
        let mut fetch = Fetch::new(root.clone(), 8);
        fetch.add_provider(peer(1));
        while !fetch.is_complete() {
            let (p, ids) = fetch.next_request().expect("a request");
            for id in ids {
                fetch.on_block(&p, &id, &self.blocks[&id])?;
            }
        }
        Ok(fetch)
    }
}

#[test]
fn a_tree_whose_sizes_or_levels_disagree_is_refused_before_anything_is_placed() {
    let mut f = Forge::new();
    let (l1, l2) = (f.leaf(1, 1000), f.leaf(2, 1000));
    // A node holding 2,000 bytes whose parent says 10, next to one the parent says holds 1,990:
    // its leaves would overwrite its neighbour's.
    let n = f.node(1, &[(&l1, 1000), (&l2, 1000)]);
    let m = f.node(1, &[(&l1, 1000), (&l2, 990)]);
    let root = f.node(2, &[(&n, 10), (&m, 1990)]);
    assert!(matches!(f.fetch(&root), Err(FetchError::BadTree { .. })));
    // A data block where a level-2 node names a tree node.
    let root = f.node(2, &[(&l1, 1000)]);
    assert!(matches!(f.fetch(&root), Err(FetchError::BadTree { .. })));
    // A level-2 node naming a level-2 node.
    let inner = f.node(2, &[(&n, 2000)]);
    let root = f.node(2, &[(&inner, 2000)]);
    assert!(matches!(f.fetch(&root), Err(FetchError::BadTree { .. })));
    // One leaf named with two sizes.
    let root = f.node(1, &[(&l1, 1000), (&l1, 999)]);
    assert!(matches!(f.fetch(&root), Err(FetchError::BadTree { .. })));
    // Data past the end of what the root declares.
    let root = f.node(2, &[(&n, 10)]);
    assert!(matches!(f.fetch(&root), Err(FetchError::BadTree { .. })));
    // The consistent tree goes through.
    let root = f.node(2, &[(&n, 2000), (&n, 2000)]);
    let mut ok = f.fetch(&root).unwrap();
    assert_eq!(ok.progress().total_data, Some(4000));
    // The second reference of `n` is read back from the store at the end.
    assert_eq!(ok.take_stored().len(), 1);
}

#[test]
fn a_tree_that_repeats_itself_costs_one_entry_per_reference() {
    // Five blocks declaring 900^4 bytes: each node names the one below 900 times. Offsets must
    // not multiply down the levels (that would be 900^3 of them for the leaf).
    let mut f = Forge::new();
    let leaf = f.leaf(7, 1);
    let n1 = f.node(1, &vec![(&leaf, 1); 900]);
    let n2 = f.node(2, &vec![(&n1, 900); 900]);
    let n3 = f.node(3, &vec![(&n2, 900 * 900); 900]);
    let root = f.node(4, &vec![(&n3, 900 * 900 * 900); 900]);
    let mut fetch = f.fetch(&root).unwrap();
    assert_eq!(fetch.progress().total_data, Some(900u64.pow(4)));
    assert_eq!(fetch.progress().blocks, 5);
    // 899 further references to a subtree in each of the three upper nodes; the leaf's 900
    // references come with it when it arrives.
    assert_eq!(fetch.take_stored().len(), 3 * 899);
}

#[test]
fn with_a_base_the_changed_blocks_come_as_deltas_and_one_that_fails_comes_whole() {
    let old = noise(2 << 20, 6);
    let mut new = old.clone();
    new[400_000..400_000 + 4096].copy_from_slice(&noise(4096, 7));
    new.splice(0..0, noise(100, 8));
    let (old_root, held) = encode(&old, 6);
    let (root, blocks) = encode(&new, 6);
    let maker = ConvergenceKey::derive(&ScopeSecret::from_secret(SecretBytes::new([6; 32])));
    let p = peer(1);
    let root_id = root.id;
    let mut fetch = Fetch::new(root, 8).with_base(old_root, p);
    fetch.add_provider(p);
    // The maker holds both versions; the receiver the old one and what it rebuilds.
    let theirs: HashMap<BlockId, Vec<u8>> =
        held.clone().into_iter().chain(blocks.clone()).collect();
    let mut mine = held.clone();
    let (mut rebuilt, mut plain, mut delta_bytes) = (0, 0, 0);
    let mut failed_once = false;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 1_000, "the fetch does not finish");
        fetch.take_local(|id| mine.get(id).cloned()).unwrap();
        if fetch.is_complete() {
            break;
        }
        if let Some((to, wants)) = fetch.next_delta_request() {
            assert_eq!(to, p);
            for w in wants {
                let id = w.target.id;
                let served = serve_delta(|b| theirs.get(b).cloned(), &maker, &w);
                let Served::Delta(delta) = served else {
                    // Not worth a delta (a tiny root): sent whole.
                    let Served::Block(b) = served else {
                        panic!("held")
                    };
                    fetch.on_block(&to, &id, &b).unwrap();
                    mine.insert(id, b);
                    plain += 1;
                    continue;
                };
                let (target, bases) = fetch.on_delta(&to, &id).expect("asked as a delta");
                if !failed_once && id != root_id {
                    // A delta that does not rebuild: the block is asked for again, whole.
                    failed_once = true;
                    let mut bad = delta.clone();
                    let last = bad.len() - 1;
                    bad[last] ^= 0xff;
                    assert!(rebuild(|b| mine.get(b).cloned(), &target, &bases, &bad).is_err());
                    fetch.on_delta_failed(&to, &id);
                    continue;
                }
                let block = rebuild(|b| mine.get(b).cloned(), &target, &bases, &delta).unwrap();
                assert_eq!(block, blocks[&id]);
                delta_bytes += delta.len();
                fetch.on_rebuilt(&to, &id, &block).unwrap();
                mine.insert(id, block);
                rebuilt += 1;
            }
            continue;
        }
        let Some((to, ids)) = fetch.next_request() else {
            panic!("nothing to ask while incomplete");
        };
        for id in ids {
            fetch.on_block(&to, &id, &blocks[&id]).unwrap();
            mine.insert(id, blocks[&id].clone());
            plain += 1;
        }
    }
    eprintln!(
        "DEBUG rebuilt {rebuilt} plain {plain} changed {:?}",
        blocks
            .iter()
            .filter(|(id, _)| !held.contains_key(id))
            .map(|(_, b)| b.len())
            .collect::<Vec<_>>()
    );
    assert!(failed_once);
    assert!(rebuilt >= 2, "the edited chunks and the node: {rebuilt}");
    assert!(plain >= 1, "the failed one came whole");
    assert_eq!(fetch.progress().rebuilt, rebuilt as u64);
    // The edit is 4,196 bytes; its deltas are about that, far from the chunks they rebuild.
    let changed: usize = blocks
        .iter()
        .filter(|(id, _)| !held.contains_key(id))
        .map(|(_, b)| b.len())
        .sum();
    assert!(
        delta_bytes < changed / 3,
        "{delta_bytes} delta bytes for {changed} bytes of changed blocks"
    );
}

/// A three-level tree of `leaves` distinct small leaves, `fan` children a node: its root and
/// its data.
fn wide_tree(f: &mut Forge, leaves: usize, fan: usize) -> (BlockRef, Vec<u8>) {
    let mut data = Vec::new();
    let mut level: Vec<(BlockRef, u64)> = (0..leaves)
        .map(|i| {
            let (fill, len) = ((i % 251) as u8, 1 + i / 251);
            data.extend(std::iter::repeat_n(fill, len));
            (f.leaf(fill, len), len as u64)
        })
        .collect();
    for depth in 1..=3 {
        level = level
            .chunks(if depth == 3 { level.len() } else { fan })
            .map(|kids| {
                let entries: Vec<(&BlockRef, u64)> = kids.iter().map(|(r, s)| (r, *s)).collect();
                (f.node(depth, &entries), kids.iter().map(|(_, s)| s).sum())
            })
            .collect();
    }
    (level.remove(0).0, data)
}

/// Writes a leaf placement's plaintext from `blocks` into `out`.
fn place_leaf(pl: &Placement, blocks: &HashMap<BlockId, Vec<u8>>, out: &mut [u8]) {
    let mut plain = blocks[&pl.block.id].clone();
    let Block::Data(d) = open_in_place(&pl.block, &mut plain).unwrap() else {
        panic!("a placement for a tree node");
    };
    assert_eq!(d.len() as u64, pl.size);
    let at = pl.offset as usize;
    out[at..at + d.len()].copy_from_slice(d);
}

#[test]
fn the_plan_holds_a_bounded_part_of_a_large_tree() {
    // 6,000 leaves under 60 level-1 nodes, 6 level-2 nodes and the root.
    let mut f = Forge::new();
    let (root, data) = wide_tree(&mut f, 6_000, 100);
    // Open nodes: two a level at most, 100 children each; and the leaves taken.
    let bound = LOOKAHEAD + 3 * 2 * 100 + 3;
    assert!(
        f.blocks.len() > bound + 4_000,
        "the tree is far larger than the bound"
    );
    let mut fetch = Fetch::new(root, 16);
    let (a, b) = (peer(1), peer(2));
    fetch.add_provider(a);
    fetch.add_provider(b);
    let mut out = vec![0xAAu8; data.len()];
    let mut most = 0;
    while !fetch.is_complete() {
        let Some((p, ids)) = fetch.next_request() else {
            panic!("stuck: {:?}", fetch.check_stuck());
        };
        for id in ids.into_iter().rev() {
            let Accepted::Store(placements) = fetch.on_block(&p, &id, &f.blocks[&id]).unwrap()
            else {
                panic!("a block asked for was not taken");
            };
            for pl in placements {
                place_leaf(&pl, &f.blocks, &mut out);
            }
            most = most.max(fetch.references());
        }
    }
    assert!(
        most <= bound,
        "the plan held {most} references (bound {bound})"
    );
    assert!(fetch.take_stored().is_empty());
    assert!(out == data, "the placed bytes differ from the data");
}

#[test]
fn a_leaf_named_all_over_the_file_is_placed_at_every_reference() {
    // 30 distinct level-1 nodes, each one leaf of its own and 99 references to one shared leaf:
    // 2,970 references to it, more than the plan takes at once.
    let mut f = Forge::new();
    let shared = f.leaf(0, 1000);
    let mut data = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..30u8 {
        let own = f.leaf(i + 1, 10);
        data.extend([i + 1; 10]);
        let mut entries = vec![(&own, 10)];
        entries.extend(std::iter::repeat_n((&shared, 1000), 99));
        data.extend(std::iter::repeat_n(0u8, 99 * 1000));
        nodes.push(f.node(1, &entries));
    }
    let entries: Vec<(&BlockRef, u64)> = nodes.iter().map(|n| (n, 10 + 99 * 1000)).collect();
    let root = f.node(2, &entries);
    let mut fetch = Fetch::new(root, 8);
    fetch.add_provider(peer(1));
    let mut out = vec![0xAAu8; data.len()];
    let mut asked_shared = 0;
    while !fetch.is_complete() {
        let (p, ids) = fetch.next_request().expect("a request");
        for id in ids {
            asked_shared += usize::from(id == shared.id);
            let Accepted::Store(placements) = fetch.on_block(&p, &id, &f.blocks[&id]).unwrap()
            else {
                panic!("a block asked for was not taken");
            };
            for pl in placements {
                place_leaf(&pl, &f.blocks, &mut out);
            }
            assert!(fetch.references() <= LOOKAHEAD + 2 * 100 + 2 * 30 + 2);
        }
    }
    assert!(out == data, "the placed bytes differ from the data");
    // Asked for again only when it had been placed and then named again: a few times, not once
    // per reference (a fetch that keeps a store finds it there instead).
    assert!(
        (1..=8).contains(&asked_shared),
        "the shared leaf was asked for {asked_shared} times"
    );
}

#[test]
fn a_tree_held_whole_is_walked_a_bounded_piece_at_a_time() {
    let mut f = Forge::new();
    let (root, data) = wide_tree(&mut f, 6_000, 100);
    let mut fetch = Fetch::new(root, 16);
    let mut out = vec![0xAAu8; data.len()];
    let mut pieces = 0;
    loop {
        fetch.take_local(|id| f.blocks.get(id).cloned()).unwrap();
        assert!(fetch.references() <= LOOKAHEAD + 3 * 2 * 100 + 3);
        let held = fetch.take_held();
        if held.is_empty() {
            break;
        }
        assert!(held.len() <= LOOKAHEAD);
        pieces += 1;
        for pl in held {
            place_leaf(&pl, &f.blocks, &mut out);
        }
    }
    assert!(fetch.is_complete());
    assert!(pieces >= 6_000 / LOOKAHEAD, "{pieces} pieces");
    assert_eq!(fetch.progress().received, 0);
    assert!(out == data, "the placed bytes differ from the data");
}

#[test]
fn answered_in_order_the_leaves_come_in_file_order() {
    // The output is written in large sequential pieces only if the leaves come in order: tree
    // nodes asked for ahead must keep their order too (the second level-1 node once went first).
    let mut f = Forge::new();
    let (root, data) = wide_tree(&mut f, 3_000, 100);
    let mut fetch = Fetch::new(root, 16);
    fetch.add_provider(peer(1));
    let mut next = 0u64;
    while !fetch.is_complete() {
        let (p, ids) = fetch.next_request().expect("a request");
        for id in ids {
            let Accepted::Store(placements) = fetch.on_block(&p, &id, &f.blocks[&id]).unwrap()
            else {
                panic!("a block asked for was not taken");
            };
            for pl in placements {
                assert_eq!(pl.offset, next, "a leaf out of file order");
                next += pl.size;
            }
        }
    }
    assert_eq!(next, data.len() as u64);
}

#[test]
fn a_small_file_is_one_data_block_and_the_plan_says_so() {
    let (small, blocks) = tree(3_000, 12);
    assert_eq!(blocks.len(), 1);
    let mut fetch = Fetch::new(small, 4);
    assert!(!fetch.root_is_data(), "not known before the root is here");
    fetch.take_local(|id| blocks.get(id).cloned()).unwrap();
    assert!(fetch.is_complete());
    assert!(fetch.root_is_data());
    let (large, blocks) = tree(1 << 20, 12);
    let mut fetch = Fetch::new(large, 4);
    fetch.take_local(|id| blocks.get(id).cloned()).unwrap();
    assert!(fetch.is_complete());
    assert!(!fetch.root_is_data());
}

#[test]
fn a_tree_that_repeats_subtrees_past_the_bound_is_refused_not_grown() {
    // 90 distinct level-2 nodes, each naming its own level-1 node 800 times: 90 × 799 further
    // references to subtrees, past MAX_REPEATS.
    let mut f = Forge::new();
    let mut l2 = Vec::new();
    for i in 0..90u8 {
        let leaf = f.leaf(i, 1);
        let n1 = f.node(1, &[(&leaf, 1)]);
        l2.push(f.node(2, &vec![(&n1, 1); 800]));
    }
    const { assert!(90 * 799 > MAX_REPEATS) };
    let entries: Vec<(&BlockRef, u64)> = l2.iter().map(|n| (n, 800)).collect();
    let root = f.node(3, &entries);
    match f.fetch(&root) {
        Err(FetchError::BadTree { reason, .. }) => {
            assert!(reason.contains("again more than"), "{reason}");
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("a tree past the bound was fetched"),
    }
}
