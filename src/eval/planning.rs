//! `twin eval planning`: the same world and seeds under each maintenance
//! policy, scored on the world's truth.
//!
//! Each run is the scenario with its `maintenance` planner's policy set
//! (`twin`, `fixed-interval`, `run-to-failure`), the world and the twin in
//! lockstep in memory, the planner's work orders the only thing that sends
//! a technician. What is reported comes from the world, not the twin:
//! hours machines were down or repaired after a failure (unplanned), hours
//! of planned maintenance, hours technicians spent on jobs (travel and
//! work), failures; and from the planner's orders: those done, and their
//! mean lead (hours from opened to done).
//!
//! `fixed-interval` services every `every_h` operating hours; unless given,
//! `every_h` is tuned on the first seed, from a grid, to the interval whose
//! technician hours come closest to `twin`'s without falling below them:
//! the comparison at no less effort.

use serde_json::{Map, Value as Json, json};
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::SimTime;
use twin_core::workorder::OrderState;
use twin_scenarios::{Scenario, SimWorld};

use super::{Result, round};
use crate::bench::lockstep_config;
use crate::drive::{Driver, TICK_EVERY};
use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file or built-in name with a `maintenance` planner.
    #[arg(long)]
    scenario: String,
    /// Simulated time of each run.
    #[arg(long, value_parser = SimTime::parse_duration)]
    r#for: SimTime,
    /// Policies to run (repeatable): twin, fixed-interval, run-to-failure.
    #[arg(long, default_values_t = ["twin".to_string(), "fixed-interval".to_string(), "run-to-failure".to_string()])]
    policy: Vec<String>,
    /// Seeds: the scenario's own and the next ones.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Fixed interval, operating hours; tuned to twin's technician hours
    /// when not given.
    #[arg(long)]
    every_h: Option<f64>,
    /// Sample every sensor no more often than this (e.g. 60s): a coarser,
    /// faster world, the same for every policy.
    #[arg(long, value_parser = SimTime::parse_duration)]
    sensor_period: Option<SimTime>,
    /// Worker threads of the twin.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

/// What one run scored.
#[derive(Clone, Copy, Debug, Default)]
struct Score {
    unplanned_downtime_h: f64,
    planned_downtime_h: f64,
    technician_hours: f64,
    failures: f64,
    orders_completed: f64,
    mean_order_lead_h: f64,
}

impl Score {
    const NAMES: [&'static str; 6] = [
        "unplanned_downtime_h",
        "planned_downtime_h",
        "technician_hours",
        "failures",
        "orders_completed",
        "mean_order_lead_h",
    ];

    fn values(&self) -> [f64; 6] {
        [
            self.unplanned_downtime_h,
            self.planned_downtime_h,
            self.technician_hours,
            self.failures,
            self.orders_completed,
            self.mean_order_lead_h,
        ]
    }

    fn json(&self) -> Json {
        let mut m = Map::new();
        for (k, v) in Self::NAMES.iter().zip(self.values()) {
            m.insert(k.to_string(), json!(round(v)));
        }
        Json::Object(m)
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

pub fn main(a: Args) -> Result<()> {
    let mut base = Scenario::find(&a.scenario)?;
    if let Some(p) = a.sensor_period {
        base = base.with_sensor_period(p);
    }
    if !base
        .spec
        .planning
        .iter()
        .any(|p| p.planner == "maintenance")
    {
        return Err(format!("scenario {} has no maintenance planner", base.spec.name).into());
    }
    if a.seeds == 0 || a.seeds > 100 {
        return Err("--seeds is 1 to 100".into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let first = base.spec.seed;
    let seeds: Vec<u64> = (0..a.seeds).map(|i| first.wrapping_add(i)).collect();
    let mut out = Map::new();
    out.insert("scenario".into(), json!(base.spec.name));
    out.insert("days".into(), json!(a.r#for.as_secs_f64() / 86_400.0));
    out.insert("seeds".into(), json!(seeds));
    let mut twin_hours = None;
    let mut every_h = a.every_h;
    for policy in &a.policy {
        let mut extra = toml::Table::new();
        if policy == "fixed-interval" {
            let h = match every_h {
                Some(h) => h,
                None => {
                    let target = twin_hours.ok_or(
                        "fixed-interval tunes its interval to twin's technician hours: \
                         run twin first, or give --every-h",
                    )?;
                    let h = rt.block_on(tune(&base, seeds[0], target, &a))?;
                    every_h = Some(h);
                    h
                }
            };
            extra.insert("every_h".into(), toml::Value::Float(h));
            out.insert("fixed_interval_every_h".into(), json!(round(h)));
        }
        let mut runs = Vec::new();
        for &seed in &seeds {
            let s = rt.block_on(run(&base, seed, policy, &extra, &a))?;
            eprintln!("{policy} seed {seed}: {}", s.json());
            runs.push(s);
        }
        let mut per = Map::new();
        for (k, name) in Score::NAMES.iter().enumerate() {
            let m = median(runs.iter().map(|r| r.values()[k]).collect());
            per.insert(name.to_string(), json!(round(m)));
        }
        if policy == "twin" {
            twin_hours = Some(median(runs.iter().map(|r| r.technician_hours).collect()));
        }
        per.insert(
            "runs".into(),
            Json::Array(runs.iter().map(Score::json).collect()),
        );
        out.insert(policy.clone(), Json::Object(per));
    }
    let ratio = |out: &Map<String, Json>, p: &str| -> Option<f64> {
        let twin = out.get("twin")?.get("unplanned_downtime_h")?.as_f64()?;
        let other = out.get(p)?.get("unplanned_downtime_h")?.as_f64()?;
        (other > 0.0).then(|| round(twin / other))
    };
    for (p, key) in [
        ("fixed-interval", "unplanned_twin_over_fixed_interval"),
        ("run-to-failure", "unplanned_twin_over_run_to_failure"),
    ] {
        if let Some(r) = ratio(&out, p) {
            out.insert(key.into(), json!(r));
        }
    }
    if a.json {
        println!("{}", Json::Object(out));
    } else {
        for (k, v) in out {
            println!("{k}: {v}");
        }
    }
    Ok(())
}

/// Intervals tried when tuning, operating hours.
const GRID: [f64; 5] = [120.0, 180.0, 250.0, 350.0, 500.0];

/// The fixed interval whose technician hours on `seed` come closest to
/// `target` without going below it (else the closest), from [`GRID`].
/// Hours are not monotonic in the interval: short intervals spend them
/// on services, long ones on repairs after failures.
async fn tune(base: &Scenario, seed: u64, target: f64, a: &Args) -> Result<f64> {
    let mut tried = Vec::new();
    for every in GRID {
        let mut extra = toml::Table::new();
        extra.insert("every_h".into(), toml::Value::Float(every));
        let s = run(base, seed, "fixed-interval", &extra, a).await?;
        eprintln!(
            "tuning fixed-interval: every {every:.0} h, {:.0} technician hours (twin {target:.0}), {:.0} h unplanned",
            s.technician_hours, s.unplanned_downtime_h
        );
        tried.push((every, s.technician_hours));
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

async fn run(
    base: &Scenario,
    seed: u64,
    policy: &str,
    extra: &toml::Table,
    a: &Args,
) -> Result<Score> {
    let mut planning = base.spec.planning.clone();
    for p in planning.iter_mut().filter(|p| p.planner == "maintenance") {
        p.params
            .insert("policy".into(), toml::Value::String(policy.into()));
        for (k, v) in extra {
            p.params.insert(k.clone(), v.clone());
        }
    }
    let scenario = base.clone().with_seed(seed).with_planning(planning)?;
    let world = SimWorld::new(&scenario)?;
    let runtime = Runtime::start(
        RuntimeConfig {
            bus_capacity: 1 << 16,
            models: scenario.models()?,
            planners: scenario.planners()?,
            ..lockstep_config(a.workers)
        },
        None,
    )?;
    let mut driver = Driver::start(&runtime, world, SimTime::ZERO, None).await?;
    let stride = driver.world.tick().max(TICK_EVERY);
    let bar = progress::bar(Some(a.r#for.as_ms().max(1) as u64));
    while driver.now() < a.r#for {
        let to = (driver.now() + stride).min(a.r#for);
        driver.step(to).await?;
        bar.set_position(driver.now().as_ms().max(0) as u64);
    }
    bar.finish_and_clear();
    let (mut world, _) = driver.finish().await?;
    let truth = world.truth();
    let board = runtime.board();
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
    runtime.shutdown().await?;
    Ok(Score {
        unplanned_downtime_h: truth.machines.iter().map(|m| m.unplanned_h).sum(),
        planned_downtime_h: truth.machines.iter().map(|m| m.planned_h).sum(),
        technician_hours: truth.technician_hours,
        failures: truth.machines.iter().map(|m| m.failures as f64).sum(),
        orders_completed: done.len() as f64,
        mean_order_lead_h: if done.is_empty() {
            0.0
        } else {
            done.iter().sum::<f64>() / done.len() as f64
        },
    })
}
