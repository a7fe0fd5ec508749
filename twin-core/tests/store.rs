//! The store on disk, on each engine: state, relationships, events, history,
//! roll-ups, retention, counters, reopening, and what callers see when the
//! engine fails or stalls.

use std::sync::Arc;
use std::time::Duration;

use twin_core::state::SensorState;
use twin_core::store::engine::{self, gate::Gate};
use twin_core::store::{Bucket, EngineKind, EventPos, Options, Resolution, Retention, Store};
use twin_core::{
    EntityId, EntityRecord, Event, EventBody, Kind, KindState, Measurand, Observation, Relation,
    SimTime, Value,
};

fn open_with(dir: &tempfile::TempDir, engine: EngineKind, retention: Retention) -> Store {
    let options = Options {
        engine: Some(engine),
        retention,
    };
    Store::open_with(dir.path(), options).unwrap()
}

fn open(dir: &tempfile::TempDir, engine: EngineKind) -> Store {
    open_with(dir, engine, Retention::default())
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

/// Runs each named test function once per engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sled {
            $(#[test] fn $name() { super::$name(twin_core::store::EngineKind::Sled) })*
        }
        mod fjall {
            $(#[test] fn $name() { super::$name(twin_core::store::EngineKind::Fjall) })*
        }
    };
}

on_both_engines!(
    the_alert_index_follows_the_stored_states,
    the_journal_keeps_batches_until_a_checkpoint_passes_them,
    state_names_and_relationships_round_trip,
    event_log_is_ordered_by_time_then_sequence,
    events_are_read_up_to_the_limit_and_dropped_past_retention,
    the_entity_counter_follows_creates_rewrites_and_restarts,
    raw_history_round_trips_in_order_without_duplicates,
    rollups_have_exact_values_before_and_after_compaction,
    compaction_repacks_an_hour_into_one_chunk_per_series,
    retention_drops_raw_data_first_and_rollups_later,
    unsealed_history_is_replayed_from_the_log_on_reopen,
    a_read_error_reaches_the_caller,
    a_held_write_shows_as_a_stall,
    a_read_over_the_whole_time_range_costs_what_is_stored,
    history_pages_join_up_across_chunks_heads_and_rollups,
    event_pages_join_up_and_each_looks_at_a_bounded_part_of_the_log,
);

fn state_names_and_relationships_round_trip(engine: EngineKind) {
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
        let store = open(&dir, engine);
        let m = EntityRecord::new(Kind::Machine, "s-press-07", "press")
            .with_relation(Relation::LiesIn(site));
        store.put_states([&sensor, &m]).unwrap();
        store
            .put_relations(sensor.id(), sensor.common.relations())
            .unwrap();
        store.put_relations(m.id(), m.common.relations()).unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir, engine);
    assert_eq!(store.engine_kind(), engine);
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

fn event(e: EntityId, t: SimTime) -> Event {
    Event {
        time: t,
        entity: e,
        body: EventBody::Created,
    }
}

fn event_log_is_ordered_by_time_then_sequence(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let e = EntityId::new(Kind::Zone, "s-z");
    let ev = |t: i64| event(e, SimTime::secs(t));
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

/// Three days of one event a minute; a 1-day event retention.
fn events_are_read_up_to_the_limit_and_dropped_past_retention(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let retention = Retention {
        events: SimTime::days(1),
        ..Retention::default()
    };
    let e = EntityId::new(Kind::Zone, "s-ev");
    let minutes = 3 * 24 * 60;
    {
        let store = open_with(&dir, engine, retention);
        let all: Vec<Event> = (0..minutes)
            .map(|m| event(e, SimTime::minutes(m)))
            .collect();
        for chunk in all.chunks(500) {
            store.append_events(chunk).unwrap();
        }
        assert_eq!(store.event_count(), minutes as usize);
        let page = store
            .events(SimTime::hours(10), SimTime::days(3), 25)
            .unwrap();
        assert_eq!(page.len(), 25);
        assert_eq!(page[0].time, SimTime::hours(10));
        assert_eq!(page[24].time, SimTime::hours(10) + SimTime::minutes(24));
        assert!(
            store
                .events(SimTime::days(3), SimTime::days(2), 10)
                .unwrap()
                .is_empty()
        );
        let report = store.compact(SimTime::days(3)).unwrap();
        assert_eq!(report.events_removed, 2 * 24 * 60);
        assert_eq!(store.event_count(), 24 * 60);
    }
    let store = open_with(&dir, engine, retention);
    assert_eq!(store.event_count(), 24 * 60, "the count survives a reopen");
    let left = store
        .events(SimTime::ZERO, SimTime::days(4), usize::MAX)
        .unwrap();
    assert_eq!(left.len(), 24 * 60);
    assert_eq!(left[0].time, SimTime::days(2));
    // New events are numbered after the old ones, not over them.
    store.append_events(&[event(e, SimTime::days(2))]).unwrap();
    let at_two = store
        .events(SimTime::days(2), SimTime::days(2) + SimTime(1), 10)
        .unwrap();
    assert_eq!(at_two.len(), 2);
}

fn the_entity_counter_follows_creates_rewrites_and_restarts(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let rec = |i: usize| EntityRecord::new(Kind::Sensor, &format!("s-count-{i}"), "probe");
    {
        let store = open(&dir, engine);
        assert_eq!(store.state_count(), 0);
        let first: Vec<EntityRecord> = (0..10).map(rec).collect();
        store.put_states(&first).unwrap();
        assert_eq!(store.state_count(), 10);
        // Passivating the same entities again (and five new ones) adds five.
        let again: Vec<EntityRecord> = (5..15).map(rec).collect();
        store.put_states(&again).unwrap();
        assert_eq!(store.state_count(), 15);
    }
    // A clean close keeps the count.
    let store = open(&dir, engine);
    assert_eq!(store.state_count(), 15);
    store.put_states([&rec(15)]).unwrap();
    store.flush().unwrap();
    // A crash (the store is never closed) is seen at the next open, which
    // counts again.
    std::mem::forget(store);
    let store = open_after_crash(&dir, engine);
    assert_eq!(store.state_count(), 16);
}

/// Opens a store whose handle was leaked in this process, as a crash would
/// leave it: sled holds a file lock for the leaked handle, so the directory
/// is copied first.
fn open_after_crash(dir: &tempfile::TempDir, engine: EngineKind) -> Store {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let store = open(&copy, engine);
    std::mem::forget(copy); // removed with the process's temporary files
    store
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" && entry.file_name() != ".lock" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn raw_history_round_trips_in_order_without_duplicates(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
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

/// A range of the whole `i64` (a hostile request) reads the stored hours
/// only: it once looked up every hour of the range, 2.5 billion of them.
fn a_read_over_the_whole_time_range_costs_what_is_stored(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let id = EntityId::new(Kind::Sensor, "s-wide");
    two_hours(&store, id);
    let (all_from, all_to) = (SimTime(i64::MIN), SimTime(i64::MAX));
    let m = Measurand::Temperature;
    assert_eq!(
        store.raw_history(id, m, all_from, all_to).unwrap().len(),
        120
    );
    store.compact(SimTime::hours(3)).unwrap();
    assert_eq!(
        store.raw_history(id, m, all_from, all_to).unwrap().len(),
        120
    );
    let hourly = rollups(&store, id, all_from, all_to, Resolution::Hourly);
    assert_eq!(hourly.iter().map(|b| b.count).sum::<u64>(), 120);
    let none = EntityId::new(Kind::Sensor, "s-none");
    assert!(
        store
            .raw_history(none, m, all_from, all_to)
            .unwrap()
            .is_empty()
    );
}

/// Pages of history, raw and rolled up, before and after compaction, join
/// up to what one unbounded read returns: nothing repeated or skipped.
fn history_pages_join_up_across_chunks_heads_and_rollups(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let id = EntityId::new(Kind::Sensor, "s-paged");
    two_hours(&store, id);
    let m = Measurand::Temperature;
    let (from, to) = (SimTime::ZERO, SimTime::hours(3));
    for compacted in [false, true] {
        if compacted {
            store.compact(SimTime::hours(3)).unwrap();
        }
        let whole = store.raw_history(id, m, from, to).unwrap();
        assert_eq!(whole.len(), 120);
        let (mut joined, mut at) = (Vec::new(), from);
        loop {
            let (page, next) = store.raw_history_page(id, m, at, to, 50).unwrap();
            assert!(page.len() <= 50);
            joined.extend(page);
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        assert_eq!(joined, whole, "compacted: {compacted}");
        let whole = rollups(&store, id, from, to, Resolution::FiveMinutes);
        assert_eq!(whole.len(), 24);
        let (mut joined, mut at) = (Vec::new(), from);
        loop {
            let (page, next) = store
                .rollup_history_page(id, m, at, to, Resolution::FiveMinutes, 7)
                .unwrap();
            assert!(page.len() <= 7);
            joined.extend(page);
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        assert_eq!(joined, whole, "compacted: {compacted}");
    }
}

/// Event pages of a filtered log join up exactly, and a page looks at no
/// more events than its budget, however few it keeps.
fn event_pages_join_up_and_each_looks_at_a_bounded_part_of_the_log(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let (a, b) = (
        EntityId::new(Kind::Sensor, "e-a"),
        EntityId::new(Kind::Sensor, "e-b"),
    );
    let events: Vec<Event> = (0..100)
        .map(|i| {
            let who = if i % 10 == 0 { a } else { b };
            event(who, SimTime::secs(i / 3))
        })
        .collect();
    store.append_events(&events).unwrap();
    let only_a = |e: &Event| e.entity == a;
    let (mut joined, mut at, mut calls) = (Vec::new(), EventPos::at(SimTime::ZERO), 0);
    loop {
        let (page, next) = store
            .events_page(at, SimTime(i64::MAX), 3, 25, only_a)
            .unwrap();
        calls += 1;
        assert!(page.len() <= 3);
        joined.extend(page);
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    assert_eq!(joined.len(), 10);
    assert!(joined.iter().all(only_a));
    let times: Vec<SimTime> = joined.iter().map(|e| e.time).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // 100 events looked at 25 at a time: at least four calls.
    assert!(calls >= 4, "{calls}");
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

fn rollups_have_exact_values_before_and_after_compaction(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
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
    let raw = store
        .raw_history(id, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
        .unwrap();
    assert_eq!(raw.len(), 61, "the late sample joined the repacked hour");
}

/// An hour written as many small chunks (one sample per write, three
/// writes of each batch) is one chunk per series after compaction, with
/// every sample once, and takes far less room.
fn compaction_repacks_an_hour_into_one_chunk_per_series(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let ids: Vec<EntityId> = (0..4)
        .map(|i| EntityId::new(Kind::Sensor, &format!("s-pack-{i}")))
        .collect();
    for s in 0..3600 {
        let batch: Vec<Observation> = ids
            .iter()
            .map(|id| temp(*id, SimTime::secs(s), 20.0 + (s % 17) as f64 * 0.1))
            .collect();
        store.write_history(&batch).unwrap();
        if s % 1000 == 0 {
            store.write_history(&batch).unwrap(); // a redelivery
        }
    }
    let report = store.compact(SimTime::hours(1)).unwrap();
    assert_eq!(report.samples_rolled_up, 4 * 3600);
    assert!(report.chunks_repacked > 4 * 10, "{report:?}");
    let again = store.compact(SimTime::hours(1)).unwrap();
    assert_eq!(again.chunks_repacked, 0, "a packed hour is left alone");
    for id in &ids {
        let raw = store
            .raw_history(
                *id,
                Measurand::Temperature,
                SimTime::ZERO,
                SimTime::hours(1),
            )
            .unwrap();
        assert_eq!(raw.len(), 3600);
        assert!(raw.windows(2).all(|w| w[0].time < w[1].time));
        assert_eq!(raw[17].value, Value::Number(20.0));
    }
}

fn retention_drops_raw_data_first_and_rollups_later(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(
        &dir,
        engine,
        Retention {
            raw: SimTime::hours(3),
            rollups: SimTime::days(2),
            events: SimTime::days(30),
        },
    );
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

fn unsealed_history_is_replayed_from_the_log_on_reopen(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let id = EntityId::new(Kind::Sensor, "s-wal");
    {
        let store = open(&dir, engine);
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
    let store = open(&dir, engine);
    let s = store
        .raw_history(id, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
        .unwrap();
    assert_eq!(s.len(), 50);
    assert_eq!(s[49].value, Value::Number(49.0));
}

fn gated(engine: EngineKind) -> (Store, engine::gate::GateControl) {
    let (gate, control) = Gate::new(engine::temporary(engine).unwrap());
    (
        Store::on(Arc::new(gate), Retention::default()).unwrap(),
        control,
    )
}

fn a_read_error_reaches_the_caller(engine: EngineKind) {
    let (store, control) = gated(engine);
    let rec = EntityRecord::new(Kind::Machine, "s-err", "press");
    store.put_states([&rec]).unwrap();
    control.fail_reads(true);
    let e = store.get_state(rec.id()).unwrap_err();
    assert!(e.to_string().contains("read of tree `state` failed"), "{e}");
    assert!(store.events(SimTime::ZERO, SimTime::days(1), 10).is_err());
    control.fail_reads(false);
    assert!(store.get_state(rec.id()).unwrap().is_some());
}

fn a_held_write_shows_as_a_stall(engine: EngineKind) {
    let (store, control) = gated(engine);
    let after = Duration::from_millis(300);
    assert_eq!(store.write_stall(after), None);
    control.hold_writes();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let rec = EntityRecord::new(Kind::Machine, "s-stall", "press");
            store.put_states([&rec]).unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(store.write_stall(after), None, "pending, not yet stalled");
    std::thread::sleep(Duration::from_millis(400));
    let stalled = store.write_stall(after).expect("a stall after 300 ms");
    assert!(stalled >= after);
    control.release();
    writer.join().unwrap();
    assert_eq!(store.write_stall(after), None);
}

/// A sensor whose temperature has been at `value` long enough to take its
/// alarm level (critical above 95 °C).
fn sensor_at(name: &str, value: f64) -> EntityRecord {
    let mut r = EntityRecord::new(Kind::Sensor, name, "pt100");
    let (mut events, mut commands) = (Vec::new(), Vec::new());
    let mut ctx = twin_core::state::Ctx::new(r.id(), SimTime::ZERO, &mut events, &mut commands);
    for k in 0..5 {
        let obs = temp(r.id(), SimTime::secs(k), value);
        let limits = r.common.limits(obs.measurand);
        r.common.readings.update(&obs, limits, &mut ctx);
    }
    r
}

fn alerting(store: &Store) -> Vec<EntityId> {
    store.alerting_after(None).map(Result::unwrap).collect()
}

fn the_alert_index_follows_the_stored_states(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let (hot, cool) = (sensor_at("idx-hot", 120.0), sensor_at("idx-cool", 20.0));
    assert_ne!(
        hot.common.readings.worst_level(),
        twin_core::state::AlarmLevel::Normal
    );
    store.put_states([&hot, &cool]).unwrap();
    assert_eq!(alerting(&store), [hot.id()]);
    assert_eq!(store.alerting_after(Some(hot.id())).count(), 0);
    // The hot one cools down and the cool one heats up.
    let (cooled, heated) = (sensor_at("idx-hot", 20.0), sensor_at("idx-cool", 120.0));
    store.put_states([&cooled, &heated]).unwrap();
    assert_eq!(alerting(&store), [heated.id()]);
    drop(store);
    let store = open(&dir, engine);
    assert_eq!(alerting(&store), [heated.id()], "after reopening");
}

fn the_journal_keeps_batches_until_a_checkpoint_passes_them(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, engine);
    let id = EntityId::new(Kind::Sensor, "journal-probe");
    assert_eq!(store.journal_last().unwrap(), None);
    assert_eq!(store.journal_applied().unwrap(), 0);
    for seq in 1..=5 {
        let batch: Vec<Observation> = (0..3)
            .map(|k| temp(id, SimTime::secs(seq * 10 + k), k as f64))
            .collect();
        store.journal_append(seq as u64, &batch, seq == 3).unwrap();
    }
    let after = |seq| -> Vec<u64> { store.journal_after(seq).map(|e| e.unwrap().seq).collect() };
    assert_eq!(after(0), [1, 2, 3, 4, 5]);
    let third = store.journal_after(2).next().unwrap().unwrap();
    assert_eq!(third.batch.len(), 3);
    assert_eq!(third.batch[2], temp(id, SimTime::secs(32), 2.0));
    assert_eq!(third.names, [(id, "journal-probe".to_string())]);
    let fourth = store.journal_after(3).next().unwrap().unwrap();
    assert!(fourth.names.is_empty());
    store.journal_checkpointed(3).unwrap();
    assert_eq!(after(0), [4, 5]);
    assert_eq!(store.journal_applied().unwrap(), 3);
    store.flush().unwrap();
    drop(store);
    let store = open(&dir, engine);
    assert_eq!(store.journal_last().unwrap(), Some(5));
    assert_eq!(store.journal_applied().unwrap(), 3);
}
