//! How fast the store takes blocks: put + flush of 64 KiB blocks, flushed every 16 MiB, against the
//! same bytes written to a plain file with an `fdatasync` per 16 MiB (the disk's own speed, measured
//! in the same run). Prints figures, asserts only correctness: tests never assert on wall time.
//!
//! For `docs/BENCHMARKS.md`: `cargo test --release -p gofast-node --test store_throughput -- --nocapture`
//! (256 MiB; debug builds write 16 MiB to keep the suite quick).

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use gofast_core::block::{BlockId, MAX_BLOCK_LEN};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, StoreConfig};

const TOTAL: usize = if cfg!(debug_assertions) {
    16 << 20
} else {
    256 << 20
};
const PER_FLUSH: usize = 256; // blocks: 16 MiB

/// Block `n`: pseudo-random bytes (so nothing compresses or dedups), distinct per `n`.
fn block(n: u64) -> (BlockId, Vec<u8>) {
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut data = vec![0u8; MAX_BLOCK_LEN];
    for chunk in data.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    (BlockId(hash(&data)), data)
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

#[test]
fn put_and_flush_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(
        dir.path(),
        &SecretBytes::new([3; 32]),
        StoreConfig::default(),
    )
    .unwrap();
    let blocks = (TOTAL / MAX_BLOCK_LEN) as u64;
    let mut ids = Vec::with_capacity(blocks as usize);

    // The store.
    let mut store_time = Duration::ZERO;
    let mut put_time = Duration::ZERO;
    let mut w = store.writer();
    for n in 0..blocks {
        let (id, data) = block(n);
        let t = Instant::now();
        w.put(&id, &data, Class::Permanent).unwrap();
        put_time += t.elapsed();
        if (n + 1) % PER_FLUSH as u64 == 0 {
            w.flush().unwrap();
        }
        store_time += t.elapsed();
        ids.push(id);
    }
    let t = Instant::now();
    w.flush().unwrap();
    store_time += t.elapsed();
    drop(w);

    // The same bytes to a plain file.
    let mut raw_time = Duration::ZERO;
    let mut f = File::create(dir.path().join("raw")).unwrap();
    for n in 0..blocks {
        let (_, data) = block(n);
        let t = Instant::now();
        f.write_all(&data).unwrap();
        if (n + 1) % PER_FLUSH as u64 == 0 {
            f.sync_data().unwrap();
        }
        raw_time += t.elapsed();
    }
    let t = Instant::now();
    f.sync_data().unwrap();
    raw_time += t.elapsed();

    // Reading back (AEAD open + BLAKE3 check per block), from the page cache mostly.
    let t = Instant::now();
    for id in &ids {
        assert_eq!(store.get(id).unwrap().unwrap().len(), MAX_BLOCK_LEN);
    }
    let get_time = t.elapsed();

    let stats = store.stats().unwrap();
    assert_eq!(stats.permanent.blocks, blocks);
    println!(
        "{} MiB of 64 KiB blocks, flushed every 16 MiB: store put+flush {:.0} MB/s, plain file \
         write+fdatasync {:.0} MB/s (store/plain {:.2}); put alone {:.0} MB/s; get {:.0} MB/s",
        TOTAL >> 20,
        mb_s(TOTAL, store_time),
        mb_s(TOTAL, raw_time),
        raw_time.as_secs_f64() / store_time.as_secs_f64(),
        mb_s(TOTAL, put_time),
        mb_s(TOTAL, get_time),
    );
}
