use twin_core::value::{Estimate, Path};
use twin_core::{Event, EventBody, Kind};

use super::*;
use crate::schedule::Live;

fn bed() -> EntityId {
    EntityId::new(Kind::Parcel, "bed-1")
}
fn pump() -> EntityId {
    EntityId::new(Kind::Machine, "pump-00")
}
fn region() -> EntityId {
    EntityId::new(Kind::Zone, "region")
}

fn planner(extra: &str) -> Irrigation {
    let spec: Spec = toml::from_str(&format!(
        "planner = \"irrigation\"\n[params]\nfield_capacity = 36\nwilting_point = 13\nroot_depth_mm = 500\nmm_per_hour = 3\n{extra}"
    ))
    .unwrap();
    Irrigation {
        p: Params::of(&spec).unwrap(),
        s: State::default(),
        name: "irrigation".into(),
    }
}

fn feed(p: &mut Irrigation, entity: EntityId, t: SimTime, measurand: Measurand, value: Value) {
    let event = Event {
        time: t,
        entity,
        body: EventBody::StateChanged { measurand, value },
    };
    p.observe(&Seen {
        event: &event,
        subtype: "vegetables",
        place: Some((2.35, 48.85)),
        attached_to: None,
        fed_by: (entity.kind() == Kind::Parcel).then(pump),
        area_m2: (entity.kind() == Kind::Parcel).then_some(10_000.0),
    });
}

/// A day of soil readings drying from `from` to `to` %, ending at `now`,
/// the bed's valve reported open (as the world's valves start).
fn dry_day(p: &mut Irrigation, now: SimTime, from: f64, to: f64) {
    for i in 0..=48 {
        let t = now - SimTime::minutes(30 * (48 - i));
        let m = from + (to - from) * i as f64 / 48.0;
        feed(p, bed(), t, Measurand::SoilMoisture, Value::Number(m));
    }
    feed(p, bed(), now, Measurand::ValveOpening, Value::Number(100.0));
}

fn forecast(p: &mut Irrigation, at: SimTime, mm_per_hour: &[f64]) {
    let points = mm_per_hour
        .iter()
        .map(|&x| Estimate {
            value: x,
            low: 0.0,
            high: x * 3.0,
        })
        .collect();
    let path = Path {
        step_ms: HOUR_MS,
        points,
    };
    feed(
        p,
        region(),
        at,
        Measurand::RainfallForecast,
        Value::Forecast(Box::new(path)),
    );
}

fn step(p: &mut Irrigation, now: SimTime) -> Vec<Command> {
    let mut out = Vec::new();
    p.step(now, &mut Live::default(), &mut out);
    out
}

fn sets(out: &[Command], entity: EntityId, m: Measurand) -> Vec<Value> {
    out.iter()
        .filter(|c| c.entity == entity)
        .filter_map(|c| match &c.action {
            Action::SetDesired { measurand, value } if *measurand == m => Some(value.clone()),
            _ => None,
        })
        .collect()
}

const NOW: SimTime = SimTime::days(10);

#[test]
fn waits_when_rain_is_forecast_and_waters_when_it_is_not() {
    // Soil at 25 %: above the stress level (24.5 %), within a day of it.
    let mut wet = planner("");
    dry_day(&mut wet, NOW, 26.0, 25.0);
    let mut rain = vec![0.0; 48];
    rain[6..12].fill(5.0);
    forecast(&mut wet, NOW, &rain);
    let out = step(&mut wet, NOW);
    let plan = &wet.plans()[0];
    assert_eq!(plan.state, PlanState::Waiting, "{}", plan.reason);
    assert!(plan.reason.contains("rain expected"), "{}", plan.reason);
    assert!(sets(&out, pump(), Measurand::PumpOn).is_empty());
    // The valve the world left open is closed, not opened.
    assert_eq!(
        sets(&out, bed(), Measurand::ValveOpening),
        vec![Value::Number(0.0)]
    );

    let mut dry = planner("");
    dry_day(&mut dry, NOW, 26.0, 25.0);
    forecast(&mut dry, NOW, &[0.0; 48]);
    let out = step(&mut dry, NOW);
    let plan = &dry.plans()[0];
    assert_eq!(plan.state, PlanState::Running, "{}", plan.reason);
    // Refill to 31.4 % over 500 mm of roots: about 32 mm.
    assert!((plan.water_mm - 32.0).abs() < 2.0, "{}", plan.water_mm);
    assert!((plan.water_m3 - plan.water_mm * 10.0).abs() < 1e-6);
    assert_eq!(
        sets(&out, bed(), Measurand::ValveOpening),
        vec![Value::Number(100.0)]
    );
    assert_eq!(
        sets(&out, pump(), Measurand::PumpOn),
        vec![Value::Flag(true)]
    );
    // At 3 mm/h it runs for about 11 hours, then valve and pump close.
    let end = plan.end;
    assert!(end > NOW + SimTime::hours(10) && end < NOW + SimTime::hours(12));
    feed(&mut dry, pump(), NOW, Measurand::PumpOn, Value::Flag(true));
    feed(
        &mut dry,
        bed(),
        NOW,
        Measurand::ValveOpening,
        Value::Number(100.0),
    );
    assert!(step(&mut dry, NOW + SimTime::hours(5)).is_empty());
    let out = step(&mut dry, end);
    assert_eq!(dry.plans()[0].state, PlanState::Done);
    assert_eq!(
        sets(&out, bed(), Measurand::ValveOpening),
        vec![Value::Number(0.0)]
    );
    assert_eq!(
        sets(&out, pump(), Measurand::PumpOn),
        vec![Value::Flag(false)]
    );
}

#[test]
fn a_waiting_plan_waters_when_the_rain_is_no_longer_forecast() {
    let mut p = planner("");
    dry_day(&mut p, NOW, 26.0, 25.0);
    let mut rain = vec![0.0; 48];
    rain[3..8].fill(6.0);
    forecast(&mut p, NOW, &rain);
    step(&mut p, NOW);
    assert_eq!(p.plans()[0].state, PlanState::Waiting);
    // The next issue drops the rain; the soil keeps drying.
    let later = NOW + SimTime::hours(6);
    forecast(&mut p, later, &[0.0; 48]);
    feed(
        &mut p,
        bed(),
        later,
        Measurand::SoilMoisture,
        Value::Number(24.8),
    );
    let out = step(&mut p, later);
    assert_eq!(p.plans().len(), 1, "the same plan goes on");
    assert_eq!(p.plans()[0].state, PlanState::Running);
    assert_eq!(
        sets(&out, pump(), Measurand::PumpOn),
        vec![Value::Flag(true)]
    );
}

#[test]
fn rain_that_comes_cancels_a_waiting_plan_and_a_stressed_crop_is_watered_anyway() {
    let mut p = planner("");
    dry_day(&mut p, NOW, 26.0, 25.0);
    let mut rain = vec![0.0; 48];
    rain[1..6].fill(6.0);
    forecast(&mut p, NOW, &rain);
    step(&mut p, NOW);
    assert_eq!(p.plans()[0].state, PlanState::Waiting);
    let later = NOW + SimTime::hours(8);
    for i in 0..4 {
        let t = later - SimTime::minutes(15 * i);
        feed(
            &mut p,
            bed(),
            t,
            Measurand::SoilMoisture,
            Value::Number(33.0),
        );
    }
    step(&mut p, later);
    assert_eq!(p.plans()[0].state, PlanState::Cancelled);

    // Below the stress level, a forecast does not hold the water back.
    let mut q = planner("");
    dry_day(&mut q, NOW, 25.0, 23.0);
    forecast(&mut q, NOW, &rain);
    step(&mut q, NOW);
    assert_eq!(q.plans()[0].state, PlanState::Running);
}

#[test]
fn fixed_schedule_waters_whatever_the_sky_and_reminders_follow_the_plan() {
    let mut p = planner("policy = \"fixed-schedule\"\nevery_d = 2\ndepth_mm = 6\nremind = true");
    dry_day(&mut p, NOW, 34.0, 34.0);
    forecast(&mut p, NOW, &[5.0; 48]);
    let out = step(&mut p, NOW);
    assert_eq!(p.plans()[0].state, PlanState::Running);
    assert_eq!(p.plans()[0].water_mm, 6.0);
    let reminded = out.iter().any(|c| {
        matches!(&c.action, Action::Remind { message: Some(m), .. } if m.contains("water 6.0 mm"))
    });
    assert!(reminded, "{out:?}");
    let out = step(&mut p, NOW + SimTime::hours(2));
    assert_eq!(p.plans()[0].state, PlanState::Done);
    assert!(
        out.iter()
            .any(|c| matches!(&c.action, Action::Remind { message: None, .. }))
    );
    // Not again before two days are up; then again.
    assert!(
        step(&mut p, NOW + SimTime::hours(30))
            .iter()
            .all(|c| !matches!(
                c.action,
                Action::SetDesired {
                    measurand: Measurand::Irrigation,
                    ..
                }
            ))
    );
    step(&mut p, NOW + SimTime::hours(48));
    assert_eq!(p.plans().len(), 2);
}

#[test]
fn state_survives_save_and_restore() {
    let mut p = planner("");
    dry_day(&mut p, NOW, 26.0, 25.0);
    step(&mut p, NOW);
    let bytes = p.save();
    let mut q = planner("");
    q.restore(&bytes).unwrap();
    assert_eq!(q.plans(), p.plans());
    assert!(q.restore(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn settings_are_checked() {
    for bad in [
        "planner = \"irrigation\"\n[params]\nfield_capacity = 10\nwilting_point = 13\nroot_depth_mm = 500\nmm_per_hour = 3",
        "planner = \"irrigation\"\n[params]\nfield_capacity = 36\nwilting_point = 13\nroot_depth_mm = 500\nmm_per_hour = 0",
        "planner = \"irrigation\"\n[params]\nfield_capacity = 36\nwilting_point = 13\nroot_depth_mm = 500\nmm_per_hour = 3\nrefill = 0.3",
        "planner = \"irrigation\"\n[params]\nfield_capacity = 36\nwilting_point = 13\nroot_depth_mm = 500\nmm_per_hour = 3\nflood = true",
    ] {
        let spec: Spec = toml::from_str(bad).unwrap();
        assert!(Params::of(&spec).is_err(), "{bad}");
    }
}
