//! The routing table against a reference model: a plain list with the same rules written the
//! obvious way (buckets found by comparing bits one at a time, closest contacts by sorting
//! everything). Random operation sequences must leave both in the same state and give the same
//! answers.

use gofast_core::crypto::SecretBytes;
use gofast_core::dht::{Contact, Observed, RoutingTable, bucket_index};
use gofast_core::identity::{DhtKey, KeyPair, PeerId};
use gofast_core::time::Instant;
use proptest::prelude::*;

const K: usize = 3;
const CAP: usize = 12;
const REPL: usize = 4;
const POOL: usize = 48;

fn pool() -> Vec<PeerId> {
    (0..POOL)
        .map(|i| KeyPair::from_seed(&SecretBytes::new([i as u8 + 1; 32])).peer_id())
        .collect()
}

fn local() -> DhtKey {
    DhtKey(gofast_core::crypto::hash::hash(b"routing model local key"))
}

/// Shared leading bits, one bit at a time.
fn model_bucket(local: &DhtKey, key: &DhtKey) -> Option<u8> {
    for bit in 0..256 {
        let a = local.0[bit / 8] >> (7 - bit % 8) & 1;
        let b = key.0[bit / 8] >> (7 - bit % 8) & 1;
        if a != b {
            return Some(bit as u8);
        }
    }
    None
}

#[derive(Default)]
struct Model {
    contacts: Vec<Contact<u16>>,
    replacements: Vec<Contact<u16>>,
}

impl Model {
    fn bucket_count(&self, b: u8) -> usize {
        self.contacts
            .iter()
            .filter(|c| model_bucket(&local(), &c.key) == Some(b))
            .count()
    }

    fn observe(&mut self, peer: PeerId, addr: u16, now: Instant) -> Observed<u16> {
        let key = peer.dht_key();
        let Some(b) = model_bucket(&local(), &key) else {
            return Observed::IsSelf;
        };
        if let Some(c) = self.contacts.iter_mut().find(|c| c.peer == peer) {
            c.addr = addr;
            c.last_seen = c.last_seen.max(now);
            c.failures = 0;
            return Observed::Updated;
        }
        let contact = Contact {
            peer,
            key,
            addr,
            last_seen: now,
            failures: 0,
        };
        let n = self.bucket_count(b);
        if n < K && self.contacts.len() < CAP {
            self.contacts.push(contact);
            self.replacements.retain(|c| c.peer != peer);
            return Observed::Added;
        }
        self.replacements.retain(|c| c.peer != peer);
        if self.replacements.len() == REPL {
            let oldest = self.replacements.iter().map(|c| c.last_seen).min().unwrap();
            self.replacements.retain(|c| c.last_seen != oldest);
        }
        self.replacements.push(contact);
        if n >= K {
            let oldest = self
                .contacts
                .iter()
                .filter(|c| model_bucket(&local(), &c.key) == Some(b))
                .min_by_key(|c| c.last_seen)
                .unwrap()
                .clone();
            return Observed::BucketFull { oldest };
        }
        Observed::TableFull
    }

    fn failed(&mut self, peer: &PeerId) -> Option<PeerId> {
        let gone = self.contacts.iter().position(|c| c.peer == *peer)?;
        let gone = self.contacts.remove(gone);
        let b = model_bucket(&local(), &gone.key);
        let same: Vec<&Contact<u16>> = self
            .replacements
            .iter()
            .filter(|c| model_bucket(&local(), &c.key) == b)
            .collect();
        let pick = if let Some(c) = same.iter().max_by_key(|c| c.last_seen) {
            c.peer
        } else {
            self.replacements
                .iter()
                .filter(|c| self.bucket_count(model_bucket(&local(), &c.key).unwrap()) < K)
                .max_by_key(|c| c.last_seen)?
                .peer
        };
        let i = self
            .replacements
            .iter()
            .position(|c| c.peer == pick)
            .unwrap();
        let promoted = self.replacements.remove(i);
        self.contacts.push(promoted);
        Some(pick)
    }

    /// A failed request: out after two in a row, or the first if its bucket has a replacement.
    fn missed(&mut self, peer: &PeerId) -> (bool, Option<PeerId>) {
        let Some(c) = self.contacts.iter_mut().find(|c| c.peer == *peer) else {
            return (false, None);
        };
        c.failures += 1;
        let b = model_bucket(&local(), &c.key);
        let failures = c.failures;
        let waiting = self
            .replacements
            .iter()
            .any(|r| model_bucket(&local(), &r.key) == b);
        if failures >= 2 || waiting {
            (true, self.failed(peer))
        } else {
            (false, None)
        }
    }

    fn closest(&self, target: &DhtKey, n: usize) -> Vec<PeerId> {
        let mut all = self.contacts.clone();
        all.sort_by_key(|c| c.key.distance(target));
        all.into_iter().take(n).map(|c| c.peer).collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Observe(usize, u16),
    Failed(usize),
    Missed(usize),
    Closest(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..POOL, any::<u16>()).prop_map(|(p, a)| Op::Observe(p, a)),
        2 => (0..POOL).prop_map(Op::Failed),
        2 => (0..POOL).prop_map(Op::Missed),
        1 => (0..POOL).prop_map(Op::Closest),
    ]
}

fn sorted(contacts: impl Iterator<Item = Contact<u16>>) -> Vec<Contact<u16>> {
    let mut v: Vec<Contact<u16>> = contacts.collect();
    v.sort_by_key(|c| c.peer);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn table_matches_the_model(ops in proptest::collection::vec(op(), 1..300)) {
        let peers = pool();
        let mut table: RoutingTable<u16, K, CAP, REPL> = RoutingTable::new(local());
        let mut model = Model::default();
        for (t, op) in ops.into_iter().enumerate() {
            // Time moves on with every operation, so last-seen times never tie.
            let now = Instant::from_micros(t as u64 + 1);
            match op {
                Op::Observe(p, addr) => {
                    let got = table.observe(peers[p], addr, now);
                    prop_assert_eq!(got, model.observe(peers[p], addr, now));
                }
                Op::Failed(p) => {
                    prop_assert_eq!(table.failed(&peers[p]), model.failed(&peers[p]));
                }
                Op::Missed(p) => {
                    prop_assert_eq!(table.missed(&peers[p]), model.missed(&peers[p]));
                }
                Op::Closest(p) => {
                    let target = peers[p].dht_key();
                    let got: Vec<PeerId> =
                        table.closest::<5>(&target).iter().map(|c| c.peer).collect();
                    prop_assert_eq!(got, model.closest(&target, 5));
                    // The filtered selection answers use: the nearest of the contacts kept, not
                    // the kept ones among the nearest.
                    let keep = |c: &Contact<u16>| c.addr.is_multiple_of(2);
                    let got: Vec<PeerId> =
                        table.closest_where::<5>(&target, keep).map(|c| c.peer).collect();
                    let mut want = model.contacts.clone();
                    want.retain(keep);
                    want.sort_by_key(|c| c.key.distance(&target));
                    let want: Vec<PeerId> = want.into_iter().take(5).map(|c| c.peer).collect();
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(
                sorted(table.contacts().cloned()),
                sorted(model.contacts.iter().cloned())
            );
            prop_assert!(table.len() <= CAP);
            for b in 0..=255u8 {
                prop_assert!(table.bucket_len(b) <= K);
            }
        }
    }

    #[test]
    fn bucket_index_counts_shared_leading_bits(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        prop_assert_eq!(bucket_index(&DhtKey(a), &DhtKey(b)), model_bucket(&DhtKey(a), &DhtKey(b)));
        prop_assert_eq!(bucket_index(&DhtKey(a), &DhtKey(a)), None);
    }

    #[test]
    fn refresh_keys_land_in_their_bucket(index in any::<u8>(), random in any::<[u8; 32]>()) {
        let table: RoutingTable<u16, K, CAP, REPL> = RoutingTable::new(local());
        let key = table.key_in_bucket(index, random);
        prop_assert_eq!(bucket_index(&local(), &key), Some(index));
    }
}

#[test]
fn long_lived_contacts_stay_until_a_ping_fails() {
    let peers = pool();
    let mut table: RoutingTable<u16, K, CAP, REPL> = RoutingTable::new(local());
    // Fill bucket 0 (the far half: about half the pool lands there).
    let far: Vec<PeerId> = peers
        .iter()
        .copied()
        .filter(|p| bucket_index(&local(), &p.dht_key()) == Some(0))
        .collect();
    assert!(far.len() > K + 1);
    for (i, p) in far.iter().take(K).enumerate() {
        assert_eq!(
            table.observe(*p, 0, Instant::from_micros(i as u64)),
            Observed::Added
        );
    }
    // A newcomer does not push anyone out; the caller is told whom to ping.
    let newcomer = far[K];
    match table.observe(newcomer, 0, Instant::from_micros(100)) {
        Observed::BucketFull { oldest } => assert_eq!(oldest.peer, far[0]),
        other => panic!("{other:?}"),
    }
    assert!(table.get(&newcomer).is_none());
    // The oldest answered the ping (observed again): still there. Then it fails: the newcomer is in.
    assert_eq!(
        table.observe(far[0], 0, Instant::from_micros(101)),
        Observed::Updated
    );
    assert_eq!(table.failed(&far[1]), Some(newcomer));
    assert!(table.get(&newcomer).is_some() && table.get(&far[0]).is_some());
}

#[test]
fn a_table_with_a_work_requirement_refuses_cheap_identities() {
    // Identities from seeds 1, 2, …: some have 4 bits of work, most do not.
    let peers: Vec<PeerId> = (1..=200u8)
        .map(|i| KeyPair::from_seed(&SecretBytes::new([i; 32])).peer_id())
        .collect();
    let mut table: RoutingTable<u16, 20, 256, 4> = RoutingTable::new(local()).with_min_work(4);
    let (mut worthy, mut cheap) = (0, 0);
    for (i, p) in peers.iter().enumerate() {
        let got = table.observe(*p, 0, Instant::from_micros(i as u64));
        if p.work_bits() >= 4 {
            worthy += 1;
            assert_ne!(got, Observed::InsufficientWork);
        } else {
            cheap += 1;
            assert_eq!(got, Observed::InsufficientWork);
            assert!(table.get(p).is_none());
        }
    }
    // About 1 in 16 identities has 4 bits of work.
    assert!(
        worthy > 0 && cheap > worthy,
        "{worthy} worthy, {cheap} cheap"
    );
}
