//! Irrigation policies scored on the world's parcels: the water they
//! received, the hours their true soil moisture spent below the crop's
//! stress threshold, and the yield index (expected yield over potential).
//!
//! `fixed-schedule` waters `depth_mm` every `every_d` days. Unless the
//! depth is given, it is tuned on the first seed, from a grid of daily
//! depths, to the smallest whose stress hours are no more than `twin`'s
//! (else the one with the fewest): the comparison of water at no more
//! stress.

use serde_json::{Map, Value as Json, json};
use twin_actors::planning::Board;
use twin_scenarios::GroundTruth;

use super::{Ctx, Domain, Score};
use crate::eval::{Result, round};

pub(super) const DOMAIN: Domain = Domain {
    planner: "irrigation",
    policies: &["twin", "fixed-schedule"],
    score,
    settings,
    ratios: &[
        (
            "water_m3",
            "fixed-schedule",
            "water_twin_over_fixed_schedule",
        ),
        (
            "stress_hours",
            "fixed-schedule",
            "stress_twin_over_fixed_schedule",
        ),
    ],
};

const NAMES: &[&str] = &["water_m3", "stress_hours", "yield_index", "plans"];

fn score(truth: &GroundTruth, board: &Board) -> Score {
    let n = truth.parcels.len().max(1) as f64;
    Score {
        names: NAMES,
        values: vec![
            truth.parcels.iter().map(|p| p.water_m3).sum(),
            truth.parcels.iter().map(|p| p.stress_h).sum(),
            truth.parcels.iter().map(|p| p.yield_index).sum::<f64>() / n,
            board.plans.len() as f64,
        ],
    }
}

fn settings(ctx: &mut Ctx<'_>, policy: &str, out: &mut Map<String, Json>) -> Result<toml::Table> {
    let mut extra = toml::Table::new();
    if policy != "fixed-schedule" {
        return Ok(extra);
    }
    let every = ctx.a.every_d;
    if !(every > 0.0 && every <= 365.0) {
        return Err(format!("--every-d {every} is not within (0, 365]").into());
    }
    extra.insert("every_d".into(), toml::Value::Float(every));
    let depth = match ctx.a.depth_mm {
        Some(d) => d,
        None => {
            let target = ctx.twin("stress_hours").ok_or(
                "fixed-schedule tunes its depth to twin's stress hours: \
                 run twin first, or give --depth-mm",
            )?;
            tune(ctx, &extra, target)?
        }
    };
    extra.insert("depth_mm".into(), toml::Value::Float(depth));
    out.insert("fixed_schedule_every_d".into(), json!(round(every)));
    out.insert("fixed_schedule_depth_mm".into(), json!(round(depth)));
    Ok(extra)
}

/// Daily depths tried when tuning, mm a day.
const GRID: [f64; 6] = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0];

fn tune(ctx: &Ctx<'_>, base: &toml::Table, target: f64) -> Result<f64> {
    let every = ctx.a.every_d;
    let mut tried = Vec::new();
    for daily in GRID {
        let depth = daily * every;
        let mut extra = base.clone();
        extra.insert("depth_mm".into(), toml::Value::Float(depth));
        let s = ctx.run(ctx.seeds[0], "fixed-schedule", &extra)?;
        let stress = s.get("stress_hours");
        eprintln!(
            "tuning fixed-schedule: {depth:.1} mm every {every} d, {stress:.0} stress hours (twin {target:.0}), {:.0} m³",
            s.get("water_m3")
        );
        tried.push((depth, stress));
        if stress <= target {
            break;
        }
    }
    let enough = tried.iter().find(|(_, s)| *s <= target);
    let fewest = tried.iter().min_by(|x, y| x.1.total_cmp(&y.1));
    Ok(enough.or(fewest).map_or(GRID[2] * every, |(d, _)| *d))
}
