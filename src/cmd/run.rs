//! `twin run`: the twin on the built-in demo world.
//!
//! The loop: pace simulated time with the clock, let the world advance and
//! emit observations, ingest them, hand the commands the twin issues back to
//! the world, tick the runtime every simulated minute, and every simulated
//! hour compact the store's history and checkpoint entity state. Ctrl-C stops
//! cleanly (checkpoint, flush). On a store that already holds a run, simulated
//! time continues where it stopped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use tracing::{info, warn};
use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig};
use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::state::InputError;
use twin_core::store::{Retention, Store};
use twin_core::{Clock, ClockMode, Command, EventBody, EventType, SimTime};
use twin_scenarios::DemoWorld;

use super::Result;

#[derive(ClapArgs)]
pub struct Args {
    /// Store directory (created if missing).
    #[arg(long, default_value = "./twin-data")]
    store: PathBuf,
    /// Keep nothing: use a temporary store removed at exit.
    #[arg(long)]
    ephemeral: bool,
    /// Simulated time to run, e.g. 12h or 7d. Without it, runs until Ctrl-C.
    #[arg(long = "for", value_parser = SimTime::parse_duration)]
    duration: Option<SimTime>,
    /// Clock: `real`, `xN` (N simulated seconds per second) or `max`.
    #[arg(long, default_value = "x60", value_parser = ClockMode::parse)]
    clock: ClockMode,
    /// Seed of every random draw in the world.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Multiplies the number of machines, parcels and vehicles.
    #[arg(long, default_value_t = 1)]
    scale: usize,
    /// Worker threads (shards).
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// How long raw history is kept.
    #[arg(long, default_value = "30d", value_parser = SimTime::parse_duration)]
    raw_retention: SimTime,
    /// How long 5-minute and hourly roll-ups are kept.
    #[arg(long, default_value = "365d", value_parser = SimTime::parse_duration)]
    rollup_retention: SimTime,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Figures of a run, printed at the end.
#[derive(Default)]
struct Tally {
    observations: usize,
    refused: usize,
    events: usize,
    alerts: usize,
    commands: usize,
}

const STEP: SimTime = twin_scenarios::demo::SAMPLE;

pub fn main(args: Args) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    if args.clock == ClockMode::Stepped {
        return Err(
            "a stepped clock moves only when simulation control steps it, which \
             `twin run` cannot do yet; use real, xN or max"
                .into(),
        );
    }
    let retention = Retention {
        raw: args.raw_retention,
        rollups: args.rollup_retention,
    };
    let store = if args.ephemeral {
        Store::temporary(retention)?
    } else {
        Store::open(&args.store, retention)?
    };
    let start = SimTime(store.get_meta::<i64>("sim_time")?.unwrap_or(0));
    let runtime = Runtime::start(
        RuntimeConfig {
            workers: args.workers,
            ..RuntimeConfig::default()
        },
        Some(store.clone()),
    )?;
    let mut world = DemoWorld::new(args.seed, args.scale);
    let created = runtime.create(world.records().to_vec(), start).await?;
    let known = created
        .errors
        .iter()
        .filter(|(_, e)| matches!(e, InputError::AlreadyExists(_)))
        .count();
    if let Some((_, e)) = created
        .errors
        .iter()
        .find(|(_, e)| !matches!(e, InputError::AlreadyExists(_)))
    {
        return Err(format!("creating the demo entities: {e}").into());
    }
    info!(
        entities = world.records().len(),
        resumed = known,
        from = %start,
        store = %if args.ephemeral { "temporary".into() } else { args.store.display().to_string() },
        "demo world ready"
    );
    store.put_meta("seed", &args.seed)?;

    // Ctrl-C sets the flag (checked between steps) and wakes a pacing sleep.
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    let (flag, waker) = (stop.clone(), wake.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            waker.notify_one();
        }
    });

    let wall = Instant::now();
    let mut clock = Clock::new(args.clock, start, wall.elapsed());
    let end = args.duration.map(|d| start + d);
    let bar = progress(args.duration);
    let mut alerts = runtime.bus().subscribe(Filter {
        types: vec![EventType::AlertRaised],
        ..Filter::default()
    });
    let mut tally = Tally::default();
    let mut sim = start;
    let mut last_alert = None;
    let mut last_log = Instant::now();
    // Paced, each sample period is ingested as it falls due; unpaced, a minute
    // at a time (the tick period), which saves round trips.
    let stride = if args.clock == ClockMode::AsFastAsPossible {
        SimTime::minutes(1)
    } else {
        STEP
    };
    while !stop.load(Ordering::SeqCst) && end.is_none_or(|e| sim < e) {
        let target = end.map_or(sim + stride, |e| (sim + stride).min(e));
        // A zero wait must not sleep: even a zero sleep waits for the timer.
        if let Some(wait) = clock
            .wait_until(target, wall.elapsed())
            .filter(|w| !w.is_zero())
        {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => break,
            }
        }
        clock.advance_to(target);
        step(&runtime, &mut world, start, sim, target, &mut tally).await?;
        while let Some(d) = alerts.try_recv() {
            if let Delivery::Events(f) = d {
                for e in f.iter() {
                    if let EventBody::AlertRaised { message, .. } = &e.body {
                        tally.alerts += 1;
                        last_alert = Some(format!("{} {message}", e.entity));
                    }
                }
            }
        }
        if target.floor(SimTime::minutes(1)) > sim.floor(SimTime::minutes(1)) {
            tally.events += runtime.tick(target).await?.events;
        }
        if target.floor(SimTime::hours(1)) > sim.floor(SimTime::hours(1)) {
            hourly(&runtime, &store, target).await?;
            // Where no progress bar is drawn (a service, a pipe), say where we are.
            if bar.is_hidden() && last_log.elapsed() >= Duration::from_secs(10) {
                last_log = Instant::now();
                info!(sim = %target, observations = tally.observations, events = tally.events, alerts = tally.alerts, "running");
            }
        }
        sim = target;
        bar.set_position((sim - start).as_ms() as u64 / 1000);
        bar.set_message(format!(
            "sim {sim} · {} obs · {} events · {} alerts{}",
            tally.observations,
            tally.events,
            tally.alerts,
            last_alert
                .as_deref()
                .map(|a| format!(" · last: {a}"))
                .unwrap_or_default()
        ));
    }
    bar.finish_and_clear();
    hourly(&runtime, &store, sim).await?;
    runtime.shutdown().await?;
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "ran {} of simulated time in {secs:.1} s: {} observations ({} refused), {} events, {} alerts, {} commands to the world",
        sim - start,
        tally.observations,
        tally.refused,
        tally.events,
        tally.alerts,
        tally.commands
    );
    if !args.ephemeral {
        println!(
            "store: {} ({} entities); try `twin inspect --store {}`",
            args.store.display(),
            store.state_count(),
            args.store.display()
        );
    }
    Ok(())
}

/// One step of the loop: world → observations → runtime → commands → world.
async fn step(
    runtime: &Runtime,
    world: &mut DemoWorld,
    origin: SimTime,
    from: SimTime,
    to: SimTime,
    tally: &mut Tally,
) -> Result<()> {
    // The world counts time from its own zero; the run may continue an older one.
    let mut observations = Vec::new();
    world.advance(to - origin, &mut observations);
    for o in &mut observations {
        o.time = o.time + origin;
    }
    let mut issued: Vec<Command> = Vec::new();
    while !observations.is_empty() {
        let rest = observations.split_off(observations.len().min(runtime.config().max_batch));
        let batch = std::mem::replace(&mut observations, rest);
        tally.observations += batch.len();
        let report = runtime.ingest(batch, false).await?;
        tally.refused += report.errors.len();
        tally.events += report.events;
        if let Some((_, e)) = report.errors.first() {
            warn!("{} observation(s) refused, first: {e}", report.errors.len());
        }
        issued.extend(report.commands);
    }
    let operator: Vec<Command> = world
        .operator_commands(from - origin, to - origin)
        .into_iter()
        .map(|c| Command {
            time: c.time + origin,
            ..c
        })
        .collect();
    if !operator.is_empty() {
        let report = runtime.command(operator).await?;
        for (_, e) in &report.errors {
            warn!("command refused: {e}");
        }
        tally.events += report.events;
        issued.extend(report.commands);
    }
    tally.commands += issued.len();
    for c in issued {
        world.deliver(Command {
            time: c.time - origin,
            ..c
        });
    }
    Ok(())
}

/// Hourly upkeep: roll history up, checkpoint state, remember where we are.
async fn hourly(runtime: &Runtime, store: &Store, now: SimTime) -> Result<()> {
    let report = store.compact(now)?;
    runtime.checkpoint().await?;
    store.put_meta("sim_time", &now.as_ms())?;
    tracing::debug!(?report, "hourly compaction");
    Ok(())
}

fn progress(duration: Option<SimTime>) -> ProgressBar {
    let bar = match duration {
        Some(d) => ProgressBar::new((d.as_ms() / 1000).max(1) as u64).with_style(
            ProgressStyle::with_template("{bar:30} {percent:>3}% {msg}").expect("valid template"),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template")),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
