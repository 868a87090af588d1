//! Batched writes: bodies appended at once, indexed together at `flush`.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;

use gofast_core::block::{BlockId, verify};
use redb::ReadableDatabase;

use super::arena::Arena;
use super::cache_policy::{Decay, EntryStats, pick_victim};
use super::index::{BlockEntry, CACHE};
use super::keys::IndexKey;
use super::tables::{Tables, sample_cache};
use super::{BlockStore, Class, Inner, PutOutcome, StoreError, lock, now_secs, sketch_key};

/// A body written at `entry`, indexed at flush (with `stats` if it is a cache block).
struct Pending {
    ikey: IndexKey,
    entry: BlockEntry,
    stats: EntryStats,
}

/// A batch of writes. [`Writer::put`] verifies a block and appends it to the active arena;
/// [`Writer::flush`] makes the appended bytes durable and then indexes the whole batch in one redb
/// transaction. Until then nothing of the batch is visible: `get` and `has` do not see it, and a
/// crash leaves only unindexed arena bytes that the next open cuts off.
///
/// A writer holds a handle to the store: the store closes (and can be opened again) only when every
/// handle and writer is dropped.
///
/// Dropping a writer without flushing abandons its batch (the bytes become dead space). A batch that
/// reaches [`super::StoreConfig::max_batch`] blocks is flushed by the next `put`. A failed flush also
/// abandons the batch: after a failed `fdatasync` the kernel may have dropped the pages, so the only
/// safe answer is to put the blocks again.
pub struct Writer {
    store: BlockStore,
    pending: Vec<Pending>,
    in_batch: HashMap<IndexKey, usize>,
    /// Arenas this batch wrote to, with the number of records reserved in each.
    touched: Vec<(Arc<Arena>, u64)>,
    pending_cache_bytes: u64,
    /// Bytes written since the last request to the background syncer.
    unsynced: u64,
    /// Whether a full batch is flushed lazily ([`Writer::flush_lazily`]) instead of durably.
    lazy_batches: bool,
    /// Whether the background syncer drops this writer's synced pages from the page cache.
    drop_synced: bool,
    /// Records sealed but not written yet.
    staged: Staged,
}

/// Sealed records reserved back to back in one arena, written in one call: once
/// [`STAGE_BYTES`] are staged, when the next record goes elsewhere, and before a sync or a flush
/// needs them on disk. A write per record was a system call (and an inode time update) per ~20 KB
/// block: 1 GiB so cost 0.42 s of kernel time here, against 0.17 s in 1 MiB writes.
#[derive(Default)]
struct Staged {
    arena: Option<Arc<Arena>>,
    offset: u64,
    bytes: Vec<u8>,
}

/// Bytes of sealed records a writer stages before writing them.
const STAGE_BYTES: usize = 1 << 20;

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub(super) fn new(store: BlockStore) -> Writer {
        Writer {
            store,
            pending: Vec::new(),
            in_batch: HashMap::new(),
            touched: Vec::new(),
            pending_cache_bytes: 0,
            unsynced: 0,
            lazy_batches: false,
            drop_synced: false,
            staged: Staged::default(),
        }
    }

    /// The same writer, flushing each full batch lazily: for a caller that ends with a durable
    /// commit of its own (an add ends with its pin), so that the blocks become durable once, there,
    /// instead of every [`super::StoreConfig::max_batch`] blocks.
    #[must_use]
    pub fn with_lazy_batches(mut self) -> Writer {
        self.lazy_batches = true;
        self
    }

    /// The same writer, its records dropped from the page cache once the background syncer has
    /// synced them: for blocks fetched from others, which this node reads again only to serve
    /// them. Pages the kernel recycles stay cheap to write; on a VM that returns freed memory to
    /// its host, fresh ones cost a host fault each (`docs/spec/store.md`). A node's own adds stay
    /// cached, for the peers that fetch them next.
    #[must_use]
    pub fn dropping_synced_pages(mut self) -> Writer {
        self.drop_synced = true;
        self
    }

    /// Blocks waiting for the next flush.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a block to the batch. The block is checked against its id first: a block that is not the
    /// one `id` names is refused ([`StoreError::Block`]) and nothing is written. A block already held
    /// is not written again; a cache block put as permanent is promoted.
    pub fn put(
        &mut self,
        id: &BlockId,
        ciphertext: &[u8],
        class: Class,
    ) -> Result<PutOutcome, StoreError> {
        verify(id, ciphertext).map_err(StoreError::Block)?;
        self.put_verified(id, ciphertext, class)
    }

    /// [`Writer::put`] for a block the caller has checked against its id already (it sealed the
    /// block itself, or ran `verify` on it as it arrived): hashing 64 KiB again costs as much as
    /// sealing it for the arena. A block that does not match `id` would be stored under the wrong
    /// name (and refused by every later `get`), so this is only for the node's own paths.
    pub(crate) fn put_verified(
        &mut self,
        id: &BlockId,
        ciphertext: &[u8],
        class: Class,
    ) -> Result<PutOutcome, StoreError> {
        let len = match ciphertext.len() {
            0 => return Err(StoreError::Block(gofast_core::block::BlockError::Empty)),
            n if n > gofast_core::block::MAX_BLOCK_LEN => {
                return Err(StoreError::Block(
                    gofast_core::block::BlockError::TooLarge { len: n },
                ));
            }
            n => n as u32,
        };
        let inner = Arc::clone(&self.store.inner);
        let ikey = inner.keys.index_key(id);
        if let Some(&i) = self.in_batch.get(&ikey) {
            if class == Class::Permanent
                && let Some(Pending { entry, .. }) = self.pending.get_mut(i)
                && entry.class == Class::Cache
            {
                entry.class = Class::Permanent;
                self.pending_cache_bytes = self.pending_cache_bytes.saturating_sub(u64::from(len));
                return Ok(PutOutcome::Promoted);
            }
            return Ok(PutOutcome::AlreadyPresent);
        }
        if self.pending.len() >= inner.config.max_batch {
            self.flush_as(!self.lazy_batches)?;
        }
        // A cache block put as permanent is written again all the same: until the flush it is still a
        // cache block that another writer's flush may evict, and then the caller's permanent data would
        // be gone. The flush promotes the indexed copy if it is still there, and this one is dead space.
        let outcome = match inner.lookup(&ikey)? {
            Some(e) if class == Class::Permanent && e.class == Class::Cache => PutOutcome::Promoted,
            Some(_) => return Ok(PutOutcome::AlreadyPresent),
            None => PutOutcome::Stored,
        };
        let now = now_secs();
        let stats = match class {
            Class::Permanent => EntryStats::new(now),
            Class::Cache => match self.admit(&inner, &ikey, len, now)? {
                Some(stats) => stats,
                None => return Ok(PutOutcome::NotAdmitted),
            },
        };
        let (arena, offset) = lock(&inner.arenas).reserve(len, &inner.keys)?;
        if let Err(e) = self.stage(&arena, offset, ciphertext) {
            lock(&inner.arenas).release(arena.number(), 1);
            return Err(e);
        }
        let number = arena.number();
        match self.touched.iter_mut().find(|(a, _)| a.number() == number) {
            Some((_, n)) => *n += 1,
            None => self.touched.push((Arc::clone(&arena), 1)),
        }
        self.unsynced += u64::from(len);
        if self.unsynced >= super::SYNC_AHEAD {
            self.unsynced = 0;
            // On disk first, or the sync would not cover them. A failure abandons the batch
            // (this record's reservation with it).
            self.write_staged()?;
            // Full means a sync is already waiting, which will cover these bytes too.
            let _ = inner.syncer.try_send((arena, self.drop_synced));
        }
        if class == Class::Cache {
            self.pending_cache_bytes += u64::from(len);
        }
        self.in_batch.insert(ikey, self.pending.len());
        self.pending.push(Pending {
            ikey,
            entry: BlockEntry {
                arena: number,
                offset,
                len,
                class,
            },
            stats,
        });
        Ok(outcome)
    }

    /// Whether a cache block of `len` bytes gets in, and the stats it starts with. Within the quota
    /// every block does; beyond it, only one asked for more often than the block it would displace
    /// (see `cache_policy`).
    fn admit(
        &self,
        inner: &Inner,
        ikey: &IndexKey,
        len: u32,
        now: u64,
    ) -> Result<Option<EntryStats>, StoreError> {
        let quota = inner.config.cache_quota;
        if u64::from(len) > quota {
            return Ok(None);
        }
        let totals = *lock(&inner.totals);
        let initial = lock(&inner.policy).initial_stats(sketch_key(ikey), now);
        if totals.cache_bytes + self.pending_cache_bytes + u64::from(len) <= quota {
            return Ok(Some(initial));
        }
        let txn = inner.db.begin_read()?;
        let cache = txn.open_table(CACHE)?;
        let sample = sample_cache(
            &cache,
            &inner.keys,
            totals.cache_blocks,
            inner.config.eviction_samples,
        )?;
        let decay = Decay::new(inner.config.hit_half_life_secs);
        // Hits still in memory count: the victim must be the block least asked for, not the one whose
        // hits happen not to be written yet.
        let sample: Vec<_> = {
            let hits = lock(&inner.hits);
            sample
                .into_iter()
                .map(|(k, mut s)| {
                    if let Some(&(n, last)) = hits.get(&k) {
                        s.hit(decay, last, n);
                    }
                    (k, s)
                })
                .collect()
        };
        let Some((victim, _)) = pick_victim(sample, decay, now) else {
            // Only this batch's blocks fill the cache; the flush sorts them out.
            return Ok(Some(initial));
        };
        let admitted = lock(&inner.policy).admit(sketch_key(ikey), sketch_key(&victim));
        Ok(admitted.then_some(initial))
    }

    /// Makes the batch durable and visible: `fdatasync` of every arena written, then one redb
    /// transaction indexing every block (and the hits counted so far, and the evictions the quota
    /// requires). When it returns `Ok`, the batch survives a crash.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.flush_as(true)
    }

    /// Makes the batch visible (readable, servable) but not durable: one redb transaction of
    /// durability `None` and no `fdatasync`. A crash may lose it (and cut its bytes off at the next
    /// open); the next durable commit of the store, whoever makes it, syncs its arenas and makes it
    /// durable too. For blocks that can be fetched again: a fetch indexes what it received as it
    /// goes, and syncs once at the end, instead of twice (arena, index) every few megabytes.
    pub fn flush_lazily(&mut self) -> Result<(), StoreError> {
        self.flush_as(false)
    }

    /// Seals `body` as the record at `offset` of `arena` (reserved by the caller) into the stage,
    /// writing out what was staged first if the record does not follow it.
    fn stage(&mut self, arena: &Arc<Arena>, offset: u64, body: &[u8]) -> Result<(), StoreError> {
        let staged = &self.staged;
        let follows = staged
            .arena
            .as_ref()
            .is_some_and(|a| a.number() == arena.number())
            && staged.offset + staged.bytes.len() as u64 == offset;
        if !follows || staged.bytes.len() >= STAGE_BYTES {
            self.write_staged()?;
            self.staged.arena = Some(Arc::clone(arena));
            self.staged.offset = offset;
        }
        arena.seal_record_into(offset, body, &mut self.staged.bytes)
    }

    /// Writes the staged records. If that fails, the batch they belong to is abandoned (as a
    /// failed flush abandons it): its index entries would name bytes that are not there.
    fn write_staged(&mut self) -> Result<(), StoreError> {
        let written = match &self.staged.arena {
            Some(arena) if !self.staged.bytes.is_empty() => {
                arena.write_at(self.staged.offset, &self.staged.bytes)
            }
            _ => Ok(()),
        };
        self.staged.bytes.clear();
        if written.is_err() {
            self.abandon();
        }
        written
    }

    /// Ends the batch: its entries, and the arenas it wrote to with their reservations (which the
    /// caller releases once it is done with them).
    fn take_batch(&mut self) -> (Vec<Pending>, Vec<(Arc<Arena>, u64)>) {
        self.in_batch.clear();
        self.pending_cache_bytes = 0;
        (mem::take(&mut self.pending), mem::take(&mut self.touched))
    }

    /// Drops the batch: its records become dead space.
    fn abandon(&mut self) {
        let (_, touched) = self.take_batch();
        release(&self.store.inner, &touched);
    }

    fn flush_as(&mut self, durable: bool) -> Result<(), StoreError> {
        self.write_staged()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let (pending, touched) = self.take_batch();
        let inner = &self.store.inner;
        let result = if durable {
            touched
                .iter()
                .try_for_each(|(arena, _)| arena.sync())
                .and_then(|()| inner.commit_batch(&pending, true))
        } else {
            // Listed before the commit: a durable commit that follows it must find them (listed
            // after, one could slip in between). Should the commit fail, they are synced for
            // nothing.
            {
                let mut unsynced = lock(&inner.unsynced);
                for (arena, _) in &touched {
                    if !unsynced.iter().any(|a| a.number() == arena.number()) {
                        unsynced.push(Arc::clone(arena));
                    }
                }
            }
            inner.commit_batch(&pending, false)
        };
        release(inner, &touched);
        result
    }
}

fn release(inner: &Inner, touched: &[(Arc<Arena>, u64)]) {
    let mut arenas = lock(&inner.arenas);
    for (arena, n) in touched {
        arenas.release(arena.number(), *n);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // An abandoned batch: its records are dead space, and their arenas may be compacted.
        release(&self.store.inner, &self.touched);
    }
}

impl Inner {
    fn commit_batch(&self, pending: &[Pending], durable: bool) -> Result<(), StoreError> {
        let decay = Decay::new(self.config.hit_half_life_secs);
        let _commit = lock(&self.commit);
        let mut totals = *lock(&self.totals);
        let mut txn = self.db.begin_write()?;
        if !durable {
            // Only refused in multi-process modes, which the store does not use; durable then.
            let _ = txn.set_durability(redb::Durability::None);
        }
        {
            let epoch = self.gc_epoch.load(std::sync::atomic::Ordering::Relaxed);
            let mut t = Tables::open(&txn, &self.keys, &mut totals, epoch, now_secs())?;
            let mut new = Vec::with_capacity(pending.len());
            for p in pending {
                match t.entry(&p.ikey)? {
                    // Indexed already (by another writer, or a cache copy being promoted): this copy
                    // is dead space.
                    Some(existing) => {
                        if p.entry.class == Class::Permanent {
                            t.promote(&p.ikey, existing)?;
                        }
                    }
                    None => {
                        let mut entry = p.entry;
                        // A pin may hold the block already (pinned before it arrived).
                        let refs = t.refs(&p.ikey)?;
                        if refs > 0 {
                            entry.class = Class::Permanent;
                        }
                        new.push((p.ikey, entry, p.stats, refs));
                    }
                }
            }
            t.insert_new(new)?;
            t.apply_hits(&self.take_hits(), decay)?;
            t.evict_to_quota(self.config.cache_quota, self.config.eviction_samples, decay)?;
        }
        if durable {
            self.commit_with_totals(txn, totals)
        } else {
            self.commit_lazily(txn, totals)
        }
    }
}
