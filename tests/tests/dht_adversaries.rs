//! A DHT of 1,000 nodes of which 20 % lie: they drop requests, name only each other (an eclipse of
//! every key they are asked about), serve the stale version of records, or forge them. Record gets
//! on disjoint paths still return the newest valid version, and no honest node's table is taken
//! over by liars.

use gofast_tests::dht_sim::{SimConfig, failure_report, run, scenario_seed};

#[test]
fn gets_return_the_newest_record_despite_liars() {
    let mut config = SimConfig::new(1000, scenario_seed(13));
    config.adversaries = 0.2;
    config.gets = 400;
    let m = run(&config);
    let report = failure_report("dht_adversaries", &config, &m);
    assert!(m.gets >= 390, "{report}");
    assert!(m.record_get_success() >= 0.99, "{report}");
    // Joins on disjoint paths: no honest node ends up knowing mostly liars (joining on one path,
    // 7 of this run's 800 honest nodes did, and failed every get they made).
    assert_eq!(m.honest_tables_mostly_adversaries, 0, "{report}");
}
