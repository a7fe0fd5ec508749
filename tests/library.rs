//! The library as another project's tests use it.

use twin::{RunScenario, Scenario, hours};

#[test]
fn a_run_is_the_same_whatever_the_workers_and_changes_with_the_seed() {
    let city = || Scenario::find("city").unwrap().with_scale(0.3);
    let one = city().run_with(hours(2), 1).unwrap();
    let two = city().run_with(hours(2), 2).unwrap();
    assert!(one.tally.observations > 10_000, "{:?}", one.tally);
    assert_eq!(one.events.len(), two.events.len());
    assert_eq!(one.event_log_hash, two.event_log_hash);
    let other = city().with_seed(9).run_with(hours(2), 2).unwrap();
    assert_ne!(one.event_log_hash, other.event_log_hash);
    // The truth is there to score against: every loop's road is known.
    assert!(one.truth.roads.iter().any(|r| r.sensor.is_some()));
    assert!(!one.truth.stations.is_empty());
}
