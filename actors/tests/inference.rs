//! Inference models hosted by the runtime: derived readings with their
//! provenance, events and alerts, history, and model state that survives
//! passivation and a restart. Real shard actors, a real store on disk.

use futures::executor::block_on;
use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig};
use twin_core::state::{AlarmLevel, SensorState};
use twin_core::store::{Retention, Store};
use twin_core::{
    EntityId, EntityRecord, EventBody, Kind, KindState, Measurand, Observation, SimTime,
};
use twin_infer::models::{Models, Spec, no_files};

fn models() -> Models {
    let spec: Spec = toml::from_str(
        r#"model = "anomaly"
           select = { kinds = ["sensor"], measurands = ["temperature"] }
           params = { probation = 200, clear_after_s = 600 }"#,
    )
    .unwrap();
    Models::build(&[spec], &no_files).unwrap()
}

fn config(workers: usize) -> RuntimeConfig {
    RuntimeConfig {
        workers,
        models: models(),
        passivate_after: Some(SimTime::hours(1)),
        ..RuntimeConfig::default()
    }
}

fn thermometer(name: &str) -> EntityRecord {
    EntityRecord::new(Kind::Sensor, name, "pt100").with_state(KindState::Sensor(
        SensorState::measuring(&[Measurand::Temperature], SimTime::secs(1)),
    ))
}

/// A periodic series with a small deterministic wobble; plus 8 from `shift`.
fn value(t: i64, shift: Option<i64>) -> f64 {
    let cycle = (t as f64 * std::f64::consts::TAU / 50.0).sin();
    let wobble = ((t * 7919) % 13) as f64 / 13.0 - 0.5;
    let jump = if shift.is_some_and(|s| t >= s) {
        8.0
    } else {
        0.0
    };
    20.0 + cycle + 0.2 * wobble + jump
}

fn minute(ids: &[EntityId], from: i64, shifted: EntityId, at: i64) -> Vec<Observation> {
    (from..from + 60)
        .flat_map(|t| {
            ids.iter().map(move |id| {
                let shift = (*id == shifted).then_some(at);
                Observation::number(
                    *id,
                    SimTime::secs(t),
                    Measurand::Temperature,
                    value(t, shift),
                )
            })
        })
        .collect()
}

fn setup(workers: usize) -> (Runtime, tempfile::TempDir, Vec<EntityId>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Retention::default()).unwrap();
    let rt = Runtime::start(config(workers), Some(store)).unwrap();
    let records: Vec<EntityRecord> = (0..3).map(|i| thermometer(&format!("inf-{i}"))).collect();
    let ids = records.iter().map(EntityRecord::id).collect();
    block_on(rt.create(records, SimTime::ZERO)).unwrap();
    (rt, dir, ids)
}

#[test]
fn a_hosted_model_derives_readings_events_and_alerts() {
    let (rt, _dir, ids) = setup(2);
    let mut sub = rt.bus().subscribe(Filter::all());
    let (shifted, shift_at) = (ids[1], 900);
    let mut events = Vec::new();
    for m in 0..25 {
        let r = block_on(rt.ingest(minute(&ids, m * 60, shifted, shift_at), false)).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        while let Some(Delivery::Events(batch)) = sub.try_recv() {
            events.extend(batch.iter().cloned());
        }
    }
    let anomalies: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::AnomalyDetected {
                measurand, model, ..
            } => Some((e.entity, e.time, *measurand, model.clone())),
            _ => None,
        })
        .collect();
    assert!(!anomalies.is_empty(), "the shift is found");
    for (entity, time, m, model) in &anomalies {
        assert_eq!(*entity, shifted, "only the shifted series is unusual");
        assert_eq!(*m, Measurand::Temperature);
        assert!(model.starts_with("anomaly/"), "{model}");
        assert!(
            (shift_at..shift_at + 60).contains(&(time.as_ms() / 1000)),
            "found at {time}"
        );
    }
    let raised: Vec<_> = events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::AlertRaised { measurand, .. } if *measurand == Measurand::AnomalyScore))
        .collect();
    assert_eq!(raised.len(), 1, "one alert for one event: {raised:?}");
    assert_eq!(raised[0].entity, shifted);

    let rec = block_on(rt.get(shifted)).unwrap().unwrap();
    let score = rec.common.readings.get(Measurand::AnomalyScore).unwrap();
    assert_eq!(score.level, AlarmLevel::Warning, "the alert is open");
    let provenance = rec.inferred.provenance_of(Measurand::AnomalyScore).unwrap();
    assert!(provenance.starts_with("anomaly/"), "{provenance}");
    let quiet = block_on(rt.get(ids[0])).unwrap().unwrap();
    assert_eq!(
        quiet
            .common
            .readings
            .get(Measurand::AnomalyScore)
            .unwrap()
            .level,
        AlarmLevel::Normal
    );

    // Derived readings are history like any other.
    let store = rt.store().unwrap();
    let history = store
        .raw_history(
            shifted,
            Measurand::AnomalyScore,
            SimTime::ZERO,
            SimTime::hours(1),
        )
        .unwrap();
    assert!(history.len() >= 10, "{} samples", history.len());
    assert!(history.iter().any(|s| s.value.as_f64().unwrap() >= 0.6));

    // Ten quiet minutes after the last anomalous score, the alert clears.
    for m in 25..40 {
        block_on(rt.ingest(minute(&ids, m * 60, shifted, shift_at), false)).unwrap();
    }
    while let Some(Delivery::Events(batch)) = sub.try_recv() {
        events.extend(batch.iter().cloned());
    }
    assert!(
        events
            .iter()
            .any(|e| e.entity == shifted && matches!(e.body, EventBody::AlertCleared { .. }))
    );
    block_on(rt.shutdown()).unwrap();
}

/// The anomaly-score readings written between `from` and `to` (seconds).
fn scores(rt: &Runtime, id: EntityId, from: i64, to: i64) -> Vec<(i64, f64)> {
    rt.store()
        .unwrap()
        .raw_history(
            id,
            Measurand::AnomalyScore,
            SimTime::secs(from),
            SimTime::secs(to),
        )
        .unwrap()
        .iter()
        .map(|s| (s.time.as_ms() / 1000, s.value.as_f64().unwrap()))
        .collect()
}

#[test]
fn model_state_survives_passivation_and_a_restart() {
    // One runtime runs 30 minutes straight through.
    let (straight, _d1, ids) = setup(2);
    let shifted = ids[2];
    for m in 0..30 {
        block_on(straight.ingest(minute(&ids, m * 60, shifted, 1500), false)).unwrap();
    }
    let expected = scores(&straight, shifted, 600, 1800);
    assert!(expected.iter().any(|(_, s)| *s >= 0.6), "{expected:?}");

    // Another stops after 5 minutes (past its probation of 200 values),
    // starts again on the same store, is passivated halfway, and goes on.
    let dir = tempfile::tempdir().unwrap();
    let open = || Store::open(dir.path(), Retention::default()).unwrap();
    let rt = Runtime::start(config(1), Some(open())).unwrap();
    let records: Vec<EntityRecord> = (0..3).map(|i| thermometer(&format!("inf-{i}"))).collect();
    block_on(rt.create(records, SimTime::ZERO)).unwrap();
    for m in 0..5 {
        block_on(rt.ingest(minute(&ids, m * 60, shifted, 1500), false)).unwrap();
    }
    block_on(rt.shutdown()).unwrap();
    let saved = open().get_state(shifted).unwrap().unwrap();
    assert!(
        saved
            .inferred
            .saved
            .iter()
            .any(|(key, b)| key == "anomaly" && !b.is_empty()),
        "the model's state is stored with the entity"
    );
    let rt = Runtime::start(config(2), Some(open())).unwrap();
    for m in 5..15 {
        block_on(rt.ingest(minute(&ids, m * 60, shifted, 1500), false)).unwrap();
    }
    // Idle for more than an hour of simulated time: every entity is written
    // out and dropped from memory.
    block_on(rt.tick(SimTime::secs(15 * 60) + SimTime::hours(2))).unwrap();
    assert_eq!(block_on(rt.resident()).unwrap(), 0);
    for m in 15..30 {
        block_on(rt.ingest(minute(&ids, m * 60, shifted, 1500), false)).unwrap();
    }
    assert_eq!(scores(&rt, shifted, 600, 1800), expected);
    block_on(rt.shutdown()).unwrap();
    block_on(straight.shutdown()).unwrap();
}

/// A reading derived late (a fix whose speed and heading never came is
/// weighed only when the next report arrives) is stamped with its own time,
/// in history and in the event that announces it, as a late observation is.
#[test]
fn a_reading_derived_late_keeps_its_own_time() {
    let spec: Spec = toml::from_str(
        r#"model = "track"
           select = { kinds = ["vehicle"] }"#,
    )
    .unwrap();
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 1,
            models: Models::build(&[spec], &no_files).unwrap(),
            ..RuntimeConfig::default()
        },
        None,
    )
    .unwrap();
    let bus = EntityRecord::new(Kind::Vehicle, "late-bus", "bus").with_state(KindState::Vehicle(
        twin_core::state::VehicleState::new(twin_core::state::VehicleMode::Bus),
    ));
    let id = bus.id();
    block_on(rt.create(vec![bus], SimTime::ZERO)).unwrap();
    let mut sub = rt.bus().subscribe(Filter::all());
    let report = |t: i64, with_velocity: bool| {
        let at = SimTime::secs(t);
        let mut obs = vec![
            Observation::number(id, at, Measurand::Position, 0.0).with_value(
                twin_core::Value::Point {
                    lon: 4.85 + 0.0001 * t as f64,
                    lat: 45.75,
                },
            ),
        ];
        if with_velocity {
            obs.push(Observation::number(id, at, Measurand::Speed, 28.0));
            obs.push(Observation::number(id, at, Measurand::Heading, 90.0));
        }
        block_on(rt.ingest(obs, false)).unwrap();
    };
    for t in [10, 20] {
        report(t, true);
    }
    report(30, false);
    report(40, true);
    let mut estimates = Vec::new();
    while let Some(Delivery::Events(batch)) = sub.try_recv() {
        estimates.extend(batch.iter().filter_map(|e| match &e.body {
            EventBody::StateChanged {
                measurand: Measurand::PositionEstimate,
                ..
            } => Some(e.time.as_ms() / 1000),
            _ => None,
        }));
    }
    assert_eq!(estimates, [10, 20, 30, 40]);
    block_on(rt.shutdown()).unwrap();
}
