//! The sled store on disk: state, relationships, events, history, roll-ups,
//! retention and reopening.

use twin_core::state::SensorState;
use twin_core::store::{Bucket, Resolution, Retention, Store};
use twin_core::{
    EntityId, EntityRecord, Event, EventBody, Kind, KindState, Measurand, Observation, Relation,
    SimTime, Value,
};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), Retention::default()).unwrap()
}

/// The temperature roll-ups of `id` over [from, to).
fn rollups(store: &Store, id: EntityId, from: SimTime, to: SimTime, r: Resolution) -> Vec<Bucket> {
    store
        .rollup_history(id, Measurand::Temperature, from, to, r)
        .unwrap()
}

fn temp(id: EntityId, t: SimTime, v: f64) -> Observation {
    Observation::number(id, t, Measurand::Temperature, v)
}

#[test]
fn state_names_and_relationships_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let machine = EntityId::new(Kind::Machine, "s-press-07");
    let site = EntityId::new(Kind::Zone, "s-site");
    let sensor = EntityRecord::new(Kind::Sensor, "s-vib-1", "vibration")
        .with_state(KindState::Sensor(SensorState::measuring(
            &[Measurand::VibrationRms],
            SimTime::secs(1),
        )))
        .with_relation(Relation::AttachedTo(machine))
        .with_tag("line-2");
    {
        let store = open(&dir);
        let m = EntityRecord::new(Kind::Machine, "s-press-07", "press")
            .with_relation(Relation::LiesIn(site));
        store.put_states([&sensor, &m]).unwrap();
        store
            .put_relations(sensor.id(), sensor.common.relations())
            .unwrap();
        store.put_relations(m.id(), m.common.relations()).unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    assert_eq!(
        store.get_state(sensor.id()).unwrap().as_ref(),
        Some(&sensor)
    );
    assert_eq!(
        store.name_of(machine).unwrap().as_deref(),
        Some("s-press-07")
    );
    let sensors: Vec<_> = store
        .states(Some(Kind::Sensor))
        .map(Result::unwrap)
        .collect();
    assert_eq!(sensors.len(), 1);
    assert_eq!(
        store.relations_from(sensor.id()).unwrap(),
        [Relation::AttachedTo(machine)]
    );
    assert_eq!(
        store.relations_to(machine).unwrap(),
        [(sensor.id(), Relation::AttachedTo(machine))]
    );
    assert_eq!(
        store.relations_to(site).unwrap(),
        [(machine, Relation::LiesIn(site))]
    );
    assert!(
        store
            .get_state(EntityId::new(Kind::Zone, "s-nothing"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn event_log_is_ordered_by_time_then_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let e = EntityId::new(Kind::Zone, "s-z");
    let ev = |t: i64| Event {
        time: SimTime::secs(t),
        entity: e,
        body: EventBody::Created,
    };
    store.append_events(&[ev(5), ev(1)]).unwrap();
    store.append_events(&[ev(3), ev(5)]).unwrap();
    let times: Vec<i64> = store
        .events(SimTime::ZERO, SimTime::secs(10), 100)
        .unwrap()
        .iter()
        .map(|e| e.time.as_ms() / 1000)
        .collect();
    assert_eq!(times, [1, 3, 5, 5]);
    assert_eq!(
        store
            .events(SimTime::secs(2), SimTime::secs(5), 100)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.event_count(), 4);
}

#[test]
fn raw_history_round_trips_in_order_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = EntityId::new(Kind::Sensor, "s-h1");
    let other = EntityId::new(Kind::Sensor, "s-h2");
    let mut batch: Vec<Observation> = (0..10)
        .rev()
        .map(|i| temp(id, SimTime::secs(i * 60), i as f64))
        .collect();
    batch.push(temp(other, SimTime::secs(60), 100.0));
    store.write_history(&batch).unwrap();
    store.write_history(&batch[..3]).unwrap(); // redelivered: same identity
    let s = store
        .raw_history(
            id,
            Measurand::Temperature,
            SimTime::secs(60),
            SimTime::secs(300),
        )
        .unwrap();
    let values: Vec<f64> = s.iter().map(|s| s.value.as_f64().unwrap()).collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
    let pos = EntityId::new(Kind::Vehicle, "s-bus");
    let p = Observation::number(pos, SimTime::secs(1), Measurand::Position, 0.0).with_value(
        Value::Point {
            lon: 2.3,
            lat: 48.8,
        },
    );
    store.write_history([&p]).unwrap();
    let back = store
        .raw_history(pos, Measurand::Position, SimTime::ZERO, SimTime::secs(2))
        .unwrap();
    assert_eq!(back[0].value, p.value);
}

/// Two hours of one-minute samples whose values are the minute index.
fn two_hours(store: &Store, id: EntityId) {
    let batch: Vec<Observation> = (0..120)
        .map(|m| temp(id, SimTime::minutes(m), m as f64))
        .collect();
    for chunk in batch.chunks(7) {
        store.write_history(chunk).unwrap();
    }
}

#[test]
fn rollups_have_exact_values_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = EntityId::new(Kind::Sensor, "s-r1");
    two_hours(&store, id);
    let check = |store: &Store| {
        let five = rollups(
            store,
            id,
            SimTime::ZERO,
            SimTime::hours(2),
            Resolution::FiveMinutes,
        );
        assert_eq!(five.len(), 24);
        let b = five[3]; // minutes 15..20
        assert_eq!(
            (b.start, b.count, b.min, b.max, b.mean),
            (SimTime::minutes(15), 5, 15.0, 19.0, 17.0)
        );
        let hours = rollups(
            store,
            id,
            SimTime::ZERO,
            SimTime::hours(2),
            Resolution::Hourly,
        );
        assert_eq!(hours.len(), 2);
        assert_eq!(
            (hours[1].count, hours[1].min, hours[1].max, hours[1].mean),
            (60, 60.0, 119.0, 89.5)
        );
    };
    check(&store); // computed from raw samples
    let report = store
        .compact(SimTime::hours(2) + SimTime::minutes(1))
        .unwrap();
    assert_eq!(report.hours_rolled_up, 2);
    assert_eq!(report.samples_rolled_up, 120);
    assert!(report.wal_blocks_removed > 0, "sealed data leaves the log");
    assert_eq!(store.open_series(), 0);
    check(&store); // read from stored roll-ups
    // Late data for a compacted hour is rolled up again at the next compaction.
    store
        .write_history([&temp(id, SimTime::minutes(16) + SimTime::secs(30), 1000.0)])
        .unwrap();
    store
        .compact(SimTime::hours(2) + SimTime::minutes(2))
        .unwrap();
    let five = rollups(
        &store,
        id,
        SimTime::minutes(15),
        SimTime::minutes(20),
        Resolution::FiveMinutes,
    );
    assert_eq!((five[0].count, five[0].max), (6, 1000.0));
}

#[test]
fn retention_drops_raw_data_first_and_rollups_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        Retention {
            raw: SimTime::hours(3),
            rollups: SimTime::days(2),
        },
    )
    .unwrap();
    let id = EntityId::new(Kind::Sensor, "s-ret");
    two_hours(&store, id);
    store.compact(SimTime::hours(4)).unwrap();
    // Hour 0 is past raw retention at 4 h, hour 1 is not.
    let raw = store
        .raw_history(id, Measurand::Temperature, SimTime::ZERO, SimTime::hours(2))
        .unwrap();
    assert_eq!(raw.len(), 60);
    assert_eq!(raw[0].time, SimTime::hours(1));
    let hourly = |store: &Store| {
        rollups(
            store,
            id,
            SimTime::ZERO,
            SimTime::hours(2),
            Resolution::Hourly,
        )
    };
    assert_eq!(hourly(&store).len(), 2, "roll-ups outlive raw data");
    let report = store.compact(SimTime::days(3)).unwrap();
    assert_eq!(report.rollups_removed, 2 + 24);
    assert!(hourly(&store).is_empty());
    assert!(
        store
            .raw_history(id, Measurand::Temperature, SimTime::ZERO, SimTime::hours(2))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn unsealed_history_is_replayed_from_the_log_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = EntityId::new(Kind::Sensor, "s-wal");
    {
        let store = open(&dir);
        store
            .write_history(
                (0..50)
                    .map(|i| temp(id, SimTime::secs(i), i as f64))
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .unwrap();
        assert!(store.open_series() > 0);
        store.flush().unwrap();
    }
    let store = open(&dir);
    let s = store
        .raw_history(id, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
        .unwrap();
    assert_eq!(s.len(), 50);
    assert_eq!(s[49].value, Value::Number(49.0));
}
