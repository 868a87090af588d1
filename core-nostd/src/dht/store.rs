//! Where a DHT node keeps the signed records it was asked to store: a trait, so that the std node can
//! back it with its database, and a bounded in-memory store in the core.
//!
//! Every storer applies the record rules: only a validly signed record exists in memory (decoding
//! verifies), and a stored record is replaced only by a higher sequence number
//! ([`Record::check_update`]). Records expire unless stored again; each is due for republishing (to
//! the K closest nodes, by the DHT machine) on a fixed interval.

use core::fmt;

use crate::identity::DhtKey;
use crate::record::{Record, UpdateError};
use crate::time::{Duration, Instant};

/// Timers of the record store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StoreConfig {
    /// How long a record stays after it was last stored (BEP 44: at least 2 hours).
    pub record_ttl: Duration,
    /// How often a storer replicates each record to the closest nodes (Kademlia: 1 hour). A STORE of
    /// the record from elsewhere postpones it by a full interval (the other storer has just done
    /// it), so that one storer, not all `K`, republishes each record per interval.
    pub republish_interval: Duration,
    /// Most records one public key may hold in the store: salts are free, so without a cap one
    /// publisher could fill every storer near its keys.
    pub max_per_publisher: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            record_ttl: Duration::from_secs(2 * 3600),
            republish_interval: Duration::from_secs(3600),
            max_per_publisher: 16,
        }
    }
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PutOutcome {
    /// A new slot.
    Stored,
    /// A higher sequence replaced the one held.
    Replaced {
        /// The sequence replaced.
        previous: u64,
    },
    /// The same record again: its expiry moves on.
    Refreshed,
}

/// Why a put was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// The record rules refuse it (a lower sequence, or another value at the same sequence).
    Update(UpdateError),
    /// The store is full of records closer to this node than the offered one.
    Full,
    /// The publisher already holds [`StoreConfig::max_per_publisher`] records here.
    PublisherQuota,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Update(e) => write!(f, "record refused: {e}"),
            StoreError::Full => f.write_str("record store full"),
            StoreError::PublisherQuota => f.write_str("publisher holds its quota of records"),
        }
    }
}

impl core::error::Error for StoreError {}

/// Makes room in a full `list` for an entry at `key`: the entry farthest from `local` goes if `key` is
/// closer (a node keeps what it is responsible for). Returns whether there is room.
pub(crate) fn make_room_for<T, const N: usize>(
    list: &mut heapless::Vec<T, N>,
    key: &DhtKey,
    local: &DhtKey,
    key_of: impl Fn(&T) -> &DhtKey,
) -> bool {
    if !list.is_full() {
        return true;
    }
    let farthest = list
        .iter()
        .enumerate()
        .map(|(i, e)| (i, key_of(e).distance_words(local)))
        .max_by_key(|(_, d)| *d);
    match farthest {
        Some((i, d)) if key.distance_words(local) < d => {
            list.swap_remove(i);
            true
        }
        _ => false,
    }
}

/// A store of signed records by slot key.
pub trait RecordStore {
    /// Stores `record` (already verified: every `Record` value is) at `now`.
    fn put(&mut self, record: Record, now: Instant) -> Result<PutOutcome, StoreError>;
    /// The record in slot `key`.
    fn get(&self, key: &DhtKey) -> Option<&Record>;
    /// Drops records whose time is up; returns how many.
    fn expire(&mut self, now: Instant) -> usize;
    /// A record due for republishing at `now`, marked as republished (call until `None`). A storer
    /// that does republish it stores it again itself (`put`), which renews its own copy.
    fn next_republish(&mut self, now: Instant) -> Option<&Record>;
    /// Drops the record in slot `key` (a storer that handed it to the peers responsible for it).
    fn remove(&mut self, key: &DhtKey) -> Option<Record>;
    /// The earliest expiry or republish time, for the caller's timer.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Records held.
    fn len(&self) -> usize;
    /// Whether no record is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The store of a node that holds no records for others (a [`DhtConfig::client`]): every put is
/// refused as [`StoreError::Full`], every get finds nothing. A node built with it links none of a
/// real store's code, which on a microcontroller is flash that matters.
///
/// [`DhtConfig::client`]: crate::dht::DhtConfig::client
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRecordStore;

impl RecordStore for NoRecordStore {
    fn put(&mut self, _record: Record, _now: Instant) -> Result<PutOutcome, StoreError> {
        Err(StoreError::Full)
    }
    fn get(&self, _key: &DhtKey) -> Option<&Record> {
        None
    }
    fn expire(&mut self, _now: Instant) -> usize {
        0
    }
    fn next_republish(&mut self, _now: Instant) -> Option<&Record> {
        None
    }
    fn remove(&mut self, _key: &DhtKey) -> Option<Record> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn len(&self) -> usize {
        0
    }
}

#[derive(Clone, Debug)]
struct Entry {
    key: DhtKey,
    record: Record,
    expires_at: Instant,
    republish_at: Instant,
}

/// A bounded in-memory [`RecordStore`] of `N` records. When full, a record closer to this node's key
/// than the farthest held replaces it (a node keeps what it is responsible for); else it is refused.
#[derive(Debug)]
pub struct MemoryRecordStore<const N: usize> {
    local: DhtKey,
    config: StoreConfig,
    entries: heapless::Vec<Entry, N>,
}

impl<const N: usize> MemoryRecordStore<N> {
    /// An empty store for the node at `local`.
    pub fn new(local: DhtKey, config: StoreConfig) -> Self {
        MemoryRecordStore {
            local,
            config,
            entries: heapless::Vec::new(),
        }
    }

    /// When this node republishes a record stored at `now`: one interval on, plus a spread of up to
    /// a quarter interval taken from the low bytes of the record's distance to this node, so that
    /// the storers of one record do not all fire together and the first one's STORE postpones the
    /// others.
    fn republish_time(&self, key: &DhtKey, now: Instant) -> Instant {
        let interval = self.config.republish_interval;
        let d = key.distance(&self.local);
        let mut low = [0u8; 8];
        if let Some(tail) = d.get(24..32) {
            low.copy_from_slice(tail);
        }
        let spread = interval.as_micros() / 4;
        let jitter = u64::from_le_bytes(low).checked_rem(spread).unwrap_or(0);
        now.saturating_add(interval)
            .saturating_add(Duration::from_micros(jitter))
    }
}

impl<const N: usize> RecordStore for MemoryRecordStore<N> {
    fn put(&mut self, record: Record, now: Instant) -> Result<PutOutcome, StoreError> {
        // Expired records never hold a slot against a live one.
        self.entries.retain(|e| e.expires_at > now);
        let key = record.dht_key();
        let expires_at = now.saturating_add(self.config.record_ttl);
        let republish_at = self.republish_time(&key, now);
        if let Some(e) = self.entries.iter_mut().find(|e| e.key == key) {
            return match e.record.check_update(&record) {
                Ok(()) => {
                    let previous = e.record.seq();
                    e.record = record;
                    e.expires_at = expires_at;
                    e.republish_at = republish_at;
                    Ok(PutOutcome::Replaced { previous })
                }
                Err(UpdateError::Duplicate) => {
                    e.expires_at = e.expires_at.max(expires_at);
                    e.republish_at = e.republish_at.max(republish_at);
                    Ok(PutOutcome::Refreshed)
                }
                Err(other) => Err(StoreError::Update(other)),
            };
        }
        let publisher = *record.public_key();
        let held = self
            .entries
            .iter()
            .filter(|e| *e.record.public_key() == publisher)
            .count();
        if held >= self.config.max_per_publisher {
            return Err(StoreError::PublisherQuota);
        }
        let entry = Entry {
            key,
            record,
            expires_at,
            republish_at,
        };
        if !make_room_for(&mut self.entries, &key, &self.local, |e| &e.key) {
            return Err(StoreError::Full);
        }
        self.entries.push(entry).map_err(|_| StoreError::Full)?;
        Ok(PutOutcome::Stored)
    }

    fn get(&self, key: &DhtKey) -> Option<&Record> {
        self.entries
            .iter()
            .find(|e| e.key == *key)
            .map(|e| &e.record)
    }

    fn expire(&mut self, now: Instant) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.expires_at > now);
        before - self.entries.len()
    }

    fn next_republish(&mut self, now: Instant) -> Option<&Record> {
        let interval = self.config.republish_interval;
        let e = self
            .entries
            .iter_mut()
            .filter(|e| e.republish_at <= now && e.expires_at > now)
            .min_by_key(|e| e.republish_at)?;
        e.republish_at = now.saturating_add(interval);
        Some(&e.record)
    }

    fn remove(&mut self, key: &DhtKey) -> Option<Record> {
        let i = self.entries.iter().position(|e| e.key == *key)?;
        Some(self.entries.swap_remove(i).record)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .map(|e| e.expires_at.min(e.republish_at))
            .min()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}
