//! Each kind's behaviour, desired against reported state, and relationships,
//! through the same pure functions the runtime calls.

use geo::polygon;
use twin_core::state::{
    AlarmLevel, Applied, CropHealth, Ctx, GrowthStage, InputError, MachineStatus, ParcelState,
    SensorState, Status, VehicleMode, VehicleState, ZoneShape, ZoneState, ZoneType, apply_command,
    apply_observation, tick,
};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Event, EventBody, Kind, KindState, Measurand,
    Observation, Quality, Relation, SimTime, Value,
};

/// An entity under test and everything it has emitted.
struct Probe {
    rec: EntityRecord,
    events: Vec<Event>,
    commands: Vec<Command>,
}

impl Probe {
    fn new(kind: Kind, name: &str, state: KindState) -> Probe {
        Probe {
            rec: EntityRecord::new(kind, name, "test").with_state(state),
            events: Vec::new(),
            commands: Vec::new(),
        }
    }
    fn id(&self) -> EntityId {
        self.rec.id()
    }
    fn observe(&mut self, t: i64, m: Measurand, v: Value) -> Result<Applied, InputError> {
        let obs = Observation::number(self.id(), SimTime::secs(t), m, 0.0).with_value(v);
        let mut ctx = Ctx::new(self.id(), obs.time, &mut self.events, &mut self.commands);
        apply_observation(&mut self.rec.common, &mut self.rec.state, &obs, &mut ctx)
    }
    fn num(&mut self, t: i64, m: Measurand, v: f64) -> Result<Applied, InputError> {
        self.observe(t, m, Value::Number(v))
    }
    fn command(&mut self, t: i64, action: Action) -> Result<(), InputError> {
        let cmd = Command {
            entity: self.id(),
            time: SimTime::secs(t),
            action,
        };
        let mut ctx = Ctx::new(self.id(), cmd.time, &mut self.events, &mut self.commands);
        apply_command(&mut self.rec.common, &mut self.rec.state, &cmd, &mut ctx)
    }
    fn tick(&mut self, t: i64) {
        let mut ctx = Ctx::new(
            self.id(),
            SimTime::secs(t),
            &mut self.events,
            &mut self.commands,
        );
        tick(&mut self.rec.common, &mut self.rec.state, &mut ctx);
    }
    fn value(&self, m: Measurand) -> Option<f64> {
        self.rec.common.readings.number(m)
    }
    fn take_events(&mut self) -> Vec<EventBody> {
        self.events.drain(..).map(|e| e.body).collect()
    }
    fn sensor(&self) -> &SensorState {
        match &self.rec.state {
            KindState::Sensor(s) => s,
            _ => unreachable!(),
        }
    }
}

fn sensor(name: &str, ms: &[Measurand]) -> Probe {
    Probe::new(
        Kind::Sensor,
        name,
        KindState::Sensor(SensorState::measuring(ms, SimTime::secs(10))),
    )
}

#[test]
fn sensor_keeps_the_latest_value_and_refuses_bad_ones() {
    let mut s = sensor("b-t1", &[Measurand::Temperature]);
    assert_eq!(
        s.num(10, Measurand::Temperature, 21.5),
        Ok(Applied::Current)
    );
    assert_eq!(s.value(Measurand::Temperature), Some(21.5));
    assert!(matches!(
        s.take_events().as_slice(),
        [EventBody::StateChanged {
            measurand: Measurand::Temperature,
            ..
        }]
    ));

    // Older than the latest: history only, current value untouched.
    let late = s.num(5, Measurand::Temperature, 99.0);
    assert!(
        matches!(late, Err(InputError::OutOfOrder { .. })),
        "{late:?}"
    );
    assert_eq!(s.value(Measurand::Temperature), Some(21.5));

    // NaN and infinity: refused, nothing changed.
    for bad in [f64::NAN, f64::INFINITY] {
        let r = s.num(20, Measurand::Temperature, bad);
        assert!(matches!(r, Err(InputError::NotFinite { .. })), "{r:?}");
    }
    assert_eq!(s.value(Measurand::Temperature), Some(21.5));
    assert!(s.take_events().is_empty());

    // A measurand it does not measure.
    let r = s.num(20, Measurand::Pm25, 3.0);
    assert!(matches!(r, Err(InputError::NotMeasured { .. })), "{r:?}");
    // A value of the wrong type.
    let r = s.observe(20, Measurand::Temperature, Value::Flag(true));
    assert!(matches!(r, Err(InputError::WrongType { .. })), "{r:?}");
}

#[test]
fn sensor_flags_out_of_range_stuck_and_stale() {
    let mut s = sensor("b-t2", &[Measurand::Humidity]);
    s.num(1, Measurand::Humidity, 50.0).unwrap();
    let r = s.num(2, Measurand::Humidity, 140.0);
    assert!(
        matches!(r, Err(InputError::OutOfRange { max, .. }) if max == 100.0),
        "{r:?}"
    );
    assert_eq!(s.value(Measurand::Humidity), Some(50.0), "not applied");
    assert_eq!(s.sensor().quality, Quality::OutOfRange, "flagged");

    // A good value clears the flag; twenty identical ones mean stuck.
    s.num(3, Measurand::Humidity, 51.0).unwrap();
    assert_eq!(s.sensor().quality, Quality::Ok);
    for t in 4..30 {
        s.num(t, Measurand::Humidity, 51.0).unwrap();
    }
    assert_eq!(s.sensor().quality, Quality::Stuck);
    s.num(30, Measurand::Humidity, 52.0).unwrap();
    assert_eq!(s.sensor().quality, Quality::Ok);

    // Three sampling periods (10 s) without data: stale.
    s.tick(55);
    assert_eq!(s.sensor().quality, Quality::Ok);
    s.tick(61);
    assert_eq!(s.sensor().quality, Quality::Stale);
    assert!(s.take_events().iter().any(|e| matches!(
        e,
        EventBody::StatusChanged {
            to: Status::Sensor(Quality::Stale),
            ..
        }
    )));
}

#[test]
fn thresholds_raise_and_clear_alerts_with_a_deadband_and_a_delay() {
    use twin_core::state::ALARM_DELAY;
    let mut s = sensor("b-pm", &[Measurand::Pm25]);
    let mut t = 0;
    // Feeds `n` observations of `v` and returns the events they caused.
    let mut feed = |s: &mut Probe, v: f64, n: u8| {
        for _ in 0..n {
            t += 1;
            s.num(t, Measurand::Pm25, v).unwrap();
        }
        s.take_events()
    };
    feed(&mut s, 10.0, 1);
    // Above the 25 µg/m³ warning, but not for long enough: nothing yet.
    let ev = feed(&mut s, 30.0, ALARM_DELAY - 1);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, EventBody::AlertRaised { .. }))
    );
    let ev = feed(&mut s, 30.0, 1);
    assert!(ev.iter().any(
        |e| matches!(e, EventBody::ThresholdCrossed { rising: true, limit, .. } if *limit == 25.0)
    ));
    assert!(ev.iter().any(|e| matches!(
        e,
        EventBody::AlertRaised {
            severity: twin_core::Severity::Warning,
            ..
        }
    )));
    // A single dip below does not clear it: the delay counts consecutive ones.
    feed(&mut s, 20.0, ALARM_DELAY - 1);
    let ev = feed(&mut s, 30.0, 1);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, EventBody::AlertCleared { .. }))
    );
    let ev = feed(&mut s, 60.04321, ALARM_DELAY); // above critical
    let message = ev.iter().find_map(|e| match e {
        EventBody::AlertRaised {
            severity: twin_core::Severity::Critical,
            message,
            ..
        } => Some(message.to_string()),
        _ => None,
    });
    // Read at the measurand's resolution, with its unit.
    assert_eq!(message.as_deref(), Some("pm25 60.0 µg/m³ above 50.0 µg/m³"));
    let ev = feed(&mut s, 24.0, 2 * ALARM_DELAY); // below warning, inside the 5 % deadband
    assert!(
        !ev.iter()
            .any(|e| matches!(e, EventBody::AlertCleared { .. }))
    );
    let ev = feed(&mut s, 20.0, ALARM_DELAY);
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventBody::AlertCleared { .. }))
    );
}

#[test]
fn machine_status_rul_and_maintenance() {
    let mut m = Probe::new(
        Kind::Machine,
        "b-press-07",
        KindState::Machine(Default::default()),
    );
    m.observe(1, Measurand::Status, Value::text("running"))
        .unwrap();
    let r = m.observe(2, Measurand::Status, Value::text("exploded"));
    assert!(matches!(r, Err(InputError::BadText { .. })), "{r:?}");
    assert_eq!(
        m.rec.common.readings.value(Measurand::Status),
        Some(&Value::text("running")),
        "a refused status changes nothing"
    );
    m.observe(3, Measurand::Rul, Value::interval(120.0, 90.0, 160.0))
        .unwrap();
    m.command(4, Action::BeginMaintenance).unwrap();
    assert!(matches!(m.command(4, Action::BeginMaintenance), Ok(())));
    m.command(5, Action::EndMaintenance).unwrap();
    let err = m.command(6, Action::EndMaintenance);
    assert!(matches!(err, Err(InputError::BadAction { .. })), "{err:?}");
    let KindState::Machine(state) = &m.rec.state else {
        unreachable!()
    };
    assert_eq!(state.status, MachineStatus::Idle);
    assert_eq!(state.last_maintenance, Some(SimTime::secs(5)));
    let rul = state.rul.expect("rul recorded");
    assert_eq!((rul.hours, rul.low, rul.high), (120.0, 90.0, 160.0));
    assert_eq!(
        m.commands.len(),
        3,
        "maintenance commands go on to the world"
    );
    let statuses: Vec<_> = m
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            EventBody::StatusChanged {
                to: Status::Machine(s),
                ..
            } => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            MachineStatus::Running,
            MachineStatus::Maintenance,
            MachineStatus::Idle
        ]
    );
}

#[test]
fn parcel_ndvi_from_red_and_nir_drives_health() {
    let square = polygon![(x: -6.6, y: 5.8), (x: -6.599, y: 5.8), (x: -6.599, y: 5.801), (x: -6.6, y: 5.801)];
    let mut p = Probe::new(
        Kind::Parcel,
        "b-cocoa-1",
        KindState::Parcel(ParcelState::new("cocoa", square)),
    );
    let KindState::Parcel(state) = &p.rec.state else {
        unreachable!()
    };
    assert!((state.area_ha - 1.22).abs() < 0.05, "{}", state.area_ha);
    p.num(100, Measurand::Red, 0.05).unwrap();
    p.num(101, Measurand::Nir, 0.45).unwrap(); // same pass: NDVI = 0.8
    p.num(200, Measurand::GrowthStage, 65.0).unwrap();
    let KindState::Parcel(state) = &p.rec.state else {
        unreachable!()
    };
    assert!((state.ndvi.unwrap() - 0.8).abs() < 1e-9);
    assert_eq!(state.health, CropHealth::Healthy);
    assert_eq!(state.growth_stage, GrowthStage::Flowering);
    // A red reading from a later pass, without NIR, does not recompute NDVI.
    p.num(100_000, Measurand::Red, 0.2).unwrap();
    let KindState::Parcel(state) = &p.rec.state else {
        unreachable!()
    };
    assert!((state.ndvi.unwrap() - 0.8).abs() < 1e-9);
    // An outbreak lowers NDVI: health drops and says so.
    p.take_events();
    p.num(100_100, Measurand::Ndvi, 0.35).unwrap();
    assert!(p.take_events().iter().any(|e| matches!(
        e,
        EventBody::StatusChanged {
            from: Status::Crop(CropHealth::Healthy),
            to: Status::Crop(CropHealth::Critical)
        }
    )));
}

#[test]
fn vehicle_position_and_zone_alert_level() {
    let mut v = Probe::new(
        Kind::Vehicle,
        "b-bus-12",
        KindState::Vehicle(VehicleState::new(VehicleMode::Bus)),
    );
    v.observe(
        1,
        Measurand::Position,
        Value::Point {
            lon: 2.35,
            lat: 48.85,
        },
    )
    .unwrap();
    v.num(1, Measurand::Heading, 90.0).unwrap();
    let r = v.observe(
        2,
        Measurand::Position,
        Value::Point {
            lon: 2.35,
            lat: 95.0,
        },
    );
    assert!(matches!(r, Err(InputError::OutOfRange { .. })), "{r:?}");
    let r = v.num(2, Measurand::SoilMoisture, 20.0);
    assert!(
        matches!(
            r,
            Err(InputError::NotApplicable {
                kind: Kind::Vehicle,
                ..
            })
        ),
        "{r:?}"
    );
    let KindState::Vehicle(state) = &v.rec.state else {
        unreachable!()
    };
    assert_eq!(state.position, Some((2.35, 48.85)));
    assert_eq!(state.heading_deg, 90.0);

    let mut z = Probe::new(
        Kind::Zone,
        "b-district-4",
        KindState::Zone(ZoneState::new(
            ZoneType::District,
            ZoneShape::Circle {
                centre: geo::Point::new(2.35, 48.85),
                radius_m: 800.0,
            },
        )),
    );
    z.num(1, Measurand::Aqi, 80.0).unwrap();
    for t in 2..5 {
        z.num(t, Measurand::Aqi, 160.0).unwrap(); // held long enough to count
    }
    let KindState::Zone(state) = &z.rec.state else {
        unreachable!()
    };
    assert_eq!(state.alert_level, AlarmLevel::Critical);
}

#[test]
fn desired_and_reported_state_differ_until_the_world_reports() {
    let mut pump = Probe::new(
        Kind::Machine,
        "b-pump-3",
        KindState::Machine(Default::default()),
    );
    pump.command(
        10,
        Action::SetDesired {
            measurand: Measurand::PumpOn,
            value: Value::Flag(true),
        },
    )
    .unwrap();
    let view = &pump.rec.common.control_views()[0];
    assert_eq!(view.desired, Value::Flag(true));
    assert_eq!(view.reported, None);
    assert!(!view.in_sync, "nothing reported yet");
    assert_eq!(pump.commands.len(), 1, "forwarded to the world");
    pump.observe(15, Measurand::PumpOn, Value::Flag(false))
        .unwrap();
    assert!(!pump.rec.common.control_views()[0].in_sync);
    pump.observe(20, Measurand::PumpOn, Value::Flag(true))
        .unwrap();
    let view = &pump.rec.common.control_views()[0];
    assert!(view.in_sync);
    assert_eq!(view.reported_at, Some(SimTime::secs(20)));

    let r = pump.command(
        30,
        Action::SetDesired {
            measurand: Measurand::Pm25,
            value: Value::Number(1.0),
        },
    );
    assert!(matches!(r, Err(InputError::NotCommandable { .. })), "{r:?}");
    let mut bus = Probe::new(
        Kind::Vehicle,
        "b-bus-1",
        KindState::Vehicle(VehicleState::new(VehicleMode::Bus)),
    );
    bus.command(
        1,
        Action::SetDesired {
            measurand: Measurand::Headway,
            value: Value::Number(600.0),
        },
    )
    .unwrap();
    let mut parcel = Probe::new(Kind::Parcel, "b-p-1", KindState::Parcel(Default::default()));
    let r = parcel.command(
        1,
        Action::SetDesired {
            measurand: Measurand::Headway,
            value: Value::Number(600.0),
        },
    );
    assert!(matches!(r, Err(InputError::NotApplicable { .. })), "{r:?}");
    let r = parcel.command(
        1,
        Action::SetDesired {
            measurand: Measurand::ValveOpening,
            value: Value::Number(140.0),
        },
    );
    assert!(matches!(r, Err(InputError::OutOfRange { .. })), "{r:?}");
}

#[test]
fn relationships_join_the_right_kinds() {
    let machine = EntityId::new(Kind::Machine, "b-m1");
    let zone = EntityId::new(Kind::Zone, "b-site");
    let sensor = EntityRecord::new(Kind::Sensor, "b-vib-1", "vibration")
        .with_relation(Relation::AttachedTo(machine))
        .with_relation(Relation::LiesIn(zone));
    assert_eq!(sensor.check(), Ok(()));
    let wrong = EntityRecord::new(Kind::Machine, "b-m2", "pump")
        .with_relation(Relation::AttachedTo(machine));
    assert!(matches!(wrong.check(), Err(InputError::BadRelation { .. })));
    let wrong =
        EntityRecord::new(Kind::Parcel, "b-p2", "cocoa").with_relation(Relation::LiesIn(machine));
    assert!(matches!(wrong.check(), Err(InputError::BadRelation { .. })));
}
