//! A DHT of 300 nodes under the IPFS churn profile (half of the nodes gone within two hours, each
//! replaced by a newcomer) for six virtual hours: lookups keep succeeding, and every record stays
//! retrievable although most of the nodes that first stored it are gone.

use gofast_tests::dht_sim::{SimConfig, failure_report, run, scenario_seed};

#[test]
fn lookups_and_records_survive_churn() {
    let mut config = SimConfig::new(300, scenario_seed(12));
    config.churn = true;
    config.hours = 6.0;
    config.lookups = 600;
    config.gets = 300;
    let m = run(&config);
    let report = failure_report("dht_churn", &config, &m);
    // Most of the starting nodes left: the run did churn.
    assert!(m.leaves >= 300, "{report}");
    assert!(m.lookup_success() >= 0.99, "{report}");
    assert_eq!(m.records_retrievable(), 1.0, "{report}");
}
