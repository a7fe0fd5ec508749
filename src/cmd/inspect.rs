//! `twin inspect`: an entity's state, relationships, desired against reported
//! values, history and events, read from a store; without an entity, a
//! summary of the store (entities by kind, subtype and status, the open
//! alerts, size and time), or with `--list` or a filter the entities
//! themselves.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use serde_json::json;
use twin_core::store::{Bucket, Resolution, Retention, Sample, Store};
use twin_core::value::ValueType;
use twin_core::{EntityId, EntityRecord, Event, Kind, Measurand, Relation, SimTime};

use super::Result;
use twin::store_args::EngineArg;

#[derive(ClapArgs)]
pub struct Args {
    /// The entity, as KIND/NAME (e.g. machine/press-01). Without it, a
    /// summary of the store (or the entities, with --list or a filter).
    entity: Option<String>,
    /// List the entities, a line each.
    #[arg(long)]
    list: bool,
    /// Store directory.
    #[arg(long, default_value = "./twin-data")]
    store: PathBuf,
    #[command(flatten)]
    engine: EngineArg,
    /// List only entities of this kind.
    #[arg(long)]
    kind: Option<Kind>,
    /// List only entities of this subtype (e.g. cocoa, bus, pump).
    #[arg(long)]
    subtype: Option<String>,
    /// List only entities in this status (running, down, en_route,
    /// stressed, stale, warning… as the summary names them).
    #[arg(long)]
    status: Option<String>,
    /// Measurand whose history to show (default: each one the entity reports).
    #[arg(long)]
    measurand: Option<Measurand>,
    /// Length of the history window, ending at the entity's last update.
    #[arg(long, default_value = "6h", value_parser = SimTime::parse_duration)]
    last: SimTime,
    /// History resolution: raw, 5m or 1h.
    #[arg(long, default_value = "1h", value_parser = parse_resolution)]
    resolution: Resolution,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_resolution(s: &str) -> std::result::Result<Resolution, String> {
    match s {
        "raw" => Ok(Resolution::Raw),
        "5m" => Ok(Resolution::FiveMinutes),
        "1h" => Ok(Resolution::Hourly),
        _ => Err(format!("resolution `{s}`: expected raw, 5m or 1h")),
    }
}

pub fn main(args: Args) -> Result<()> {
    if !args.store.exists() {
        return Err(format!(
            "no store at {} (run `twin run` first, or pass --store)",
            args.store.display()
        )
        .into());
    }
    let store = args.engine.open(&args.store, Retention::default())?;
    let filtered = args.kind.is_some() || args.subtype.is_some() || args.status.is_some();
    match &args.entity {
        None if args.list || filtered => list(&store, &args),
        None => summary(&store, &args),
        Some(name) => show(&store, EntityId::parse(name)?, &args),
    }
}

/// What an entity's state says of it in a word: a machine's or vehicle's
/// status, a parcel's crop health, a sensor's data quality, a zone's
/// alert level.
fn status(r: &EntityRecord) -> String {
    use twin_core::KindState as K;
    let v = match &r.state {
        K::Machine(m) => serde_json::to_value(m.status),
        K::Vehicle(v) => serde_json::to_value(v.status),
        K::Parcel(p) => serde_json::to_value(p.health),
        K::Sensor(s) => serde_json::to_value(s.quality),
        K::Zone(z) => serde_json::to_value(z.alert_level),
    };
    v.ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Counts by key, largest first (then by name).
fn ranked(counts: std::collections::BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// A kind's entities, by subtype and by status.
type KindCounts = (
    usize,
    std::collections::BTreeMap<String, usize>,
    std::collections::BTreeMap<String, usize>,
);

fn summary(store: &Store, args: &Args) -> Result<()> {
    use std::collections::BTreeMap;
    let mut kinds: BTreeMap<Kind, KindCounts> = BTreeMap::new();
    let mut alerts = Vec::new();
    let (mut first, mut last) = (None::<SimTime>, None::<SimTime>);
    for r in store.states(None) {
        let r = r?;
        let k = kinds.entry(r.id().kind()).or_default();
        k.0 += 1;
        *k.1.entry(r.common.subtype.to_string()).or_default() += 1;
        *k.2.entry(status(&r)).or_default() += 1;
        if r.common.updated > SimTime::MIN {
            first = first.min(Some(r.common.updated)).or(Some(r.common.updated));
            last = last.max(Some(r.common.updated));
        }
        for x in r
            .common
            .readings
            .iter()
            .filter(|x| x.level != twin_core::state::AlarmLevel::Normal)
        {
            alerts.push((x.level, r.id(), x.measurand, x.value.clone()));
        }
    }
    alerts.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let entities: usize = kinds.values().map(|k| k.0).sum();
    let sim_time = store.get_meta::<i64>("sim_time")?.map(SimTime);
    let scenario = store.get_meta::<String>("scenario")?;
    let site = store.get_meta::<String>("site")?;
    if args.json {
        let by_kind: serde_json::Map<String, serde_json::Value> = kinds
            .iter()
            .map(|(k, (n, sub, st))| {
                (
                    k.to_string(),
                    json!({"entities": n, "subtypes": sub, "statuses": st}),
                )
            })
            .collect();
        let out = json!({
            "entities": entities,
            "kinds": by_kind,
            "open_alerts": alerts.len(),
            "alerts": alerts.iter().map(|(l, e, m, v)| json!({
                "entity": e.to_string(), "measurand": m.name(), "level": l, "value": v,
            })).collect::<Vec<_>>(),
            "store_bytes": store.size_on_disk(),
            "scenario": scenario,
            "site": site,
            "sim_time_ms": sim_time.map(SimTime::as_ms),
            "last_update_ms": last.map(SimTime::as_ms),
        });
        println!("{out}");
        return Ok(());
    }
    let what = match (&scenario, &site) {
        (_, Some(s)) => format!("site {s}"),
        (Some(s), None) => format!("scenario {s}"),
        (None, None) => "no run recorded".into(),
    };
    println!(
        "{} ({what}): {entities} entities, {:.1} MB on disk",
        args.store.display(),
        store.size_on_disk() as f64 / 1e6
    );
    if let (Some(a), Some(b)) = (first, last) {
        println!(
            "updates from {a} to {b}{}",
            sim_time
                .map(|t| format!("; the run stopped at {t}"))
                .unwrap_or_default()
        );
    }
    for (k, (n, subtypes, statuses)) in &kinds {
        let join = |c: &BTreeMap<String, usize>| {
            ranked(c.clone())
                .iter()
                .map(|(s, n)| format!("{} {n}", if s.is_empty() { "-" } else { s }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{:<8} {n:>8}   {}   [{}]",
            k.to_string(),
            join(subtypes),
            join(statuses)
        );
    }
    println!("open alerts: {}", alerts.len());
    for (level, e, m, v) in alerts.iter().take(10) {
        println!("  {level:?} {e} {m} = {}", m.format(v));
    }
    if alerts.len() > 10 {
        println!("  … and {} more", alerts.len() - 10);
    }
    println!("(`twin inspect --list` lists the entities; `twin inspect KIND/NAME` shows one)");
    Ok(())
}

fn list(store: &Store, args: &Args) -> Result<()> {
    let records: Vec<EntityRecord> = store
        .states(args.kind)
        .filter(|r| {
            r.as_ref().map_or(true, |r| {
                args.subtype
                    .as_deref()
                    .is_none_or(|s| r.common.subtype.to_string() == s)
                    && args.status.as_deref().is_none_or(|s| status(r) == s)
            })
        })
        .collect::<std::result::Result<_, _>>()?;
    if args.json {
        println!("{}", serde_json::to_string(&records)?);
        return Ok(());
    }
    for r in &records {
        let readings: Vec<String> = r
            .common
            .readings
            .iter()
            .map(|x| format!("{}={}", x.measurand, x.measurand.format(&x.value)))
            .collect();
        println!(
            "{:<28} {:<14} {}  {}",
            r.id().to_string(),
            r.common.subtype.to_string(),
            r.common.updated,
            readings.join(" ")
        );
    }
    println!(
        "{} entities, store {:.1} MB on disk",
        records.len(),
        store.size_on_disk() as f64 / 1e6
    );
    Ok(())
}

/// History of one measurand, raw or rolled up.
enum History {
    Raw(Vec<Sample>),
    Rolled(Vec<Bucket>),
}

fn show(store: &Store, id: EntityId, args: &Args) -> Result<()> {
    let Some(rec) = store.get_state(id)? else {
        return Err(format!("{id} is not in the store at {}", args.store.display()).into());
    };
    let to = rec.common.updated + SimTime(1);
    let from = to - args.last;
    let measurands: Vec<Measurand> = match args.measurand {
        Some(m) => vec![m],
        None => rec.common.readings.iter().map(|r| r.measurand).collect(),
    };
    let mut history = Vec::new();
    for m in measurands {
        // Texts and positions have no mean: show them raw whatever was asked.
        let numeric = matches!(
            m.value_type(),
            ValueType::Number | ValueType::Flag | ValueType::Interval
        );
        let h = match args.resolution {
            r if r != Resolution::Raw && numeric => {
                History::Rolled(store.rollup_history(id, m, from, to, r)?)
            }
            _ => History::Raw(store.raw_history(id, m, from, to)?),
        };
        history.push((m, h));
    }
    let events: Vec<Event> = store
        .events(from, to, 1_000_000)?
        .into_iter()
        .filter(|e| e.entity == id)
        .collect();
    let outgoing = store.relations_from(id)?;
    let incoming = store.relations_to(id)?;
    // Load the names of related entities so they print readably.
    for other in outgoing
        .iter()
        .map(|r| r.target())
        .chain(incoming.iter().map(|(e, _)| *e))
    {
        store.name_of(other)?;
    }
    if args.json {
        let hist: serde_json::Map<String, serde_json::Value> = history
            .iter()
            .map(|(m, h)| {
                let v = match h {
                    History::Raw(s) => json!(s),
                    History::Rolled(b) => json!(b),
                };
                (m.name().to_string(), v)
            })
            .collect();
        let out = json!({
            "entity": rec,
            "controls": rec.common.control_views(),
            "relations_from": outgoing,
            "relations_to": incoming,
            "history": hist,
            "events": events,
        });
        println!("{out}");
        return Ok(());
    }
    println!("{id}  ({}, subtype {})", id.kind(), rec.common.subtype);
    println!("updated   {}", rec.common.updated);
    println!("state     {}", serde_json::to_string(&rec.state)?);
    if !rec.common.tags().is_empty() {
        println!("tags      {}", rec.common.tags().join(", "));
    }
    println!("readings");
    for r in rec.common.readings.iter() {
        println!(
            "  {:<16} {:>20} at {}  quality {:?}  alarm {:?}",
            r.measurand.name(),
            r.measurand.format(&r.value),
            r.time,
            r.quality,
            r.level
        );
    }
    let controls = rec.common.control_views();
    if !controls.is_empty() {
        println!("desired → reported");
        for c in controls {
            let reported = c
                .reported
                .map_or("nothing yet".to_string(), |v| v.to_string());
            let flag = if c.in_sync { "in sync" } else { "DIFFERS" };
            println!(
                "  {:<16} {} → {}  ({flag}, desired since {})",
                c.measurand.name(),
                c.desired,
                reported,
                c.desired_since
            );
        }
    }
    println!("relations");
    for r in outgoing {
        match r {
            Relation::AttachedTo(t) => println!("  attached to {t}"),
            Relation::LiesIn(t) => println!("  lies in {t}"),
            Relation::Affects(t) => println!("  affects {t}"),
            Relation::FedBy(t) => println!("  fed by {t}"),
        }
    }
    for (src, r) in incoming {
        match r {
            Relation::AttachedTo(_) => println!("  {src} is attached to it"),
            Relation::LiesIn(_) => println!("  {src} lies in it"),
            Relation::Affects(_) => println!("  {src} affects it"),
            Relation::FedBy(_) => println!("  {src} is fed by it"),
        }
    }
    for (m, h) in history {
        let unit = if m.unit().is_empty() {
            String::new()
        } else {
            format!(" in {}", m.unit())
        };
        println!("history of {m}{unit}, last {}", args.last);
        match h {
            History::Raw(samples) => {
                for s in samples.iter().rev().take(20).rev() {
                    println!("  {}  {}", s.time, s.value);
                }
                println!("  ({} samples)", samples.len());
            }
            History::Rolled(buckets) => {
                println!(
                    "  {:<16} {:>6} {:>10} {:>10} {:>10}",
                    "from", "count", "min", "mean", "max"
                );
                for b in buckets {
                    println!(
                        "  {:<16} {:>6} {:>10.3} {:>10.3} {:>10.3}",
                        b.start.to_string(),
                        b.count,
                        b.min,
                        b.mean,
                        b.max
                    );
                }
            }
        }
    }
    println!("events ({} in the window)", events.len());
    for e in events.iter().rev().take(10).rev() {
        println!("  {}  {:?}", e.time, e.body);
    }
    Ok(())
}
