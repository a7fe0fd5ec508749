//! Compaction's memory does not follow the hour's volume.
//!
//! A child process (this test binary again, selected by an environment
//! variable) writes one hour of many series, resets its peak resident size,
//! compacts the hour and prints how far the peak rose. Compaction that held
//! the hour in memory (as it once did: every sample of the hour in one map)
//! rises by over 100 MB here; streaming one series at a time stays within a
//! few MB plus the engine's caches.

use std::process::Command;

use twin_core::memory::{peak_rss_bytes, reset_peak_rss, rss_bytes};
use twin_core::store::{EngineKind, Options, Retention, Store};
use twin_core::{EntityId, Kind, Measurand, Observation, SimTime};

const CHILD: &str = "TWIN_COMPACTION_MEMORY_CHILD";
const SERIES: usize = 600;
/// Peak growth allowed while compacting the hour.
const LIMIT_MB: f64 = 40.0;

fn child(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        engine: Some(engine),
        retention: Retention::default(),
    };
    let store = Store::open_with(dir.path(), options).unwrap();
    let ids: Vec<EntityId> = (0..SERIES)
        .map(|i| EntityId::new(Kind::Sensor, &format!("mem-{i}")))
        .collect();
    let mut batch = Vec::with_capacity(SERIES);
    for s in 0..3600 {
        batch.clear();
        batch.extend(ids.iter().enumerate().map(|(i, id)| {
            let x = 20.0 + ((s * 31 + i * 7) % 97) as f64 * 0.01;
            Observation::number(*id, SimTime::secs(s as i64), Measurand::Temperature, x)
        }));
        store.write_history(&batch).unwrap();
    }
    store.flush().unwrap();
    assert!(reset_peak_rss(), "the kernel resets the peak resident size");
    let before = rss_bytes();
    let report = store.compact(SimTime::hours(1)).unwrap();
    let peak = peak_rss_bytes();
    assert_eq!(report.samples_rolled_up, (SERIES * 3600) as u64);
    println!("rise_mb {:.1}", peak.saturating_sub(before) as f64 / 1e6);
}

#[test]
fn compacting_an_hour_of_two_million_samples_stays_within_a_bound() {
    if let Ok(engine) = std::env::var(CHILD) {
        child(engine.parse().unwrap());
        return;
    }
    for engine in EngineKind::ALL {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "compacting_an_hour_of_two_million_samples_stays_within_a_bound",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, engine.name())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{engine}: child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rise: f64 = text
            .lines()
            .find_map(|l| Some(l.split_once("rise_mb ")?.1.trim()))
            .unwrap_or_else(|| panic!("{engine}: no reading in {text}"))
            .parse()
            .unwrap();
        assert!(
            rise < LIMIT_MB,
            "{engine}: compaction raised the peak by {rise} MB (limit {LIMIT_MB})"
        );
        println!("{engine}: compaction raised the peak by {rise:.1} MB");
    }
}
