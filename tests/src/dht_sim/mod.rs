//! The DHT at scale in one thread and virtual time: `N` core DHT nodes ([`gofast_core::dht::Node`])
//! on the simulator's network model, with churn and adversarial nodes, every choice drawn from one
//! seed. The `dht-sim` binary and the DHT scenario tests drive it.
//!
//! What the simulator takes from the session layer: a message arrives with its sender's PeerId,
//! authenticated, as a secure session delivers it (the sessions themselves are tested on their own,
//! and the std node runs the DHT over them). Bytes per message count the DHT message, its 2-byte
//! header and a session frame's 34 bytes of header and tag.

mod adversary;
mod metrics;
mod world;

pub use adversary::Adversary;
pub use metrics::{Metrics, percentile};
pub use world::World;

use gofast_core::time::Duration;

use crate::sim::LinkModel;

/// One simulation run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Nodes in the network (kept constant under churn: every departure is followed by a join).
    pub nodes: usize,
    /// Drives every choice of the run.
    pub seed: u64,
    /// Whether nodes leave and join (the IPFS profile: half of the nodes gone within 2 hours).
    pub churn: bool,
    /// Fraction of adversarial nodes.
    pub adversaries: f64,
    /// Virtual hours of the measured period (lookups and gets spread over it; churn runs in it).
    pub hours: f64,
    /// Peer lookups measured.
    pub lookups: usize,
    /// Records published (and, at the end, each fetched once).
    pub records: usize,
    /// Record gets measured during the period.
    pub gets: usize,
    /// The network model (median one-way latency 50 ms: a median RTT of 100 ms).
    pub link: LinkModel,
    /// Median session time under churn.
    pub median_session: Duration,
    /// Whether the first of a joining node's three bootstrap contacts is honest. A deployment
    /// configures its bootstrap peers (the project's nodes, a friend's); drawn among all live
    /// nodes, 0.2³ = 0.8 % of joins in a network of 20 % liars go through liars only, and such a
    /// node only ever learns of liars (every put and get it makes then fails). `false` measures
    /// that harsher model.
    pub honest_bootstrap: bool,
}

impl SimConfig {
    /// `nodes` nodes, no churn, no adversaries, one virtual minute of measurements.
    pub fn new(nodes: usize, seed: u64) -> Self {
        SimConfig {
            nodes,
            seed,
            churn: false,
            adversaries: 0.0,
            hours: 0.0,
            lookups: 1000,
            records: nodes,
            gets: 1000,
            link: LinkModel::default(),
            median_session: Duration::from_secs(2 * 3600),
            honest_bootstrap: true,
        }
    }
}

/// Bytes a session adds to each DHT message: the message header (version, type) and a data frame's
/// header and tag.
pub const FRAMING_BYTES: u64 = 2 + gofast_core::session::DATA_OVERHEAD as u64;

/// Runs `config` to the end and returns what was measured.
pub fn run(config: &SimConfig) -> Metrics {
    let mut world = World::new(config.clone());
    world.run();
    world.into_metrics()
}

/// The seed of a scenario test: `GOFAST_SEED` if set, else `default`.
pub fn scenario_seed(default: u64) -> u64 {
    std::env::var("GOFAST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// What a failing scenario prints: the seed, the commands that reproduce it, and every figure.
pub fn failure_report(test: &str, config: &SimConfig, metrics: &Metrics) -> String {
    let mut s = format!(
        "seed {seed}; reproduce with `GOFAST_SEED={seed} cargo test -p gofast-tests --test {test}` \
         or `cargo run --release -p gofast-tests --bin dht-sim -- --nodes {nodes} --seed {seed}{churn}{adv} \
         --hours {hours}`\n",
        seed = config.seed,
        nodes = config.nodes,
        churn = if config.churn { " --churn" } else { "" },
        adv = if config.adversaries > 0.0 {
            format!(" --adversaries {}", config.adversaries)
        } else {
            String::new()
        },
        hours = config.hours,
    );
    for (name, value) in metrics.figures() {
        s.push_str(&format!("{name}={value}\n"));
    }
    s
}
