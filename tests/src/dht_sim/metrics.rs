//! What a run measured, and its figures as `name=value` lines.

/// The value at quantile `q` (0..=1) of `samples` (nearest rank; 0 for none).
pub fn percentile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Everything a run counted.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Peer lookups started and those that found their target.
    pub lookups: u64,
    pub lookups_found: u64,
    /// Lookups left out because their target left the network while they ran.
    pub lookups_target_left: u64,
    pub lookup_rounds: Vec<f64>,
    pub lookup_ms: Vec<f64>,
    pub lookup_msgs: Vec<f64>,
    pub lookup_bytes: Vec<f64>,
    /// Record gets during the period, and those that returned the newest version.
    pub gets: u64,
    pub gets_newest: u64,
    pub get_ms: Vec<f64>,
    /// Puts and their durations; stores acknowledged per put.
    pub puts: u64,
    pub put_ms: Vec<f64>,
    pub put_stored: Vec<f64>,
    /// The final check: every record fetched once at the end.
    pub final_gets: u64,
    pub final_newest: u64,
    /// Measurements that could not start (no slot, no node, no target): reported, not hidden.
    pub not_started: u64,
    /// Queries whose node left before they ended.
    pub origin_left: u64,
    /// Gets of records whose publication never completed (failed gets in the final check).
    pub unpublished: u64,
    /// Gets that did not return the newest version: those that returned an older one, and none.
    pub gets_older: u64,
    pub gets_none: u64,
    /// For each final check that missed: how many live honest nodes held the newest version.
    pub missed_held_by: Vec<usize>,
    /// Honest nodes alive at the end whose routing table is more than half adversaries (a node
    /// in that state fails most of its own puts and gets).
    pub honest_tables_mostly_adversaries: u64,
    /// Nodes that joined and left during the run.
    pub joins: u64,
    pub leaves: u64,
    /// Every DHT message delivered or lost, and its bytes with framing.
    pub messages: u64,
    pub bytes: u64,
    /// Virtual seconds simulated.
    pub virtual_secs: f64,
    /// Requests of each join's bootstrap lookup.
    pub bootstrap_requests: Vec<f64>,
    /// Requests of the nodes' own maintenance: refreshes, republishes.
    pub refresh_requests: u64,
    pub republish_requests: u64,
    pub query_requests: u64,
    /// Requests sent, by kind: ping, find_node, find_value, store, add_provider, get_providers.
    pub requests_by_kind: [u64; 6],
}

/// `a / b`, and 0 when nothing was measured: an empty run must not read as a perfect one.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl Metrics {
    /// Found lookups / lookups.
    pub fn lookup_success(&self) -> f64 {
        ratio(self.lookups_found, self.lookups)
    }

    /// Gets that returned the newest record / gets.
    pub fn record_get_success(&self) -> f64 {
        ratio(self.gets_newest, self.gets)
    }

    /// Records whose newest version a get found at the end / records.
    pub fn records_retrievable(&self) -> f64 {
        ratio(self.final_newest, self.final_gets)
    }

    /// The figures, one `(name, value)` each, in the order printed.
    pub fn figures(&self) -> Vec<(String, String)> {
        let f = |name: &str, v: String| (name.to_string(), v);
        vec![
            f("lookups", self.lookups.to_string()),
            f("lookup_success", format!("{:.5}", self.lookup_success())),
            f("lookups_target_left", self.lookups_target_left.to_string()),
            f(
                "lookup_rounds_p50",
                format!("{}", percentile(&self.lookup_rounds, 0.5)),
            ),
            f(
                "lookup_rounds_p90",
                format!("{}", percentile(&self.lookup_rounds, 0.9)),
            ),
            f(
                "lookup_rounds_p99",
                format!("{}", percentile(&self.lookup_rounds, 0.99)),
            ),
            f(
                "lookup_ms_p50",
                format!("{:.0}", percentile(&self.lookup_ms, 0.5)),
            ),
            f(
                "lookup_ms_p99",
                format!("{:.0}", percentile(&self.lookup_ms, 0.99)),
            ),
            f("msgs_per_lookup", format!("{:.1}", mean(&self.lookup_msgs))),
            f(
                "bytes_per_lookup",
                format!("{:.0}", mean(&self.lookup_bytes)),
            ),
            f("record_gets", self.gets.to_string()),
            f(
                "record_get_success",
                format!("{:.5}", self.record_get_success()),
            ),
            f(
                "record_get_ms_p50",
                format!("{:.0}", percentile(&self.get_ms, 0.5)),
            ),
            f("puts", self.puts.to_string()),
            f(
                "put_ms_p50",
                format!("{:.0}", percentile(&self.put_ms, 0.5)),
            ),
            f(
                "put_stored_p50",
                format!("{}", percentile(&self.put_stored, 0.5)),
            ),
            f("records_checked", self.final_gets.to_string()),
            f(
                "records_retrievable_after_churn",
                format!("{:.5}", self.records_retrievable()),
            ),
            f("gets_missed_older", self.gets_older.to_string()),
            f("gets_missed_none", self.gets_none.to_string()),
            f(
                "final_missed_held_by",
                format!(
                    "{:?}",
                    self.missed_held_by.iter().take(20).collect::<Vec<_>>()
                ),
            ),
            f(
                "honest_tables_mostly_adversaries",
                self.honest_tables_mostly_adversaries.to_string(),
            ),
            f("not_started", self.not_started.to_string()),
            f("origin_left", self.origin_left.to_string()),
            f("unpublished", self.unpublished.to_string()),
            f("joins", self.joins.to_string()),
            f("leaves", self.leaves.to_string()),
            f("messages", self.messages.to_string()),
            f("megabytes", format!("{:.1}", self.bytes as f64 / 1e6)),
            f("requests_ping", self.requests_by_kind[0].to_string()),
            f("requests_find_node", self.requests_by_kind[1].to_string()),
            f("requests_find_value", self.requests_by_kind[2].to_string()),
            f("requests_store", self.requests_by_kind[3].to_string()),
            f("requests_refresh", self.refresh_requests.to_string()),
            f(
                "bootstrap_requests_mean",
                format!("{:.1}", mean(&self.bootstrap_requests)),
            ),
            f(
                "bootstrap_requests_p99",
                format!("{}", percentile(&self.bootstrap_requests, 0.99)),
            ),
            f("requests_republish", self.republish_requests.to_string()),
            f("requests_queries", self.query_requests.to_string()),
            f(
                "virtual_hours",
                format!("{:.2}", self.virtual_secs / 3600.0),
            ),
        ]
    }
}
