//! `twin bench planning`: how long planners take to decide.
//!
//! - Maintenance: the scheduler placing open orders on a crew: synthetic
//!   orders spread over a 1 km site (three durations, three priorities,
//!   two skills), technicians at the depot, half of them with both skills,
//!   one shift each; the median of several solves at the planner's
//!   default effort.
//! - Irrigation: one decision hour of the irrigation planner over many
//!   parcels, each with two days of probe readings (every 30 min), a
//!   third dry enough to water, a third within a day of stress, a third
//!   wet, under a forecast of rain in 12 hours; a fresh planner each run,
//!   the step timed alone (deciding, and reconciling valves and pumps).

use std::time::Instant;

use serde_json::json;
use twin_core::value::{Estimate, Path};
use twin_core::{EntityId, Event, EventBody, Kind, Measurand, SimTime, Value};
use twin_plan::schedule::{self, Effort, Live};
use twin_plan::{Planners, Seen, Spec};

use crate::eval::round;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn median(mut secs: Vec<f64>) -> f64 {
    secs.sort_by(f64::total_cmp);
    secs[secs.len() / 2]
}

pub fn maintenance(orders: usize, technicians: usize, runs: usize) -> Result<serde_json::Value> {
    let (jobs, crew) = schedule::synthetic(orders, technicians);
    let mut secs = Vec::new();
    let mut placed = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let s = schedule::solve(&jobs, &crew, 1.25, Effort::default())?;
        secs.push(t.elapsed().as_secs_f64());
        placed = s.placed.len();
    }
    Ok(json!({
        "orders": orders,
        "technicians": technicians,
        "placed": placed,
        "replan_runs_s": secs.iter().map(|s| round(*s)).collect::<Vec<_>>(),
        "replan_s": round(median(secs)),
    }))
}

pub fn irrigation(parcels: usize, runs: usize) -> Result<serde_json::Value> {
    let spec: Spec = toml::from_str(
        r#"planner = "irrigation"
           params = { field_capacity = 36, wilting_point = 13, root_depth_mm = 500, mm_per_hour = 3.0 }"#,
    )?;
    let planners = Planners::new(&[spec])?;
    let now = SimTime::days(10);
    let pumps: Vec<EntityId> = (0..parcels.div_ceil(20))
        .map(|k| EntityId::new(Kind::Machine, &format!("pump-{k:04}")))
        .collect();
    let beds: Vec<EntityId> = (0..parcels)
        .map(|i| EntityId::new(Kind::Parcel, &format!("parcel-{i:05}")))
        .collect();
    let region = EntityId::new(Kind::Zone, "region");
    let mut rain = vec![0.0; 48];
    rain[12..16].fill(4.0);
    let forecast = Value::Forecast(Box::new(Path {
        step_ms: 3_600_000,
        points: rain
            .iter()
            .map(|&value| Estimate {
                value,
                low: 0.0,
                high: value * 3.0,
            })
            .collect(),
    }));
    let mut secs = Vec::new();
    let mut commands = 0;
    for _ in 0..runs.max(1) {
        let (_, mut p) = planners.instances().pop().expect("one planner");
        let mut feed = |entity: EntityId, time: SimTime, measurand, value, fed_by| {
            let event = Event {
                time,
                entity,
                body: EventBody::StateChanged { measurand, value },
            };
            p.observe(&Seen {
                event: &event,
                subtype: "cocoa",
                place: None,
                attached_to: None,
                fed_by,
                area_m2: Some(20_000.0),
            });
        };
        feed(
            region,
            now,
            Measurand::RainfallForecast,
            forecast.clone(),
            None,
        );
        for (i, &bed) in beds.iter().enumerate() {
            let end = [23.5, 25.2, 32.0][i % 3];
            for k in 0..=96 {
                let t = now - SimTime::minutes(30 * (96 - k));
                let m = end + 0.02 * (96 - k) as f64 / 2.0;
                feed(
                    bed,
                    t,
                    Measurand::SoilMoisture,
                    Value::Number(m),
                    Some(pumps[i / 20]),
                );
            }
            feed(
                bed,
                now,
                Measurand::ValveOpening,
                Value::Number(0.0),
                Some(pumps[i / 20]),
            );
        }
        let mut out = Vec::new();
        let t = Instant::now();
        p.step(now, &mut Live::default(), &mut out);
        secs.push(t.elapsed().as_secs_f64());
        commands = out.len();
    }
    Ok(json!({
        "parcels": parcels,
        "commands": commands,
        "replan_runs_ms": secs.iter().map(|s| round(s * 1e3)).collect::<Vec<_>>(),
        "replan_ms": round(median(secs) * 1e3),
    }))
}
