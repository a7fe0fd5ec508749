//! Each shipped scenario, one simulated day at small scale: its domain facts hold.

use std::path::PathBuf;

use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::{Action, Command, EntityId, Kind, Measurand, Observation, SimTime, Value};
use twin_scenarios::{Scenario, SimWorld};

fn scenario(name: &str) -> Scenario {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../data/scenarios/{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(world: &mut SimWorld, until: SimTime) -> Vec<Observation> {
    let mut out = Vec::new();
    world.advance(until, &mut out);
    out
}

fn number(o: &Observation) -> f64 {
    match o.value {
        Value::Number(x) => x,
        _ => f64::NAN,
    }
}

fn stream_hash(s: &Scenario, until: SimTime) -> u64 {
    hash_with(s, until, None)
}

/// The stream hash, with the world's lanes forced onto one or two threads.
fn hash_with(s: &Scenario, until: SimTime, parallel: Option<bool>) -> u64 {
    let mut w = SimWorld::new(s).unwrap();
    if let Some(p) = parallel {
        w.set_parallel(p);
    }
    let obs = run(&mut w, until);
    xxhash_rust::xxh3::xxh3_64(&serde_json::to_vec(&obs).unwrap())
}

#[test]
fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
    for name in ["factory", "city", "farm-cocoa", "garden"] {
        let s = scenario(name).with_scale(0.3);
        let h = SimTime::hours(3);
        let a = stream_hash(&s, h);
        assert_eq!(a, stream_hash(&s, h), "{name}: same seed");
        assert_ne!(
            a,
            stream_hash(&s.clone().with_seed(7), h),
            "{name}: other seed"
        );
    }
}

#[test]
fn two_threads_give_the_stream_of_one() {
    for name in ["factory", "city"] {
        let s = scenario(name).with_scale(0.5);
        let h = SimTime::hours(2);
        assert_eq!(
            hash_with(&s, h, Some(false)),
            hash_with(&s, h, Some(true)),
            "{name}"
        );
    }
}

/// The statuses `machine` reported, with their times.
fn statuses_of(obs: &[Observation], machine: EntityId) -> Vec<(&Value, SimTime)> {
    obs.iter()
        .filter(|o| o.entity == machine && o.measurand == Measurand::Status)
        .map(|o| (&o.value, o.time))
        .collect()
}

#[test]
fn factory_machines_without_maintenance_fail_and_stop_and_repairs_restore_them() {
    let s = scenario("factory").with_scale(0.5);
    let mut w = SimWorld::new(&s).unwrap();
    let obs = run(&mut w, SimTime::days(1));
    let truth = w.truth();
    let down: Vec<EntityId> = truth
        .machines
        .iter()
        .filter(|m| m.status == "down")
        .map(|m| m.id)
        .collect();
    assert!(
        !down.is_empty(),
        "no machine failed in a day: {:?}",
        truth.machines
    );
    let failed = down[0];
    let went_down = obs
        .iter()
        .find(|o| {
            o.entity == failed && o.measurand == Measurand::Status && o.value == Value::text("down")
        })
        .expect("a status observation says the machine went down")
        .time;
    // A failed machine stops producing.
    let after: Vec<f64> = obs
        .iter()
        .filter(|o| {
            o.entity == failed && o.measurand == Measurand::Throughput && o.time > went_down
        })
        .map(number)
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|x| *x == 0.0),
        "{after:?}"
    );
    let before = truth.machines.iter().find(|m| m.id == failed).unwrap();
    assert_eq!(before.rul_h, 0.0);
    // Its vibration sensor reads near zero once it has stopped.
    let produced = before.produced;
    w.deliver(Command {
        entity: failed,
        time: w.now(),
        action: Action::BeginMaintenance,
    });
    let until = w.now() + SimTime::hours(15);
    let obs = run(&mut w, until);
    let statuses = statuses_of(&obs, failed);
    assert_eq!(
        statuses.iter().map(|s| s.0).collect::<Vec<_>>(),
        [&Value::text("maintenance"), &Value::text("running")]
    );
    // A repair after a breakdown takes the scenario's breakdown_repair
    // (12 h), not its planned repair (3 h).
    let repair = statuses[1].1 - statuses[0].1;
    assert!(
        (SimTime::hours(12)..SimTime::hours(12) + SimTime::minutes(2)).contains(&repair),
        "{repair}"
    );
    let m = w
        .truth()
        .machines
        .into_iter()
        .find(|m| m.id == failed)
        .unwrap();
    assert_eq!(m.status, "running");
    assert!(m.health > 0.95 && m.produced >= produced, "{m:?}");
    // Technicians reported their positions while walking.
    assert!(
        obs.iter()
            .any(|o| o.entity.kind() == Kind::Vehicle && o.measurand == Measurand::Position)
    );
    assert!(m.unplanned_h >= 12.0 && m.failures >= 1, "{m:?}");

    // A work order sent to a named technician: that one walks to a running
    // machine, which stops for the planned repair (3 h) and runs again.
    let truth = w.truth();
    let running = truth
        .machines
        .iter()
        .find(|m| m.status == "running" && m.id != failed)
        .unwrap()
        .id;
    let tech = EntityId::new(Kind::Vehicle, "technician-00");
    let hours_before = truth.technician_hours;
    w.deliver(Command {
        entity: running,
        time: w.now(),
        action: Action::WorkOrder {
            order: 1,
            state: twin_core::workorder::OrderState::InProgress,
            technician: Some(tech),
        },
    });
    let until = w.now() + SimTime::hours(5);
    let obs = run(&mut w, until);
    let statuses = statuses_of(&obs, running);
    assert_eq!(
        statuses.iter().map(|s| s.0).collect::<Vec<_>>(),
        [&Value::text("maintenance"), &Value::text("running")]
    );
    let repair = statuses[1].1 - statuses[0].1;
    assert!(
        (SimTime::hours(3)..SimTime::hours(3) + SimTime::minutes(2)).contains(&repair),
        "{repair}"
    );
    assert!(
        obs.iter()
            .any(|o| o.entity == tech && o.measurand == Measurand::Position),
        "the technician named walked"
    );
    let truth = w.truth();
    let m = truth.machines.iter().find(|m| m.id == running).unwrap();
    assert!(
        (2.9..3.1).contains(&m.planned_h) && m.unplanned_h == 0.0,
        "{m:?}"
    );
    assert!(truth.technician_hours > hours_before + 3.0);
}

#[test]
fn city_traffic_peaks_in_rush_hours_and_pm25_follows_traffic() {
    let s = scenario("city").with_scale(0.5);
    let mut w = SimWorld::new(&s).unwrap();
    let obs = run(&mut w, SimTime::days(1));
    // Monday: flow seen by the loops at 07:00–09:00 against 02:00–04:00.
    let mean_flow = |from: i64, to: i64| {
        let xs: Vec<f64> = obs
            .iter()
            .filter(|o| o.measurand == Measurand::TrafficFlow)
            .filter(|o| (SimTime::hours(from)..SimTime::hours(to)).contains(&o.time))
            .map(number)
            .collect();
        assert!(!xs.is_empty());
        xs.iter().sum::<f64>() / xs.len() as f64
    };
    let (rush, night) = (mean_flow(7, 9), mean_flow(2, 4));
    assert!(rush > 4.0 * night, "rush {rush} night {night}");
    let evening = mean_flow(16, 18);
    assert!(evening > 4.0 * night, "evening {evening} night {night}");
    let mean_pm = |from: i64, to: i64| {
        let xs: Vec<f64> = obs
            .iter()
            .filter(|o| o.measurand == Measurand::Pm25)
            .filter(|o| (SimTime::hours(from)..SimTime::hours(to)).contains(&o.time))
            .map(number)
            .collect();
        xs.iter().sum::<f64>() / xs.len() as f64
    };
    assert!(
        mean_pm(7, 9) > 1.5 * mean_pm(2, 4),
        "{} vs {}",
        mean_pm(7, 9),
        mean_pm(2, 4)
    );
    // Every domain device spoke.
    for m in [
        Measurand::Speed,
        Measurand::Occupancy,
        Measurand::Position,
        Measurand::No2,
        Measurand::Co2,
    ] {
        assert!(obs.iter().any(|o| o.measurand == m), "no {m}");
    }
}

#[test]
fn wind_disperses_pollution() {
    let mean_pm25 = |wind: f64| {
        let mut s = scenario("city").with_scale(0.3);
        s.spec.weather.wind_ms = wind;
        let mut w = SimWorld::new(&s).unwrap();
        let mut sum = (0.0, 0);
        for h in 1..=24 {
            run(&mut w, SimTime::hours(h));
            for st in w.truth().stations {
                sum = (sum.0 + st.pm25, sum.1 + 1);
            }
        }
        sum.0 / sum.1 as f64
    };
    let (calm, windy) = (mean_pm25(1.0), mean_pm25(8.0));
    assert!(windy < 0.7 * calm, "calm {calm} windy {windy}");
}

/// The cocoa farm from the first of January, at a 3-hour tick.
fn farm_from_january(outbreaks_per_year: Option<f64>) -> SimWorld {
    let mut s = scenario("farm-cocoa").with_scale(0.5);
    s.spec.tick = twin_scenarios::spec::Dur(SimTime::hours(3));
    s.calendar = twin_scenarios::calendar::Calendar::parse("2026-01-01T00:00:00").unwrap();
    match outbreaks_per_year {
        Some(rate) => s.spec.events.outbreaks.as_mut().unwrap().per_year = rate,
        None => s.spec.events.outbreaks = None,
    }
    SimWorld::new(&s).unwrap()
}

fn mean_ndvi(w: &mut SimWorld) -> f64 {
    let t = w.truth();
    t.parcels.iter().map(|p| p.ndvi).sum::<f64>() / t.parcels.len() as f64
}

#[test]
fn ndvi_follows_the_season() {
    let mut w = farm_from_january(None);
    run(&mut w, SimTime::days(30));
    let winter = mean_ndvi(&mut w);
    let obs = run(&mut w, SimTime::days(190));
    let summer = mean_ndvi(&mut w);
    assert!(summer > winter + 0.1, "winter {winter} summer {summer}");
    // The satellite saw the parcels in red and near infrared, except under cloud.
    let red = obs.iter().filter(|o| o.measurand == Measurand::Red).count();
    let possible = 160 / 5 * w.truth().parcels.len();
    assert!(
        red > possible / 5 && red < possible,
        "{red} red of {possible} possible"
    );
}

#[test]
fn ndvi_drops_in_an_outbreak() {
    let mut w = farm_from_january(Some(15.0));
    run(&mut w, SimTime::days(120));
    let t = w.truth();
    let (sick, healthy): (Vec<_>, Vec<_>) = t
        .parcels
        .iter()
        .partition(|p| p.disease.is_some_and(|d| d.1 > 0.3));
    assert!(
        !sick.is_empty() && !healthy.is_empty() && !t.outbreaks.is_empty(),
        "{} sick",
        sick.len()
    );
    let avg = |v: &[&twin_scenarios::world::ParcelTruth]| {
        v.iter().map(|p| p.ndvi).sum::<f64>() / v.len() as f64
    };
    assert!(
        avg(&sick) < avg(&healthy) - 0.05,
        "sick {} healthy {}",
        avg(&sick),
        avg(&healthy)
    );
    // Every infected parcel lies in the extent of its outbreak.
    for o in &t.outbreaks {
        assert!(o.radius_m >= 50.0 && o.severity > 0.0 && !o.parcels.is_empty());
    }
}

/// The garden's one pump.
fn garden_pump(w: &SimWorld) -> EntityId {
    w.records()
        .iter()
        .find(|r| r.id().kind() == Kind::Machine)
        .unwrap()
        .id()
}

#[test]
fn soil_moisture_rises_after_irrigation() {
    let s = scenario("garden");
    let mut w = SimWorld::new(&s).unwrap();
    run(&mut w, SimTime::hours(12));
    let before: Vec<f64> = w.truth().parcels.iter().map(|p| p.soil_moisture).collect();
    let pump = garden_pump(&w);
    w.deliver(Command {
        entity: pump,
        time: w.now(),
        action: Action::SetDesired {
            measurand: Measurand::PumpOn,
            value: Value::Flag(true),
        },
    });
    let obs = run(&mut w, SimTime::hours(14));
    let after: Vec<f64> = w.truth().parcels.iter().map(|p| p.soil_moisture).collect();
    for (b, a) in before.iter().zip(&after) {
        assert!(a > &(b + 3.0), "moisture {b} → {a}");
    }
    assert!(
        obs.iter()
            .any(|o| o.entity == pump && o.value == Value::Flag(true))
    );
    // The probes saw it too.
    let probe: Vec<f64> = obs
        .iter()
        .filter(|o| o.measurand == Measurand::SoilMoisture && o.time > SimTime::hours(13))
        .map(number)
        .collect();
    let mean_before = before.iter().sum::<f64>() / before.len() as f64;
    assert!(probe.iter().sum::<f64>() / probe.len() as f64 > mean_before + 2.0);
}

#[test]
fn a_closed_valve_keeps_its_parcel_dry_and_each_watering_is_reported() {
    let s = scenario("garden");
    let mut w = SimWorld::new(&s).unwrap();
    run(&mut w, SimTime::hours(12));
    let parcels: Vec<EntityId> = w.truth().parcels.iter().map(|p| p.id).collect();
    let (shut, open) = (parcels[0], parcels[1]);
    let pump = garden_pump(&w);
    let set = |entity, measurand, value| Command {
        entity,
        time: SimTime::hours(12),
        action: Action::SetDesired { measurand, value },
    };
    w.deliver(set(shut, Measurand::ValveOpening, Value::Number(0.0)));
    w.deliver(set(pump, Measurand::PumpOn, Value::Flag(true)));
    run(&mut w, SimTime::hours(14));
    w.deliver(set(pump, Measurand::PumpOn, Value::Flag(false)));
    let obs = run(&mut w, SimTime::hours(15));
    let truth = w.truth();
    let water = |id| truth.parcels.iter().find(|p| p.id == id).unwrap().water_m3;
    assert_eq!(water(shut), 0.0);
    assert!(water(open) > 0.0);
    let reported: Vec<(EntityId, f64)> = obs
        .iter()
        .filter(|o| o.measurand == Measurand::Irrigation)
        .map(|o| (o.entity, number(o)))
        .collect();
    // Two hours at the pump's 8 mm/h, to within a tick.
    let pump_mm = s.spec.agriculture.as_ref().unwrap().pumps.mm_per_hour;
    let depth = reported.iter().find(|(e, _)| *e == open).unwrap().1;
    assert!((depth - 2.0 * pump_mm).abs() <= pump_mm / 6.0, "{depth}");
    assert!(reported.iter().all(|(e, _)| *e != shut), "{reported:?}");
}

#[test]
fn the_rain_forecast_sees_the_spells_ahead() {
    let s = scenario("garden");
    let tick = s.spec.tick.0;
    let mut w = SimWorld::new(&s).unwrap();
    let days = 60;
    // True rain per hour, and each forecast's next 24 hours.
    let mut rain = vec![0.0; days * 24];
    let mut forecasts: Vec<(usize, f64)> = Vec::new();
    for (h, hour) in rain.iter_mut().enumerate() {
        for _ in 0..SimTime::hours(1).as_ms() / tick.as_ms() {
            let until = w.now() + tick;
            for o in run(&mut w, until) {
                if let Value::Forecast(p) = &o.value
                    && o.measurand == Measurand::RainfallForecast
                {
                    forecasts.push((h, p.points.iter().take(24).map(|e| e.value).sum()));
                }
            }
            *hour += w.truth().weather.rain_mm_h * tick.as_secs_f64() / 3600.0;
        }
    }
    let pairs: Vec<(f64, f64)> = forecasts
        .iter()
        .filter(|(h, _)| h + 24 <= rain.len())
        .map(|&(h, f)| (f, rain[h..h + 24].iter().sum()))
        .collect();
    let mean = |xs: Vec<f64>| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let wet: Vec<f64> = pairs.iter().filter(|p| p.0 >= 2.0).map(|p| p.1).collect();
    let dry: Vec<f64> = pairs.iter().filter(|p| p.0 < 0.1).map(|p| p.1).collect();
    assert!(
        wet.len() >= 5 && dry.len() >= 5,
        "{} wet, {} dry",
        wet.len(),
        dry.len()
    );
    let (w_mean, d_mean) = (mean(wet), mean(dry));
    assert!(
        w_mean > 3.0 * d_mean,
        "rain after wet forecasts {w_mean:.1} mm, after dry {d_mean:.1} mm"
    );
    // Issued every 6 hours.
    assert!(
        (forecasts.len() as i64 - (days * 4) as i64).abs() <= 1,
        "{}",
        forecasts.len()
    );
}

#[test]
fn soil_moisture_rises_after_rain() {
    let mut s = scenario("garden");
    s.spec.weather.rain_days_per_month = 12.0;
    s.spec.weather.rain_mm_per_wet_hour = 3.0;
    let fc = s.spec.agriculture.as_ref().unwrap().soil.field_capacity;
    let tick = s.spec.tick.0;
    let mut w = SimWorld::new(&s).unwrap();
    let moisture = |w: &mut SimWorld| {
        w.truth()
            .parcels
            .iter()
            .map(|p| p.soil_moisture)
            .sum::<f64>()
    };
    let (mut wet_hours, mut dry_hours) = (0, 0);
    for _ in 0..24 * 30 {
        let start = moisture(&mut w);
        let dry_enough = w.truth().parcels.iter().all(|p| p.soil_moisture < fc - 2.0);
        let mut rain_mm = 0.0;
        for _ in 0..SimTime::hours(1).as_ms() / tick.as_ms() {
            let until = w.now() + tick;
            run(&mut w, until);
            rain_mm += w.truth().weather.rain_mm_h * tick.as_secs_f64() / 3600.0;
        }
        let end = moisture(&mut w);
        if rain_mm >= 1.0 && dry_enough {
            assert!(
                end > start,
                "{rain_mm:.1} mm of rain in an hour, moisture {start} → {end}"
            );
            wet_hours += 1;
        } else if rain_mm == 0.0 && dry_enough {
            assert!(end <= start, "no rain, moisture {start} → {end}");
            dry_hours += 1;
        }
    }
    assert!(
        wet_hours >= 3 && dry_hours >= 10,
        "{wet_hours} wet, {dry_hours} dry hours"
    );
}
