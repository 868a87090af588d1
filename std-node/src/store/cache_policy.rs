//! Which cache block to evict, and whether a new one may displace it: TinyLFU admission in front of a
//! sampled, decayed-frequency eviction. Pure: no disk, no clock, no ambient randomness, so the same code
//! runs in the store and in the Zipf comparison (`tests/cache_policy_zipf.rs`).
//!
//! Why this policy:
//!
//! - **Eviction by decayed frequency.** Every cached block carries a hit count that halves every
//!   `half_life` ticks ([`EntryStats`]); the victim is the block with the lowest decayed count, the
//!   least recently used among equals. Frequency is what predicts the next request on the skewed
//!   (Zipf-like) popularity of content; the decay lets yesterday's favourites go.
//! - **Sampling instead of a global order.** The store keeps these stats in its on-disk index, not in
//!   an in-memory list, so its memory does not grow with the cache. It draws [`DEFAULT_SAMPLES`] random
//!   entries and evicts the least valuable of them (Redis's approximated LFU); the victim is almost
//!   always among the few lowest-valued of the whole cache.
//! - **Admission by TinyLFU.** A count-min sketch ([`FrequencySketch`]) remembers how often recently
//!   requested blocks were asked for, including blocks the store does not hold. When the cache is full,
//!   a newcomer replaces the victim only if it was asked for more often; otherwise it is not written at
//!   all. That keeps one-off blocks seen in passing from flushing out popular ones and saves the disk
//!   bandwidth a swap between equally unpopular blocks would cost. The sketch is halved periodically,
//!   so its memory of demand decays as well.
//!
//! Measured on seeded Zipf traces (`tests/cache_policy_zipf.rs`, 100,000 items, 10^6 requests), hit
//! rate against plain LRU of the same capacity: s = 0.8 at 1 % / 10 % capacity 26.7 / 54.3 % against
//! 20.5 / 46.7 %; s = 1.0 56.3 / 77.4 % against 50.7 / 73.6 %. The price is TinyLFU's known lag when
//! popularity moves abruptly: with the whole popular set replaced every ten cache-fulls, 25.9 % against
//! 20.3 % at 1 % but 42.4 % against 45.3 % at 10 %. Variants tried on the same traces: a 1–20 % LRU
//! window in front (W-TinyLFU) changed nothing measurable with sampled eviction; always admitting
//! (decayed-frequency eviction alone) lost 1–2.6 points except on the shifting trace at 10 %, where it
//! won 3.3; recency-only eviction behind the same admission lost up to 2.4 points everywhere.

use std::collections::HashMap;

/// How many entries eviction samples by default.
pub const DEFAULT_SAMPLES: usize = 16;

/// The largest count a sketch counter holds (4 bits, as in TinyLFU: beyond that, more precision buys
/// nothing for the comparison it is used in).
pub const MAX_COUNT: u8 = 15;

/// Smallest and largest sketch width (counters per row): the sketch's memory is 4 × width bytes.
pub const MIN_SKETCH_WIDTH: usize = 1 << 6;
/// See [`MIN_SKETCH_WIDTH`]. 4 × 2^22 bytes = 16 MiB at most.
pub const MAX_SKETCH_WIDTH: usize = 1 << 22;

/// The largest hit count an entry holds. Capped so that a former favourite decays below a newcomer's
/// count within a few half-lives: an uncapped count of thousands would take ten half-lives or more,
/// and a cache whose popularity moved would keep yesterday's set (measured: the shifting trace of
/// `tests/cache_policy_zipf.rs` lost to LRU without the cap).
pub const MAX_ENTRY_COUNT: f64 = 15.0;

const ROWS: usize = 4;
const ROW_SEEDS: [u64; ROWS] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x85eb_ca77_c2b2_ae63,
];

/// The splitmix64 finaliser: spreads a key over 64 bits, so rows indexed by different seeds are
/// independent enough for a count-min sketch. Not cryptographic, and need not be: the store's keys are
/// already keyed BLAKE3 hashes.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A count-min sketch of 4 rows of small saturating counters, halved every `10 × width` increments.
///
/// It estimates how often a key was seen recently, never less than the truth (before halving). The
/// halving is TinyLFU's "reset": it ages old demand out, and bounds every counter without a clock.
#[derive(Clone)]
pub struct FrequencySketch {
    counters: Vec<u8>,
    mask: usize,
    additions: u64,
    reset_at: u64,
}

impl std::fmt::Debug for FrequencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrequencySketch")
            .field("width", &(self.mask + 1))
            .field("additions", &self.additions)
            .finish()
    }
}

impl FrequencySketch {
    /// A sketch with `width` counters per row, rounded up to a power of two within
    /// [`MIN_SKETCH_WIDTH`]..=[`MAX_SKETCH_WIDTH`]. TinyLFU sizes it at about the number of entries the
    /// cache holds.
    pub fn new(width: usize) -> FrequencySketch {
        let width = width
            .clamp(MIN_SKETCH_WIDTH, MAX_SKETCH_WIDTH)
            .next_power_of_two();
        FrequencySketch {
            counters: vec![0; ROWS * width],
            mask: width - 1,
            additions: 0,
            reset_at: 10 * width as u64,
        }
    }

    fn slots(&self, key: u64) -> [usize; ROWS] {
        let width = self.mask + 1;
        let mut out = [0usize; ROWS];
        for (row, (slot, seed)) in out.iter_mut().zip(ROW_SEEDS).enumerate() {
            // Truncating the mixed hash to usize keeps its low bits, which is all the mask uses.
            *slot = row * width + (mix(key ^ seed) as usize & self.mask);
        }
        out
    }

    /// Counts one occurrence of `key`. Conservative update: only the counters at the current minimum
    /// grow, which keeps the overestimate of rare keys small.
    pub fn increment(&mut self, key: u64) {
        let slots = self.slots(key);
        let min = self.estimate_at(&slots);
        if min < MAX_COUNT {
            for slot in slots {
                if let Some(c) = self.counters.get_mut(slot)
                    && *c == min
                {
                    *c += 1;
                }
            }
        }
        self.additions += 1;
        if self.additions >= self.reset_at {
            self.halve();
        }
    }

    /// How often `key` was seen recently (0..=[`MAX_COUNT`]).
    pub fn estimate(&self, key: u64) -> u8 {
        self.estimate_at(&self.slots(key))
    }

    fn estimate_at(&self, slots: &[usize; ROWS]) -> u8 {
        slots
            .iter()
            .map(|&s| self.counters.get(s).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    fn halve(&mut self) {
        for c in &mut self.counters {
            *c >>= 1;
        }
        self.additions /= 2;
    }
}

/// Exponential decay of hit counts: a count halves every `half_life` ticks. A tick is whatever unit
/// the caller's clock uses (the store: seconds; the simulations: accesses).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decay {
    half_life: u64,
}

impl Decay {
    /// Decay with this half-life; 0 is taken as 1.
    pub const fn new(half_life: u64) -> Decay {
        Decay {
            half_life: if half_life == 0 { 1 } else { half_life },
        }
    }

    /// The half-life in ticks.
    pub const fn half_life(&self) -> u64 {
        self.half_life
    }

    /// `count` decayed from `then` to `now`. A clock that went backwards decays nothing.
    pub fn apply(&self, count: f64, then: u64, now: u64) -> f64 {
        let elapsed = now.saturating_sub(then) as f64;
        count * (-elapsed / self.half_life as f64).exp2()
    }
}

/// What the policy remembers about one cached entry: its decayed hit count as of `last`, the tick of its
/// last hit (or of its insertion).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryStats {
    /// Hits, decayed to `last`. The request that brought the entry in counts as one.
    pub count: f32,
    /// The tick of the last access.
    pub last: u64,
}

impl EntryStats {
    /// A new entry at `now`.
    pub const fn new(now: u64) -> EntryStats {
        EntryStats {
            count: 1.0,
            last: now,
        }
    }

    /// The entry's value at `now`: its hit count decayed to `now`.
    pub fn score(&self, decay: Decay, now: u64) -> f64 {
        decay.apply(f64::from(self.count), self.last, now)
    }

    /// Records `hits` hits at `now`.
    pub fn hit(&mut self, decay: Decay, now: u64, hits: u32) {
        let decayed = (self.score(decay, now) + f64::from(hits)).min(MAX_ENTRY_COUNT);
        self.count = decayed as f32;
        self.last = self.last.max(now);
    }

    /// Orders two entries by value at `now`: lower score first, then older last access first.
    fn less_valuable(&self, other: &EntryStats, decay: Decay, now: u64) -> bool {
        let (a, b) = (self.score(decay, now), other.score(decay, now));
        a < b || (a == b && self.last < other.last)
    }
}

/// The least valuable of `samples` at `now`, if any.
pub fn pick_victim<K>(
    samples: impl IntoIterator<Item = (K, EntryStats)>,
    decay: Decay,
    now: u64,
) -> Option<(K, EntryStats)> {
    let mut best: Option<(K, EntryStats)> = None;
    for (k, s) in samples {
        match &best {
            Some((_, b)) if !s.less_valuable(b, decay, now) => {}
            _ => best = Some((k, s)),
        }
    }
    best
}

/// The demand side of the policy: the sketch and the decay, shared by admission and eviction.
#[derive(Clone, Debug)]
pub struct CachePolicy {
    sketch: FrequencySketch,
    decay: Decay,
}

impl CachePolicy {
    /// A policy whose sketch has about `capacity_entries` counters per row.
    pub fn new(capacity_entries: usize, decay: Decay) -> CachePolicy {
        CachePolicy {
            sketch: FrequencySketch::new(capacity_entries),
            decay,
        }
    }

    /// The decay of hit counts.
    pub const fn decay(&self) -> Decay {
        self.decay
    }

    /// Records a request for `key`, held or not.
    pub fn record_access(&mut self, key: u64) {
        self.sketch.increment(key);
    }

    /// Whether `candidate` may displace `victim`: only if it was asked for strictly more often lately.
    /// On a tie the incumbent stays, since swapping equals costs a write and gains nothing.
    pub fn admit(&self, candidate: u64, victim: u64) -> bool {
        self.sketch.estimate(candidate) > self.sketch.estimate(victim)
    }

    /// The stats an entry admitted at `now` starts with: one hit if it was asked for lately, none if it
    /// was only seen in passing (so it goes before anything someone wanted). Not more than one:
    /// starting at the sketch's full estimate made the entries that won admission hard to evict later
    /// and cost 1–3 points of hit rate on the Zipf traces.
    pub fn initial_stats(&self, key: u64, now: u64) -> EntryStats {
        EntryStats {
            count: f32::from(self.estimate(key).min(1)),
            last: now,
        }
    }

    /// The sketch's estimate for `key`.
    pub fn estimate(&self, key: u64) -> u8 {
        self.sketch.estimate(key)
    }
}

/// A small deterministic generator (xorshift64*) for sampling in [`SampledCache`]; the store samples
/// with OS randomness instead.
#[derive(Clone, Debug)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The policy applied to an in-memory set of `capacity` entries: the reference the store's on-disk
/// behaviour follows, used to test and measure the policy without a disk.
#[derive(Clone, Debug)]
pub struct SampledCache {
    capacity: usize,
    samples: usize,
    policy: CachePolicy,
    slots: HashMap<u64, usize>,
    entries: Vec<(u64, EntryStats)>,
    rng: XorShift,
}

impl SampledCache {
    /// An empty cache of `capacity` entries sampling `samples` entries per eviction, with hit counts
    /// halving every `half_life` ticks; `seed` fixes the sampling.
    pub fn new(capacity: usize, samples: usize, half_life: u64, seed: u64) -> SampledCache {
        SampledCache {
            capacity,
            samples: samples.max(1),
            policy: CachePolicy::new(capacity, Decay::new(half_life)),
            slots: HashMap::with_capacity(capacity),
            entries: Vec::with_capacity(capacity),
            rng: XorShift(seed | 1),
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: u64) -> bool {
        self.slots.contains_key(&key)
    }

    /// A request for `key` at tick `now`: true on a hit. On a miss the key is offered for admission,
    /// as the store does when the block fetched elsewhere is put as a cache block.
    pub fn access(&mut self, key: u64, now: u64) -> bool {
        self.policy.record_access(key);
        let decay = self.policy.decay();
        if let Some(&slot) = self.slots.get(&key) {
            if let Some((_, stats)) = self.entries.get_mut(slot) {
                stats.hit(decay, now, 1);
            }
            return true;
        }
        if self.capacity == 0 {
            return false;
        }
        if self.entries.len() < self.capacity {
            self.slots.insert(key, self.entries.len());
            self.entries
                .push((key, self.policy.initial_stats(key, now)));
            return false;
        }
        let len = self.entries.len() as u64;
        let picks: Vec<(usize, EntryStats)> = (0..self.samples)
            .filter_map(|_| {
                let slot = (self.rng.next() % len) as usize;
                self.entries.get(slot).map(|(_, s)| (slot, *s))
            })
            .collect();
        let Some((slot, _)) = pick_victim(picks, decay, now) else {
            return false;
        };
        let Some(victim) = self.entries.get(slot).map(|(k, _)| *k) else {
            return false;
        };
        if self.policy.admit(key, victim) {
            self.slots.remove(&victim);
            self.slots.insert(key, slot);
            if let Some(e) = self.entries.get_mut(slot) {
                *e = (key, self.policy.initial_stats(key, now));
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_counts_and_saturates() {
        let mut s = FrequencySketch::new(1024);
        for _ in 0..5 {
            s.increment(42);
        }
        assert_eq!(s.estimate(42), 5);
        assert_eq!(s.estimate(43), 0);
        for _ in 0..100 {
            s.increment(7);
        }
        assert_eq!(s.estimate(7), MAX_COUNT);
    }

    #[test]
    fn sketch_halves_after_ten_times_its_width() {
        let mut s = FrequencySketch::new(MIN_SKETCH_WIDTH);
        for _ in 0..8 {
            s.increment(1);
        }
        assert_eq!(s.estimate(1), 8);
        // Fill up to the reset point with other keys.
        let mut k = 1000;
        while s.additions != 0 && s.estimate(1) == 8 {
            s.increment(k);
            k += 1;
        }
        assert_eq!(s.estimate(1), 4, "halved at the reset point");
    }

    #[test]
    fn sketch_width_is_bounded() {
        assert_eq!(FrequencySketch::new(0).mask + 1, MIN_SKETCH_WIDTH);
        assert_eq!(FrequencySketch::new(usize::MAX).mask + 1, MAX_SKETCH_WIDTH);
        assert_eq!(FrequencySketch::new(1000).mask + 1, 1024);
    }

    #[test]
    fn decay_halves_per_half_life_and_ignores_backward_clocks() {
        let d = Decay::new(100);
        assert!((d.apply(8.0, 0, 100) - 4.0).abs() < 1e-9);
        assert!((d.apply(8.0, 0, 300) - 1.0).abs() < 1e-9);
        assert!((d.apply(8.0, 500, 100) - 8.0).abs() < 1e-9);
        assert_eq!(Decay::new(0).half_life(), 1);
    }

    #[test]
    fn hits_accumulate_with_decay() {
        let d = Decay::new(10);
        let mut e = EntryStats::new(0);
        e.hit(d, 0, 3);
        assert!((e.count - 4.0).abs() < 1e-6);
        e.hit(d, 10, 1);
        assert!((e.count - 3.0).abs() < 1e-6, "4 halved, plus one");
        assert_eq!(e.last, 10);
    }

    #[test]
    fn victim_is_least_frequent_then_least_recent() {
        let d = Decay::new(1_000);
        let frequent = EntryStats {
            count: 9.0,
            last: 0,
        };
        let rare_old = EntryStats {
            count: 1.0,
            last: 5,
        };
        let rare_new = EntryStats {
            count: 1.0,
            last: 5,
        };
        let v = pick_victim([("f", frequent), ("o", rare_old), ("n", rare_new)], d, 5);
        assert_eq!(v.map(|(k, _)| k), Some("o"), "first of equals");
        let newer = EntryStats {
            count: 1.0,
            last: 6,
        };
        let v = pick_victim([("new", newer), ("old", rare_old)], d, 6);
        assert_eq!(v.map(|(k, _)| k), Some("old"));
        assert!(pick_victim(Vec::<(u8, EntryStats)>::new(), d, 0).is_none());
    }

    #[test]
    fn decay_lets_old_favourites_go() {
        let d = Decay::new(10);
        let old_favourite = EntryStats {
            count: 64.0,
            last: 0,
        };
        let recent = EntryStats {
            count: 2.0,
            last: 100,
        };
        // 64 halved ten times is 1/16: below a recent entry with two hits.
        let v = pick_victim([("old", old_favourite), ("recent", recent)], d, 100);
        assert_eq!(v.map(|(k, _)| k), Some("old"));
    }

    #[test]
    fn admission_needs_more_demand_than_the_victim() {
        let mut p = CachePolicy::new(1024, Decay::new(100));
        p.record_access(1);
        assert!(!p.admit(2, 1), "never asked for");
        p.record_access(2);
        assert!(!p.admit(2, 1), "a tie keeps the incumbent");
        p.record_access(2);
        assert!(p.admit(2, 1));
    }

    #[test]
    fn sampled_cache_keeps_the_popular_key_through_a_scan() {
        let mut c = SampledCache::new(8, 8, 1_000, 1);
        let mut now = 0;
        for k in 0..8 {
            c.access(k, now);
            now += 1;
        }
        for _ in 0..5 {
            assert!(c.access(3, now));
            now += 1;
        }
        // A scan of one-off keys does not displace anything: none was asked for twice.
        for k in 100..400 {
            assert!(!c.access(k, now));
            now += 1;
        }
        assert!(c.contains(3));
        assert_eq!(c.len(), 8);
        // A key asked for repeatedly gets in.
        for _ in 0..3 {
            c.access(5_000, now);
            now += 1;
        }
        assert!(c.contains(5_000));
        assert!(c.contains(3));
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let mut c = SampledCache::new(0, 4, 10, 1);
        assert!(!c.access(1, 0));
        assert!(!c.access(1, 1));
        assert!(c.is_empty());
    }
}
