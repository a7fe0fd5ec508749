//! `twin eval planning`: the same world and seeds under each policy of the
//! scenario's planner, scored on the world's truth.
//!
//! Each run is the scenario with its planner's `policy` set, the world and
//! the twin in lockstep in memory, the planner's commands the only thing
//! that acts. What is reported comes from the world, not the twin; what
//! each domain scores, and how its baseline is tuned, is in its module:
//! [`maintenance`] (`twin`, `fixed-interval`, `run-to-failure`) and
//! [`irrigation`] (`twin`, `fixed-schedule`).

mod irrigation;
mod maintenance;

use serde_json::{Map, Value as Json, json};
use twin_actors::planning::Board;
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::SimTime;
use twin_scenarios::{GroundTruth, Scenario, SimWorld};

use super::{Result, round};
use crate::bench::lockstep_config;
use crate::drive::{Driver, TICK_EVERY};
use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file or built-in name with a `maintenance` or an
    /// `irrigation` planner.
    #[arg(long)]
    scenario: String,
    /// Simulated time of each run.
    #[arg(long, value_parser = SimTime::parse_duration)]
    r#for: SimTime,
    /// Policies to run (repeatable); all of the planner's when not given:
    /// twin, fixed-interval, run-to-failure (maintenance); twin,
    /// fixed-schedule (irrigation).
    #[arg(long)]
    policy: Vec<String>,
    /// Seeds: the scenario's own and the next ones.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Fixed interval, operating hours; tuned to twin's technician hours
    /// when not given.
    #[arg(long)]
    every_h: Option<f64>,
    /// Fixed schedule: days between waterings.
    #[arg(long, default_value_t = 3.0)]
    every_d: f64,
    /// Fixed schedule: depth of each watering, mm; tuned to twin's stress
    /// hours when not given.
    #[arg(long)]
    depth_mm: Option<f64>,
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

/// What one run scored, in the order of its domain's names.
#[derive(Clone, Debug)]
struct Score {
    names: &'static [&'static str],
    values: Vec<f64>,
}

impl Score {
    fn get(&self, name: &str) -> f64 {
        self.names
            .iter()
            .position(|n| *n == name)
            .map_or(f64::NAN, |i| self.values[i])
    }

    fn json(&self) -> Json {
        let mut m = Map::new();
        for (k, v) in self.names.iter().zip(&self.values) {
            m.insert(k.to_string(), json!(round(*v)));
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

/// What a domain's evaluation needs to know.
struct Domain {
    planner: &'static str,
    policies: &'static [&'static str],
    score: fn(&GroundTruth, &Board) -> Score,
    /// The settings a policy runs with beyond its name (a tuned baseline),
    /// from the medians of the policies already run; also noted in `out`.
    settings: fn(&mut Ctx<'_>, &str, &mut Map<String, Json>) -> Result<toml::Table>,
    /// Ratios of twin's medians to the baselines'.
    ratios: &'static [(&'static str, &'static str, &'static str)],
}

const DOMAINS: [Domain; 2] = [maintenance::DOMAIN, irrigation::DOMAIN];

/// One evaluation: its arguments, the base scenario and what ran so far.
struct Ctx<'a> {
    a: &'a Args,
    base: Scenario,
    domain: &'a Domain,
    seeds: Vec<u64>,
    rt: tokio::runtime::Runtime,
    /// Medians of each policy run so far.
    medians: Map<String, Json>,
}

impl Ctx<'_> {
    /// Twin's median of `name`, when twin ran first.
    fn twin(&self, name: &str) -> Option<f64> {
        self.medians.get("twin")?.get(name)?.as_f64()
    }

    fn run(&self, seed: u64, policy: &str, extra: &toml::Table) -> Result<Score> {
        self.rt.block_on(run(self, seed, policy, extra))
    }
}

pub fn main(a: Args) -> Result<()> {
    let mut base = Scenario::find(&a.scenario)?;
    if let Some(p) = a.sensor_period {
        base = base.with_sensor_period(p);
    }
    let domain = DOMAINS
        .iter()
        .find(|d| base.spec.planning.iter().any(|p| p.planner == d.planner))
        .ok_or_else(|| {
            format!(
                "scenario {} has neither a maintenance nor an irrigation planner",
                base.spec.name
            )
        })?;
    if a.seeds == 0 || a.seeds > 100 {
        return Err("--seeds is 1 to 100".into());
    }
    let policies: Vec<String> = if a.policy.is_empty() {
        domain.policies.iter().map(|p| p.to_string()).collect()
    } else {
        a.policy.clone()
    };
    if let Some(p) = policies
        .iter()
        .find(|p| !domain.policies.contains(&p.as_str()))
    {
        return Err(format!(
            "--policy {p}: the {} planner's policies are {}",
            domain.planner,
            domain.policies.join(", ")
        )
        .into());
    }
    let first = base.spec.seed;
    let mut ctx = Ctx {
        seeds: (0..a.seeds).map(|i| first.wrapping_add(i)).collect(),
        a: &a,
        base,
        domain,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        medians: Map::new(),
    };
    let mut out = Map::new();
    out.insert("scenario".into(), json!(ctx.base.spec.name));
    out.insert("days".into(), json!(a.r#for.as_secs_f64() / 86_400.0));
    out.insert("seeds".into(), json!(ctx.seeds));
    for policy in &policies {
        let extra = (domain.settings)(&mut ctx, policy, &mut out)?;
        let mut runs = Vec::new();
        for &seed in &ctx.seeds {
            let s = ctx.run(seed, policy, &extra)?;
            eprintln!("{policy} seed {seed}: {}", s.json());
            runs.push(s);
        }
        let mut per = Map::new();
        for name in runs[0].names {
            let m = median(runs.iter().map(|r| r.get(name)).collect());
            per.insert(name.to_string(), json!(round(m)));
        }
        ctx.medians
            .insert(policy.clone(), Json::Object(per.clone()));
        per.insert(
            "runs".into(),
            Json::Array(runs.iter().map(Score::json).collect()),
        );
        out.insert(policy.clone(), Json::Object(per));
    }
    for (name, baseline, key) in domain.ratios {
        let twin = ctx.twin(name);
        let other = ctx
            .medians
            .get(*baseline)
            .and_then(|m| m.get(*name)?.as_f64());
        if let (Some(t), Some(o)) = (twin, other)
            && o > 0.0
        {
            out.insert(key.to_string(), json!(round(t / o)));
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

/// One run of the scenario on `seed` with its planner's policy set,
/// scored on the world's truth at the end.
async fn run(ctx: &Ctx<'_>, seed: u64, policy: &str, extra: &toml::Table) -> Result<Score> {
    let a = ctx.a;
    let mut planning = ctx.base.spec.planning.clone();
    for p in planning
        .iter_mut()
        .filter(|p| p.planner == ctx.domain.planner)
    {
        p.params
            .insert("policy".into(), toml::Value::String(policy.into()));
        for (k, v) in extra {
            p.params.insert(k.clone(), v.clone());
        }
    }
    let scenario = ctx.base.clone().with_seed(seed).with_planning(planning)?;
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
    runtime.shutdown().await?;
    Ok((ctx.domain.score)(&truth, &board))
}
