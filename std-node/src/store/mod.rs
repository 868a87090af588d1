//! The node's block store ("Venti"): block bodies in append-only arena files, an index and the pins in
//! a redb database, everything on disk sealed under keys derived from the node's storage key.
//!
//! Why arenas and not redb values: redb rounds a value's allocation up to a power of two (a 16 KiB
//! block plus a tag takes 32 KiB) and inserted 16 KiB values at ≈ 190 MB/s on the reference machine,
//! while the node's goal for adding data is 500 MB/s. Appending to a file and indexing 80-byte entries
//! keeps both the space and the time of a block close to its size. The byte layout is
//! `docs/spec/store.md`.
//!
//! - **Classes.** *Permanent* blocks are held by pins (a label, a root reference and the ids under it)
//!   and reference counted; *cache* blocks are other people's blocks seen in passing, kept within a
//!   byte quota by [`cache_policy`] (TinyLFU admission, sampled decayed-frequency eviction).
//! - **Writes** go through a [`Writer`]: block bodies are appended at once, but nothing is indexed until
//!   [`Writer::flush`], which makes the arena bytes durable (`fdatasync`) and then commits one redb
//!   transaction for the whole batch. A flushed write survives `kill -9`; an unflushed one leaves only
//!   unindexed bytes, cut off at the next open.
//! - **Reads** re-check everything: the record's AEAD tag, then BLAKE3(block) = id. A disk that altered
//!   a block yields [`StoreError::CorruptBlock`], never wrong bytes.
//! - **Unpinning** turns the blocks no other pin holds into cache blocks with no hits: they stay while
//!   the cache has room (they are still useful to serve) and are the first to go when it has not.
//!   [`BlockStore::gc`] does the same for permanent blocks never pinned, enforces the quota and
//!   compacts arenas whose live bytes fell under a threshold.
//!
//! The API is synchronous (redb and file IO block); the node calls it from `spawn_blocking`.
//! [`BlockStore`] is a cheap handle (`Clone`, `Send`, `Sync`) over one shared store.

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        missing_docs
    )
)]

mod arena;
pub mod cache_policy;
mod error;
mod gc;
mod index;
mod keys;
mod tables;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use gofast_core::block::{BlockId, BlockRef, verify};
use gofast_core::crypto::SecretBytes;
use redb::{Database, ReadableDatabase, ReadableTable};
use tracing::{debug, warn};

use self::arena::{Arena, Arenas};
use self::cache_policy::{CachePolicy, Decay};
use self::index::{
    ARENA_MEMBERS, ARENAS, BLOCKS, BlockEntry, CACHE, FORMAT_VERSION, KEY_CHECK, META, META_FORMAT,
    META_GC_EPOCH, META_KEY_CHECK, META_TOTALS, PIN_MEMBERS, PINS, PinRecord, REFS, Totals,
    UNPINNED, member_key,
};
use self::keys::{Domain, IndexKey, StoreKeys, wipe};
use self::tables::Tables;

pub use self::arena::ArenaCipher;
pub use self::error::StoreError;
pub use self::gc::GcReport;
pub use self::keys::STORE_CONTEXTS;
pub use self::writer::Writer;

/// Longest pin label, in bytes of UTF-8.
pub const MAX_LABEL_LEN: usize = 1024;

/// Why a block is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    /// Kept while a pin holds it: the user's own data and what they agreed to keep for others.
    Permanent = 1,
    /// Kept while the cache has room and the block is worth more than others.
    Cache = 2,
}

impl Class {
    const fn from_byte(b: u8) -> Option<Class> {
        match b {
            1 => Some(Class::Permanent),
            2 => Some(Class::Cache),
            _ => None,
        }
    }
}

/// What a `put` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; indexed at the next flush.
    Stored,
    /// Already held (or already in this batch) in a class at least as strong: nothing written.
    AlreadyPresent,
    /// Held as a cache block, permanent from the next flush. (Written again all the same, so that an
    /// eviction before that flush cannot lose it.)
    Promoted,
    /// A cache block not admitted: the cache is full of blocks asked for at least as often.
    NotAdmitted,
}

/// The store's limits and policies.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Bytes of cache blocks kept at most. Default 1 GiB here; a node started without a quota of
    /// its own takes [`cache_quota_for`] its data directory (a tenth of the free space).
    pub cache_quota: u64,
    /// Largest arena file, in bytes. Default 256 MiB: big enough that a full disk has a few thousand
    /// files, small enough that compacting one is quick.
    pub arena_size: u64,
    /// An arena other than the active one is compacted when its live bytes fall below this fraction of
    /// `arena_size`. Default 0.5: compaction then frees at least as much as it copies (or merges the
    /// partly filled arenas restarts leave behind).
    pub compact_below: f64,
    /// Half-life of cache hit counts, in seconds. Default one day.
    pub hit_half_life_secs: u64,
    /// Blocks a [`Writer`] holds unflushed at most; the next `put` flushes first. Bounds a writer's
    /// memory (≈ 120 bytes a block) and the work a crash can lose. Default 4096 (256 MiB of 64 KiB
    /// blocks).
    pub max_batch: usize,
    /// Cache hits counted in memory at most before they are written to the index. Default 4096.
    pub hit_buffer: usize,
    /// Cache entries sampled per eviction. Default [`cache_policy::DEFAULT_SAMPLES`].
    pub eviction_samples: usize,
    /// redb's page cache, in bytes. Default 64 MiB (redb's own default is 1 GiB).
    pub index_cache: usize,
    /// The AEAD new arenas seal their records with. Default AES-256-GCM; choose ChaCha20-Poly1305 on
    /// CPUs without AES instructions. Existing arenas keep theirs (it is in their header).
    pub arena_cipher: ArenaCipher,
    /// Block ids a pin holds in memory at once. A pin of at most this many is diffed against the
    /// version it replaces and touches only the difference; a larger one is taken a batch at a time
    /// and rewrites every member row. Default [`PIN_BATCH`] (2 MiB of ids, a tree of about 1 GiB).
    pub pin_batch: usize,
}

/// The share of the free disk space a node's cache takes when no quota is set: a tenth of what is
/// free when the node starts, at least [`MIN_AUTO_CACHE_QUOTA`]. A full disk then still leaves the
/// user nine tenths of what was free, and the quota follows the disk the data directory is on.
pub fn cache_quota_for(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    let free = s.f_bavail.saturating_mul(s.f_frsize);
    Ok((free / 10).max(MIN_AUTO_CACHE_QUOTA))
}

/// The smallest cache quota [`cache_quota_for`] gives (64 MiB): enough to forward a few files.
pub const MIN_AUTO_CACHE_QUOTA: u64 = 64 << 20;

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            cache_quota: 1 << 30,
            arena_size: 256 << 20,
            compact_below: 0.5,
            hit_half_life_secs: 86_400,
            max_batch: 4096,
            hit_buffer: 4096,
            eviction_samples: cache_policy::DEFAULT_SAMPLES,
            index_cache: 64 << 20,
            arena_cipher: ArenaCipher::default(),
            pin_batch: PIN_BATCH,
        }
    }
}

impl StoreConfig {
    fn check(&self) -> Result<(), StoreError> {
        let min_arena = 1 << 20;
        if self.arena_size < min_arena || self.arena_size > 1 << 40 {
            return Err(StoreError::Config(
                "arena_size must be within 1 MiB..=1 TiB",
            ));
        }
        if !(0.0..=1.0).contains(&self.compact_below) {
            return Err(StoreError::Config("compact_below must be within 0..=1"));
        }
        if self.max_batch == 0 || self.hit_buffer == 0 || self.pin_batch == 0 {
            return Err(StoreError::Config(
                "max_batch, hit_buffer and pin_batch must be positive",
            ));
        }
        if !(1..=256).contains(&self.eviction_samples) {
            return Err(StoreError::Config(
                "eviction_samples must be within 1..=256",
            ));
        }
        Ok(())
    }
}

/// Blocks and bytes of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Blocks held.
    pub blocks: u64,
    /// Their bytes (block lengths).
    pub bytes: u64,
}

/// What the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Permanent blocks.
    pub permanent: ClassStats,
    /// Cache blocks.
    pub cache: ClassStats,
    /// The cache quota in force.
    pub cache_quota: u64,
    /// Pins.
    pub pins: u64,
    /// Arena files.
    pub arenas: u64,
    /// Bytes of arena files up to their indexed end.
    pub arena_bytes: u64,
    /// Bytes of live records (blocks and their tags).
    pub live_bytes: u64,
    /// Bytes compaction could give back: arena bytes that no indexed block uses.
    pub reclaimable_bytes: u64,
}

/// What a pin did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinReport {
    /// Distinct blocks the pin holds (the root included).
    pub blocks: u64,
    /// Of the blocks the pin adds (all of them for a new pin; for a replaced one, those its old
    /// version did not hold), those the store does not hold yet: they become permanent when put.
    pub missing: u64,
    /// Whether a pin of that label existed and was replaced.
    pub replaced: bool,
}

/// What an unpin did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpinReport {
    /// Blocks the pin held.
    pub blocks: u64,
    /// Blocks no other pin holds that the store had: now cache blocks without hits.
    pub released: u64,
}

/// A pin, decrypted.
#[derive(Clone)]
pub struct PinInfo {
    /// The label it was pinned under.
    pub label: String,
    /// Its root (the key included: whoever holds the store's key may read what it pins).
    pub root: BlockRef,
    /// Distinct blocks it holds.
    pub blocks: u64,
    /// When it was last pinned (Unix seconds); `None` for pins made before stores kept the time.
    pub pinned_at: Option<u64>,
}

impl std::fmt::Debug for PinInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Labels are the user's own names; logs get their length only.
        f.debug_struct("PinInfo")
            .field("label_len", &self.label.len())
            .field("root", &self.root)
            .field("blocks", &self.blocks)
            .finish()
    }
}

/// The block store. Cloning gives another handle to the same store.
#[derive(Clone)]
pub struct BlockStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BlockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStore")
            .field("dir", &self.inner.dir)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    dir: PathBuf,
    config: StoreConfig,
    keys: StoreKeys,
    db: Database,
    /// Held for the whole of every write transaction, so that `totals` is updated in commit order.
    commit: Mutex<()>,
    /// The committed totals.
    totals: Mutex<Totals>,
    arenas: Mutex<Arenas>,
    /// Cache hits not yet in the index: index key → (hits, tick of the last).
    hits: Mutex<HashMap<IndexKey, (u32, u64)>>,
    policy: Mutex<CachePolicy>,
    gc_epoch: AtomicU64,
    /// One gc at a time.
    gc: Mutex<()>,
    /// Hands arenas to the background syncer (see [`SYNC_AHEAD`]).
    syncer: SyncSender<(Arc<Arena>, bool)>,
    /// Arenas with bytes that a lazy flush ([`Writer::flush_lazily`]) indexed without syncing them.
    /// Every durable commit syncs them first: redb makes a lazy commit durable with the next durable
    /// one, and an index entry on disk must never point at bytes that are not.
    unsynced: Mutex<Vec<Arc<Arena>>>,
}

/// A writer asks the background syncer to `fdatasync` its arena after this many bytes. The disk then
/// writes while the writer hashes and seals the next blocks, and the flush's own `fdatasync` finds
/// little left to do: on the reference machine put+flush went from 0.5 of the disk's plain write speed
/// to 0.65 with 8 MiB and 0.7–0.85 with 2 MiB. It is only a head start; durability still comes from the
/// flush's sync.
const SYNC_AHEAD: u64 = 2 << 20;

/// Starts the thread that syncs arenas ahead of flushes. It ends when the store is dropped (its
/// channel closes). A failed sync marks the arena (see `Arena::failed`), so the flush that needs it
/// fails too.
fn start_syncer() -> Result<SyncSender<(Arc<Arena>, bool)>, StoreError> {
    // One request waiting at most: a request made while another waits is covered by that one.
    // With it, whether to drop the synced pages from the page cache (advisory).
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Arc<Arena>, bool)>(1);
    std::thread::Builder::new()
        .name("gofast-store-sync".into())
        .spawn(move || {
            for (arena, drop_synced) in rx {
                match arena.sync() {
                    Ok(()) if drop_synced => arena.drop_cached(),
                    Ok(()) => {}
                    Err(e) => {
                        warn!(arena = arena.number(), error = %e, "background arena sync failed");
                    }
                }
            }
        })
        .map_err(|source| StoreError::Io {
            what: "start the arena syncer",
            source,
        })?;
    Ok(tx)
}

/// Locks a mutex whose holder may have panicked. The store's durable state is redb's and the arena
/// files'; the in-memory state behind these locks is either a cache of it or advisory (hit counts), so
/// it stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The store's clock: seconds since the Unix epoch (hit counts decay across restarts).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The sketch's key for an index key: its first 8 bytes, already uniform.
fn sketch_key(ikey: &IndexKey) -> u64 {
    let mut b = [0u8; 8];
    if let Some(head) = ikey.get(..8) {
        b.copy_from_slice(head);
    }
    u64::from_le_bytes(b)
}

const INDEX_FILE: &str = "index.redb";
const ARENA_DIR: &str = "arenas";

impl BlockStore {
    /// Opens the store in `dir`, creating it if needed. The storage key must be the one the store was
    /// created with ([`StoreError::WrongKey`] otherwise). Recovers from a crash: arena bytes past what
    /// the index references are cut off, arena files it does not reference are deleted.
    pub fn open(
        dir: &Path,
        storage_key: &SecretBytes<32>,
        config: StoreConfig,
    ) -> Result<BlockStore, StoreError> {
        config.check()?;
        let arena_dir = dir.join(ARENA_DIR);
        std::fs::create_dir_all(&arena_dir).map_err(|source| StoreError::Io {
            what: "create the store directory",
            source,
        })?;
        let keys = StoreKeys::new(storage_key)?;
        let db = Database::builder()
            .set_cache_size(config.index_cache)
            .create(dir.join(INDEX_FILE))?;
        let (totals, gc_epoch) = init_index(&db, &keys)?;
        let arenas = recover_arenas(&db, &arena_dir, &keys, &config)?;
        let decay = Decay::new(config.hit_half_life_secs);
        // The sketch is sized to about the entries the quota holds (at an average block of 16 KiB).
        let entries = usize::try_from(config.cache_quota / (16 << 10)).unwrap_or(usize::MAX);
        Ok(BlockStore {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                policy: Mutex::new(CachePolicy::new(entries, decay)),
                config,
                keys,
                db,
                commit: Mutex::new(()),
                totals: Mutex::new(totals),
                arenas: Mutex::new(arenas),
                hits: Mutex::new(HashMap::new()),
                gc_epoch: AtomicU64::new(gc_epoch),
                gc: Mutex::new(()),
                syncer: start_syncer()?,
                unsynced: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A batched writer; see [`Writer`].
    pub fn writer(&self) -> Writer {
        Writer::new(self.clone())
    }

    /// Stores one block and flushes: a writer of one. Prefer a [`Writer`] for many blocks (one
    /// transaction and one `fdatasync` per batch instead of per block).
    pub fn put(
        &self,
        id: &BlockId,
        ciphertext: &[u8],
        class: Class,
    ) -> Result<PutOutcome, StoreError> {
        let mut w = self.writer();
        let outcome = w.put(id, ciphertext, class)?;
        w.flush()?;
        Ok(outcome)
    }

    /// The block named `id`, checked against its id, or `None` if the store does not hold it. Counts a
    /// hit for a cache block and a request for the cache's admission either way.
    pub fn get(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(id, true, true)
    }

    /// [`Self::get`] without counting a use of the block for the cache: for the walks that list a
    /// tree's blocks for a pin. Those run inside the pin's transaction, holding the commit lock,
    /// so they must never write hit counts (which takes that lock); and a walk is not a use.
    pub fn get_uncounted(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(id, true, false)
    }

    /// [`BlockStore::get`] for a block going to a peer, without hashing it again: the peer checks
    /// every block against its id as it arrives, and the record's tag (bound to its arena, offset
    /// and length, which the index entry sealed under the block's index key names) already turns a
    /// flipped bit into an error.
    pub fn get_to_serve(&self, id: &BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(id, false, true)
    }

    fn read(&self, id: &BlockId, hash: bool, counted: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = &self.inner;
        let ikey = inner.keys.index_key(id);
        if counted {
            lock(&inner.policy).record_access(sketch_key(&ikey));
        }
        // A compaction may delete the arena between the index lookup and the read; the index then
        // already points at the new copy, so one more lookup finds it.
        let mut attempts = 0;
        let (entry, body) = loop {
            let Some(entry) = inner.lookup(&ikey)? else {
                return Ok(None);
            };
            let arena = lock(&inner.arenas).get(entry.arena);
            match arena {
                Some(a) => break (entry, a.read_record(entry.offset, entry.len)?),
                None if attempts < 2 => attempts += 1,
                None => return Err(StoreError::ArenaUnavailable(entry.arena)),
            }
        };
        if hash {
            verify(id, &body).map_err(|_| StoreError::CorruptBlock {
                arena: entry.arena,
                offset: entry.offset,
            })?;
        }
        if counted && entry.class == Class::Cache {
            inner.count_hit(ikey);
        }
        Ok(Some(body))
    }

    /// Whether the store holds the block named `id` (indexed, that is: flushed).
    pub fn has(&self, id: &BlockId) -> Result<bool, StoreError> {
        let ikey = self.inner.keys.index_key(id);
        let txn = self.inner.db.begin_read()?;
        let blocks = txn.open_table(BLOCKS)?;
        Ok(blocks.get(&ikey)?.is_some())
    }

    /// The class of the block named `id`, if held.
    pub fn class(&self, id: &BlockId) -> Result<Option<Class>, StoreError> {
        let ikey = self.inner.keys.index_key(id);
        Ok(self.inner.lookup(&ikey)?.map(|e| e.class))
    }

    /// Pins `root` and the blocks under it as `label`: each becomes permanent (now if held, when put if
    /// not) for as long as some pin holds it. `ids` may repeat and need not include the root. A pin of an
    /// existing label replaces it in the same transaction, so blocks both versions share never become
    /// collectable in between.
    pub fn pin(
        &self,
        label: &str,
        root: &BlockRef,
        ids: impl IntoIterator<Item = BlockId>,
    ) -> Result<PinReport, StoreError> {
        self.try_pin(label, root, ids.into_iter().map(Ok::<_, StoreError>))
    }

    /// [`Self::pin`] for ids from a source that can fail (a walk of a stored tree): its first error
    /// ends the pin and leaves the store as it was.
    ///
    /// A pin holds at most [`StoreConfig::pin_batch`] ids in memory, never the whole list, whatever
    /// the size of the tree. It is one transaction (redb writes its dirty pages out past half its
    /// cache, so that is bounded too).
    pub fn try_pin<E: From<StoreError>>(
        &self,
        label: &str,
        root: &BlockRef,
        ids: impl IntoIterator<Item = Result<BlockId, E>>,
    ) -> Result<PinReport, E> {
        let inner = &self.inner;
        let limit = inner.config.pin_batch;
        let mut pin = PinWriter::begin(inner, label, self.epoch())?;
        // Grown by doubling, so at most `limit` when that is a power of two (the default).
        let mut batch = vec![inner.keys.index_key(&root.id)];
        let mut ids = ids.into_iter();
        // The first batch: a pin that fits in it is diffed against the version it replaces.
        while batch.len() < limit {
            match ids.next() {
                Some(id) => batch.push(inner.keys.index_key(&id?)),
                None => break,
            }
        }
        let more = if batch.len() < limit {
            None
        } else {
            ids.next()
        };
        match more {
            None => pin.diff(batch)?,
            Some(id) => {
                let id = id?;
                pin.add(&mut batch)?;
                batch.push(inner.keys.index_key(&id));
                for id in ids {
                    batch.push(inner.keys.index_key(&id?));
                    if batch.len() == limit {
                        pin.add(&mut batch)?;
                    }
                }
                pin.add(&mut batch)?;
                pin.sweep()?;
            }
        }
        Ok(pin.commit(label, root)?)
    }

    /// Removes the pin `label`; `None` if there is none. Blocks no other pin holds become cache blocks
    /// without hits: first in line for eviction, still served while they last.
    pub fn unpin(&self, label: &str) -> Result<Option<UnpinReport>, StoreError> {
        let inner = &self.inner;
        let lkey = inner.keys.label_key(label);
        let now = now_secs();
        let _commit = lock(&inner.commit);
        let mut totals = *lock(&inner.totals);
        let txn = inner.db.begin_write()?;
        let report = {
            let mut pins = txn.open_table(PINS)?;
            if pins.remove(&lkey)?.is_none() {
                return Ok(None);
            }
            let mut members = txn.open_table(PIN_MEMBERS)?;
            let mut t = Tables::open(&txn, &inner.keys, &mut totals, self.epoch(), now)?;
            let (lo, hi) = label_range(&lkey);
            let (mut blocks, mut released) = (0u64, 0u64);
            for member in members.extract_from_if(lo..=hi, |_, _| true)? {
                let (k, _) = member?;
                blocks += 1;
                if t.release_ref(&member_ikey(&k.value()))? {
                    released += 1;
                }
            }
            UnpinReport { blocks, released }
        };
        inner.commit_with_totals(txn, totals)?;
        Ok(Some(report))
    }

    /// Every pin, decrypted.
    pub fn pins(&self) -> Result<Vec<PinInfo>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let pins = txn.open_table(PINS)?;
        let mut out = Vec::new();
        for row in pins.iter()? {
            let (k, v) = row?;
            out.push(self.pin_info(&k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The pin `label`, if there is one (one lookup, not a walk of every pin).
    pub fn pin_of(&self, label: &str) -> Result<Option<PinInfo>, StoreError> {
        let lkey = self.inner.keys.label_key(label);
        let txn = self.inner.db.begin_read()?;
        let pins = txn.open_table(PINS)?;
        let Some(v) = pins.get(&lkey)? else {
            return Ok(None);
        };
        self.pin_info(&lkey, v.value()).map(Some)
    }

    /// A pin row, opened.
    fn pin_info(&self, lkey: &[u8; 32], sealed: &[u8]) -> Result<PinInfo, StoreError> {
        let mut plain = self.inner.keys.open(Domain::Pin, lkey, sealed)?;
        let record = PinRecord::decode(&plain);
        wipe(&mut plain);
        let record = record?;
        Ok(PinInfo {
            label: record.label.clone(),
            root: BlockRef::from_bytes(&record.root),
            blocks: record.blocks,
            pinned_at: record.pinned_at,
        })
    }

    /// Counts and bytes per class, arena use and what compaction could reclaim.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let totals = *lock(&self.inner.totals);
        let txn = self.inner.db.begin_read()?;
        let arenas = txn.open_table(ARENAS)?;
        let pins = txn.open_table(PINS)?;
        let (mut count, mut arena_bytes, mut live_bytes) = (0u64, 0u64, 0u64);
        for row in arenas.iter()? {
            let (_, v) = row?;
            let (end, live, _) = v.value();
            count += 1;
            arena_bytes += end;
            live_bytes += live;
        }
        Ok(StoreStats {
            permanent: ClassStats {
                blocks: totals.permanent_blocks,
                bytes: totals.permanent_bytes,
            },
            cache: ClassStats {
                blocks: totals.cache_blocks,
                bytes: totals.cache_bytes,
            },
            cache_quota: self.inner.config.cache_quota,
            pins: redb::ReadableTableMetadata::len(&pins)?,
            arenas: count,
            arena_bytes,
            live_bytes,
            reclaimable_bytes: arena_bytes
                .saturating_sub(live_bytes)
                .saturating_sub(count * arena::ARENA_HEADER_LEN),
        })
    }

    /// Writes the cache hits counted in memory to the index (also done by every flush and by gc).
    pub fn persist_hits(&self) -> Result<(), StoreError> {
        self.inner.persist_hits()
    }

    fn epoch(&self) -> u64 {
        self.inner.gc_epoch.load(Ordering::Relaxed)
    }
}

/// The index key inside a pin member key.
/// The default of [`StoreConfig::pin_batch`]: 65,536 ids (2 MiB of index keys), the blocks of
/// about 1.2 GiB of normally chunked data.
pub const PIN_BATCH: usize = 1 << 16;

/// A pin being written: one write transaction under the commit lock. Every member row holds the
/// generation of the version that wrote it.
///
/// A pin whose ids fit in one batch is *diffed*: the old version's rows are scanned once, those
/// the new one names are kept as they are, the others dropped, and only new members written.
/// Re-pinning an edited tree then costs its change, not its size.
///
/// A larger pin is taken a batch at a time, so that no list of its members is ever held: each
/// member row is written with the new generation, and the row's old value says what the key was:
/// absent (a member the pin adds: one more ref), of this generation (named twice: nothing), or of
/// an older one (the replaced version held it too: its ref stays). Then the rows still of an older
/// generation are the members the new version dropped ([`PinWriter::sweep`]). The price is that
/// such a re-pin rewrites every row it keeps (measured: 200,000 blocks with 1 % changed, 0.5 s
/// instead of 0.2).
struct PinWriter<'a> {
    // Before the lock: fields drop in order, so an abandoned pin aborts its transaction before
    // the next committer may begin one.
    tx: PinTxn<'a>,
    _commit: MutexGuard<'a, ()>,
    lkey: [u8; 32],
    generation: u64,
    replaced: bool,
    blocks: u64,
    missing: u64,
    started: std::time::Instant,
}

impl<'a> PinWriter<'a> {
    fn begin(inner: &'a Inner, label: &str, epoch: u64) -> Result<PinWriter<'a>, StoreError> {
        if label.len() > MAX_LABEL_LEN {
            return Err(StoreError::LabelTooLong {
                len: label.len(),
                max: MAX_LABEL_LEN,
            });
        }
        let lkey = inner.keys.label_key(label);
        let commit = lock(&inner.commit);
        let started = std::time::Instant::now();
        let totals = *lock(&inner.totals);
        let txn = inner.db.begin_write()?;
        let old = match txn.open_table(PINS)?.get(&lkey)? {
            Some(v) => Some(PinRecord::decode(&inner.keys.open(
                Domain::Pin,
                &lkey,
                v.value(),
            )?)?),
            None => None,
        };
        Ok(PinWriter {
            tx: PinTxn {
                inner,
                txn,
                totals,
                epoch,
                now: now_secs(),
            },
            _commit: commit,
            lkey,
            generation: old.as_ref().map_or(1, |p| p.generation.wrapping_add(1)),
            replaced: old.is_some(),
            blocks: 0,
            missing: 0,
            started,
        })
    }

    /// The whole pin in one batch: keeps the rows of members the replaced version holds too,
    /// drops its others, writes the new ones.
    fn diff(&mut self, mut want: Vec<IndexKey>) -> Result<(), StoreError> {
        // In key order: each B-tree page is then visited in one run.
        want.sort_unstable();
        want.dedup();
        let (mut members, mut t) = self.tx.tables()?;
        let mut kept = vec![false; want.len()];
        if self.replaced {
            let (lo, hi) = label_range(&self.lkey);
            let stale = members.extract_from_if(lo..=hi, |k, _| {
                match want.binary_search(&member_ikey(&k)) {
                    Ok(i) => {
                        if let Some(k) = kept.get_mut(i) {
                            *k = true;
                        }
                        false
                    }
                    Err(_) => true,
                }
            })?;
            for row in stale {
                let (k, _) = row?;
                t.release_ref(&member_ikey(&k.value()))?;
            }
        }
        for (ikey, _) in want.iter().zip(&kept).filter(|(_, kept)| !**kept) {
            members.insert(&member_key(&self.lkey, ikey), &self.generation)?;
            if !t.add_ref(ikey)? {
                self.missing += 1;
            }
        }
        self.blocks = want.len() as u64;
        Ok(())
    }

    /// After the last [`PinWriter::add`]: drops the members the replaced version held and this one
    /// does not (their rows are still of an older generation).
    fn sweep(&mut self) -> Result<(), StoreError> {
        if !self.replaced {
            return Ok(());
        }
        let (mut members, mut t) = self.tx.tables()?;
        let (lo, hi) = label_range(&self.lkey);
        let generation = self.generation;
        for row in members.extract_from_if(lo..=hi, |_, g| g != generation)? {
            let (k, _) = row?;
            t.release_ref(&member_ikey(&k.value()))?;
        }
        Ok(())
    }

    /// Takes the members in `batch` and empties it.
    fn add(&mut self, batch: &mut Vec<IndexKey>) -> Result<(), StoreError> {
        batch.sort_unstable();
        let (mut members, mut t) = self.tx.tables()?;
        for ikey in batch.drain(..) {
            let old = members.insert(&member_key(&self.lkey, &ikey), &self.generation)?;
            match old.map(|g| g.value()) {
                None => {
                    self.blocks += 1;
                    if !t.add_ref(&ikey)? {
                        self.missing += 1;
                    }
                }
                Some(g) if g == self.generation => {}
                Some(_) => self.blocks += 1,
            }
        }
        Ok(())
    }

    /// Writes the pin's record and commits durably.
    fn commit(self, label: &str, root: &BlockRef) -> Result<PinReport, StoreError> {
        {
            let record = PinRecord {
                generation: self.generation,
                blocks: self.blocks,
                root: root.to_bytes(),
                label: label.to_owned(),
                pinned_at: Some(self.tx.now),
            };
            let mut plain = record.encode();
            let sealed = self.tx.inner.keys.seal(Domain::Pin, &self.lkey, &plain);
            wipe(&mut plain);
            self.tx
                .txn
                .open_table(PINS)?
                .insert(&self.lkey, sealed?.as_slice())?;
        }
        let written = self.started.elapsed();
        let report = PinReport {
            blocks: self.blocks,
            missing: self.missing,
            replaced: self.replaced,
        };
        self.tx
            .inner
            .commit_with_totals(self.tx.txn, self.tx.totals)?;
        // A large pin is an add's or a get's tail: what it cost, and how much of that was the
        // durable commit (arena syncs and redb's).
        debug!(
            blocks = report.blocks,
            rows_ms = written.as_millis(),
            commit_ms = (self.started.elapsed() - written).as_millis(),
            "pinned"
        );
        Ok(report)
    }
}

/// A pin's write transaction and what opening its tables takes.
struct PinTxn<'a> {
    inner: &'a Inner,
    txn: redb::WriteTransaction,
    totals: Totals,
    epoch: u64,
    now: u64,
}

impl PinTxn<'_> {
    /// The member rows and the index's tables.
    #[allow(clippy::type_complexity)]
    fn tables(&mut self) -> Result<(redb::Table<'_, [u8; 64], u64>, Tables<'_>), StoreError> {
        let members = self.txn.open_table(PIN_MEMBERS)?;
        let t = Tables::open(
            &self.txn,
            &self.inner.keys,
            &mut self.totals,
            self.epoch,
            self.now,
        )?;
        Ok((members, t))
    }
}

/// The keys of a label's member rows.
fn label_range(lkey: &[u8; 32]) -> ([u8; 64], [u8; 64]) {
    (member_key(lkey, &[0; 32]), member_key(lkey, &[0xff; 32]))
}

fn member_ikey(k: &[u8; 64]) -> IndexKey {
    let mut ikey = [0u8; 32];
    if let Some(tail) = k.get(32..) {
        ikey.copy_from_slice(tail);
    }
    ikey
}

impl Inner {
    /// The index entry of `ikey`, opened.
    fn lookup(&self, ikey: &IndexKey) -> Result<Option<BlockEntry>, StoreError> {
        let txn = self.db.begin_read()?;
        let blocks = txn.open_table(BLOCKS)?;
        match blocks.get(ikey)? {
            Some(v) => Ok(Some(tables::open_entry(&self.keys, ikey, v.value())?)),
            None => Ok(None),
        }
    }

    /// Counts a cache hit in memory; writes the buffer out when it is full, so it stays bounded. Hit
    /// counts are advisory: failing to write them is logged, and the read that counted them succeeds.
    fn count_hit(&self, ikey: IndexKey) {
        let full = {
            let mut hits = lock(&self.hits);
            let e = hits.entry(ikey).or_insert((0, 0));
            e.0 = e.0.saturating_add(1);
            e.1 = now_secs();
            hits.len() >= self.config.hit_buffer
        };
        if full && let Err(e) = self.persist_hits() {
            warn!(error = %e, "cache hit counts not written");
        }
    }

    fn take_hits(&self) -> HashMap<IndexKey, (u32, u64)> {
        std::mem::take(&mut *lock(&self.hits))
    }

    fn persist_hits(&self) -> Result<(), StoreError> {
        let hits = self.take_hits();
        if hits.is_empty() {
            return Ok(());
        }
        let _commit = lock(&self.commit);
        let mut totals = *lock(&self.totals);
        let mut txn = self.db.begin_write()?;
        // Hit counts are advisory: a crash may lose the latest, so they need not cost an fsync. The
        // next durable commit (any flush) makes them durable too.
        if txn.set_durability(redb::Durability::None).is_err() {
            // Only refused in multi-process modes, which the store does not use; stay durable then.
        }
        {
            let mut t = Tables::open(
                &txn,
                &self.keys,
                &mut totals,
                self.gc_epoch.load(Ordering::Relaxed),
                now_secs(),
            )?;
            t.apply_hits(&hits, Decay::new(self.config.hit_half_life_secs))?;
        }
        self.commit_lazily(txn, totals)
    }

    /// Writes the totals into the transaction, makes the arenas lazy flushes left unsynced durable,
    /// commits it and publishes the totals. The caller holds the commit lock.
    fn commit_with_totals(
        &self,
        txn: redb::WriteTransaction,
        totals: Totals,
    ) -> Result<(), StoreError> {
        {
            let mut unsynced = lock(&self.unsynced);
            // No lazy commit can come in between: the write transaction is open. A failed sync
            // fails this commit; the arena is marked (`Arena::failed`) and leaves the list, and
            // what the lazy commits indexed in it reads back as corrupt if the disk lost it.
            let synced = unsynced.iter().try_for_each(|a| a.sync());
            unsynced.clear();
            synced?;
        }
        self.commit_lazily(txn, totals)
    }

    /// [`Self::commit_with_totals`] without syncing arenas: for transactions whose durability is
    /// `None` (hit counts, lazy flushes), which only a later durable commit makes durable.
    fn commit_lazily(&self, txn: redb::WriteTransaction, totals: Totals) -> Result<(), StoreError> {
        {
            let mut meta = txn.open_table(META)?;
            let sealed = self
                .keys
                .seal(Domain::Meta, META_TOTALS.as_bytes(), &totals.encode())?;
            meta.insert(META_TOTALS, sealed.as_slice())?;
        }
        txn.commit()?;
        *lock(&self.totals) = totals;
        Ok(())
    }
}

/// Creates the tables on first open; checks the format and the key; reads the totals and the gc epoch.
fn init_index(db: &Database, keys: &StoreKeys) -> Result<(Totals, u64), StoreError> {
    let txn = db.begin_write()?;
    let result = {
        // Opening a table in a write transaction creates it.
        for def in [BLOCKS, CACHE, PINS] {
            txn.open_table(def)?;
        }
        txn.open_table(REFS)?;
        txn.open_table(UNPINNED)?;
        txn.open_table(PIN_MEMBERS)?;
        txn.open_table(ARENA_MEMBERS)?;
        txn.open_table(ARENAS)?;
        let mut meta = txn.open_table(META)?;
        let format = meta.get(META_FORMAT)?.map(|v| v.value().to_vec());
        match format {
            None => {
                meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
                let check = keys.seal(Domain::Meta, META_KEY_CHECK.as_bytes(), KEY_CHECK)?;
                meta.insert(META_KEY_CHECK, check.as_slice())?;
                let totals = keys.seal(
                    Domain::Meta,
                    META_TOTALS.as_bytes(),
                    &Totals::default().encode(),
                )?;
                meta.insert(META_TOTALS, totals.as_slice())?;
                meta.insert(META_GC_EPOCH, 0u64.to_le_bytes().as_slice())?;
                (Totals::default(), 0)
            }
            Some(f) => {
                let found = f
                    .as_slice()
                    .try_into()
                    .map(u32::from_le_bytes)
                    .map_err(|_| StoreError::Corrupt { what: "format" })?;
                if found != FORMAT_VERSION {
                    return Err(StoreError::UnsupportedFormat { found });
                }
                let check = meta
                    .get(META_KEY_CHECK)?
                    .ok_or(StoreError::Corrupt { what: "key check" })?;
                match keys.open(Domain::Meta, META_KEY_CHECK.as_bytes(), check.value()) {
                    Ok(v) if v == KEY_CHECK => {}
                    _ => return Err(StoreError::WrongKey),
                }
                drop(check);
                let totals = meta
                    .get(META_TOTALS)?
                    .ok_or(StoreError::Corrupt { what: "totals" })?;
                let totals = Totals::decode(&keys.open(
                    Domain::Meta,
                    META_TOTALS.as_bytes(),
                    totals.value(),
                )?)?;
                let epoch = meta
                    .get(META_GC_EPOCH)?
                    .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
                    .ok_or(StoreError::Corrupt { what: "gc epoch" })?;
                (totals, epoch)
            }
        }
    };
    txn.commit()?;
    Ok(result)
}

/// Brings the arena files in line with the index after any stop, clean or not: files the index does
/// not reference (a crashed write's, a finished compaction's) are deleted, tails past the indexed end
/// are cut off. New writes always go to a new arena (see `arena.rs`).
fn recover_arenas(
    db: &Database,
    arena_dir: &Path,
    keys: &StoreKeys,
    config: &StoreConfig,
) -> Result<Arenas, StoreError> {
    let mut rows: HashMap<u32, (u64, u64, u64)> = HashMap::new();
    {
        let txn = db.begin_read()?;
        let arenas = txn.open_table(ARENAS)?;
        for row in arenas.iter()? {
            let (k, v) = row?;
            rows.insert(k.value(), v.value());
        }
    }
    let mut max_number = rows.keys().copied().max().unwrap_or(0);
    let mut open = HashMap::new();
    let listing = std::fs::read_dir(arena_dir).map_err(|source| StoreError::Io {
        what: "list the arenas",
        source,
    })?;
    for entry in listing {
        let entry = entry.map_err(|source| StoreError::Io {
            what: "list the arenas",
            source,
        })?;
        let name = entry.file_name();
        let Some(number) = name.to_str().and_then(arena::parse_file_name) else {
            continue;
        };
        max_number = max_number.max(number);
        match rows.get(&number) {
            Some(&(end, _, records)) if records > 0 => {
                // One damaged arena must not make the whole store unopenable: its blocks fail to
                // read (a typed error each), the rest are served.
                let a = match Arena::open(arena_dir, number, keys) {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(arena = number, error = %e, "arena unreadable: its blocks cannot be read");
                        continue;
                    }
                };
                let len = a.len()?;
                if len > end {
                    a.truncate(end)?;
                } else if len < end {
                    warn!(
                        arena = number,
                        len, end, "arena shorter than its index: blocks past its end are lost"
                    );
                }
                open.insert(number, Arc::new(a));
            }
            _ => arena::remove_file(arena_dir, number)?,
        }
    }
    for (&number, &(_, _, records)) in &rows {
        if records > 0 && !arena_dir.join(arena::file_name(number)).exists() {
            warn!(
                arena = number,
                records, "arena file missing: its blocks cannot be read"
            );
        }
    }
    let next = max_number.checked_add(1).ok_or(StoreError::Corrupt {
        what: "arena numbers exhausted",
    })?;
    Ok(Arenas::new(
        arena_dir.to_path_buf(),
        config.arena_size,
        config.arena_cipher,
        open,
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gofast_core::block::MAX_BLOCK_LEN;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_cross_threads() {
        assert_send_sync::<BlockStore>();
        assert_send_sync::<Writer>();
        assert_send_sync::<StoreError>();
    }

    #[test]
    fn config_limits_are_checked() {
        assert!(StoreConfig::default().check().is_ok());
        let bad = |f: fn(&mut StoreConfig)| {
            let mut c = StoreConfig::default();
            f(&mut c);
            c.check().is_err()
        };
        assert!(bad(|c| c.arena_size = 1000));
        assert!(bad(|c| c.compact_below = 1.5));
        assert!(bad(|c| c.max_batch = 0));
        assert!(bad(|c| c.eviction_samples = 0));
    }

    #[test]
    fn max_block_fits_an_index_entry() {
        assert!(u32::try_from(MAX_BLOCK_LEN).is_ok());
    }
}
