//! The routing table: contacts grouped into k-buckets by XOR distance from the local key.
//!
//! All contacts live in one bounded list (`CAP`), each bucket holds at most `K` of them; a server
//! runs K = 20 and a few hundred entries, a microcontroller K = 4 and a few dozen, with the same code.
//! As in the Kademlia paper, a full bucket keeps its long-lived contacts: a newcomer waits in the
//! replacement cache while the caller pings the bucket's least-recently-seen contact, and takes its
//! place only if that ping fails.

use crate::identity::{DhtKey, PeerId};
use crate::time::{Duration, Instant};

/// A peer in the table: its id, its DHT key (derived from the id), where to reach it, and when it was
/// last heard from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact<A> {
    /// The peer.
    pub peer: PeerId,
    /// Its position in the key space, `peer.dht_key()`.
    pub key: DhtKey,
    /// Its transport address (the core does not look inside).
    pub addr: A,
    /// When it was last heard from.
    pub last_seen: Instant,
    /// Requests to it that failed since it was last heard from.
    pub failures: u8,
}

impl<A> Contact<A> {
    /// A contact for `peer` at `addr`, heard from at `now`.
    pub fn new(peer: PeerId, addr: A, now: Instant) -> Self {
        Contact {
            key: peer.dht_key(),
            peer,
            addr,
            last_seen: now,
            failures: 0,
        }
    }
}

/// Failed requests after which a contact leaves the table even when no replacement waits (with one
/// waiting, the first failure is enough). One lost packet must not evict a long-lived contact.
pub const MAX_FAILURES: u8 = 2;

/// What [`RoutingTable::observe`] did with a contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed<A> {
    /// Added to its bucket.
    Added,
    /// Already in the table: its address and last-seen time were updated.
    Updated,
    /// Its bucket is full. The contact waits in the replacement cache; the caller should ping
    /// `oldest` and call [`RoutingTable::failed`] if it does not answer.
    BucketFull {
        /// The bucket's least-recently-seen contact.
        oldest: Contact<A>,
    },
    /// The table holds `CAP` contacts: the contact waits in the replacement cache.
    TableFull,
    /// The local node's own key: never stored.
    IsSelf,
    /// The peer's identity has less work than the table requires ([`PeerId::work_bits`]).
    InsufficientWork,
}

/// The bucket of `key` seen from `local`: the number of leading bits they share (0: the far half of
/// the key space, 255: the nearest possible), `None` for `local` itself.
pub fn bucket_index(local: &DhtKey, key: &DhtKey) -> Option<u8> {
    let mut zeros = 0u32;
    for word in local.distance_words(key) {
        if word == 0 {
            zeros += 64;
        } else {
            zeros += word.leading_zeros();
            return u8::try_from(zeros).ok();
        }
    }
    None
}

/// What the table's scans read of a contact, kept beside it in the same order: scanning 12 bytes a
/// contact instead of its 80-odd is what makes the table cheap on every message (a server's table
/// is hundreds of contacts, and each message looks its sender up).
#[derive(Clone, Copy, Debug)]
struct Brief {
    /// The peer id's first 4 bytes: a peer is looked for among the contacts whose prefix matches.
    id: u32,
    /// The DHT key's first 4 bytes: most contacts are refused by `closest` on these alone.
    head: u32,
    /// The contact's bucket.
    bucket: u8,
}

impl Brief {
    fn of<A>(local: &DhtKey, c: &Contact<A>) -> Self {
        Brief {
            id: c.peer.head(),
            head: c.key.head(),
            bucket: bucket_index(local, &c.key).unwrap_or(u8::MAX),
        }
    }
}

/// A Kademlia routing table of at most `CAP` contacts, `K` per bucket, with a replacement cache of
/// `REPLACEMENTS`.
#[derive(Debug)]
pub struct RoutingTable<A, const K: usize, const CAP: usize, const REPLACEMENTS: usize> {
    local: DhtKey,
    min_work: u8,
    contacts: heapless::Vec<Contact<A>, CAP>,
    /// `briefs[i]` describes `contacts[i]`: the two are pushed and swap-removed together.
    briefs: heapless::Vec<Brief, CAP>,
    replacements: heapless::Vec<Contact<A>, REPLACEMENTS>,
}

impl<A: Clone, const K: usize, const CAP: usize, const REPLACEMENTS: usize>
    RoutingTable<A, K, CAP, REPLACEMENTS>
{
    /// An empty table around `local`.
    pub fn new(local: DhtKey) -> Self {
        RoutingTable {
            local,
            min_work: 0,
            contacts: heapless::Vec::new(),
            briefs: heapless::Vec::new(),
            replacements: heapless::Vec::new(),
        }
    }

    /// Where `peer` is in `contacts`.
    fn position(&self, peer: &PeerId) -> Option<usize> {
        let id = peer.head();
        self.briefs
            .iter()
            .enumerate()
            .filter(|(_, b)| b.id == id)
            .map(|(i, _)| i)
            .find(|&i| self.contacts.get(i).is_some_and(|c| c.peer == *peer))
    }

    /// Adds a contact (the caller checked for room).
    fn push(&mut self, contact: Contact<A>) {
        let brief = Brief::of(&self.local, &contact);
        if self.contacts.push(contact).is_ok() {
            let _ = self.briefs.push(brief);
        }
    }

    fn swap_remove(&mut self, i: usize) -> Contact<A> {
        self.briefs.swap_remove(i);
        self.contacts.swap_remove(i)
    }

    /// The same table refusing peers with less than `bits` of work (S/Kademlia's static puzzle; 0,
    /// the default, accepts every peer).
    #[must_use]
    pub fn with_min_work(mut self, bits: u8) -> Self {
        self.min_work = bits;
        self
    }

    /// The local key.
    pub fn local(&self) -> &DhtKey {
        &self.local
    }

    /// Contacts in the table.
    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    /// Whether the table has no contacts.
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// Every contact, in no particular order.
    pub fn contacts(&self) -> impl Iterator<Item = &Contact<A>> {
        self.contacts.iter()
    }

    /// The contact for `peer`, if present.
    pub fn get(&self, peer: &PeerId) -> Option<&Contact<A>> {
        self.contacts.get(self.position(peer)?)
    }

    /// Contacts in bucket `index`.
    pub fn bucket_len(&self, index: u8) -> usize {
        self.briefs.iter().filter(|b| b.bucket == index).count()
    }

    fn in_bucket(&self, index: u8) -> impl Iterator<Item = &Contact<A>> {
        self.contacts
            .iter()
            .zip(&self.briefs)
            .filter(move |(_, b)| b.bucket == index)
            .map(|(c, _)| c)
    }

    /// Records that `peer` was heard from at `addr` at `now` (a request or an answer from it).
    pub fn observe(&mut self, peer: PeerId, addr: A, now: Instant) -> Observed<A> {
        // A contact in the table passed every check below when it entered (and the local key never
        // enters): the common case needs no hashing.
        if let Some(c) = self.position(&peer).and_then(|i| self.contacts.get_mut(i)) {
            c.addr = addr;
            c.last_seen = c.last_seen.max(now);
            c.failures = 0;
            return Observed::Updated;
        }
        let key = peer.dht_key();
        let Some(index) = bucket_index(&self.local, &key) else {
            return Observed::IsSelf;
        };
        if self.min_work > 0 && peer.work_bits() < self.min_work {
            return Observed::InsufficientWork;
        }
        let contact = Contact {
            peer,
            key,
            addr,
            last_seen: now,
            failures: 0,
        };
        let in_bucket = self.bucket_len(index);
        if in_bucket < K && !self.contacts.is_full() {
            // Room was checked.
            self.push(contact);
            self.replacements.retain(|c| c.peer != peer);
            return Observed::Added;
        }
        self.remember_replacement(contact);
        if in_bucket >= K {
            let oldest = self.in_bucket(index).min_by_key(|c| c.last_seen).cloned();
            if let Some(oldest) = oldest {
                return Observed::BucketFull { oldest };
            }
        }
        Observed::TableFull
    }

    /// Keeps `contact` in the replacement cache, newest last; at the bound the least recently seen
    /// replacement goes.
    fn remember_replacement(&mut self, contact: Contact<A>) {
        self.replacements.retain(|c| c.peer != contact.peer);
        if self.replacements.is_full()
            && let Some(i) = self
                .replacements
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.last_seen)
                .map(|(i, _)| i)
        {
            self.replacements.remove(i);
        }
        let _ = self.replacements.push(contact);
    }

    /// A request to `peer` failed (timed out, or its session could not be set up). It leaves the table
    /// ([`Self::failed`]) after [`MAX_FAILURES`] in a row, or at once if a replacement for its bucket
    /// waits; until then it stays, as Kademlia keeps stale contacts rather than empty slots. Returns
    /// whether it left, and the promoted peer.
    pub fn missed(&mut self, peer: &PeerId) -> (bool, Option<PeerId>) {
        let Some(c) = self.position(peer).and_then(|i| self.contacts.get_mut(i)) else {
            return (false, None);
        };
        c.failures = c.failures.saturating_add(1);
        let failures = c.failures;
        let bucket = bucket_index(&self.local, &c.key);
        let waiting = self
            .replacements
            .iter()
            .any(|r| bucket_index(&self.local, &r.key) == bucket);
        if failures >= MAX_FAILURES || waiting {
            (true, self.failed(peer))
        } else {
            (false, None)
        }
    }

    /// `peer` is not to be a contact (it said it is a DHT client): it leaves the table and the
    /// replacements, and a replacement takes its place as in [`Self::failed`]. Returns the promoted
    /// peer.
    pub fn forget(&mut self, peer: &PeerId) -> Option<PeerId> {
        self.replacements.retain(|c| c.peer != *peer);
        self.failed(peer)
    }

    /// `peer` failed to answer: it leaves the table, and the most recently seen replacement that fits
    /// (same bucket first, else any bucket with room) takes its place. Returns the promoted peer.
    pub fn failed(&mut self, peer: &PeerId) -> Option<PeerId> {
        let i = self.position(peer)?;
        let gone = self.swap_remove(i);
        let bucket = bucket_index(&self.local, &gone.key);
        let fits = |t: &Self, c: &Contact<A>| {
            bucket_index(&t.local, &c.key).is_some_and(|b| t.bucket_len(b) < K)
        };
        let pick = self
            .replacements
            .iter()
            .enumerate()
            .filter(|(_, c)| bucket_index(&self.local, &c.key) == bucket)
            .max_by_key(|(_, c)| c.last_seen)
            .map(|(i, _)| i)
            .or_else(|| {
                self.replacements
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| fits(self, c))
                    .max_by_key(|(_, c)| c.last_seen)
                    .map(|(i, _)| i)
            })?;
        let promoted = self.replacements.remove(pick);
        let id = promoted.peer;
        self.push(promoted); // a slot was just freed
        Some(id)
    }

    /// The `N` contacts closest to `target`, nearest first.
    pub fn closest<const N: usize>(&self, target: &DhtKey) -> heapless::Vec<Contact<A>, N> {
        self.closest_where::<N>(target, |_| true).cloned().collect()
    }

    /// The `N` contacts closest to `target` among those `keep` accepts, nearest first, borrowed:
    /// an answer reads them without copying the table's contacts onto the stack.
    pub fn closest_where<const N: usize>(
        &self,
        target: &DhtKey,
        keep: impl Fn(&Contact<A>) -> bool,
    ) -> impl Iterator<Item = &Contact<A>> {
        // The selection keeps distances and indices only, so a contact farther than the N-th is
        // refused with one comparison (of the leading word, mostly), insertions move small
        // entries, and only the N winners are cloned. It is the node's hottest loop: every answer
        // and every query start runs it over the whole table.
        let mut best: heapless::Vec<([u64; 4], usize), N> = heapless::Vec::new();
        let head = target.head();
        for (i, (c, b)) in self.contacts.iter().zip(&self.briefs).enumerate() {
            // The distance's first 32 bits, from the brief: a contact whose are above the N-th's
            // cannot be nearer (equal ones are decided by the whole distance).
            if best.is_full()
                && best
                    .last()
                    .is_none_or(|(last, _)| u64::from(b.head ^ head) > last[0] >> 32)
            {
                continue;
            }
            let d = c.key.distance_words(target);
            if best.is_full() && best.last().is_none_or(|(last, _)| d >= *last) {
                continue;
            }
            if !keep(c) {
                continue;
            }
            let pos = best.iter().position(|(o, _)| d < *o).unwrap_or(best.len());
            if best.is_full() {
                best.pop();
            }
            let _ = best.insert(pos, (d, i));
        }
        best.into_iter().filter_map(|(_, i)| self.contacts.get(i))
    }

    /// Buckets with contacts none of which was heard from within `interval`: the caller refreshes
    /// each with a lookup of a random key in it ([`Self::key_in_bucket`]).
    pub fn stale_buckets(&self, now: Instant, interval: Duration) -> impl Iterator<Item = u8> + '_ {
        // One pass over the contacts: the newest last-seen time of each bucket (0: empty, else
        // micros + 1).
        let mut newest = [0u64; 256];
        for (c, b) in self.contacts.iter().zip(&self.briefs) {
            if let Some(n) = newest.get_mut(usize::from(b.bucket)) {
                *n = (*n).max(c.last_seen.as_micros().saturating_add(1));
            }
        }
        (0..=255u8).filter(move |&b| {
            newest.get(usize::from(b)).is_some_and(|&n| {
                n > 0 && now.saturating_duration_since(Instant::from_micros(n - 1)) >= interval
            })
        })
    }

    /// A key in bucket `index` made from `random` (32 random bytes from the caller): the local key's
    /// first `index` bits, the next bit flipped, the rest from `random`.
    pub fn key_in_bucket(&self, index: u8, random: [u8; 32]) -> DhtKey {
        let mut key = random;
        let local = self.local.as_bytes();
        let byte = usize::from(index / 8);
        let bit = index % 8;
        for (i, k) in key.iter_mut().enumerate() {
            let l = local.get(i).copied().unwrap_or(0);
            if i < byte {
                *k = l;
            } else if i == byte {
                let keep = 0xffu8.checked_shl(u32::from(8 - bit)).unwrap_or(0);
                let flip = 0x80u8 >> bit;
                *k = (l & keep) | ((!l) & flip) | (*k & !(keep | flip));
            }
        }
        DhtKey(key)
    }
}
