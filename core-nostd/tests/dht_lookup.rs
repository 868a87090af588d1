//! The iterative lookup over a synthetic network: 300 nodes whose routing tables saw every other
//! node (in a seeded order, so buckets keep whom they saw first). A lookup must find exactly the K
//! closest live nodes to the target, also when a fifth of the nodes never answer (their requests
//! time out). The real network model with latency, churn and adversaries is the simulator's.

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_core::dht::{Contact, Lookup, LookupConfig, RoutingTable};
use gofast_core::identity::{DhtKey, KeyPair, PeerId};
use gofast_core::time::{Duration, Instant};

const N: usize = 300;
const K: usize = 8;
type Table = RoutingTable<u32, K, 200, 8>;

struct Net {
    peers: Vec<PeerId>,
    tables: Vec<Table>,
}

fn net(seed: u64) -> Net {
    let peers: Vec<PeerId> = (0..N)
        .map(|i| {
            let s = hash(&[seed.to_le_bytes(), (i as u64).to_le_bytes()].concat());
            KeyPair::from_seed(&SecretBytes::new(s)).peer_id()
        })
        .collect();
    let tables = (0..N)
        .map(|i| {
            let mut t = Table::new(peers[i].dht_key());
            // A per-node order of first contact.
            let mut order: Vec<usize> = (0..N).filter(|&j| j != i).collect();
            order.sort_by_key(|&j| {
                hash(&[&(i as u64).to_le_bytes()[..], &(j as u64).to_le_bytes()].concat())
            });
            for (t_us, j) in order.into_iter().enumerate() {
                t.observe(peers[j], j as u32, Instant::from_micros(t_us as u64));
            }
            t
        })
        .collect();
    Net { peers, tables }
}

/// Runs a lookup from node `from`; `alive` says who answers. Returns the peers found and the
/// requests made.
fn lookup(
    net: &Net,
    from: usize,
    target: &DhtKey,
    alive: &dyn Fn(usize) -> bool,
) -> (Vec<PeerId>, u32) {
    let config = LookupConfig {
        alpha: 3,
        request_timeout: Duration::from_millis(500),
        stall_timeout: Duration::from_millis(500),
    };
    let seeds = net.tables[from].closest::<K>(target);
    let mut l: Lookup<u32, K, 32> = Lookup::new(*target, config, seeds);
    let mut now = Instant::from_micros(0);
    for _ in 0..10_000 {
        if l.is_finished() {
            break;
        }
        let mut asked = false;
        while let Some(c) = l.poll_request(now) {
            asked = true;
            let j = c.addr as usize;
            if alive(j) {
                let closer: Vec<Contact<u32>> = net.tables[j]
                    .closest::<K>(target)
                    .into_iter()
                    .filter(|c| c.peer != net.peers[from])
                    .collect();
                l.on_response(&c.peer, closer);
            }
        }
        if !asked {
            // Only dead peers are in flight: let their requests time out.
            now = l.poll_timeout().expect("requests in flight");
            l.handle_timeout(now);
        }
    }
    assert!(l.is_finished(), "the lookup did not finish");
    (l.closest().map(|c| c.peer).collect(), l.requests())
}

fn true_closest(
    net: &Net,
    from: usize,
    target: &DhtKey,
    alive: &dyn Fn(usize) -> bool,
) -> Vec<PeerId> {
    let mut all: Vec<usize> = (0..N).filter(|&j| j != from && alive(j)).collect();
    all.sort_by_key(|&j| net.peers[j].dht_key().distance(target));
    all.into_iter().take(K).map(|j| net.peers[j]).collect()
}

#[test]
fn finds_the_k_closest() {
    let net = net(1);
    let everyone = |_: usize| true;
    for q in 0..40u64 {
        let target = DhtKey(hash(&q.to_le_bytes()));
        let from = (q as usize * 7) % N;
        let (found, requests) = lookup(&net, from, &target, &everyone);
        assert_eq!(
            found,
            true_closest(&net, from, &target, &everyone),
            "lookup {q}"
        );
        assert!(requests < 60, "lookup {q} made {requests} requests");
    }
}

#[test]
fn finishes_with_live_nodes_when_a_fifth_never_answer() {
    // The tables still list the dead nodes (no one has pinged them yet), so answers carry fewer live
    // referrals: the lookup must still finish through the timeouts, return only live nodes, find
    // the nearest, and miss few of the true K closest.
    let net = net(2);
    let alive = |j: usize| hash(&(j as u64).to_le_bytes())[0] >= 51;
    let (mut hits, mut total, mut short) = (0usize, 0usize, 0usize);
    for q in 0..40u64 {
        let target = DhtKey(hash(&(q + 1000).to_le_bytes()));
        let from = (0..N)
            .cycle()
            .skip(q as usize * 11)
            .find(|&j| alive(j))
            .unwrap();
        let (found, _) = lookup(&net, from, &target, &alive);
        let truth = true_closest(&net, from, &target, &alive);
        assert_eq!(found[0], truth[0], "lookup {q}: the nearest live node");
        for p in &found {
            let j = net.peers.iter().position(|x| x == p).unwrap();
            assert!(alive(j), "lookup {q} returned a dead node");
        }
        hits += found.iter().filter(|p| truth.contains(p)).count();
        total += K;
        short += usize::from(found.len() < K);
    }
    let recall = hits as f64 / total as f64;
    eprintln!("recall with 20 % dead nodes: {recall:.3}; lookups with fewer than K: {short}");
    // Measured 0.93 with one short lookup on this seeded network: the misses are live nodes that no
    // queried node listed among its K closest because dead ones filled the list. Real tables evict
    // dead contacts after failed pings (RoutingTable::failed); the simulator measures that case.
    assert!(recall >= 0.9, "recall {recall:.3}");
    assert!(short <= 2, "{short} lookups found fewer than K");
}

/// Runs a `D`-path disjoint lookup from `from`; `adversary(j)` nodes answer with the adversaries
/// nearest the target (an eclipse attempt). Returns each path's result and every peer each path
/// asked.
fn disjoint<const D: usize>(
    net: &Net,
    from: usize,
    target: &DhtKey,
    adversary: &dyn Fn(usize) -> bool,
) -> (Vec<Vec<PeerId>>, Vec<Vec<usize>>) {
    use gofast_core::dht::DisjointLookup;
    let seeds = net.tables[from].closest::<K>(target);
    let mut l: DisjointLookup<u32, D, K, 32> =
        DisjointLookup::new(*target, LookupConfig::default(), seeds);
    let mut asked: Vec<Vec<usize>> = vec![Vec::new(); D];
    let now = Instant::from_micros(0);
    let mut adversaries: Vec<usize> = (0..N).filter(|&j| adversary(j)).collect();
    adversaries.sort_by_key(|&j| net.peers[j].dht_key().distance(target));
    for _ in 0..10_000 {
        let Some((path, c)) = l.poll_request(now) else {
            break;
        };
        let j = c.addr as usize;
        asked[path].push(j);
        let closer: Vec<Contact<u32>> = if adversary(j) {
            adversaries
                .iter()
                .take(K)
                .map(|&a| Contact::new(net.peers[a], a as u32, now))
                .collect()
        } else {
            net.tables[j]
                .closest::<K>(target)
                .into_iter()
                .filter(|c| c.peer != net.peers[from])
                .collect()
        };
        l.on_response(path, &c.peer, closer);
    }
    assert!(l.is_finished());
    let results = l
        .paths()
        .iter()
        .map(|p| p.closest().map(|c| c.peer).collect())
        .collect();
    (results, asked)
}

#[test]
fn disjoint_paths_never_share_a_peer() {
    let net = net(3);
    let nobody = |_: usize| false;
    for q in 0..20u64 {
        let target = DhtKey(hash(&(q + 5000).to_le_bytes()));
        let (results, asked) = disjoint::<3>(&net, (q as usize * 13) % N, &target, &nobody);
        let mut all: Vec<usize> = asked.concat();
        let before = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            before,
            "lookup {q}: a peer was asked by two paths"
        );
        assert!(results.iter().all(|r| !r.is_empty()));
    }
}

#[test]
fn disjoint_paths_get_past_an_eclipse_attempt() {
    // A fifth of the nodes answer every request with the adversaries nearest the target. Success: a
    // path's result holds the nearest honest node. (Adversaries here hold ordinary keys, so their
    // referrals are not closer than honest ones and even one path mostly gets through; the
    // simulator's adversaries go further. Measured on this network: 1 path 59 of 60, 3 paths 60.)
    let net = net(4);
    let adversary = |j: usize| hash(&(j as u64 + 77).to_le_bytes())[0] < 51;
    let (mut one, mut three) = (0, 0);
    let lookups = 60u64;
    for q in 0..lookups {
        let target = DhtKey(hash(&(q + 9000).to_le_bytes()));
        let from = (0..N)
            .cycle()
            .skip(q as usize * 17)
            .find(|&j| !adversary(j))
            .unwrap();
        let honest = |j: usize| !adversary(j);
        let nearest = true_closest(&net, from, &target, &honest)[0];
        let (r1, _) = disjoint::<1>(&net, from, &target, &adversary);
        let (r3, _) = disjoint::<3>(&net, from, &target, &adversary);
        one += usize::from(r1.iter().any(|r| r.contains(&nearest)));
        three += usize::from(r3.iter().any(|r| r.contains(&nearest)));
    }
    eprintln!(
        "eclipse attempt, {lookups} lookups: 1 path found the nearest honest node {one} times, 3 disjoint paths {three} times"
    );
    assert!(three >= one, "disjoint paths did worse ({three} < {one})");
    assert!(three as f64 >= 0.9 * lookups as f64, "{three} of {lookups}");
}
