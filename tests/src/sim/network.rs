//! The network model: when (and whether, and how many times) a packet from one node reaches another.
//!
//! Each ordered pair of nodes has a base one-way latency drawn once from a log-normal distribution
//! (median 50 ms, so round trips have a median of 100 ms, with the long tail measured on the
//! internet); each packet adds jitter, which reorders packets that follow closely. Loss and
//! duplication are per packet; partitions block one direction or both.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use gofast_core::time::{Duration, Instant};
use rand::RngExt;
use rand_distr::{Distribution, LogNormal};

use super::SimRng;

/// A node's index in the simulation.
pub type NodeIndex = u32;

/// Per-packet behaviour of the network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Median one-way latency of a link.
    pub median_latency: Duration,
    /// Spread of link latencies (σ of the log-normal); 0.6 puts p90 near 2.2× and p99 near 4× the
    /// median.
    pub latency_sigma: f64,
    /// Up to this much random extra delay per packet (reorders close packets).
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a delivered packet arrives twice.
    pub duplicate: f64,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            median_latency: Duration::from_millis(50),
            latency_sigma: 0.6,
            jitter: Duration::from_millis(5),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// The simulated network between nodes.
#[derive(Debug)]
pub struct Network {
    model: LinkModel,
    latency: LogNormal<f64>,
    link_latency: HashMap<(NodeIndex, NodeIndex), Duration>,
    /// With a salt, link latencies are not stored but derived from it and the pair, the same both
    /// ways (`symmetric`): large networks need no table.
    symmetric_salt: Option<u64>,
    blocked: HashSet<(NodeIndex, NodeIndex)>,
}

impl Network {
    /// A network with `model` and no partitions.
    pub fn new(model: LinkModel) -> Self {
        let median_us = model.median_latency.as_micros().max(1) as f64;
        let latency = LogNormal::new(median_us.ln(), model.latency_sigma.max(0.0))
            .unwrap_or_else(|_| LogNormal::new(median_us.ln(), 0.0).expect("σ = 0 is valid"));
        Network {
            model,
            latency,
            link_latency: HashMap::default(),
            symmetric_salt: None,
            blocked: HashSet::default(),
        }
    }

    /// A network whose link latencies are the same both ways and derived from `seed` and the pair
    /// of nodes instead of stored: the round trip has twice the one-way median.
    pub fn symmetric(model: LinkModel, seed: u64) -> Self {
        let mut net = Network::new(model);
        net.symmetric_salt = Some(seed ^ 0x6c61_7465_6e63_7921);
        net
    }

    /// The base one-way latency of `from → to`, drawn on first use.
    pub fn link_latency(&mut self, rng: &mut SimRng, from: NodeIndex, to: NodeIndex) -> Duration {
        if let Some(salt) = self.symmetric_salt {
            let (lo, hi) = (from.min(to), from.max(to));
            let mut pair_rng = super::rng(salt ^ (u64::from(lo) << 32 | u64::from(hi)));
            return Duration::from_micros(self.latency.sample(&mut pair_rng) as u64);
        }
        let latency = &self.latency;
        *self
            .link_latency
            .entry((from, to))
            .or_insert_with(|| Duration::from_micros(latency.sample(rng) as u64))
    }

    /// Blocks `from → to` (an asymmetric partition); block both directions for a symmetric one.
    pub fn block(&mut self, from: NodeIndex, to: NodeIndex) {
        self.blocked.insert((from, to));
    }

    /// Lifts every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// When a packet sent now from `from` to `to` arrives: none (lost or blocked), one time, or two
    /// (duplicated).
    pub fn deliveries(
        &mut self,
        rng: &mut SimRng,
        now: Instant,
        from: NodeIndex,
        to: NodeIndex,
    ) -> Vec<Instant> {
        if self.blocked.contains(&(from, to)) || rng.random_bool(self.model.loss.clamp(0.0, 1.0)) {
            return Vec::new();
        }
        let base = self.link_latency(rng, from, to);
        let copies = if rng.random_bool(self.model.duplicate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| {
                let jitter = rng.random_range(0..=self.model.jitter.as_micros());
                now + base + Duration::from_micros(jitter)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng;

    fn sample(seed: u64, model: LinkModel, packets: u32) -> Vec<Vec<Instant>> {
        let mut r = rng(seed);
        let mut net = Network::new(model);
        (0..packets)
            .map(|i| net.deliveries(&mut r, Instant::from_micros(0), i % 50, (i / 50) % 50))
            .collect()
    }

    #[test]
    fn a_seed_reproduces_every_choice() {
        let model = LinkModel {
            loss: 0.1,
            duplicate: 0.05,
            ..LinkModel::default()
        };
        assert_eq!(sample(7, model, 5000), sample(7, model, 5000));
        assert_ne!(sample(7, model, 5000), sample(8, model, 5000));
    }

    #[test]
    fn link_latencies_have_the_configured_median_and_a_tail() {
        let mut r = rng(1);
        let mut net = Network::new(LinkModel::default());
        let mut ms: Vec<u64> = (0..4000u32)
            .map(|i| net.link_latency(&mut r, i, i + 1).as_millis())
            .collect();
        ms.sort_unstable();
        let (p50, p90, p99) = (ms[2000], ms[3600], ms[3960]);
        assert!((45..=55).contains(&p50), "p50 {p50} ms");
        assert!(p90 > 2 * p50 && p99 > 3 * p50, "p90 {p90} ms, p99 {p99} ms");
        // A link keeps its latency.
        let first = net.link_latency(&mut r, 0, 1);
        assert_eq!(net.link_latency(&mut r, 0, 1), first);
    }

    #[test]
    fn loss_and_duplication_happen_at_their_rates() {
        let model = LinkModel {
            loss: 0.1,
            duplicate: 0.05,
            ..LinkModel::default()
        };
        let d = sample(3, model, 20_000);
        let lost = d.iter().filter(|v| v.is_empty()).count() as f64 / 20_000.0;
        let doubled = d.iter().filter(|v| v.len() == 2).count() as f64 / 20_000.0;
        assert!((0.09..0.11).contains(&lost), "loss {lost}");
        assert!((0.04..0.06).contains(&doubled), "duplication {doubled}");
    }

    #[test]
    fn partitions_block_one_direction_or_both_until_healed() {
        let mut r = rng(4);
        let mut net = Network::new(LinkModel::default());
        let now = Instant::from_micros(0);
        net.block(1, 2);
        assert!(net.deliveries(&mut r, now, 1, 2).is_empty());
        assert_eq!(net.deliveries(&mut r, now, 2, 1).len(), 1, "asymmetric");
        net.heal();
        assert_eq!(net.deliveries(&mut r, now, 1, 2).len(), 1);
    }
}
