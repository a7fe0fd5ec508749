//! The runtime end to end: real shard actors on their own threads, a real sled
//! store on disk, the bus.

use futures::executor::block_on;
use rand::RngExt;
use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig, UnknownPolicy};
use twin_core::state::{
    InputError, MachineState, ParcelState, SensorState, VehicleMode, VehicleState, ZoneShape,
    ZoneState, ZoneType,
};
use twin_core::store::{Retention, Store};
use twin_core::{
    Action, Command, EntityId, EntityRecord, EventType, Kind, KindState, Measurand, Observation,
    Relation, SimTime, Value,
};

struct Setup {
    rt: Runtime,
    _dir: tempfile::TempDir,
}

fn start(config: RuntimeConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Retention::default()).unwrap();
    Setup {
        rt: Runtime::start(config, Some(store)).unwrap(),
        _dir: dir,
    }
}

fn config(workers: usize) -> RuntimeConfig {
    RuntimeConfig {
        workers,
        ..RuntimeConfig::default()
    }
}

fn thermometer(name: &str) -> EntityRecord {
    EntityRecord::new(Kind::Sensor, name, "temperature").with_state(KindState::Sensor(
        SensorState::measuring(&[Measurand::Temperature], SimTime::secs(10)),
    ))
}

fn temp(id: EntityId, t: i64, v: f64) -> Observation {
    Observation::number(id, SimTime::secs(t), Measurand::Temperature, v)
}

#[test]
fn an_acknowledged_batch_is_visible_at_once() {
    let s = start(config(2));
    let records: Vec<EntityRecord> = (0..100).map(|i| thermometer(&format!("rw-{i}"))).collect();
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    let r = block_on(s.rt.create(records, SimTime::ZERO)).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let batch: Vec<Observation> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| temp(*id, 5, i as f64))
        .collect();
    let r = block_on(s.rt.ingest(batch, false)).unwrap();
    assert_eq!((r.applied, r.errors.len()), (100, 0));
    for (i, id) in ids.iter().enumerate().step_by(9) {
        let rec = block_on(s.rt.get(*id)).unwrap().unwrap();
        assert_eq!(
            rec.common.readings.number(Measurand::Temperature),
            Some(i as f64)
        );
    }
    assert_eq!(block_on(s.rt.resident()).unwrap(), 100);
    let again = block_on(s.rt.create(vec![thermometer("rw-3")], SimTime::ZERO)).unwrap();
    assert!(matches!(
        again.errors[..],
        [(0, InputError::AlreadyExists(_))]
    ));
}

#[test]
fn one_bad_item_rejects_only_itself() {
    let s = start(RuntimeConfig {
        max_batch: 8,
        ..config(2)
    });
    let ok1 = thermometer("bad-a");
    let ok2 = thermometer("bad-b");
    let (a, b) = (ok1.id(), ok2.id());
    block_on(s.rt.create(vec![ok1, ok2], SimTime::ZERO)).unwrap();
    block_on(s.rt.ingest(vec![temp(b, 100, 20.0)], false)).unwrap();
    let batch = vec![
        temp(a, 10, 21.0),                                        // 0 ok
        temp(a, 11, f64::NAN),                                    // 1 NaN
        temp(EntityId::new(Kind::Sensor, "bad-nobody"), 10, 1.0), // 2 unknown
        temp(b, 50, 19.0),                                        // 3 older than 100
        temp(a, 12, 21.0).with_value(Value::text("warm")),        // 4 wrong type
        temp(a, 13, 22.5),                                        // 5 ok
    ];
    let r = block_on(s.rt.ingest(batch, false)).unwrap();
    let kinds: Vec<(usize, &str)> = r
        .errors
        .iter()
        .map(|(i, e)| {
            (
                *i,
                match e {
                    InputError::NotFinite { .. } => "nan",
                    InputError::UnknownEntity(_) => "unknown",
                    InputError::OutOfOrder { .. } => "order",
                    InputError::WrongType { .. } => "type",
                    other => panic!("unexpected {other}"),
                },
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [(1, "nan"), (2, "unknown"), (3, "order"), (4, "type")]
    );
    assert_eq!(r.applied, 2);
    let rec = block_on(s.rt.get(a)).unwrap().unwrap();
    assert_eq!(
        rec.common.readings.number(Measurand::Temperature),
        Some(22.5)
    );
    let rec = block_on(s.rt.get(b)).unwrap().unwrap();
    assert_eq!(
        rec.common.readings.number(Measurand::Temperature),
        Some(20.0),
        "late value not applied"
    );
    let store = s.rt.store().unwrap();
    let hist = store
        .raw_history(b, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
        .unwrap();
    assert_eq!(hist.len(), 2, "the late value is kept in history");
    let hist = store
        .raw_history(a, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
        .unwrap();
    assert_eq!(hist.len(), 2, "refused values are not");

    // An oversize batch is refused whole, naming the limit; nothing is applied.
    let big: Vec<Observation> = (0..9).map(|i| temp(a, 1000 + i, 30.0)).collect();
    let err = block_on(s.rt.ingest(big, false)).unwrap_err();
    assert!(
        err.to_string()
            .contains("batch of 9 items exceeds the limit of 8"),
        "{err}"
    );
    let rec = block_on(s.rt.get(a)).unwrap().unwrap();
    assert_eq!(
        rec.common.readings.number(Measurand::Temperature),
        Some(22.5)
    );
}

#[test]
fn the_create_policy_admits_unknown_entities() {
    let s = start(RuntimeConfig {
        unknown: UnknownPolicy::Create,
        ..config(2)
    });
    let mut sub = s.rt.bus().subscribe(Filter {
        types: vec![EventType::Created],
        ..Filter::default()
    });
    let id = EntityId::new(Kind::Sensor, "auto-1");
    let r = block_on(s.rt.ingest(vec![temp(id, 1, 12.0)], false)).unwrap();
    assert_eq!(r.applied, 1);
    let rec = block_on(s.rt.get(id)).unwrap().unwrap();
    assert_eq!(rec.name, "auto-1");
    match sub.try_recv() {
        Some(Delivery::Events(f)) => assert_eq!(f.count(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_entities_are_passivated_and_reactivated_with_their_state() {
    let s = start(RuntimeConfig {
        passivate_after: Some(SimTime::hours(1)),
        ..config(2)
    });
    let records: Vec<EntityRecord> = (0..10).map(|i| thermometer(&format!("pv-{i}"))).collect();
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    block_on(s.rt.create(records, SimTime::ZERO)).unwrap();
    block_on(s.rt.ingest(ids.iter().map(|id| temp(*id, 60, 30.0)).collect(), false)).unwrap();
    // Half of them stay busy.
    block_on(s.rt.ingest(
        ids[..5].iter().map(|id| temp(*id, 7000, 31.0)).collect(),
        false,
    ))
    .unwrap();
    block_on(s.rt.tick(SimTime::secs(7200))).unwrap();
    assert_eq!(block_on(s.rt.resident()).unwrap(), 5);
    let store = s.rt.store().unwrap();
    let stored = store
        .get_state(ids[7])
        .unwrap()
        .expect("passivated to the store");
    assert_eq!(
        stored.common.readings.number(Measurand::Temperature),
        Some(30.0)
    );
    // A message activates it again, with its state.
    let r = block_on(s.rt.ingest(vec![temp(ids[7], 30, 5.0)], false)).unwrap();
    assert!(
        matches!(r.errors[..], [(0, InputError::OutOfOrder { .. })]),
        "state came back: {:?}",
        r.errors
    );
    assert_eq!(block_on(s.rt.resident()).unwrap(), 6);
}

/// The inputs of one simulated minute.
type Tick = (Vec<Observation>, Vec<Command>);

/// Two hours of input for every kind, drawn from a seeded stream.
fn mixed_world(seed: u64) -> (Vec<EntityRecord>, Vec<Tick>) {
    let mut rng = twin_core::rng::stream(seed, None, "lockstep-test");
    let site = EntityRecord::new(Kind::Zone, "ls-site", "site").with_state(KindState::Zone(
        ZoneState::new(
            ZoneType::AirQuality,
            ZoneShape::Circle {
                centre: geo::Point::new(2.35, 48.85),
                radius_m: 500.0,
            },
        ),
    ));
    let mut records = vec![site.clone()];
    for i in 0..8 {
        let m = EntityRecord::new(Kind::Machine, &format!("ls-m{i}"), "pump")
            .with_state(KindState::Machine(MachineState::default()))
            .with_relation(Relation::LiesIn(site.id()));
        let s = EntityRecord::new(Kind::Sensor, &format!("ls-s{i}"), "pm25")
            .with_state(KindState::Sensor(SensorState::measuring(
                &[Measurand::Pm25, Measurand::VibrationRms],
                SimTime::secs(60),
            )))
            .with_relation(Relation::AttachedTo(m.id()));
        let p = EntityRecord::new(Kind::Parcel, &format!("ls-p{i}"), "cocoa")
            .with_state(KindState::Parcel(ParcelState::default()));
        let v = EntityRecord::new(Kind::Vehicle, &format!("ls-v{i}"), "bus")
            .with_state(KindState::Vehicle(VehicleState::new(VehicleMode::Bus)));
        records.extend([m, s, p, v]);
    }
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    let mut ticks = Vec::new();
    for t in 0..120i64 {
        let time = SimTime::minutes(t);
        let mut obs = Vec::new();
        for _ in 0..30 {
            let id = ids[rng.random_range(0..ids.len())];
            let (m, v) = match id.kind() {
                Kind::Sensor => {
                    if rng.random_bool(0.5) {
                        (Measurand::Pm25, Value::Number(rng.random_range(0.0..80.0)))
                    } else {
                        (
                            Measurand::VibrationRms,
                            Value::Number(rng.random_range(0.0..15.0)),
                        )
                    }
                }
                Kind::Machine => (
                    Measurand::Status,
                    Value::text(["running", "idle", "down"][rng.random_range(0..3)]),
                ),
                Kind::Parcel => (Measurand::Ndvi, Value::Number(rng.random_range(0.1..0.9))),
                Kind::Vehicle => (
                    Measurand::Position,
                    Value::Point {
                        lon: 2.3 + rng.random::<f64>() / 10.0,
                        lat: 48.8,
                    },
                ),
                Kind::Zone => (Measurand::Aqi, Value::Number(rng.random_range(20.0..200.0))),
            };
            // Some observations arrive late, some are wrong: both deterministic.
            let jitter = if rng.random_bool(0.1) { -90_000 } else { 0 };
            obs.push(Observation::number(id, time + SimTime(jitter), m, 0.0).with_value(v));
        }
        let cmds = (0..2)
            .map(|_| {
                let id = ids[rng.random_range(0..ids.len())];
                Command {
                    entity: id,
                    time,
                    action: Action::SetDesired {
                        measurand: Measurand::PumpOn,
                        value: Value::Flag(rng.random_bool(0.5)),
                    },
                }
            })
            .collect();
        ticks.push((obs, cmds));
    }
    (records, ticks)
}

fn run_lockstep(workers: usize, seed: u64) -> (u64, u64) {
    let s = start(RuntimeConfig {
        lockstep: true,
        passivate_after: Some(SimTime::minutes(30)),
        ..config(workers)
    });
    let (records, ticks) = mixed_world(seed);
    block_on(async {
        s.rt.create(records, SimTime::ZERO).await.unwrap();
        for (t, (obs, cmds)) in ticks.into_iter().enumerate() {
            s.rt.ingest(obs, false).await.unwrap();
            s.rt.command(cmds).await.unwrap();
            s.rt.tick(SimTime::minutes(t as i64) + SimTime::secs(30))
                .await
                .unwrap();
        }
    });
    s.rt.event_log_hash()
}

#[test]
fn lockstep_gives_the_same_event_log_with_one_and_two_workers() {
    let one = run_lockstep(1, 7);
    let two = run_lockstep(2, 7);
    assert!(one.0 > 1000, "a real log: {} events", one.0);
    assert_eq!(one, two);
    assert_eq!(run_lockstep(3, 7), one);
    assert_ne!(run_lockstep(2, 8).1, one.1, "other inputs, other log");
}

#[test]
fn a_subscriber_that_never_reads_lags_and_never_slows_ingest() {
    let s = start(RuntimeConfig {
        bus_capacity: 4,
        ..config(2)
    });
    let records: Vec<EntityRecord> = (0..1000)
        .map(|i| thermometer(&format!("lag-{i}")))
        .collect();
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    block_on(s.rt.create(records, SimTime::ZERO)).unwrap();
    let mut sleeper = s.rt.bus().subscribe(Filter::all());
    let published_before = s.rt.bus().published();
    let mut applied = 0;
    for round in 0..50 {
        // Values change each round, so no sensor is judged stuck (which would
        // add status events).
        let batch = ids
            .iter()
            .map(|id| temp(*id, round + 1, 20.0 + round as f64 / 10.0))
            .collect();
        applied += block_on(s.rt.ingest(batch, false)).unwrap().applied;
    }
    assert_eq!(applied, 50_000, "ingest went on at full rate");
    let mut missed = 0;
    let mut received = 0;
    while let Some(d) = sleeper.try_recv() {
        match d {
            Delivery::Lagged { missed: m } => missed += m,
            Delivery::Events(f) => received += f.count() as u64,
            Delivery::Closed => break,
        }
    }
    assert!(missed > 0, "told it lagged");
    assert_eq!(
        missed + received,
        50_000,
        "every event is either received or counted as missed"
    );
    assert_eq!(s.rt.bus().published() - published_before, 50_000);
}

/// A durable batch is journaled, not written as states: after a stop
/// without a checkpoint (the runtime dropped, as a crash leaves it) the
/// next runtime on the store applies it again before anything else, once,
/// and a checkpoint then lets the journal go.
#[test]
fn a_durable_ingest_survives_a_stop_without_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Store::open(dir.path(), Retention::default()).unwrap();
    let passivating = RuntimeConfig {
        passivate_after: Some(SimTime::secs(10)),
        ..config(2)
    };
    let rt = Runtime::start(passivating, Some(open())).unwrap();
    let (a, b) = (thermometer("dur-a"), thermometer("dur-b"));
    let (ia, ib) = (a.id(), b.id());
    block_on(rt.create(vec![a, b], SimTime::ZERO)).unwrap();
    block_on(rt.ingest(vec![temp(ia, 9, 17.5), temp(ib, 9, 30.0)], true)).unwrap();
    block_on(rt.ingest(vec![temp(ib, 19, 31.0)], true)).unwrap();
    // a is passivated: its stored state reflects the first batch, which
    // the journal still holds.
    block_on(rt.tick(SimTime::secs(20))).unwrap();
    block_on(rt.ingest(vec![temp(ia, 29, 18.5)], true)).unwrap();
    let store = rt.store().unwrap().clone();
    let stored = |id| store.get_state(id).unwrap().unwrap();
    assert_eq!(
        stored(ia).common.readings.number(Measurand::Temperature),
        Some(17.5)
    );
    assert_eq!(
        stored(ib).common.readings.number(Measurand::Temperature),
        None,
        "states wait for a checkpoint"
    );
    assert_eq!(store.journal_after(0).count(), 3);
    drop(store);
    drop(rt);

    let rt = Runtime::start(config(1), Some(open())).unwrap();
    for (id, t, v) in [(ia, 29, 18.5), (ib, 19, 31.0)] {
        let r = block_on(rt.get(id)).unwrap().unwrap();
        let reading = r.common.readings.get(Measurand::Temperature).unwrap();
        assert_eq!(
            (reading.time, reading.value.as_f64()),
            (SimTime::secs(t), Some(v))
        );
    }
    let store = rt.store().unwrap();
    assert_eq!(
        store.journal_after(0).count(),
        0,
        "checkpointed after recovery"
    );
    assert!(store.journal_applied().unwrap() >= 3);
    // The history was stored with each batch, once.
    assert_eq!(
        store
            .raw_history(ia, Measurand::Temperature, SimTime::ZERO, SimTime::hours(1))
            .unwrap()
            .len(),
        2
    );
    block_on(rt.shutdown()).unwrap();
}

/// An entity a durable batch created (live feeds that announce devices by
/// sending data) comes back after a stop without checkpoint, name and all.
#[test]
fn an_entity_created_by_a_durable_batch_survives_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Store::open(dir.path(), Retention::default()).unwrap();
    let creating = || RuntimeConfig {
        unknown: UnknownPolicy::Create,
        ..config(2)
    };
    let rt = Runtime::start(creating(), Some(open())).unwrap();
    let id = EntityId::new(Kind::Sensor, "dur-announced");
    block_on(rt.ingest(vec![temp(id, 5, 21.0)], true)).unwrap();
    drop(rt);
    let rt = Runtime::start(creating(), Some(open())).unwrap();
    let r = block_on(rt.get(id))
        .unwrap()
        .expect("recreated from the journal");
    assert_eq!(r.name, "dur-announced");
    assert_eq!(r.common.readings.number(Measurand::Temperature), Some(21.0));
    block_on(rt.shutdown()).unwrap();
}

/// However rarely the caller checkpoints, the journal stays bounded: the
/// durable batch that crosses `checkpoint_every` checkpoints, and every
/// reading is still there after a stop without checkpoint.
#[test]
fn the_journal_stays_bounded_without_checkpoints_from_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Store::open(dir.path(), Retention::default()).unwrap();
    let every = |n| RuntimeConfig {
        checkpoint_every: n,
        ..config(2)
    };
    let rt = Runtime::start(every(50), Some(open())).unwrap();
    let recs: Vec<EntityRecord> = (0..10)
        .map(|i| thermometer(&format!("bound-{i}")))
        .collect();
    let ids: Vec<EntityId> = recs.iter().map(EntityRecord::id).collect();
    block_on(rt.create(recs, SimTime::ZERO)).unwrap();
    for b in 0..420 {
        let id = ids[b % ids.len()];
        block_on(rt.ingest(vec![temp(id, 10 + b as i64, 20.0)], true)).unwrap();
    }
    let store = rt.store().unwrap().clone();
    let held = store.journal_after(0).count();
    assert!(held <= 50, "{held} batches held in the journal");
    assert!(store.journal_applied().unwrap() >= 370);
    drop(store);
    drop(rt);
    let rt = Runtime::start(every(50), Some(open())).unwrap();
    for (k, id) in ids.iter().enumerate() {
        let last = (0..420).rev().find(|b| b % ids.len() == k).unwrap();
        let r = block_on(rt.get(*id)).unwrap().unwrap();
        let t = r.common.readings.get(Measurand::Temperature).unwrap().time;
        assert_eq!(t, SimTime::secs(10 + last as i64));
    }
    block_on(rt.shutdown()).unwrap();
}

#[test]
fn commands_set_desired_state_and_go_on_to_the_world() {
    let s = start(config(2));
    let site = EntityRecord::new(Kind::Zone, "cmd-site", "site");
    let pump = EntityRecord::new(Kind::Machine, "cmd-pump", "pump")
        .with_relation(Relation::LiesIn(site.id()));
    let probe = thermometer("cmd-t").with_relation(Relation::AttachedTo(pump.id()));
    let (site_id, pump_id, probe_id) = (site.id(), pump.id(), probe.id());
    block_on(s.rt.create(vec![site, pump, probe], SimTime::ZERO)).unwrap();
    let cmd = Command {
        entity: pump_id,
        time: SimTime::secs(5),
        action: Action::SetDesired {
            measurand: Measurand::PumpOn,
            value: Value::Flag(true),
        },
    };
    let bad = Command {
        entity: EntityId::new(Kind::Machine, "cmd-ghost"),
        ..cmd.clone()
    };
    let r = block_on(s.rt.command(vec![cmd.clone(), bad])).unwrap();
    assert_eq!(r.commands, [cmd]);
    assert!(matches!(r.errors[..], [(1, InputError::UnknownEntity(_))]));
    let rec = block_on(s.rt.get(pump_id)).unwrap().unwrap();
    let view = &rec.common.control_views()[0];
    assert_eq!(
        (view.desired.clone(), view.in_sync),
        (Value::Flag(true), false)
    );
    // Relationships are queryable both ways.
    let store = s.rt.store().unwrap();
    assert_eq!(
        store.relations_to(pump_id).unwrap(),
        [(probe_id, Relation::AttachedTo(pump_id))]
    );
    assert_eq!(
        store.relations_to(site_id).unwrap(),
        [(pump_id, Relation::LiesIn(site_id))]
    );
}

#[test]
fn an_event_is_published_only_once_its_sample_is_stored() {
    let s = start(config(2));
    let n = 20_000;
    let records: Vec<EntityRecord> = (0..n).map(|i| thermometer(&format!("ord-{i}"))).collect();
    let ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
    block_on(s.rt.create(records, SimTime::ZERO)).unwrap();
    let store = s.rt.store().unwrap().clone();
    let mut sub = s.rt.bus().subscribe(Filter {
        types: vec![EventType::StateChanged],
        ..Filter::default()
    });
    // The subscriber looks up the first sample of each delivery the moment it
    // arrives. Batches are large, so their history takes milliseconds to
    // write: an event published before its history would be caught.
    let checker = std::thread::spawn(move || {
        let (mut seen, mut checked, mut missing) = (0, 0, 0);
        while seen < 3 * n {
            match sub.blocking_recv() {
                Delivery::Events(f) => {
                    if let Some(e) = f.iter().next() {
                        let found = store
                            .raw_history(
                                e.entity,
                                Measurand::Temperature,
                                e.time,
                                e.time + SimTime(1),
                            )
                            .unwrap();
                        checked += 1;
                        missing += usize::from(found.is_empty());
                    }
                    seen += f.count();
                }
                Delivery::Lagged { missed } => panic!("lagged by {missed}"),
                Delivery::Closed => break,
            }
        }
        (checked, missing)
    });
    for round in 0..3 {
        let batch = ids
            .iter()
            .map(|id| temp(*id, round + 1, round as f64))
            .collect();
        block_on(s.rt.ingest(batch, false)).unwrap();
    }
    let (checked, missing) = checker.join().unwrap();
    assert_eq!(
        (checked, missing),
        (6, 0),
        "one delivery per shard per batch"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever is refused leaves the entity as it was: not its readings,
    /// not the time of its last update, not what a checkpoint saves.
    #[test]
    fn a_refused_input_changes_nothing(
        inputs in proptest::collection::vec(
            (0i64..2_000, 0usize..6, proptest::prelude::any::<u8>()),
            1..40,
        ),
    ) {
        let s = start(config(1));
        let rec = thermometer("refused");
        let id = rec.id();
        block_on(s.rt.create(vec![rec], SimTime::ZERO)).unwrap();
        block_on(s.rt.ingest(vec![temp(id, 1_000, 20.0)], false)).unwrap();
        let mut before = block_on(s.rt.get(id)).unwrap().unwrap();
        for (t, shape, x) in inputs {
            let value = match shape {
                0 => Value::Number(f64::NAN),
                1 => Value::Number(f64::INFINITY),
                // Out of range is left out: a sensor sending impossible
                // values is flagged `out_of_range` (a diagnosis of the
                // sensor, kept on purpose), though the value is refused.
                2 => Value::Number(f64::NEG_INFINITY),
                3 => Value::Text(format!("t{x}").into()),
                _ => Value::Number(15.0 + f64::from(x) / 10.0),
            };
            let measurand = if x % 7 == 0 { Measurand::Pm10 } else { Measurand::Temperature };
            let o = Observation {
                value,
                measurand,
                ..temp(id, t, 0.0)
            };
            let r = block_on(s.rt.ingest(vec![o], false)).unwrap();
            let after = block_on(s.rt.get(id)).unwrap().unwrap();
            if r.errors.is_empty() {
                before = after;
            } else {
                proptest::prop_assert_eq!(&after, &before, "refused: {:?}", r.errors);
            }
        }
    }
}

#[test]
fn a_sensors_reading_reaches_what_it_is_attached_to() {
    let s = start(config(2));
    let machine = EntityRecord::new(Kind::Machine, "att-m", "pump")
        .with_state(KindState::Machine(MachineState::default()));
    let m = machine.id();
    let sensor = EntityRecord::new(Kind::Sensor, "att-s", "accelerometer")
        .with_state(KindState::Sensor(SensorState::measuring(
            &[Measurand::VibrationRms, Measurand::Humidity],
            SimTime::secs(1),
        )))
        .with_relation(Relation::AttachedTo(m));
    let id = sensor.id();
    block_on(s.rt.create(vec![machine, sensor], SimTime::ZERO)).unwrap();
    let obs = |t, m, v| Observation::number(id, SimTime::secs(t), m, v);
    let r = block_on(s.rt.ingest(
        vec![
            obs(1, Measurand::VibrationRms, 2.5),
            obs(2, Measurand::VibrationRms, 3.5),
            // A machine has no humidity: the sensor keeps it, the caller
            // is not told of a refusal that is not theirs.
            obs(2, Measurand::Humidity, 40.0),
            obs(3, Measurand::Battery, 80.0),
        ],
        false,
    ))
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let rec = block_on(s.rt.get(m)).unwrap().unwrap();
    let vib = rec.common.readings.get(Measurand::VibrationRms).unwrap();
    assert_eq!(
        (vib.value.as_f64(), vib.time),
        (Some(3.5), SimTime::secs(2))
    );
    assert!(rec.common.readings.get(Measurand::Humidity).is_none());
    assert!(
        rec.common.readings.get(Measurand::Battery).is_none(),
        "a device's battery is its own"
    );
    // The history is the sensor's, not written twice.
    let store = s.rt.store().unwrap();
    let history = |e| {
        store
            .raw_history(e, Measurand::VibrationRms, SimTime::ZERO, SimTime::hours(1))
            .unwrap()
            .len()
    };
    assert_eq!((history(id), history(m)), (2, 0));
}
