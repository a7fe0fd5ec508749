//! Maintenance policies scored: downtime, technicians' hours, failures and
//! the orders done.
//!
//! `fixed-interval` services every `every_h` operating hours; unless given,
//! `every_h` is tuned on the first seed, from a grid, to the interval whose
//! technician hours come closest to `twin`'s without falling below them:
//! the comparison at no less effort.

use serde_json::{Map, Value as Json, json};
use twin_actors::planning::Board;
use twin_core::workorder::OrderState;
use twin_scenarios::GroundTruth;

use super::{Ctx, Domain, Score};
use crate::eval::{Result, round};

pub(super) const DOMAIN: Domain = Domain {
    planner: "maintenance",
    policies: &["twin", "fixed-interval", "run-to-failure"],
    score,
    settings,
    ratios: &[
        (
            "unplanned_downtime_h",
            "fixed-interval",
            "unplanned_twin_over_fixed_interval",
        ),
        (
            "unplanned_downtime_h",
            "run-to-failure",
            "unplanned_twin_over_run_to_failure",
        ),
    ],
};

const NAMES: &[&str] = &[
    "unplanned_downtime_h",
    "planned_downtime_h",
    "technician_hours",
    "failures",
    "orders_completed",
    "mean_order_lead_h",
];

fn score(truth: &GroundTruth, board: &Board) -> Score {
    let done: Vec<f64> = board
        .work_orders
        .iter()
        .filter(|o| o.state == OrderState::Done)
        .filter_map(|o| {
            let end = o
                .history
                .iter()
                .rev()
                .find(|t| t.state == OrderState::Done)?;
            Some((end.at - o.created).as_secs_f64() / 3600.0)
        })
        .collect();
    let lead = if done.is_empty() {
        0.0
    } else {
        done.iter().sum::<f64>() / done.len() as f64
    };
    Score {
        names: NAMES,
        values: vec![
            truth.machines.iter().map(|m| m.unplanned_h).sum(),
            truth.machines.iter().map(|m| m.planned_h).sum(),
            truth.technician_hours,
            truth.machines.iter().map(|m| m.failures as f64).sum(),
            done.len() as f64,
            lead,
        ],
    }
}

fn settings(ctx: &mut Ctx<'_>, policy: &str, out: &mut Map<String, Json>) -> Result<toml::Table> {
    let mut extra = toml::Table::new();
    if policy != "fixed-interval" {
        return Ok(extra);
    }
    let h = match ctx.a.every_h {
        Some(h) => h,
        None => {
            let target = ctx.twin("technician_hours").ok_or(
                "fixed-interval tunes its interval to twin's technician hours: \
                 run twin first, or give --every-h",
            )?;
            tune(ctx, target)?
        }
    };
    extra.insert("every_h".into(), toml::Value::Float(h));
    out.insert("fixed_interval_every_h".into(), json!(round(h)));
    Ok(extra)
}

/// Intervals tried when tuning, operating hours.
const GRID: [f64; 5] = [120.0, 180.0, 250.0, 350.0, 500.0];

/// The fixed interval whose technician hours on the first seed come
/// closest to `target` without going below it (else the closest), from
/// [`GRID`]. Hours are not monotonic in the interval: short intervals
/// spend them on services, long ones on repairs after failures.
fn tune(ctx: &Ctx<'_>, target: f64) -> Result<f64> {
    let mut tried = Vec::new();
    for every in GRID {
        let mut extra = toml::Table::new();
        extra.insert("every_h".into(), toml::Value::Float(every));
        let s = ctx.run(ctx.seeds[0], "fixed-interval", &extra)?;
        let hours = s.get("technician_hours");
        eprintln!(
            "tuning fixed-interval: every {every:.0} h, {hours:.0} technician hours (twin {target:.0}), {:.0} h unplanned",
            s.get("unplanned_downtime_h")
        );
        tried.push((every, hours));
    }
    let at_least = tried
        .iter()
        .filter(|(_, h)| *h >= target)
        .min_by(|x, y| x.1.total_cmp(&y.1));
    let closest = tried
        .iter()
        .min_by(|x, y| (x.1 - target).abs().total_cmp(&(y.1 - target).abs()));
    Ok(at_least.or(closest).map_or(GRID[2], |(e, _)| *e))
}
