//! The redb tables of the store and the plaintext encodings of their values (`docs/spec/store.md`).

use redb::TableDefinition;

use super::cache_policy::EntryStats;
use super::keys::IndexKey;
use super::{Class, StoreError};

/// Index key → sealed [`BlockEntry`].
pub(crate) const BLOCKS: TableDefinition<'_, IndexKey, &[u8]> = TableDefinition::new("blocks");
/// Index key → sealed [`EntryStats`], for cache blocks only: the table eviction samples.
pub(crate) const CACHE: TableDefinition<'_, IndexKey, &[u8]> = TableDefinition::new("cache");
/// Index key → how many pins hold the block (present or not yet).
pub(crate) const REFS: TableDefinition<'_, IndexKey, u32> = TableDefinition::new("refs");
/// Index key → gc epoch: permanent blocks that no pin holds, since that epoch.
pub(crate) const UNPINNED: TableDefinition<'_, IndexKey, u64> = TableDefinition::new("unpinned");
/// Label key → sealed [`PinRecord`].
pub(crate) const PINS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("pins");
/// Label key ‖ index key → the pin's generation that holds the block.
pub(crate) const PIN_MEMBERS: TableDefinition<'_, [u8; 64], u64> =
    TableDefinition::new("pin_members");
/// Arena number (big-endian, so one arena's blocks are one range) ‖ index key → ().
pub(crate) const ARENA_MEMBERS: TableDefinition<'_, [u8; 36], ()> =
    TableDefinition::new("arena_members");
/// Arena number → (indexed end, live bytes, live records).
pub(crate) const ARENAS: TableDefinition<'_, u32, (u64, u64, u64)> = TableDefinition::new("arenas");
/// Name → value: format version, key check, sealed totals, gc epoch.
pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

pub(crate) const META_FORMAT: &str = "format";
pub(crate) const META_KEY_CHECK: &str = "key_check";
pub(crate) const META_TOTALS: &str = "totals";
pub(crate) const META_GC_EPOCH: &str = "gc_epoch";

/// The plaintext the key check seals: opening it proves the storage key is the store's.
pub(crate) const KEY_CHECK: &[u8] = b"gofast store key check";

/// The store format this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

const CORRUPT_ENTRY: StoreError = StoreError::Corrupt {
    what: "index entry",
};

/// Where a block is and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockEntry {
    pub(crate) arena: u32,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) class: Class,
}

impl BlockEntry {
    pub(crate) const LEN: usize = 4 + 8 + 4 + 1;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let (a, rest) = out.split_at_mut(4);
        let (o, rest) = rest.split_at_mut(8);
        let (l, c) = rest.split_at_mut(4);
        a.copy_from_slice(&self.arena.to_le_bytes());
        o.copy_from_slice(&self.offset.to_le_bytes());
        l.copy_from_slice(&self.len.to_le_bytes());
        c.fill(self.class as u8);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<BlockEntry, StoreError> {
        let (a, rest) = bytes.split_first_chunk::<4>().ok_or(CORRUPT_ENTRY)?;
        let (o, rest) = rest.split_first_chunk::<8>().ok_or(CORRUPT_ENTRY)?;
        let (l, rest) = rest.split_first_chunk::<4>().ok_or(CORRUPT_ENTRY)?;
        let [c] = rest else {
            return Err(CORRUPT_ENTRY);
        };
        Ok(BlockEntry {
            arena: u32::from_le_bytes(*a),
            offset: u64::from_le_bytes(*o),
            len: u32::from_le_bytes(*l),
            class: Class::from_byte(*c).ok_or(CORRUPT_ENTRY)?,
        })
    }
}

pub(crate) fn encode_stats(s: &EntryStats) -> [u8; 12] {
    let mut out = [0u8; 12];
    let (c, l) = out.split_at_mut(4);
    c.copy_from_slice(&s.count.to_le_bytes());
    l.copy_from_slice(&s.last.to_le_bytes());
    out
}

pub(crate) fn decode_stats(bytes: &[u8]) -> Result<EntryStats, StoreError> {
    let (c, l) = bytes.split_first_chunk::<4>().ok_or(CORRUPT_ENTRY)?;
    let l: [u8; 8] = l.try_into().map_err(|_| CORRUPT_ENTRY)?;
    let count = f32::from_le_bytes(*c);
    if !count.is_finite() || count < 0.0 {
        return Err(CORRUPT_ENTRY);
    }
    Ok(EntryStats {
        count,
        last: u64::from_le_bytes(l),
    })
}

/// Blocks and bytes per class: kept in the index so that quota checks and statistics need no scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) permanent_blocks: u64,
    pub(crate) permanent_bytes: u64,
    pub(crate) cache_blocks: u64,
    pub(crate) cache_bytes: u64,
}

impl Totals {
    pub(crate) fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, v) in out.chunks_exact_mut(8).zip([
            self.permanent_blocks,
            self.permanent_bytes,
            self.cache_blocks,
            self.cache_bytes,
        ]) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Totals, StoreError> {
        let bad = StoreError::Corrupt { what: "totals" };
        if bytes.len() != 32 {
            return Err(bad);
        }
        let mut v = bytes
            .chunks_exact(8)
            .map(|c| c.try_into().map(u64::from_le_bytes));
        let mut next = || {
            v.next()
                .and_then(Result::ok)
                .ok_or(StoreError::Corrupt { what: "totals" })
        };
        Ok(Totals {
            permanent_blocks: next()?,
            permanent_bytes: next()?,
            cache_blocks: next()?,
            cache_bytes: next()?,
        })
    }

    /// Counts a block of `len` bytes into (`add`) or out of its class.
    pub(crate) fn count(&mut self, class: Class, len: u32, add: bool) {
        let (blocks, bytes) = match class {
            Class::Permanent => (&mut self.permanent_blocks, &mut self.permanent_bytes),
            Class::Cache => (&mut self.cache_blocks, &mut self.cache_bytes),
        };
        if add {
            *blocks += 1;
            *bytes += u64::from(len);
        } else {
            *blocks = blocks.saturating_sub(1);
            *bytes = bytes.saturating_sub(u64::from(len));
        }
    }
}

/// A pin: its label, its root and the generation its member rows carry.
pub(crate) struct PinRecord {
    pub(crate) generation: u64,
    pub(crate) blocks: u64,
    pub(crate) root: [u8; 64],
    pub(crate) label: String,
    /// When it was pinned (Unix seconds); `None` in records written before the field existed.
    pub(crate) pinned_at: Option<u64>,
}

impl PinRecord {
    /// The plaintext; it holds the root's key, so the caller wipes it after sealing.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 + 64 + 2 + self.label.len() + 8);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.blocks.to_le_bytes());
        out.extend_from_slice(&self.root);
        // Labels are at most MAX_LABEL_LEN (checked by `pin`), far below u16::MAX.
        out.extend_from_slice(&(self.label.len() as u16).to_le_bytes());
        out.extend_from_slice(self.label.as_bytes());
        if let Some(t) = self.pinned_at {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<PinRecord, StoreError> {
        let bad = || StoreError::Corrupt { what: "pin record" };
        let (g, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        let (b, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let (root, rest) = rest.split_first_chunk::<64>().ok_or_else(bad)?;
        let (l, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
        let (label, rest) = rest
            .split_at_checked(usize::from(u16::from_le_bytes(*l)))
            .ok_or_else(bad)?;
        let pinned_at = match rest {
            [] => None,
            t => Some(u64::from_le_bytes(t.try_into().map_err(|_| bad())?)),
        };
        Ok(PinRecord {
            generation: u64::from_le_bytes(*g),
            blocks: u64::from_le_bytes(*b),
            root: *root,
            label: String::from_utf8(label.to_vec()).map_err(|_| bad())?,
            pinned_at,
        })
    }
}

impl Drop for PinRecord {
    fn drop(&mut self) {
        super::keys::wipe(&mut self.root);
    }
}

pub(crate) fn member_key(label: &[u8; 32], ikey: &IndexKey) -> [u8; 64] {
    let mut k = [0u8; 64];
    let (a, b) = k.split_at_mut(32);
    a.copy_from_slice(label);
    b.copy_from_slice(ikey);
    k
}

pub(crate) fn arena_member_key(arena: u32, ikey: &IndexKey) -> [u8; 36] {
    let mut k = [0u8; 36];
    let (a, b) = k.split_at_mut(4);
    a.copy_from_slice(&arena.to_be_bytes());
    b.copy_from_slice(ikey);
    k
}

/// The index key inside an arena member key.
pub(crate) fn arena_member_ikey(k: &[u8; 36]) -> IndexKey {
    let mut ikey = [0u8; 32];
    if let Some(tail) = k.get(4..) {
        ikey.copy_from_slice(tail);
    }
    ikey
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let e = BlockEntry {
            arena: 3,
            offset: 1 << 33,
            len: 65_536,
            class: Class::Cache,
        };
        assert_eq!(BlockEntry::decode(&e.encode()).unwrap(), e);
        assert!(BlockEntry::decode(&e.encode()[..16]).is_err());
        let mut bad = e.encode();
        bad[16] = 9;
        assert!(BlockEntry::decode(&bad).is_err());

        let s = EntryStats {
            count: 2.5,
            last: 77,
        };
        assert_eq!(decode_stats(&encode_stats(&s)).unwrap(), s);
        let mut nan = encode_stats(&s);
        nan[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(decode_stats(&nan).is_err());

        let t = Totals {
            permanent_blocks: 1,
            permanent_bytes: 2,
            cache_blocks: 3,
            cache_bytes: 4,
        };
        assert_eq!(Totals::decode(&t.encode()).unwrap(), t);

        let p = PinRecord {
            generation: 4,
            blocks: 5,
            root: [6; 64],
            label: "photos".into(),
            pinned_at: Some(1_790_000_000),
        };
        let q = PinRecord::decode(&p.encode()).unwrap();
        assert_eq!(
            (
                q.generation,
                q.blocks,
                q.root,
                q.label.as_str(),
                q.pinned_at
            ),
            (4, 5, [6; 64], "photos", Some(1_790_000_000))
        );
        assert!(PinRecord::decode(&p.encode()[..80]).is_err());
        // A record from before the time was kept ends with its label: still read, time unknown.
        let old = &p.encode()[..8 + 8 + 64 + 2 + 6];
        assert_eq!(PinRecord::decode(old).unwrap().pinned_at, None);
        // Anything else after the label is not a pin record.
        for cut in [1, 4, 7] {
            let bytes = p.encode();
            assert!(PinRecord::decode(&bytes[..bytes.len() - cut]).is_err());
        }
    }

    #[test]
    fn arena_member_keys_sort_by_arena() {
        let k1 = arena_member_key(1, &[0xff; 32]);
        let k2 = arena_member_key(2, &[0; 32]);
        assert!(k1 < k2);
        assert_eq!(arena_member_ikey(&k1), [0xff; 32]);
    }
}
