//! A DHT of 300 nodes without churn or adversaries: every peer lookup finds its target within a few
//! rounds, every record put can be got back. (`dht-sim` runs the 1,000- and 10,000-node versions.)

use gofast_tests::dht_sim::{SimConfig, failure_report, percentile, run, scenario_seed};

#[test]
fn every_lookup_and_every_get_succeeds() {
    let mut config = SimConfig::new(300, scenario_seed(11));
    config.lookups = 300;
    config.gets = 300;
    let m = run(&config);
    let report = failure_report("dht_steady", &config, &m);
    assert!(m.lookups >= 290, "{report}");
    assert_eq!(m.lookup_success(), 1.0, "{report}");
    assert!(percentile(&m.lookup_rounds, 0.9) <= 4.0, "{report}");
    assert_eq!(m.record_get_success(), 1.0, "{report}");
    assert_eq!(m.records_retrievable(), 1.0, "{report}");
    assert!(
        percentile(&m.put_stored, 0.5) >= 20.0,
        "puts reach k storers\n{report}"
    );
}
