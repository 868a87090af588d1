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
