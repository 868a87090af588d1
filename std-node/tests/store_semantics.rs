//! What the block store promises: put/get/has, batched writes visible only after a flush, pins and
//! reference counts, gc's grace for unpinned blocks, the cache quota's eviction order, compaction.

use gofast_core::block::{BlockError, BlockId, BlockKey, BlockRef, MAX_BLOCK_LEN};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, PutOutcome, StoreConfig, StoreError};

fn key() -> SecretBytes<32> {
    SecretBytes::new([0x5a; 32])
}

/// A block of `len` bytes that differs for every `n`, and its id.
fn block(n: u64, len: usize) -> (BlockId, Vec<u8>) {
    let mut data: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + n * 7) as u8).collect();
    data[..8].copy_from_slice(&n.to_le_bytes());
    (BlockId(hash(&data)), data)
}

fn root_ref(id: BlockId) -> BlockRef {
    BlockRef {
        id,
        key: BlockKey(SecretBytes::new([0x33; 32])),
    }
}

#[test]
fn put_get_has_and_classes() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    let (id, data) = block(1, 1000);
    assert!(!store.has(&id).unwrap());
    assert_eq!(store.get(&id).unwrap(), None);
    assert_eq!(
        store.put(&id, &data, Class::Cache).unwrap(),
        PutOutcome::Stored
    );
    assert!(store.has(&id).unwrap());
    assert_eq!(store.get(&id).unwrap().as_deref(), Some(&data[..]));
    assert_eq!(store.class(&id).unwrap(), Some(Class::Cache));
    assert_eq!(
        store.put(&id, &data, Class::Cache).unwrap(),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(
        store.put(&id, &data, Class::Permanent).unwrap(),
        PutOutcome::Promoted
    );
    assert_eq!(store.class(&id).unwrap(), Some(Class::Permanent));
    assert_eq!(
        store.put(&id, &data, Class::Cache).unwrap(),
        PutOutcome::AlreadyPresent,
        "never demoted by a put"
    );
    let s = store.stats().unwrap();
    assert_eq!((s.permanent.blocks, s.permanent.bytes), (1, 1000));
    assert_eq!((s.cache.blocks, s.cache.bytes), (0, 0));

    // The largest block fits; a wrong or oversized block is refused and not stored.
    let (big, big_data) = block(2, MAX_BLOCK_LEN);
    assert_eq!(
        store.put(&big, &big_data, Class::Permanent).unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(store.get(&big).unwrap().unwrap().len(), MAX_BLOCK_LEN);
    let (other, _) = block(3, 10);
    assert!(matches!(
        store.put(&other, &data, Class::Cache),
        Err(StoreError::Block(BlockError::IdMismatch))
    ));
    assert!(!store.has(&other).unwrap());
    let too_long = vec![0u8; MAX_BLOCK_LEN + 1];
    assert!(matches!(
        store.put(&BlockId(hash(&too_long)), &too_long, Class::Cache),
        Err(StoreError::Block(BlockError::TooLarge { .. }))
    ));

    // Everything survives a reopen; another key is refused.
    drop(store);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert_eq!(store.get(&id).unwrap().as_deref(), Some(&data[..]));
    assert_eq!(store.stats().unwrap().permanent.blocks, 2);
    drop(store);
    assert!(matches!(
        BlockStore::open(
            dir.path(),
            &SecretBytes::new([1; 32]),
            StoreConfig::default()
        ),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn a_batch_is_invisible_until_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    let mut w = store.writer();
    let blocks: Vec<_> = (0..20).map(|n| block(n, 5000)).collect();
    for (id, data) in &blocks {
        assert_eq!(w.put(id, data, Class::Cache).unwrap(), PutOutcome::Stored);
    }
    let (id0, data0) = &blocks[0];
    assert_eq!(
        w.put(id0, data0, Class::Cache).unwrap(),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(
        w.put(id0, data0, Class::Permanent).unwrap(),
        PutOutcome::Promoted
    );
    assert_eq!(w.pending(), 20);
    for (id, _) in &blocks {
        assert!(!store.has(id).unwrap());
        assert_eq!(store.get(id).unwrap(), None);
    }
    w.flush().unwrap();
    drop(w);
    for (id, data) in &blocks {
        assert_eq!(store.get(id).unwrap().as_deref(), Some(&data[..]));
    }
    assert_eq!(store.class(id0).unwrap(), Some(Class::Permanent));
    let s = store.stats().unwrap();
    assert_eq!((s.permanent.blocks, s.cache.blocks), (1, 19));

    // A dropped writer's batch is never indexed.
    let (lost, lost_data) = block(100, 5000);
    let mut w = store.writer();
    w.put(&lost, &lost_data, Class::Permanent).unwrap();
    drop(w);
    assert!(!store.has(&lost).unwrap());

    // A batch at its bound is flushed by the next put.
    let config = StoreConfig {
        max_batch: 4,
        ..StoreConfig::default()
    };
    drop(store);
    let store = BlockStore::open(dir.path(), &key(), config).unwrap();
    let mut w = store.writer();
    for n in 200..205 {
        let (id, data) = block(n, 100);
        w.put(&id, &data, Class::Cache).unwrap();
    }
    assert_eq!(w.pending(), 1);
    assert!(store.has(&block(200, 100).0).unwrap());
}

#[test]
fn interleaved_writers_keep_every_block_of_their_flushed_batches() {
    // Writers stage their records and write them in larger pieces: interleaved in one arena,
    // each writer's records stop following each other, and one writer is dropped mid-way.
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    let (mut a, mut b, mut dropped) = (store.writer(), store.writer(), store.writer());
    let blocks: Vec<_> = (0..300).map(|n| block(1000 + n, 30_000)).collect();
    for (i, (id, data)) in blocks.iter().enumerate() {
        let w = match i % 3 {
            0 => &mut a,
            1 => &mut b,
            _ => &mut dropped,
        };
        assert_eq!(
            w.put(id, data, Class::Permanent).unwrap(),
            PutOutcome::Stored
        );
        if i == 150 {
            // A flush mid-way: what `a` staged so far must be written before it is indexed (a
            // lazy flush, made durable by the durable commits below).
            a.flush_lazily().unwrap();
        }
    }
    drop(dropped);
    a.flush().unwrap();
    b.flush().unwrap();
    drop((a, b));
    drop(store);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    for (i, (id, data)) in blocks.iter().enumerate() {
        let got = store.get(id).unwrap();
        if i % 3 == 2 {
            assert_eq!(got, None, "block {i}: its writer was dropped");
        } else {
            assert_eq!(got.as_deref(), Some(&data[..]), "block {i}");
        }
    }
}

#[test]
fn pins_count_references_and_unpinning_demotes() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    let b: Vec<_> = (0..5).map(|n| block(n, 2000)).collect();
    for (id, data) in &b {
        store.put(id, data, Class::Cache).unwrap();
    }
    let root_a = root_ref(b[0].0);
    // Repeated ids count once; the root is included even when not listed.
    let r = store
        .pin("album", &root_a, [b[1].0, b[2].0, b[1].0])
        .unwrap();
    assert_eq!((r.blocks, r.missing, r.replaced), (3, 0, false));
    for (id, _) in &b[..3] {
        assert_eq!(store.class(id).unwrap(), Some(Class::Permanent));
    }
    assert_eq!(store.class(&b[3].0).unwrap(), Some(Class::Cache));
    let r = store.pin("backup", &root_ref(b[3].0), [b[2].0]).unwrap();
    assert_eq!(r.blocks, 2);

    let pins = store.pins().unwrap();
    assert_eq!(pins.len(), 2);
    let album = pins.iter().find(|p| p.label == "album").unwrap();
    assert_eq!(album.root, root_a, "the root's key comes back too");
    assert_eq!(album.blocks, 3);
    assert!(
        !format!("{album:?}").contains("album"),
        "Debug shows no label"
    );

    // b2 is held by both pins: unpinning one keeps it.
    let u = store.unpin("album").unwrap().unwrap();
    assert_eq!((u.blocks, u.released), (3, 2));
    assert_eq!(store.class(&b[0].0).unwrap(), Some(Class::Cache));
    assert_eq!(store.class(&b[1].0).unwrap(), Some(Class::Cache));
    assert_eq!(store.class(&b[2].0).unwrap(), Some(Class::Permanent));
    assert!(store.unpin("album").unwrap().is_none());
    // Released blocks are still served.
    assert_eq!(store.get(&b[0].0).unwrap().as_deref(), Some(&b[0].1[..]));

    // Re-pinning under the same label replaces: shared blocks never drop, dropped ones are released.
    let r = store.pin("backup", &root_ref(b[3].0), [b[4].0]).unwrap();
    assert_eq!((r.blocks, r.replaced), (2, true));
    assert_eq!(store.class(&b[2].0).unwrap(), Some(Class::Cache));
    assert_eq!(store.class(&b[3].0).unwrap(), Some(Class::Permanent));
    assert_eq!(store.class(&b[4].0).unwrap(), Some(Class::Permanent));

    // A pin may come before its blocks: they are permanent on arrival, whatever class they are put as.
    let (late, late_data) = block(50, 300);
    let r = store.pin("later", &root_ref(late), []).unwrap();
    assert_eq!((r.blocks, r.missing), (1, 1));
    store.put(&late, &late_data, Class::Cache).unwrap();
    assert_eq!(store.class(&late).unwrap(), Some(Class::Permanent));

    let long = "x".repeat(gofast_node::store::MAX_LABEL_LEN + 1);
    assert!(matches!(
        store.pin(&long, &root_a, []),
        Err(StoreError::LabelTooLong { .. })
    ));
    assert_eq!(store.stats().unwrap().pins, 2);
}

#[test]
fn gc_demotes_unpinned_permanent_blocks_after_a_grace_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    let (kept, kept_data) = block(1, 100);
    let (loose, loose_data) = block(2, 100);
    store.put(&kept, &kept_data, Class::Permanent).unwrap();
    store.put(&loose, &loose_data, Class::Permanent).unwrap();
    // A writer that puts a tree and pins it afterwards is safe from one gc in between.
    assert_eq!(store.gc().unwrap().demoted, 0);
    store.pin("kept", &root_ref(kept), []).unwrap();
    let r = store.gc().unwrap();
    assert_eq!(r.demoted, 1);
    assert_eq!(store.class(&kept).unwrap(), Some(Class::Permanent));
    assert_eq!(store.class(&loose).unwrap(), Some(Class::Cache));
    assert_eq!(store.gc().unwrap().demoted, 0);
}

#[test]
fn the_cache_evicts_least_valuable_first_and_admits_only_wanted_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        cache_quota: 10 * 1000,
        ..StoreConfig::default()
    };
    let store = BlockStore::open(dir.path(), &key(), config).unwrap();
    let blocks: Vec<_> = (0..10).map(|n| block(n, 1000)).collect();
    let mut w = store.writer();
    for (id, data) in &blocks {
        assert_eq!(w.put(id, data, Class::Cache).unwrap(), PutOutcome::Stored);
    }
    w.flush().unwrap();
    // Blocks 0..6 are asked for; 6..10 never.
    for (i, (id, _)) in blocks.iter().enumerate().take(6) {
        for _ in 0..=i {
            store.get(id).unwrap().unwrap();
        }
    }
    // A newcomer nobody asked for does not displace anything.
    let (cold, cold_data) = block(100, 1000);
    assert_eq!(
        store.put(&cold, &cold_data, Class::Cache).unwrap(),
        PutOutcome::NotAdmitted
    );
    assert!(!store.has(&cold).unwrap());
    // Newcomers that were asked for displace the never-asked-for blocks, and only those.
    for n in 0..4 {
        let (id, data) = block(200 + n, 1000);
        assert_eq!(store.get(&id).unwrap(), None, "a miss is a request too");
        assert_eq!(
            store.put(&id, &data, Class::Cache).unwrap(),
            PutOutcome::Stored
        );
        let held_cold = blocks[6..]
            .iter()
            .filter(|(id, _)| store.has(id).unwrap())
            .count();
        assert_eq!(held_cold, 3 - n as usize, "one cold block out per newcomer");
        for (id, _) in &blocks[..6] {
            assert!(store.has(id).unwrap(), "asked-for blocks stay");
        }
    }
    let s = store.stats().unwrap();
    assert_eq!((s.cache.blocks, s.cache.bytes), (10, 10_000));
    // Permanent blocks do not count against the quota.
    let (perm, perm_data) = block(300, 5000);
    store.put(&perm, &perm_data, Class::Permanent).unwrap();
    assert_eq!(store.stats().unwrap().cache.blocks, 10);
    assert!(store.has(&perm).unwrap());
}

#[test]
fn gc_enforces_a_smaller_quota_and_compacts_dead_arenas() {
    let dir = tempfile::tempdir().unwrap();
    let small_arenas = StoreConfig {
        arena_size: 1 << 20,
        ..StoreConfig::default()
    };
    let store = BlockStore::open(dir.path(), &key(), small_arenas.clone()).unwrap();
    let blocks: Vec<_> = (0..60).map(|n| block(n, 60_000)).collect();
    let mut w = store.writer();
    for (id, data) in &blocks {
        w.put(id, data, Class::Cache).unwrap();
    }
    w.flush().unwrap();
    drop(w); // a writer holds the store open
    let before = store.stats().unwrap();
    assert!(before.arenas >= 3, "{before:?}");
    assert_eq!(before.reclaimable_bytes, 0);
    drop(store);

    // Reopened with room for ten blocks: gc evicts fifty, and compacts what is left.
    let store = BlockStore::open(
        dir.path(),
        &key(),
        StoreConfig {
            cache_quota: 10 * 60_000,
            ..small_arenas
        },
    )
    .unwrap();
    let r = store.gc().unwrap();
    assert_eq!((r.evicted_blocks, r.evicted_bytes), (50, 50 * 60_000));
    assert!(r.arenas_deleted >= 3, "{r:?}");
    assert!(r.reclaimed_bytes >= 3 << 20, "{r:?}");
    let held: Vec<_> = blocks
        .iter()
        .filter(|(id, _)| store.has(id).unwrap())
        .collect();
    assert_eq!(held.len(), 10);
    for (id, data) in held {
        assert_eq!(store.get(id).unwrap().as_deref(), Some(&data[..]));
    }
    let after = store.stats().unwrap();
    assert_eq!(after.cache.blocks, 10);
    assert!(after.arena_bytes < before.arena_bytes / 4, "{after:?}");
    let files = std::fs::read_dir(dir.path().join("arenas"))
        .unwrap()
        .count() as u64;
    assert_eq!(files, after.arenas);
    // The copies survive a reopen.
    drop(store);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert_eq!(store.stats().unwrap().cache.blocks, 10);
    for (id, data) in &blocks {
        if let Some(got) = store.get(id).unwrap() {
            assert_eq!(&got, data);
        }
    }
}

#[test]
fn the_default_cache_quota_is_a_tenth_of_the_free_disk() {
    let dir = tempfile::tempdir().unwrap();
    let quota = gofast_node::store::cache_quota_for(dir.path()).unwrap();
    let free = fs_free_bytes(dir.path());
    assert!(quota >= gofast_node::store::MIN_AUTO_CACHE_QUOTA);
    // The free space moves while other tests write: within a few percent of a tenth of it.
    if free / 10 > gofast_node::store::MIN_AUTO_CACHE_QUOTA {
        let tenth = free / 10;
        assert!(
            quota.abs_diff(tenth) < tenth / 20 + (64 << 20),
            "{quota} vs {tenth}"
        );
    }
    assert!(gofast_node::store::cache_quota_for(&dir.path().join("missing")).is_err());
}

/// Free bytes for an unprivileged user, as `df` reports them.
fn fs_free_bytes(dir: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
