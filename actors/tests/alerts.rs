//! Open alerts listed a page at a time from the entities that have one:
//! resident and passivated, across a restart, each exactly once, and an
//! alert that cleared no longer listed. Real shards, a real store on disk.

use futures::executor::block_on;
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::state::SensorState;
use twin_core::store::{Retention, Store};
use twin_core::{EntityId, EntityRecord, Kind, KindState, Measurand, Observation, SimTime};

const N: usize = 2_000;

fn thermometer(i: usize) -> EntityRecord {
    EntityRecord::new(Kind::Sensor, &format!("alerting-{i:04}"), "pt100").with_state(
        KindState::Sensor(SensorState::measuring(
            &[Measurand::Temperature],
            SimTime::secs(1),
        )),
    )
}

fn start(dir: &std::path::Path) -> Runtime {
    let store = Store::open(dir, Retention::default()).unwrap();
    Runtime::start(
        RuntimeConfig {
            workers: 2,
            passivate_after: Some(SimTime::hours(1)),
            ..RuntimeConfig::default()
        },
        Some(store),
    )
    .unwrap()
}

/// Every id with an open alert, a page of `size` at a time.
fn all_alerting(rt: &Runtime, size: usize) -> Vec<EntityId> {
    let (mut out, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = rt.alerts_page(after, size, &|_| true).unwrap();
        assert!(page.records.len() <= size);
        out.extend(page.records.iter().map(EntityRecord::id));
        pages += 1;
        assert!(pages < 1_000, "the cursor does not move on");
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn temperatures(ids: &[EntityId], from_s: i64, value: f64) -> Vec<Observation> {
    (0..4)
        .flat_map(|k| {
            ids.iter().map(move |id| {
                Observation::number(
                    *id,
                    SimTime::secs(from_s + k),
                    Measurand::Temperature,
                    value,
                )
            })
        })
        .collect()
}

#[test]
fn open_alerts_are_paged_from_memory_and_store_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = start(dir.path());
    let records: Vec<EntityRecord> = (0..N).map(thermometer).collect();
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    block_on(rt.create(records, SimTime::ZERO)).unwrap();
    // One in a hundred runs hot (above 95 °C, critical); the rest are fine.
    let hot: Vec<EntityId> = ids.iter().step_by(100).copied().collect();
    let cool: Vec<EntityId> = ids.iter().filter(|id| !hot.contains(id)).copied().collect();
    block_on(rt.ingest(temperatures(&cool, 1, 20.0), false)).unwrap();
    block_on(rt.ingest(temperatures(&hot, 1, 120.0), false)).unwrap();
    let mut expected = hot.clone();
    expected.sort();
    assert_eq!(all_alerting(&rt, 3), expected);

    // Half the hot ones report again later (they stay resident), the first
    // of them back to normal; then the idle ones are passivated.
    let later: Vec<EntityId> = hot.iter().step_by(2).copied().collect();
    block_on(rt.ingest(temperatures(&later[1..], 7_200, 120.0), false)).unwrap();
    block_on(rt.ingest(temperatures(&later[..1], 7_200, 20.0), false)).unwrap();
    block_on(rt.tick(SimTime::secs(9_000))).unwrap();
    assert_eq!(block_on(rt.resident()).unwrap(), later.len());
    expected.retain(|id| *id != later[0]);
    for size in [1, 3, 7, 500] {
        assert_eq!(all_alerting(&rt, size), expected, "pages of {size}");
    }

    // A filter that refuses some gives short pages, never a wrong one.
    let odd = |r: &EntityRecord| {
        let hundreds = r.name.as_bytes()[r.name.len() - 3];
        (hundreds - b'0') % 2 == 1
    };
    let (mut kept, mut after) = (Vec::new(), None);
    loop {
        let page = rt.alerts_page(after, 2, &odd).unwrap();
        kept.extend(page.records.iter().map(|r| r.name.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let wanted: Vec<String> = expected
        .iter()
        .map(|id| block_on(rt.get(*id)).unwrap().unwrap())
        .filter(|r| odd(r))
        .map(|r| r.name)
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(kept, wanted);

    block_on(rt.shutdown()).unwrap();
    let rt = start(dir.path());
    assert_eq!(all_alerting(&rt, 4), expected, "after a restart");
    block_on(rt.shutdown()).unwrap();
}
