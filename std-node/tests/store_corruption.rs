//! A disk that alters stored bytes yields typed errors, never altered blocks: a flipped bit in a
//! record, in an arena's header, or a cut-off arena.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use gofast_core::block::BlockId;
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, StoreConfig, StoreError};

fn key() -> SecretBytes<32> {
    SecretBytes::new([0x77; 32])
}

fn block(n: u8, len: usize) -> (BlockId, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(13) ^ n).collect();
    (BlockId(hash(&data)), data)
}

fn arenas(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir.join("arenas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x01], offset).unwrap();
}

/// A store with two blocks in one arena; returns the ids and data.
fn two_blocks(dir: &Path) -> Vec<(BlockId, Vec<u8>)> {
    let store = BlockStore::open(dir, &key(), StoreConfig::default()).unwrap();
    let blocks = vec![block(1, 4000), block(2, 4000)];
    let mut w = store.writer();
    for (id, data) in &blocks {
        w.put(id, data, Class::Permanent).unwrap();
    }
    w.flush().unwrap();
    blocks
}

#[test]
fn a_flipped_record_byte_is_a_typed_error_and_spares_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = two_blocks(dir.path());
    let files = arenas(dir.path());
    assert_eq!(files.len(), 1);
    // The first record starts after the 64-byte header.
    flip(&files[0], 64 + 100);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert!(store.has(&blocks[0].0).unwrap(), "the index is intact");
    assert!(matches!(
        store.get(&blocks[0].0),
        Err(StoreError::CorruptBlock { offset: 64, .. })
    ));
    // A block read to serve a peer is not hashed again: the record's tag catches the flip.
    assert!(matches!(
        store.get_to_serve(&blocks[0].0),
        Err(StoreError::CorruptBlock { offset: 64, .. })
    ));
    assert_eq!(
        store.get(&blocks[1].0).unwrap().as_deref(),
        Some(&blocks[1].1[..])
    );
    assert_eq!(
        store.get_to_serve(&blocks[1].0).unwrap().as_deref(),
        Some(&blocks[1].1[..])
    );
    // Compaction drops what it cannot read instead of copying it.
    drop(store);
    let store = BlockStore::open(
        dir.path(),
        &key(),
        StoreConfig {
            compact_below: 1.0,
            ..StoreConfig::default()
        },
    )
    .unwrap();
    let r = store.gc().unwrap();
    assert_eq!((r.corrupt_dropped, r.arenas_deleted), (1, 1));
    assert!(!store.has(&blocks[0].0).unwrap());
    assert_eq!(
        store.get(&blocks[1].0).unwrap().as_deref(),
        Some(&blocks[1].1[..])
    );
}

#[test]
fn a_flipped_tag_or_salt_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = two_blocks(dir.path());
    let files = arenas(dir.path());
    // The tag of the second record: header, first record and tag, second body.
    flip(&files[0], 64 + 4016 + 4000 + 3);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert!(matches!(
        store.get(&blocks[1].0),
        Err(StoreError::CorruptBlock { .. })
    ));
    drop(store);
    // The salt in the header changes the arena's key: every record fails, the store still opens.
    flip(&files[0], 20);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    for (id, _) in &blocks {
        assert!(matches!(
            store.get(id),
            Err(StoreError::CorruptBlock { .. })
        ));
    }
    drop(store);
    // A broken magic makes the arena unavailable, not the store.
    flip(&files[0], 0);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert!(matches!(
        store.get(&blocks[0].0),
        Err(StoreError::ArenaUnavailable(_))
    ));
}

#[test]
fn a_cut_off_arena_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = two_blocks(dir.path());
    let files = arenas(dir.path());
    let f = OpenOptions::new().write(true).open(&files[0]).unwrap();
    f.set_len(64 + 4016 + 10).unwrap();
    drop(f);
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    assert_eq!(
        store.get(&blocks[0].0).unwrap().as_deref(),
        Some(&blocks[0].1[..])
    );
    assert!(matches!(
        store.get(&blocks[1].0),
        Err(StoreError::CorruptBlock { .. })
    ));
}
