//! `twin inspect`: an entity's state, relationships, desired against reported
//! values, history and events, read from a store; or the list of entities.

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
    /// The entity, as KIND/NAME (e.g. machine/press-01). Without it, lists
    /// the entities in the store.
    entity: Option<String>,
    /// Store directory.
    #[arg(long, default_value = "./twin-data")]
    store: PathBuf,
    #[command(flatten)]
    engine: EngineArg,
    /// When listing, only entities of this kind.
    #[arg(long)]
    kind: Option<Kind>,
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
    match &args.entity {
        None => list(&store, &args),
        Some(name) => show(&store, EntityId::parse(name)?, &args),
    }
}

fn list(store: &Store, args: &Args) -> Result<()> {
    let records: Vec<EntityRecord> = store
        .states(args.kind)
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
            .map(|x| format!("{}={}", x.measurand, x.value))
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
            "  {:<16} {:>14} {:<6} at {}  quality {:?}  alarm {:?}",
            r.measurand.name(),
            r.value.to_string(),
            r.measurand.unit(),
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
