//! A flushed write survives `kill -9`, and nothing unflushed is indexed after it. A lazily flushed
//! batch becomes durable with the next durable flush; one that no durable flush followed is either
//! kept whole or gone, never corrupt. A child process (this test binary again, selected by an
//! environment variable) writes batches and reports each flush on stdout; the parent kills it with
//! SIGKILL in the middle of an unflushed batch, then reopens the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use gofast_core::block::BlockId;
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, StoreConfig};

const CHILD_ENV: &str = "GOFAST_STORE_CRASH_CHILD_DIR";
const FLUSHED_BATCHES: u32 = 5;
/// Flushed lazily; the durable flush of the next batch makes it durable.
const LAZY_BATCH: u32 = 2;
const BATCH: u32 = 40;

fn key() -> SecretBytes<32> {
    SecretBytes::new([0x19; 32])
}

fn block(batch: u32, i: u32) -> (BlockId, Vec<u8>) {
    let len = 1000 + ((batch * 7919 + i * 104_729) % 60_000) as usize;
    let mut data: Vec<u8> = (0..len)
        .map(|j| (j as u32 ^ (batch << 8) ^ i) as u8)
        .collect();
    data[..4].copy_from_slice(&batch.to_le_bytes());
    data[4..8].copy_from_slice(&i.to_le_bytes());
    (BlockId(hash(&data)), data)
}

fn config() -> StoreConfig {
    // Small arenas, so that batches span several files.
    StoreConfig {
        arena_size: 1 << 20,
        ..StoreConfig::default()
    }
}

/// The child's role: write and flush batches, announcing each, then write a batch without flushing and
/// wait to be killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Not the child: nothing to do.
    };
    let store = BlockStore::open(Path::new(&dir), &key(), config()).unwrap();
    let mut out = std::io::stdout();
    let mut w = store.writer();
    for batch in 0..FLUSHED_BATCHES {
        for i in 0..BATCH {
            let (id, data) = block(batch, i);
            let class = if i % 2 == 0 {
                Class::Permanent
            } else {
                Class::Cache
            };
            w.put(&id, &data, class).unwrap();
        }
        if batch == LAZY_BATCH {
            w.flush_lazily().unwrap();
        } else {
            w.flush().unwrap();
        }
        writeln!(out, "flushed {batch}").unwrap();
        out.flush().unwrap();
    }
    // A lazy batch no durable flush follows (fetched blocks, say), readable at once.
    for i in 0..BATCH {
        let (id, data) = block(FLUSHED_BATCHES + 1, i);
        w.put(&id, &data, Class::Cache).unwrap();
    }
    w.flush_lazily().unwrap();
    for i in 0..BATCH {
        let (id, data) = block(FLUSHED_BATCHES + 1, i);
        assert_eq!(store.get(&id).unwrap().as_deref(), Some(&data[..]));
    }
    for i in 0..BATCH {
        let (id, data) = block(FLUSHED_BATCHES, i);
        w.put(&id, &data, Class::Permanent).unwrap();
    }
    writeln!(out, "unflushed written").unwrap();
    out.flush().unwrap();
    // Wait for the SIGKILL; the parent sends it as soon as it reads the line above.
    loop {
        std::thread::park();
    }
}

#[test]
fn flushed_batches_survive_sigkill_and_unflushed_ones_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut flushed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("flushed ") {
            assert_eq!(n.parse::<u32>().unwrap(), flushed);
            flushed += 1;
        } else if line == "unflushed written" {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed");
    assert_eq!(flushed, FLUSHED_BATCHES);

    let store = BlockStore::open(dir.path(), &key(), config()).unwrap();
    for batch in 0..FLUSHED_BATCHES {
        for i in 0..BATCH {
            let (id, data) = block(batch, i);
            let got = store.get(&id).unwrap();
            assert_eq!(got.as_deref(), Some(&data[..]), "batch {batch} block {i}");
        }
    }
    for i in 0..BATCH {
        let (id, _) = block(FLUSHED_BATCHES, i);
        assert!(!store.has(&id).unwrap(), "unflushed block {i} indexed");
    }
    // The last lazy batch: all or nothing (one transaction), and what is there reads back intact.
    let lazy_kept = (0..BATCH)
        .filter(|&i| {
            let (id, data) = block(FLUSHED_BATCHES + 1, i);
            match store.get(&id).unwrap() {
                Some(got) => {
                    assert_eq!(got, data, "lazy block {i}");
                    true
                }
                None => false,
            }
        })
        .count() as u32;
    assert!(
        lazy_kept == 0 || lazy_kept == BATCH,
        "{lazy_kept} of a lazy batch kept"
    );
    let stats = store.stats().unwrap();
    let n = u64::from((FLUSHED_BATCHES * BATCH) + lazy_kept);
    assert_eq!(stats.permanent.blocks + stats.cache.blocks, n);
    // The unflushed tail was cut off: the files hold exactly what the index references.
    let on_disk: u64 = std::fs::read_dir(dir.path().join("arenas"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(on_disk, stats.arena_bytes);
    assert_eq!(stats.reclaimable_bytes, 0);

    // The store goes on: new writes land in a new arena and everything is still readable.
    let (id, data) = block(99, 0);
    store.put(&id, &data, Class::Permanent).unwrap();
    drop(store);
    let store = BlockStore::open(dir.path(), &key(), config()).unwrap();
    assert_eq!(store.get(&id).unwrap().as_deref(), Some(&data[..]));
    assert_eq!(
        store.stats().unwrap().permanent.blocks + store.stats().unwrap().cache.blocks,
        n + 1
    );
}
