//! The index tables of one write transaction, and the operations that keep them consistent with each
//! other: a block's entry, its arena membership, its cache stats, its arena's live bytes and the class
//! totals always change together.

use std::collections::HashMap;

use redb::{ReadableTable, Table, WriteTransaction};

use super::arena::RECORD_OVERHEAD;
use super::cache_policy::{Decay, EntryStats, pick_victim};
use super::index::{
    ARENA_MEMBERS, ARENAS, BLOCKS, BlockEntry, CACHE, REFS, Totals, UNPINNED, arena_member_key,
    decode_stats, encode_stats,
};
use super::keys::{Domain, IndexKey, StoreKeys};
use super::{Class, StoreError};

pub(crate) struct Tables<'t> {
    keys: &'t StoreKeys,
    totals: &'t mut Totals,
    epoch: u64,
    now: u64,
    blocks: Table<'t, IndexKey, &'static [u8]>,
    cache: Table<'t, IndexKey, &'static [u8]>,
    refs: Table<'t, IndexKey, u32>,
    unpinned: Table<'t, IndexKey, u64>,
    arena_members: Table<'t, [u8; 36], ()>,
    arenas: Table<'t, u32, (u64, u64, u64)>,
}

/// Draws up to `samples` entries of the cache table at random: each sample is the first entry at or
/// after a random key (index keys are uniform hashes, so that is a uniform draw). A small table is
/// read whole, which makes eviction exact there.
/// A block entry from its sealed index value.
pub(crate) fn open_entry(
    keys: &StoreKeys,
    ikey: &IndexKey,
    sealed: &[u8],
) -> Result<BlockEntry, StoreError> {
    BlockEntry::decode(&keys.open(Domain::Block, ikey, sealed)?)
}

pub(crate) fn sample_cache(
    cache: &impl ReadableTable<IndexKey, &'static [u8]>,
    keys: &StoreKeys,
    entries: u64,
    samples: usize,
) -> Result<Vec<(IndexKey, EntryStats)>, StoreError> {
    let open = |k: &IndexKey, v: &[u8]| -> Result<EntryStats, StoreError> {
        decode_stats(&keys.open(Domain::CacheStats, k, v)?)
    };
    let mut out = Vec::with_capacity(samples);
    if entries <= 4 * samples as u64 {
        for row in cache.iter()? {
            let (k, v) = row?;
            let k = k.value();
            out.push((k, open(&k, v.value())?));
        }
        return Ok(out);
    }
    let mut starts = vec![0u8; 32 * samples];
    getrandom::fill(&mut starts).map_err(|_| StoreError::Randomness)?;
    for start in starts.chunks_exact(32) {
        let mut from = [0u8; 32];
        from.copy_from_slice(start);
        let row = match cache.range(from..)?.next() {
            Some(row) => Some(row?),
            None => cache.first()?,
        };
        if let Some((k, v)) = row {
            let k = k.value();
            if out.iter().all(|(seen, _)| *seen != k) {
                out.push((k, open(&k, v.value())?));
            }
        }
    }
    Ok(out)
}

impl<'t> Tables<'t> {
    pub(crate) fn open(
        txn: &'t WriteTransaction,
        keys: &'t StoreKeys,
        totals: &'t mut Totals,
        epoch: u64,
        now: u64,
    ) -> Result<Tables<'t>, StoreError> {
        Ok(Tables {
            keys,
            totals,
            epoch,
            now,
            blocks: txn.open_table(BLOCKS)?,
            cache: txn.open_table(CACHE)?,
            refs: txn.open_table(REFS)?,
            unpinned: txn.open_table(UNPINNED)?,
            arena_members: txn.open_table(ARENA_MEMBERS)?,
            arenas: txn.open_table(ARENAS)?,
        })
    }

    pub(crate) fn contains(&self, ikey: &IndexKey) -> Result<bool, StoreError> {
        Ok(self.blocks.get(ikey)?.is_some())
    }

    pub(crate) fn entry(&self, ikey: &IndexKey) -> Result<Option<BlockEntry>, StoreError> {
        match self.blocks.get(ikey)? {
            Some(v) => Ok(Some(open_entry(self.keys, ikey, v.value())?)),
            None => Ok(None),
        }
    }

    fn write_entry(&mut self, ikey: &IndexKey, e: &BlockEntry) -> Result<(), StoreError> {
        let sealed = self.keys.seal(Domain::Block, ikey, &e.encode())?;
        self.blocks.insert(ikey, sealed.as_slice())?;
        Ok(())
    }

    pub(crate) fn stats(&self, ikey: &IndexKey) -> Result<Option<EntryStats>, StoreError> {
        match self.cache.get(ikey)? {
            Some(v) => Ok(Some(decode_stats(&self.keys.open(
                Domain::CacheStats,
                ikey,
                v.value(),
            )?)?)),
            None => Ok(None),
        }
    }

    fn write_stats(&mut self, ikey: &IndexKey, s: &EntryStats) -> Result<(), StoreError> {
        let sealed = self.keys.seal(Domain::CacheStats, ikey, &encode_stats(s))?;
        self.cache.insert(ikey, sealed.as_slice())?;
        Ok(())
    }

    /// Adds (or with `!add` takes away) `count` records of `bytes` in all to arena `arena`'s live
    /// count, and extends its indexed end to `end`.
    fn account_records(
        &mut self,
        arena: u32,
        end: u64,
        bytes: u64,
        count: u64,
        add: bool,
    ) -> Result<(), StoreError> {
        let (old_end, live, records) = self.arenas.get(&arena)?.map_or((0, 0, 0), |v| v.value());
        let row = if add {
            (old_end.max(end), live + bytes, records + count)
        } else {
            (
                old_end,
                live.saturating_sub(bytes),
                records.saturating_sub(count),
            )
        };
        self.arenas.insert(&arena, &row)?;
        Ok(())
    }

    /// [`Tables::account_records`] for one record.
    fn account(&mut self, arena: u32, end: u64, bytes: u64, add: bool) -> Result<(), StoreError> {
        self.account_records(arena, end, bytes, 1, add)
    }

    fn record_len(e: &BlockEntry) -> u64 {
        u64::from(e.len) + RECORD_OVERHEAD
    }

    /// Indexes the blocks written at `entries` (none indexed yet; `refs` is the count of pins holding
    /// each already). A cache block starts with its stats; a permanent one that no pin holds is noted
    /// as unpinned (since the current gc epoch). The arenas' rows are read and written once per
    /// arena, not once per block: a fetch indexes 54,000 blocks per GiB.
    pub(crate) fn insert_new(
        &mut self,
        entries: impl IntoIterator<Item = (IndexKey, BlockEntry, EntryStats, u32)>,
    ) -> Result<(), StoreError> {
        // (arena, end, bytes, records), for runs of blocks in the same arena (a batch has one or two).
        let mut run: Option<(u32, u64, u64, u64)> = None;
        for (ikey, e, stats, refs) in entries {
            self.write_entry(&ikey, &e)?;
            self.arena_members
                .insert(&arena_member_key(e.arena, &ikey), &())?;
            let len = Self::record_len(&e);
            let end = e.offset + len;
            run = match run {
                Some((a, run_end, bytes, n)) if a == e.arena => {
                    Some((a, run_end.max(end), bytes + len, n + 1))
                }
                Some((a, run_end, bytes, n)) => {
                    self.account_records(a, run_end, bytes, n, true)?;
                    Some((e.arena, end, len, 1))
                }
                None => Some((e.arena, end, len, 1)),
            };
            self.totals.count(e.class, e.len, true);
            match e.class {
                Class::Cache => self.write_stats(&ikey, &stats)?,
                Class::Permanent if refs == 0 => {
                    self.unpinned.insert(&ikey, &self.epoch)?;
                }
                Class::Permanent => {}
            }
        }
        if let Some((a, end, bytes, n)) = run {
            self.account_records(a, end, bytes, n, true)?;
        }
        Ok(())
    }

    /// Removes a block from the index entirely (its record becomes dead space).
    pub(crate) fn remove(&mut self, ikey: &IndexKey, e: &BlockEntry) -> Result<(), StoreError> {
        self.blocks.remove(ikey)?;
        self.cache.remove(ikey)?;
        self.unpinned.remove(ikey)?;
        self.arena_members
            .remove(&arena_member_key(e.arena, ikey))?;
        let len = Self::record_len(e);
        self.account(e.arena, 0, len, false)?;
        self.totals.count(e.class, e.len, false);
        Ok(())
    }

    /// Points a block at its new copy (compaction).
    pub(crate) fn relocate(
        &mut self,
        ikey: &IndexKey,
        old: &BlockEntry,
        arena: u32,
        offset: u64,
    ) -> Result<(), StoreError> {
        let new = BlockEntry {
            arena,
            offset,
            ..*old
        };
        self.write_entry(ikey, &new)?;
        self.arena_members
            .remove(&arena_member_key(old.arena, ikey))?;
        self.arena_members
            .insert(&arena_member_key(arena, ikey), &())?;
        let len = Self::record_len(old);
        self.account(old.arena, 0, len, false)?;
        self.account(arena, offset + len, len, true)?;
        Ok(())
    }

    /// Makes a cache block permanent.
    pub(crate) fn promote(&mut self, ikey: &IndexKey, mut e: BlockEntry) -> Result<(), StoreError> {
        if e.class == Class::Permanent {
            return Ok(());
        }
        self.cache.remove(ikey)?;
        self.totals.count(e.class, e.len, false);
        e.class = Class::Permanent;
        self.totals.count(e.class, e.len, true);
        self.write_entry(ikey, &e)?;
        if self.refs(ikey)? == 0 {
            self.unpinned.insert(ikey, &self.epoch)?;
        }
        Ok(())
    }

    /// Makes a permanent block a cache block with no hits: the first the cache gives up.
    pub(crate) fn demote(&mut self, ikey: &IndexKey, mut e: BlockEntry) -> Result<(), StoreError> {
        if e.class == Class::Cache {
            return Ok(());
        }
        self.unpinned.remove(ikey)?;
        self.totals.count(e.class, e.len, false);
        e.class = Class::Cache;
        self.totals.count(e.class, e.len, true);
        self.write_entry(ikey, &e)?;
        let stats = EntryStats {
            count: 0.0,
            last: self.now,
        };
        self.write_stats(ikey, &stats)
    }

    pub(crate) fn refs(&self, ikey: &IndexKey) -> Result<u32, StoreError> {
        Ok(self.refs.get(ikey)?.map_or(0, |v| v.value()))
    }

    /// One more pin holds `ikey`; a held block becomes permanent (and no longer unpinned). Returns
    /// whether the block is held (a pin may name blocks that have not arrived yet).
    pub(crate) fn add_ref(&mut self, ikey: &IndexKey) -> Result<bool, StoreError> {
        // Most pinned blocks are held by no other pin: one insert both counts the ref and tells
        // the old count. (A pin of a large tree does this per block; it is the add's tail.)
        let old = self.refs.insert(ikey, &1)?.map(|n| n.value());
        if let Some(n) = old.filter(|&n| n > 0) {
            self.refs.insert(ikey, &n.saturating_add(1))?;
            return self.contains(ikey);
        }
        // Only a held permanent block has an unpinned row (`insert`, `promote`; `remove` and
        // `demote` drop it), so finding one spares reading and opening the block's entry.
        if self.unpinned.remove(ikey)?.is_some() {
            return Ok(true);
        }
        match self.entry(ikey)? {
            Some(e) => {
                // Refs are already counted, so `promote` does not note the block as unpinned.
                self.promote(ikey, e)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// One pin fewer holds `ikey`; true if that released a held block (now a cache block).
    pub(crate) fn release_ref(&mut self, ikey: &IndexKey) -> Result<bool, StoreError> {
        let n = self.refs(ikey)?;
        if n > 1 {
            self.refs.insert(ikey, &(n - 1))?;
            return Ok(false);
        }
        self.refs.remove(ikey)?;
        match self.entry(ikey)? {
            Some(e) if e.class == Class::Permanent => {
                self.demote(ikey, e)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Adds counted hits to the cache stats of blocks still cached.
    pub(crate) fn apply_hits(
        &mut self,
        hits: &HashMap<IndexKey, (u32, u64)>,
        decay: Decay,
    ) -> Result<(), StoreError> {
        for (ikey, &(n, last)) in hits {
            if let Some(mut s) = self.stats(ikey)? {
                s.hit(decay, last, n);
                self.write_stats(ikey, &s)?;
            }
        }
        Ok(())
    }

    /// Evicts the least valuable sampled cache blocks until the cache is within `quota`. Returns the
    /// blocks and bytes evicted.
    pub(crate) fn evict_to_quota(
        &mut self,
        quota: u64,
        samples: usize,
        decay: Decay,
    ) -> Result<(u64, u64), StoreError> {
        let (mut blocks, mut bytes) = (0u64, 0u64);
        while self.totals.cache_bytes > quota {
            let sample = sample_cache(&self.cache, self.keys, self.totals.cache_blocks, samples)?;
            let Some((victim, _)) = pick_victim(sample, decay, self.now) else {
                // Totals say bytes remain but the table is empty: trust the table.
                self.totals.cache_blocks = 0;
                self.totals.cache_bytes = 0;
                break;
            };
            match self.entry(&victim)? {
                Some(e) => {
                    self.remove(&victim, &e)?;
                    blocks += 1;
                    bytes += u64::from(e.len);
                }
                None => {
                    // Stats without a block: a leftover; drop it so sampling cannot loop on it.
                    self.cache.remove(&victim)?;
                }
            }
        }
        Ok((blocks, bytes))
    }

    /// Permanent blocks unpinned since an epoch before `epoch` become cache blocks. Returns how many.
    pub(crate) fn demote_unpinned_before(&mut self, epoch: u64) -> Result<u64, StoreError> {
        let mut n = 0u64;
        let mut after: Option<IndexKey> = None;
        loop {
            // A bounded batch at a time: the table cannot change while it is iterated.
            let mut batch = Vec::new();
            let mut last = None;
            let rows = match after {
                Some(k) => self.unpinned.range(k..)?,
                None => self.unpinned.range::<IndexKey>(..)?,
            };
            for row in rows {
                let (k, v) = row?;
                let k = k.value();
                if Some(k) == after {
                    continue;
                }
                last = Some(k);
                if v.value() < epoch {
                    batch.push(k);
                }
                if batch.len() >= 1024 {
                    break;
                }
            }
            let Some(last) = last else {
                return Ok(n);
            };
            after = Some(last);
            for ikey in batch {
                self.unpinned.remove(&ikey)?;
                if let Some(e) = self.entry(&ikey)?
                    && e.class == Class::Permanent
                    && self.refs(&ikey)? == 0
                {
                    self.demote(&ikey, e)?;
                    n += 1;
                }
            }
        }
    }

    /// Removes a member row of arena `arena` that no entry backs.
    pub(crate) fn remove_member(&mut self, arena: u32, ikey: &IndexKey) -> Result<(), StoreError> {
        self.arena_members.remove(&arena_member_key(arena, ikey))?;
        Ok(())
    }

    /// Forgets arena `number`'s row (compaction emptied it).
    pub(crate) fn drop_arena(&mut self, number: u32) -> Result<(), StoreError> {
        self.arenas.remove(&number)?;
        Ok(())
    }

    pub(crate) fn arena_row(&self, number: u32) -> Result<Option<(u64, u64, u64)>, StoreError> {
        Ok(self.arenas.get(&number)?.map(|v| v.value()))
    }
}
