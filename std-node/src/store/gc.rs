//! Garbage collection: permanent blocks no pin holds become cache blocks, the cache is brought within
//! its quota, and arenas that are mostly dead space are compacted.
//!
//! Compaction copies an arena's live records forward into the active arena, makes the copies durable,
//! commits the index pointing at them, and only then deletes the old file. A crash at any point loses
//! nothing: before the commit the index still points at the old records (the copies are unindexed
//! bytes the next open cuts off); after it, the old file is unreferenced and the next open deletes it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redb::{ReadableDatabase, ReadableTable};
use tracing::warn;

use super::arena::Arena;
use super::cache_policy::Decay;
use super::index::{
    ARENA_MEMBERS, ARENAS, BLOCKS, BlockEntry, META, META_GC_EPOCH, arena_member_ikey,
    arena_member_key,
};
use super::keys::{Domain, IndexKey};
use super::tables::Tables;
use super::{BlockStore, Inner, StoreError, lock, now_secs};

/// Records copied per compaction transaction: bounds the memory of one step (≤ 256 × 64 KiB = 16 MiB
/// read at a time is not held: each record is written before the next is read) and the work a crash
/// repeats.
const COMPACT_BATCH: usize = 256;

/// What compaction does with one member row of the arena it empties.
enum Move {
    /// The row outlived its block's entry (or the entry is elsewhere): only the row goes.
    Stale,
    /// The record read at `read` was copied to `offset` in `arena`.
    Copied {
        read: BlockEntry,
        arena: u32,
        offset: u64,
    },
    /// The record read at `read` does not authenticate: the block leaves the index.
    Corrupt { read: BlockEntry },
}

impl Move {
    fn read(&self) -> Option<&BlockEntry> {
        match self {
            Move::Stale => None,
            Move::Copied { read, .. } | Move::Corrupt { read } => Some(read),
        }
    }
}

/// What a gc did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Permanent blocks no pin held for a whole gc interval, now cache blocks.
    pub demoted: u64,
    /// Cache blocks evicted to meet the quota.
    pub evicted_blocks: u64,
    /// Their bytes.
    pub evicted_bytes: u64,
    /// Arenas whose live records were copied forward.
    pub arenas_compacted: u64,
    /// Arena files deleted.
    pub arenas_deleted: u64,
    /// Bytes of records copied.
    pub moved_bytes: u64,
    /// Bytes of arena files deleted.
    pub reclaimed_bytes: u64,
    /// Blocks found corrupt while copying: dropped from the index (they could not be served anyway).
    pub corrupt_dropped: u64,
}

impl BlockStore {
    /// Collects garbage:
    ///
    /// 1. Permanent blocks that no pin has held since before the previous gc become cache blocks with
    ///    no hits. The grace of one gc interval lets a writer put a tree's blocks as permanent and pin
    ///    the root afterwards without a gc in between taking them.
    /// 2. The cache is brought within its quota (flushes do this too; demotions may exceed it).
    /// 3. Every arena other than the active one whose live bytes are below
    ///    [`super::StoreConfig::compact_below`] of the arena size is compacted and deleted.
    ///
    /// Unpinning never deletes directly: blocks leave through the cache, least valuable first.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let inner = &self.inner;
        let _gc = lock(&inner.gc);
        let mut report = GcReport::default();
        inner.collect(&mut report)?;
        for number in inner.compaction_candidates()? {
            inner.compact(number, &mut report)?;
        }
        Ok(report)
    }
}

impl Inner {
    fn collect(&self, report: &mut GcReport) -> Result<(), StoreError> {
        let decay = Decay::new(self.config.hit_half_life_secs);
        let _commit = lock(&self.commit);
        let mut totals = *lock(&self.totals);
        let epoch = self.gc_epoch.load(Ordering::Relaxed);
        let txn = self.db.begin_write()?;
        {
            let mut t = Tables::open(&txn, &self.keys, &mut totals, epoch, now_secs())?;
            report.demoted = t.demote_unpinned_before(epoch)?;
            t.apply_hits(&self.take_hits(), decay)?;
            let (blocks, bytes) =
                t.evict_to_quota(self.config.cache_quota, self.config.eviction_samples, decay)?;
            report.evicted_blocks = blocks;
            report.evicted_bytes = bytes;
            let mut meta = txn.open_table(META)?;
            let next = epoch.saturating_add(1);
            meta.insert(META_GC_EPOCH, next.to_le_bytes().as_slice())?;
        }
        self.commit_with_totals(txn, totals)?;
        self.gc_epoch
            .store(epoch.saturating_add(1), Ordering::Relaxed);
        Ok(())
    }

    fn compaction_candidates(&self) -> Result<Vec<u32>, StoreError> {
        // Precision is not needed for a threshold; the cast of a ≤ 1 TiB size to f64 is exact.
        let threshold = (self.config.arena_size as f64 * self.config.compact_below) as u64;
        let txn = self.db.begin_read()?;
        let arenas = txn.open_table(ARENAS)?;
        let mut rows = Vec::new();
        for row in arenas.iter()? {
            let (k, v) = row?;
            let (_, live, _) = v.value();
            if live < threshold {
                rows.push((live, k.value()));
            }
        }
        drop(arenas);
        drop(txn);
        // Emptiest first: the most space for the least copying.
        rows.sort_unstable();
        let held = lock(&self.arenas);
        Ok(rows
            .into_iter()
            .map(|(_, n)| n)
            .filter(|&n| held.compactable(n))
            .collect())
    }

    /// Up to [`COMPACT_BATCH`] blocks indexed in arena `number`, with their entries as read (`None`: the
    /// member row outlived its entry, or points elsewhere, and is only to be removed).
    fn members(&self, number: u32) -> Result<Vec<(IndexKey, Option<BlockEntry>)>, StoreError> {
        let txn = self.db.begin_read()?;
        let members = txn.open_table(ARENA_MEMBERS)?;
        let blocks = txn.open_table(BLOCKS)?;
        let (lo, hi) = (
            arena_member_key(number, &[0; 32]),
            arena_member_key(number, &[0xff; 32]),
        );
        let mut out = Vec::new();
        for row in members.range(lo..=hi)?.take(COMPACT_BATCH) {
            let (k, _) = row?;
            let ikey = arena_member_ikey(&k.value());
            let entry = match blocks.get(&ikey)? {
                Some(v) => Some(BlockEntry::decode(&self.keys.open(
                    Domain::Block,
                    &ikey,
                    v.value(),
                )?)?),
                None => None,
            };
            out.push((ikey, entry.filter(|e| e.arena == number)));
        }
        Ok(out)
    }

    fn compact(&self, number: u32, report: &mut GcReport) -> Result<(), StoreError> {
        let Some(old) = lock(&self.arenas).get(number) else {
            warn!(arena = number, "arena to compact is missing; left alone");
            return Ok(());
        };
        let mut copied_any = false;
        loop {
            let batch = self.members(number)?;
            if batch.is_empty() {
                break;
            }
            copied_any = true;
            self.move_batch(&old, batch, report)?;
        }
        // Empty now: forget it, then delete the file.
        let file_len = old.len()?;
        {
            let _commit = lock(&self.commit);
            let mut totals = *lock(&self.totals);
            let txn = self.db.begin_write()?;
            {
                let mut t = Tables::open(&txn, &self.keys, &mut totals, 0, now_secs())?;
                match t.arena_row(number)? {
                    Some((_, _, 0)) | None => t.drop_arena(number)?,
                    // A record appeared meanwhile (cannot happen: only the active arena takes records);
                    // keep the arena rather than lose it.
                    Some(_) => return Ok(()),
                }
            }
            self.commit_with_totals(txn, totals)?;
        }
        drop(old);
        lock(&self.arenas).remove(number)?;
        report.arenas_deleted += 1;
        report.reclaimed_bytes += file_len;
        if copied_any {
            report.arenas_compacted += 1;
        }
        Ok(())
    }

    fn move_batch(
        &self,
        old: &Arc<Arena>,
        batch: Vec<(IndexKey, Option<BlockEntry>)>,
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        // Copy: read, check, append to the active arena.
        let mut moves: Vec<(IndexKey, Move)> = Vec::with_capacity(batch.len());
        let mut touched: Vec<(Arc<Arena>, u64)> = Vec::new();
        let copy = (|| -> Result<(), StoreError> {
            for (ikey, entry) in batch {
                let Some(e) = entry else {
                    moves.push((ikey, Move::Stale));
                    continue;
                };
                match old.read_record(e.offset, e.len) {
                    Ok(body) => {
                        let (arena, offset) = lock(&self.arenas).reserve(e.len, &self.keys)?;
                        match touched
                            .iter_mut()
                            .find(|(a, _)| a.number() == arena.number())
                        {
                            Some((_, n)) => *n += 1,
                            None => touched.push((Arc::clone(&arena), 1)),
                        }
                        arena.write_record(offset, &body)?;
                        report.moved_bytes += u64::from(e.len);
                        moves.push((
                            ikey,
                            Move::Copied {
                                read: e,
                                arena: arena.number(),
                                offset,
                            },
                        ));
                    }
                    Err(StoreError::CorruptBlock { arena, offset }) => {
                        warn!(arena, offset, "corrupt block dropped by compaction");
                        moves.push((ikey, Move::Corrupt { read: e }));
                    }
                    Err(other) => return Err(other),
                }
            }
            for (arena, _) in &touched {
                arena.sync()?;
            }
            Ok(())
        })();
        let result = copy.and_then(|()| self.commit_moves(old.number(), &moves, report));
        let mut arenas = lock(&self.arenas);
        for (arena, n) in &touched {
            arenas.release(arena.number(), *n);
        }
        result
    }

    fn commit_moves(
        &self,
        from: u32,
        moves: &[(IndexKey, Move)],
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        let _commit = lock(&self.commit);
        let mut totals = *lock(&self.totals);
        let epoch = self.gc_epoch.load(Ordering::Relaxed);
        let txn = self.db.begin_write()?;
        {
            let mut t = Tables::open(&txn, &self.keys, &mut totals, epoch, now_secs())?;
            for (ikey, mv) in moves {
                // The entry may have changed since it was read (evicted, say); then the copy is dead
                // space and whoever changed it already fixed the member row.
                let current = t.entry(ikey)?.filter(|cur| {
                    mv.read()
                        .is_some_and(|r| r.arena == cur.arena && r.offset == cur.offset)
                });
                match (mv, current) {
                    (Move::Copied { arena, offset, .. }, Some(cur)) => {
                        t.relocate(ikey, &cur, *arena, *offset)?;
                    }
                    (Move::Corrupt { .. }, Some(cur)) => {
                        t.remove(ikey, &cur)?;
                        report.corrupt_dropped += 1;
                    }
                    _ => t.remove_member(from, ikey)?,
                }
            }
        }
        self.commit_with_totals(txn, totals)
    }
}
