//! `twin bench`: measures and prints figures (a table, or one JSON object).

use clap::{Args as ClapArgs, Subcommand};
use serde_json::json;
use twin_actors::bench;
use twin_core::SimTime;
use twin_core::store::{Retention, Store};

use super::Result;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Runtime throughput and memory per entity (see README for the keys).
    Runtime {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Sensor entities for the throughput runs.
        #[arg(long, default_value_t = 1_000_000)]
        entities: usize,
        /// Observations per entity in each throughput run.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Worker threads (shards).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Observations per ingest batch.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Entities for the 10M memory figure (0 skips it).
        #[arg(long, default_value_t = 10_000_000)]
        big: usize,
        /// Actors for the one-actor-per-entity comparison.
        #[arg(long, default_value_t = 100_000)]
        actix_entities: usize,
        /// Throughput runs per figure; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Sensor entities for the steady-state run with history.
        #[arg(long, default_value_t = 100_000)]
        history_entities: usize,
        /// Simulated hours of that run (the first is warm-up).
        #[arg(long, default_value_t = 4)]
        history_hours: usize,
        /// Run only the plain twin throughput (for profiling).
        #[arg(long, hide = true)]
        only_twin: bool,
    },
    /// World speed (entity updates per second at 1M entities), replay speed,
    /// and the same factory model in Mesa for comparison.
    World(WorldBench),
    /// The gRPC API over loopback: ingest rate, GetEntity latency, watchers.
    Grpc {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        bench: twin::bench_grpc::GrpcBench,
    },
    /// The store's engines side by side: steady-state history ingest,
    /// compaction memory and speed, reads under ingest, size on disk, and a
    /// stress run with a watchdog (see `twin::bench_store`).
    Store {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        bench: twin::bench_store::StoreBench,
    },
    /// What hosting the anomaly model on every series costs the runtime,
    /// and RUL estimates per second (see `twin::bench_inference`).
    Inference {
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        bench: twin::bench_inference::InferenceBench,
    },
    /// NDVI pixels per second over a Sentinel-2-sized tile in memory (the
    /// computation and its mask, not the file reads).
    Ndvi {
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        /// Tile side in pixels (a Sentinel-2 tile at 10 m is 10,980).
        #[arg(long, default_value_t = 10_980)]
        side: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Time to re-plan open work orders over a crew (the maintenance
    /// planner's scheduler), and the irrigation of many parcels.
    Planning {
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1_000)]
        orders: usize,
        #[arg(long, default_value_t = 50)]
        technicians: usize,
        #[arg(long, default_value_t = 10_000)]
        parcels: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The load generator and the MQTT feed against a local Mosquitto:
    /// publish rates (bare rumqttc, `twin loadgen`, paho-mqtt), MQTT ingest
    /// into a twin, and a broker restart mid-stream (see
    /// `twin::bench_loadgen`; `scripts/bench-loadgen.sh` sets it up).
    Loadgen {
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        bench: twin::bench_loadgen::LoadgenBench,
    },
    /// Resident bytes per idle entity, measured in this process (used by
    /// `bench runtime` in a child process so each figure starts clean).
    #[command(hide = true)]
    Memory {
        #[arg(long)]
        entities: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
}

/// A benchmark's figures: one JSON object, or a line each.
fn print_figures(v: &serde_json::Value, json: bool) {
    if json {
        println!("{v}");
    } else if let Some(o) = v.as_object() {
        for (k, x) in o {
            println!("{k}: {x}");
        }
    }
}

/// Whether a benchmark is batch work over big buffers (see the allocator
/// settings in `main.rs`).
pub fn is_batch(args: Option<&Args>) -> bool {
    matches!(args.map(|a| &a.what), Some(What::World(_)))
}

pub fn main(args: Args) -> Result<()> {
    match args.what {
        What::World(b) => world(b),
        What::Store { json, bench } => {
            let child = bench.compaction_child.is_some();
            let v = twin::bench_store::run(bench, |s| {
                if !json {
                    eprintln!("… {s}");
                }
            })?;
            if json || child {
                println!("{v}");
            } else {
                for (k, x) in v.as_object().expect("an object") {
                    println!("{k:<40} {x}");
                }
            }
            Ok(())
        }
        What::Inference { json, bench } => {
            print_figures(&twin::bench_inference::run(&bench)?, json);
            Ok(())
        }
        What::Planning {
            json,
            orders,
            technicians,
            parcels,
            runs,
        } => {
            let v = json!({
                "maintenance": twin::bench_planning::maintenance(orders, technicians, runs)?,
                "irrigation": twin::bench_planning::irrigation(parcels, runs)?,
            });
            print_figures(&v, json);
            Ok(())
        }
        What::Loadgen { json, bench } => {
            let rt = twin::tokio_runtime()?;
            let v = rt.block_on(twin::bench_loadgen::run(&bench, |s| eprintln!("… {s}")))?;
            print_figures(&v, json);
            Ok(())
        }
        What::Ndvi { json, side, runs } => {
            print_figures(&twin::bench_ndvi::run(side, runs)?, json);
            Ok(())
        }
        What::Grpc { json, bench } => {
            let rt = twin::tokio_runtime()?;
            let f = rt.block_on(twin::bench_grpc::run(bench))?;
            let v = json!({
                "entities": f.entities,
                "ingest_obs_per_s": f.ingest_obs_per_s,
                "get_entity_p50_ms": f.get_entity_p50_ms,
                "get_entity_p99_ms": f.get_entity_p99_ms,
                "get_entity_p99_ms_runs": f.get_entity_p99_ms_runs,
                "get_entity_rate": f.get_entity_rate,
                "get_entity_sequential_ms": f.get_entity_sequential_ms,
                "watchers": f.watchers,
                "watch_events_per_s": f.watch_events_per_s,
                "ingest_with_watchers_obs_per_s": f.ingest_with_watchers_obs_per_s,
                "ingest_slowdown": f.ingest_slowdown,
                "ingest_slowdown_runs": f.ingest_slowdown_runs,
                "ingest_durable_obs_per_s": f.ingest_durable_obs_per_s,
                "ingest_durable_obs_per_s_runs": f.ingest_durable_obs_per_s_runs,
                "get_entity_p99_under_ingest_ms": f.get_entity_p99_under_ingest_ms,
                "get_entity_p99_under_ingest_ms_runs": f.get_entity_p99_under_ingest_ms_runs,
                "history_p99_ms": f.history_p99_ms,
                "history_p99_ms_runs": f.history_p99_ms_runs,
            });
            if json {
                println!("{v}");
            } else {
                println!(
                    "ingest: {:.2}M obs/s (batches of 1,000)",
                    f.ingest_obs_per_s / 1e6
                );
                println!(
                    "GetEntity at {:.0}/s: p50 {:.3} ms, p99 {:.3} ms (runs: {})",
                    f.get_entity_rate,
                    f.get_entity_p50_ms,
                    f.get_entity_p99_ms,
                    joined(&f.get_entity_p99_ms_runs, |p| format!("{p:.3}"))
                );
                println!(
                    "{} watchers: {:.0} events/s delivered; ingest {:.2}M obs/s = {:.2} of alone (pairs: {})",
                    f.watchers,
                    f.watch_events_per_s,
                    f.ingest_with_watchers_obs_per_s / 1e6,
                    f.ingest_slowdown,
                    joined(&f.ingest_slowdown_runs, |r| format!("{r:.2}"))
                );
                println!(
                    "durable ingest: {:.2}M obs/s (runs: {})",
                    f.ingest_durable_obs_per_s / 1e6,
                    joined(&f.ingest_durable_obs_per_s_runs, |r| format!(
                        "{:.2}",
                        r / 1e6
                    ))
                );
                println!(
                    "GetEntity p99 during ingest: {:.3} ms (runs: {}); GetHistory of a day at 5 min, 100/s during ingest: p99 {:.2} ms (runs: {})",
                    f.get_entity_p99_under_ingest_ms,
                    joined(&f.get_entity_p99_under_ingest_ms_runs, |p| format!(
                        "{p:.3}"
                    )),
                    f.history_p99_ms,
                    joined(&f.history_p99_ms_runs, |p| format!("{p:.2}"))
                );
            }
            Ok(())
        }
        What::Runtime {
            json,
            entities,
            rounds,
            workers,
            batch,
            big,
            actix_entities,
            runs,
            history_entities,
            history_hours,
            only_twin,
        } => {
            if only_twin {
                let run = bench::twin_obs_per_s(entities, rounds, batch, workers)?;
                println!("{run:?}");
                return Ok(());
            }
            let sizes = Sizes {
                n: entities,
                rounds,
                workers,
                batch,
                big,
                actix_n: actix_entities,
                runs,
                history_n: history_entities,
                history_hours,
            };
            runtime(json, sizes)
        }
        What::Memory { entities, workers } => {
            println!("{}", bench::bytes_per_idle_entity(entities, workers)?);
            Ok(())
        }
    }
}

/// Runs `twin bench memory` in a fresh process and returns its figure.
fn memory_in_child(entities: usize, workers: usize) -> Result<f64> {
    let (entities, workers) = (entities.to_string(), workers.to_string());
    let args = [
        "bench",
        "memory",
        "--entities",
        &entities,
        "--workers",
        &workers,
    ];
    let what = format!("memory run with {entities} entities");
    let out = twin::bench::run_self(&args, &what)?;
    Ok(String::from_utf8_lossy(&out).trim().parse()?)
}

/// The sizes of a `bench runtime` run.
struct Sizes {
    n: usize,
    rounds: usize,
    workers: usize,
    batch: usize,
    big: usize,
    actix_n: usize,
    runs: usize,
    history_n: usize,
    history_hours: usize,
}

fn runtime(json: bool, sizes: Sizes) -> Result<()> {
    let Sizes {
        n,
        rounds,
        workers,
        batch,
        big,
        actix_n,
        runs,
        history_n,
        history_hours,
    } = sizes;
    let step = |what: &str| {
        if !json {
            eprintln!("… {what}");
        }
    };
    let (ids, _) = bench::sensors(n);
    step("baseline: plain per-shard vectors");
    let raw = bench::median_of(runs, || {
        Ok::<_, Box<dyn std::error::Error>>(bench::raw_obs_per_s(
            &ids,
            bench::load(&ids, rounds, batch),
            workers,
        ))
    })?;
    drop(ids);
    step("twin: ingest → entity actors → bus");
    let mut last = None;
    let twin = bench::median_of(runs, || {
        let run = bench::twin_obs_per_s(n, rounds, batch, workers)?;
        last = Some(run);
        Ok::<_, Box<dyn std::error::Error>>(run.obs_per_s)
    })?;
    let last = last.expect("at least one run");
    step("twin with history at steady state (default engine, compaction every simulated hour)");
    let mut compactions = Vec::new();
    let hist = bench::median_of(runs, || {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path(), Retention::default())?;
        let run = bench::history_steady(history_n, history_hours, batch, workers, store)?;
        if run.compactions == 0 {
            return Err("no compaction finished inside the measured window".into());
        }
        compactions.push(run.compactions);
        Ok::<_, Box<dyn std::error::Error>>(run.obs_per_s)
    })?;
    step("memory per idle entity");
    let mem = memory_in_child(n, workers)?;
    let mem_big = if big > 0 {
        step("memory per idle entity at the large count");
        Some(memory_in_child(big, workers)?)
    } else {
        None
    };
    step("one actix actor per entity");
    let actix = bench::median_of(runs, || {
        Ok::<_, Box<dyn std::error::Error>>(bench::actix_per_entity_obs_per_s(
            actix_n, rounds, workers,
        ))
    })?;
    let report = json!({
        "entities": n,
        "workers": workers,
        "observations": last.observations,
        "runs": runs,
        "raw_obs_per_s": raw.round(),
        "twin_obs_per_s": twin.round(),
        "twin_events_received": last.events_received,
        "twin_events_missed": last.events_missed,
        "twin_obs_per_s_with_history": hist.round(),
        "history_entities": history_n,
        "history_hours": history_hours,
        "history_compactions_in_window": compactions,
        "ratio": twin / raw,
        "bytes_per_idle_entity": mem.round(),
        "bytes_per_idle_entity_10m": mem_big.map(f64::round),
        "big_entities": big,
        "actix_per_entity_obs_per_s": actix.round(),
        "actix_entities": actix_n,
    });
    if json {
        println!("{report}");
    } else {
        let big_row = mem_big.map_or("skipped".into(), |m| format!("{m:>14.0}"));
        let rows = [
            (
                "raw_obs_per_s (baseline)".to_string(),
                format!("{raw:>14.0}"),
            ),
            ("twin_obs_per_s".into(), format!("{twin:>14.0}")),
            (
                "twin_obs_per_s_with_history".into(),
                format!("{hist:>14.0}"),
            ),
            ("ratio".into(), format!("{:>14.3}", twin / raw)),
            (
                format!("bytes_per_idle_entity ({n})"),
                format!("{mem:>14.0}"),
            ),
            (format!("bytes_per_idle_entity ({big})"), big_row),
            (
                "actix_per_entity_obs_per_s".into(),
                format!("{actix:>14.0}"),
            ),
        ];
        println!(
            "{n} sensor entities, {workers} workers, {} observations per run, median of {runs} runs",
            last.observations
        );
        for (k, v) in rows {
            println!("{k:<30} {v}");
        }
        println!(
            "events counted by the subscriber (last run): {} received, {} missed",
            last.events_received, last.events_missed
        );
    }
    Ok(())
}

#[derive(ClapArgs)]
struct WorldBench {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Twin entities of the factory world.
    #[arg(long, default_value_t = 1_000_000)]
    entities: usize,
    /// One-second ticks timed.
    #[arg(long, default_value_t = 30)]
    ticks: usize,
    /// Runs of the world figure (each on two threads and on one) and
    /// replays of the recording; the median of each is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Scale of the factory recorded for the replay figure.
    #[arg(long, default_value_t = 300.0)]
    replay_scale: f64,
    /// Simulated time recorded for the replay figure.
    #[arg(long, default_value = "10m", value_parser = SimTime::parse_duration)]
    replay_for: SimTime,
    /// Worker threads of the replaying runtime.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Skip the Mesa comparison (it needs PyPI the first time).
    #[arg(long)]
    no_mesa: bool,
    /// Ticks of the Mesa model (about 6 s each at 1M entities).
    #[arg(long, default_value_t = 3)]
    mesa_ticks: usize,
}

/// The Mesa model's figures, from `scripts/bench-mesa.sh`.
fn mesa(entities: usize, ticks: usize) -> std::result::Result<serde_json::Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench-mesa.sh");
    let out = std::process::Command::new(script)
        .args([
            "--entities",
            &entities.to_string(),
            "--ticks",
            &ticks.to_string(),
        ])
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{script}: unreadable output: {e}"))
}

fn world(b: WorldBench) -> Result<()> {
    // Runs alternate between two threads and one, so that both figures
    // see the same moments of a noisy machine.
    let (mut figures, mut serial) = (Vec::new(), Vec::new());
    for _ in 0..b.runs.max(1) {
        figures.push(twin_scenarios::bench::factory_updates(
            b.entities, b.ticks, true,
        )?);
        serial.push(twin_scenarios::bench::factory_updates(
            b.entities, b.ticks, false,
        )?);
    }
    let median = |f: &mut Vec<twin_scenarios::bench::WorldFigures>| {
        f.sort_by(|x, y| x.updates_per_s.total_cmp(&y.updates_per_s));
        f[f.len() / 2].clone()
    };
    let w = median(&mut figures);
    let one = median(&mut serial);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(twin::bench::replay_rate(
        b.replay_scale,
        b.replay_for,
        b.workers,
        b.runs,
    ))?;
    let (mesa_updates, mesa_error) = if !b.no_mesa {
        match mesa(w.entities, b.mesa_ticks) {
            Ok(v) => (v["updates_per_s"].as_f64(), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, Some("skipped (--no-mesa)".to_string()))
    };
    let ratio = mesa_updates.map(|m| w.updates_per_s / m);
    // Mesa runs on one thread: the ratio at equal threads, said as well.
    let ratio_one = mesa_updates.map(|m| one.updates_per_s / m);
    let v = json!({
        "world_entities": w.entities,
        "world_updates_per_s": w.updates_per_s,
        "world_observations_per_s": w.observations_per_s,
        "world_runs": figures.iter().map(|f| f.updates_per_s).collect::<Vec<_>>(),
        "world_threads": w.threads,
        "world_updates_per_s_one_thread": one.updates_per_s,
        "replay_events_per_s": r.inputs_per_s,
        "replay_twin_events_per_s": r.events_per_s,
        "replay_runs": r.runs_inputs_per_s,
        "replay_inputs": r.inputs,
        "replay_entities": r.entities,
        "replay_hashes_checked": r.hashes_checked,
        "replay_recording_bytes": r.recording_bytes,
        "mesa_updates_per_s": mesa_updates,
        "mesa_ratio": ratio,
        "mesa_ratio_one_thread": ratio_one,
        "mesa_error": mesa_error,
    });
    if b.json {
        println!("{v}");
    } else {
        println!(
            "world: {:.1}M entity updates/s at {} entities on {} thread(s) ({:.1}M observations/s); {:.1}M on one",
            w.updates_per_s / 1e6,
            w.entities,
            w.threads,
            w.observations_per_s / 1e6,
            one.updates_per_s / 1e6
        );
        println!(
            "replay: {:.2}M inputs/s ({} inputs into {} entities, {} hashes checked; runs: {})",
            r.inputs_per_s / 1e6,
            r.inputs,
            r.entities,
            r.hashes_checked,
            joined(&r.runs_inputs_per_s, |x| format!("{:.2}M", x / 1e6))
        );
        match (mesa_updates, ratio, ratio_one) {
            (Some(m), Some(x), Some(x1)) => {
                println!("mesa: {m:.0} updates/s; twin/mesa = {x:.0} ({x1:.0} on one thread each)")
            }
            _ => println!("mesa: {}", v["mesa_error"]),
        }
    }
    Ok(())
}

/// Each run's figure, formatted, in the order the runs went.
fn joined(runs: &[f64], format: impl Fn(f64) -> String) -> String {
    runs.iter()
        .map(|x| format(*x))
        .collect::<Vec<_>>()
        .join(", ")
}
