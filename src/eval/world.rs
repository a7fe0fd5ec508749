//! `twin eval world`: a scenario run with its `[[inference]]` models on,
//! scored against the world's truth.
//!
//! The world and the twin run in lockstep in memory. A machine that goes
//! down is repaired at once (a maintenance command, as a crew would on a
//! breakdown; the planner of work orders is another matter), so that
//! machines live several lives in a run. Then, per failure:
//! - **RUL**: every estimate made in the life that failed, at `t`, against
//!   the hours that were really left, `failure − t`; only estimates with at
//!   most `--horizon` hours left count (early in a life the model says
//!   "healthy", which is capped and right), and only lives that wore out
//!   (a sudden failure, which the world draws whatever the wear, cannot be
//!   foretold by a life estimate). A life still running at the end is left
//!   out: its truth is not known.
//! - **warned**: an anomaly alert on the machine or a sensor attached to it,
//!   or its RUL below its threshold, in the same life and at most
//!   `--warn-within` before the failure; the lead is the earliest such
//!   warning's.
//! - **false anomaly alerts**: an anomaly alert not followed by a failure
//!   of its machine within `--warn-within` (every alert on a series that
//!   belongs to no machine is false), per followed series and day; alerts
//!   on a machine that is down or in maintenance are counted apart.
//! - **disease zones** (when a `disease_zones` model runs): see
//!   [`super::disease`].
//! - **forecasts** (when a `forecast` model runs): see
//!   [`super::forecasts`].
//! - **vehicles** (when a `track` model runs): every raw GPS fix and every
//!   estimate of the filter against where the vehicle truly was at that
//!   moment (the world is stepped one tick at a time for it), as RMSE.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig, Subscription};
use twin_core::ports::CommandSink;
use twin_core::state::{MachineStatus, Status};
use twin_core::{
    Action, Command, EntityId, EventBody, EventType, Kind, Measurand, Relation, SimTime, Value,
};
use twin_scenarios::{Scenario, SimWorld};

use super::disease::{DiseaseTally, ZoneView};
use super::forecasts::ForecastTally;
use super::{Result, round};
use crate::bench::lockstep_config;
use crate::drive::{Driver, TICK_EVERY};
use crate::progress;
use crate::train::rul::parse_engines;

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file or built-in name.
    #[arg(long)]
    scenario: String,
    /// Simulated time to run.
    #[arg(long, value_parser = SimTime::parse_duration)]
    r#for: SimTime,
    /// The world's seed (the scenario's own by default).
    #[arg(long)]
    seed: Option<u64>,
    /// The C-MAPSS engines (`first-last`) the factory's wear paths come
    /// from: those a RUL model was not trained on.
    #[arg(long, value_parser = parse_engines)]
    engines: Option<[usize; 2]>,
    /// How long before a failure a warning counts, and after an anomaly
    /// alert a failure must come for the alert to be true.
    #[arg(long, default_value = "7d", value_parser = SimTime::parse_duration)]
    warn_within: SimTime,
    /// Largest true remaining life, hours, at which RUL estimates are scored.
    #[arg(long, default_value_t = 125.0)]
    horizon: f64,
    /// Worker threads of the twin.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn main(a: Args) -> Result<()> {
    let mut scenario = Scenario::find(&a.scenario)?;
    if let Some(seed) = a.seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(e) = a.engines {
        scenario = scenario.with_engines(e)?;
    }
    if scenario.spec.inference.is_empty() {
        return Err(format!(
            "scenario {} runs no [[inference]] model",
            scenario.spec.name
        )
        .into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let scores = rt.block_on(run(&scenario, &a))?;
    let mut out = Map::new();
    out.insert("scenario".into(), json!(scenario.spec.name));
    out.insert("seed".into(), json!(scenario.spec.seed));
    out.insert("days".into(), json!(a.r#for.as_secs_f64() / 86_400.0));
    out.extend(scores);
    if a.json {
        println!("{}", Json::Object(out));
    } else {
        for (k, v) in out {
            println!("{k}: {v}");
        }
    }
    Ok(())
}

/// One life of a machine, from its (re)start.
#[derive(Default)]
struct Life {
    /// (time, estimate, low, high), hours.
    estimates: Vec<(SimTime, f64, f64, f64)>,
    /// (time, from the RUL model rather than an anomaly alert).
    warnings: Vec<(SimTime, bool)>,
}

/// A machine that went down.
struct Failure {
    machine: EntityId,
    at: SimTime,
    /// Worn out, not a sudden failure.
    worn: bool,
    /// Lead of the earliest warning of any kind within the window, and of
    /// the earliest from the RUL model.
    lead: Option<SimTime>,
    rul_lead: Option<SimTime>,
}

#[derive(Default)]
struct Tally {
    lives: HashMap<EntityId, Life>,
    /// Machines down or in maintenance: alerts on them are explained.
    stopped: std::collections::HashSet<EntityId>,
    /// Anomaly alerts while their machine was stopped.
    alerts_stopped: usize,
    failures: Vec<Failure>,
    /// (rul error, covered) per scored estimate.
    rul: Vec<(f64, bool)>,
    /// (machine the series belongs to, time) per anomaly alert.
    alerts: Vec<(Option<EntityId>, SimTime)>,
    /// Positions the twin was told (raw fixes) or estimated, of the step
    /// just run: (vehicle, time, estimated, lon, lat).
    fixes: Vec<(EntityId, SimTime, bool, f64, f64)>,
    /// Errors, metres: raw fixes, estimates.
    gps: Vec<f64>,
    estimated: Vec<f64>,
    /// Zones the twin created (disease zones among them).
    zones: Vec<EntityId>,
    disease: DiseaseTally,
    forecasts: ForecastTally,
}

/// How often disease zones are compared with the world's outbreaks.
const DISEASE_EVERY: SimTime = SimTime::hours(6);

async fn run(scenario: &Scenario, a: &Args) -> Result<Map<String, Json>> {
    let world = SimWorld::new(scenario)?;
    let mut attached: HashMap<EntityId, EntityId> = HashMap::new();
    for r in world.records() {
        for rel in r.common.relations() {
            if let Relation::AttachedTo(t) = rel
                && t.kind() == Kind::Machine
            {
                attached.insert(r.id(), *t);
            }
        }
    }
    let series = world
        .records()
        .iter()
        .filter(|r| {
            scenario.spec.inference.iter().any(|s| {
                s.model == "anomaly"
                    && s.select
                        .admits_entity(r.id().kind(), &r.common.subtype.name())
            })
        })
        .count();
    let runtime = Runtime::start(
        RuntimeConfig {
            bus_capacity: 1 << 16,
            models: scenario.models()?,
            ..lockstep_config(a.workers)
        },
        None,
    )?;
    let mut sub = runtime.bus().subscribe(Filter {
        types: vec![
            EventType::Created,
            EventType::StateChanged,
            EventType::StatusChanged,
            EventType::AlertRaised,
            EventType::RulBelow,
        ],
        kinds: vec![],
        entities: vec![],
    });
    let mut tally = Tally::default();
    let mut driver = Driver::start(&runtime, world, SimTime::ZERO, None).await?;
    // Tracked vehicles are scored at every tick: the world's truth after a
    // tick is where they were when its fixes were taken.
    let tracked = scenario.spec.inference.iter().any(|s| s.model == "track");
    let stride = if tracked {
        driver.world.tick()
    } else {
        driver.world.tick().max(TICK_EVERY)
    };
    let diseases = scenario
        .spec
        .inference
        .iter()
        .any(|s| s.model == "disease_zones");
    let mut next_disease_sample = DISEASE_EVERY;
    let bar = progress::bar(Some(a.r#for.as_ms().max(1) as u64));
    while driver.now() < a.r#for {
        let to = (driver.now() + stride).min(a.r#for);
        let from = driver.now();
        driver.step(to).await?;
        let down = drain(&mut sub, &attached, &mut tally)?;
        if !tally.fixes.is_empty() {
            let truth: HashMap<EntityId, (f64, f64)> = driver
                .world
                .positions()
                .into_iter()
                .map(|(id, lon, lat)| (id, (lon, lat)))
                .collect();
            for (id, t, estimated, lon, lat) in std::mem::take(&mut tally.fixes) {
                let Some(true_at) = truth.get(&id).filter(|_| t == from) else {
                    continue;
                };
                let e = twin_infer::track::distance_m((lon, lat), *true_at);
                if estimated {
                    tally.estimated.push(e);
                } else {
                    tally.gps.push(e);
                }
            }
        }
        if diseases && driver.now() >= next_disease_sample {
            next_disease_sample = driver.now() + DISEASE_EVERY;
            let mut zones = Vec::new();
            for id in &tally.zones {
                if let Some(view) = runtime.get(*id).await?.as_ref().and_then(ZoneView::of) {
                    zones.push(view);
                }
            }
            let truth = driver.world.truth();
            tally.disease.sample(driver.now(), &truth.outbreaks, &zones);
        }
        if !down.is_empty() {
            let truth = driver.world.truth();
            for (id, at) in down {
                let worn = truth
                    .machines
                    .iter()
                    .find(|m| m.id == id)
                    .is_some_and(|m| m.health <= 0.1);
                let life = tally.lives.remove(&id).unwrap_or_default();
                // The earliest warning within the window before the failure.
                let lead = |rul_only: bool| {
                    life.warnings
                        .iter()
                        .filter(|(_, rul)| *rul || !rul_only)
                        .map(|(w, _)| at - *w)
                        .filter(|lead| *lead <= a.warn_within)
                        .max()
                };
                let (lead, rul_lead) = (lead(false), lead(true));
                if worn {
                    for (t, v, lo, hi) in &life.estimates {
                        let left = (at - *t).as_secs_f64() / 3600.0;
                        if left <= a.horizon {
                            tally
                                .rul
                                .push(((v - left).abs(), (*lo..=*hi).contains(&left)));
                        }
                    }
                }
                tally.failures.push(Failure {
                    machine: id,
                    at,
                    worn,
                    lead,
                    rul_lead,
                });
                driver.world.deliver(Command {
                    entity: id,
                    time: at,
                    action: Action::BeginMaintenance,
                });
            }
        }
        bar.set_position(driver.now().as_ms().max(0) as u64);
    }
    bar.finish_and_clear();
    driver.finish().await?;
    runtime.shutdown().await?;
    Ok(scores(&tally, series, a, diseases))
}

/// Takes the events published so far; returns the machines that went down.
fn drain(
    sub: &mut Subscription,
    attached: &HashMap<EntityId, EntityId>,
    tally: &mut Tally,
) -> Result<Vec<(EntityId, SimTime)>> {
    let mut down = Vec::new();
    while let Some(d) = sub.try_recv() {
        let batch = match d {
            Delivery::Events(batch) => batch,
            Delivery::Lagged { missed } => return Err(format!("lost {missed} events").into()),
            Delivery::Closed => break,
        };
        for e in batch.iter() {
            if let EventBody::StateChanged { measurand, value } = &e.body {
                tally.forecasts.see(e.entity, e.time, *measurand, value);
            }
            let machine = if e.entity.kind() == Kind::Machine {
                Some(e.entity)
            } else {
                attached.get(&e.entity).copied()
            };
            let warn = |tally: &mut Tally, m: EntityId, rul: bool| {
                tally
                    .lives
                    .entry(m)
                    .or_default()
                    .warnings
                    .push((e.time, rul));
            };
            match &e.body {
                EventBody::Created if e.entity.kind() == Kind::Zone => tally.zones.push(e.entity),
                EventBody::StatusChanged {
                    to: Status::Machine(s),
                    ..
                } => match s {
                    MachineStatus::Down => {
                        tally.stopped.insert(e.entity);
                        down.push((e.entity, e.time));
                    }
                    // Back from a repair: a new life.
                    MachineStatus::Running if tally.stopped.remove(&e.entity) => {
                        tally.lives.insert(e.entity, Life::default());
                    }
                    MachineStatus::Maintenance => {
                        tally.stopped.insert(e.entity);
                        tally.lives.insert(e.entity, Life::default());
                    }
                    _ => {}
                },
                EventBody::StateChanged {
                    measurand: Measurand::Rul,
                    value: Value::Interval(est),
                } => tally
                    .lives
                    .entry(e.entity)
                    .or_default()
                    .estimates
                    .push((e.time, est.value, est.low, est.high)),
                EventBody::AlertRaised {
                    measurand: Measurand::AnomalyScore,
                    ..
                } => {
                    if machine.is_some_and(|m| tally.stopped.contains(&m)) {
                        tally.alerts_stopped += 1;
                        continue;
                    }
                    tally.alerts.push((machine, e.time));
                    if let Some(m) = machine {
                        warn(tally, m, false);
                    }
                }
                EventBody::RulBelow { .. } => warn(tally, e.entity, true),
                EventBody::StateChanged {
                    measurand: m @ (Measurand::Position | Measurand::PositionEstimate),
                    value: Value::Point { lon, lat },
                } if e.entity.kind() == Kind::Vehicle => tally.fixes.push((
                    e.entity,
                    e.time,
                    *m == Measurand::PositionEstimate,
                    *lon,
                    *lat,
                )),
                _ => {}
            }
        }
    }
    Ok(down)
}

fn scores(t: &Tally, series: usize, a: &Args, diseases: bool) -> Map<String, Json> {
    let mut out = Map::new();
    let days = a.r#for.as_secs_f64() / 86_400.0;
    let wear: Vec<_> = t.failures.iter().filter(|f| f.worn).collect();
    let warned = t.failures.iter().filter(|f| f.lead.is_some()).count();
    let mut leads: Vec<f64> = t
        .failures
        .iter()
        .filter_map(|f| f.lead.map(|l| l.as_secs_f64() / 3600.0))
        .collect();
    leads.sort_by(f64::total_cmp);
    out.insert("failures".into(), json!(t.failures.len()));
    out.insert(
        "failures_sudden".into(),
        json!(t.failures.len() - wear.len()),
    );
    out.insert("failures_warned".into(), json!(warned));
    out.insert(
        "wear_failures_warned".into(),
        json!(wear.iter().filter(|f| f.lead.is_some()).count()),
    );
    out.insert(
        "median_warning_lead_h".into(),
        leads
            .get(leads.len() / 2)
            .map_or(Json::Null, |l| json!(round(*l))),
    );
    let mut rul_leads: Vec<f64> = t
        .failures
        .iter()
        .filter_map(|f| f.rul_lead.map(|l| l.as_secs_f64() / 3600.0))
        .collect();
    rul_leads.sort_by(f64::total_cmp);
    out.insert("failures_warned_by_rul".into(), json!(rul_leads.len()));
    out.insert(
        "median_rul_warning_lead_h".into(),
        rul_leads
            .get(rul_leads.len() / 2)
            .map_or(Json::Null, |l| json!(round(*l))),
    );
    out.insert("rul_estimates_scored".into(), json!(t.rul.len()));
    if !t.rul.is_empty() {
        let n = t.rul.len() as f64;
        out.insert(
            "rul_mae_h".into(),
            json!(round(t.rul.iter().map(|r| r.0).sum::<f64>() / n)),
        );
        out.insert(
            "rul_coverage_90".into(),
            json!(round(t.rul.iter().filter(|r| r.1).count() as f64 / n)),
        );
    }
    let false_alerts = t
        .alerts
        .iter()
        .filter(|(m, at)| {
            !m.is_some_and(|m| {
                t.failures
                    .iter()
                    .any(|f| f.machine == m && f.at > *at && f.at - *at <= a.warn_within)
            })
        })
        .count();
    if !t.gps.is_empty() {
        // Estimates only when a tracker runs.
        for (name, errors) in [("gps", &t.gps), ("position", &t.estimated)] {
            if errors.is_empty() {
                continue;
            }
            let mut e = errors.clone();
            e.sort_by(f64::total_cmp);
            let rmse = (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt();
            out.insert(format!("{name}_count"), json!(e.len()));
            out.insert(format!("{name}_rmse_m"), json!(round(rmse)));
            out.insert(format!("{name}_p50_m"), json!(round(e[e.len() / 2])));
            out.insert(format!("{name}_p99_m"), json!(round(e[e.len() * 99 / 100])));
        }
    }
    if diseases {
        t.disease.scores(days, &mut out);
    }
    if !t.forecasts.is_empty() {
        t.forecasts.scores(a.r#for, &mut out);
    }
    out.insert("anomaly_series".into(), json!(series));
    out.insert("anomaly_alerts".into(), json!(t.alerts.len()));
    out.insert(
        "anomaly_alerts_while_stopped".into(),
        json!(t.alerts_stopped),
    );
    out.insert("anomaly_false_alerts".into(), json!(false_alerts));
    out.insert(
        "anomaly_false_alerts_per_day".into(),
        json!(round(
            false_alerts as f64 / (series.max(1) as f64 * days.max(1e-9))
        )),
    );
    out
}
