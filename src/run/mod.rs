//! `twin run` and `twin record`: the twin on a scenario's world, served
//! over gRPC. The command line calls [`main`]; a program (a test, the
//! viewer's tests) starts the same run with [`run`] and stops it with its
//! [`Stop`].
//!
//! The loop: pace simulated time with the clock, let the driver advance the
//! world and feed the runtime, and every simulated hour compact the store's
//! history and checkpoint entity state. Ctrl-C stops cleanly (checkpoint,
//! flush). On a store that already holds a run, simulated time continues
//! where it stopped. With `--record`, the runtime runs in lockstep and every
//! input goes to a recording that `twin replay` checks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::bench::lockstep_config;
use crate::control::{LoadPolicy, RunControl};
use crate::drive::{Driver, Recorder, TICK_EVERY, Tally};
use crate::progress;
use crate::store_args::EngineArg;
use clap::{Args as ClapArgs, Parser};
use tracing::{info, warn};
use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig};
use twin_core::store::{Retention, Store};
use twin_core::{Clock, ClockMode, EventBody, EventType, SimTime};
use twin_scenarios::catalog::Catalog;
use twin_scenarios::{Scenario, SimWorld};

mod feeds;
mod serve;
mod site;
pub use feeds::FeedArgs;
pub use serve::ServeArgs;
use serve::serve;

/// Errors of a run: a message for the user.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The options of `twin run`; a program parses them from words with
/// [`Parser::try_parse_from`] (the first word is the program's name).
#[derive(Parser, Clone)]
#[command(name = "twin run")]
pub struct Args {
    /// Scenario file, or the name of a built-in one (city, factory,
    /// farm-cocoa, garden).
    #[arg(long, default_value = "farm-cocoa")]
    scenario: String,
    /// A live site instead of a scenario: the entities of a site file, no
    /// simulated world, wall-clock time, readings from the feeds (`--mqtt`,
    /// gRPC ingest, `twin feed`).
    #[arg(long, conflicts_with_all = ["scenario", "record", "clock"])]
    site: Option<PathBuf>,
    /// Store directory (created if missing).
    #[arg(long, default_value = "./twin-data")]
    store: PathBuf,
    /// Keep nothing: use a temporary store removed at exit.
    #[arg(long)]
    ephemeral: bool,
    #[command(flatten)]
    engine: EngineArg,
    /// Simulated time to run, e.g. 12h or 7d (default: the scenario's duration).
    #[arg(long = "for", value_parser = SimTime::parse_duration)]
    duration: Option<SimTime>,
    /// Run until Ctrl-C, whatever the scenario's duration.
    #[arg(long, conflicts_with = "duration")]
    forever: bool,
    /// Clock: `real`, `xN` (N simulated seconds per second) or `max`
    /// (default: the scenario's).
    #[arg(long, value_parser = ClockMode::parse)]
    clock: Option<ClockMode>,
    #[command(flatten)]
    world: WorldArgs,
    /// How long raw history is kept.
    #[arg(long, default_value = "30d", value_parser = SimTime::parse_duration)]
    raw_retention: SimTime,
    /// How long 5-minute and hourly roll-ups are kept.
    #[arg(long, default_value = "365d", value_parser = SimTime::parse_duration)]
    rollup_retention: SimTime,
    /// How long the event log is kept.
    #[arg(long, default_value = "30d", value_parser = SimTime::parse_duration)]
    event_retention: SimTime,
    /// Record every input to this file, for `twin replay`.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Steps between state hashes in a recording.
    #[arg(long, default_value_t = 60)]
    hash_every: u64,
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    feeds: FeedArgs,
    /// Print no summary at the end (the log still says what happens).
    #[arg(long)]
    quiet: bool,
    /// Set by the command line (not by programs that embed a run): exit the
    /// process when the store stops writing.
    #[arg(skip)]
    watchdog: bool,
}

/// What `run` and `record` may change of a scenario, and how many workers.
#[derive(ClapArgs, Clone)]
pub struct WorldArgs {
    /// Seed of every random draw in the world (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Multiplies the scenario's populations (default: the scenario's scale).
    #[arg(long)]
    scale: Option<f64>,
    /// Worker threads (shards).
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// The largest world a scenario, here or in a `LoadScenario` request,
    /// may build (entities; checked before building).
    #[arg(long, default_value_t = 10_000_000)]
    max_entities: usize,
    /// Inference models to run instead of the scenario's: a TOML file of
    /// `[[inference]]` entries written as in a scenario, model files named
    /// relative to it.
    #[arg(long)]
    inference: Option<PathBuf>,
}

/// `twin record`: `twin run` into a recording, on a temporary store, as fast
/// as possible unless told otherwise.
#[derive(ClapArgs)]
pub struct RecordArgs {
    /// Scenario file, or the name of a built-in one.
    #[arg(long)]
    scenario: String,
    /// Simulated time to record (default: the scenario's duration).
    #[arg(long = "for", value_parser = SimTime::parse_duration)]
    duration: Option<SimTime>,
    /// The recording to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    world: WorldArgs,
    /// Steps between state hashes.
    #[arg(long, default_value_t = 60)]
    hash_every: u64,
    /// Clock while recording (a live-paced recording replays the same).
    #[arg(long, default_value = "max", value_parser = ClockMode::parse)]
    clock: ClockMode,
    #[command(flatten)]
    engine: EngineArg,
}

impl From<RecordArgs> for Args {
    fn from(r: RecordArgs) -> Args {
        Args {
            scenario: r.scenario,
            site: None,
            store: PathBuf::new(),
            ephemeral: true,
            engine: r.engine,
            duration: r.duration,
            forever: false,
            clock: Some(r.clock),
            world: r.world,
            raw_retention: SimTime::days(30),
            rollup_retention: SimTime::days(365),
            event_retention: SimTime::days(30),
            record: Some(r.out),
            hash_every: r.hash_every,
            serve: ServeArgs::off(),
            feeds: FeedArgs::default(),
            quiet: false,
            watchdog: false,
        }
    }
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub fn main(mut args: Args) -> Result<()> {
    args.watchdog = true;
    // Two threads: the run loop and the gRPC server share them.
    let rt = crate::tokio_runtime()?;
    rt.block_on(async {
        let stop = Stop::default();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.stop();
            }
        });
        run(args, stop, |_| {}).await
    })
}

/// Ends the process, with an error, when `store` has had writes pending for
/// [`STALL_AFTER`](twin_core::store::watch::STALL_AFTER) without completing
/// one: a run whose store stopped writing says so and exits non-zero, rather
/// than hang (the gRPC health turns NOT_SERVING at the same threshold).
fn watch_store(store: Store) {
    use twin_core::store::watch::STALL_AFTER;
    std::thread::Builder::new()
        .name("store-watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                if let Some(waited) = store.write_stall(STALL_AFTER) {
                    tracing::error!(
                        "store: writes pending for {:.0} s without one completing; stopping",
                        waited.as_secs_f64()
                    );
                    eprintln!(
                        "twin run: the store stopped writing ({:.0} s with writes pending)",
                        waited.as_secs_f64()
                    );
                    std::process::exit(3);
                }
            }
        })
        .expect("the watchdog thread starts");
}

/// Asks a run to stop: it finishes the step it is in, checkpoints, flushes
/// and returns. Clones stop the same run.
#[derive(Clone)]
pub struct Stop(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Stop {
    fn default() -> Stop {
        Stop(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Stop {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    async fn requested(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

pub fn record(args: RecordArgs) -> Result<()> {
    main(args.into())
}

/// The scenario of `args`, with its overrides.
fn scenario(args: &Args) -> Result<Scenario> {
    let mut s = Scenario::find(&args.scenario)?;
    if let Some(seed) = args.world.seed {
        s = s.with_seed(seed);
    }
    if let Some(scale) = args.world.scale {
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(format!("--scale {scale}: expected a positive number").into());
        }
        s = s.with_scale(scale);
    }
    s.check_size(args.world.max_entities)?;
    if let Some(path) = &args.world.inference {
        s = s.with_inference(path)?;
    }
    Ok(s)
}

/// Runs the scenario of `args` until its end or until `stop`; `ready` is
/// called once the world is built, with the gRPC address if it serves.
pub async fn run(
    args: Args,
    stop: Stop,
    ready: impl FnOnce(Option<std::net::SocketAddr>),
) -> Result<()> {
    if let Some(site) = &args.site {
        return site::run(&args, site, stop, ready).await;
    }
    let scenario = scenario(&args)?;
    let mode = args.clock.unwrap_or(scenario.spec.clock.0);
    let store = open_store(&args)?;
    let start = SimTime(store.get_meta::<i64>("sim_time")?.unwrap_or(0));
    let recording = args.record.is_some();
    if recording && !(scenario.spec.measurand.is_empty() && scenario.spec.limits.is_empty()) {
        return Err(
            "a recording does not carry declared measurands or alarm limits: record a scenario without [[measurand]] and [[limits]]"
                .into(),
        );
    }
    if recording && start != SimTime::ZERO {
        return Err(
            "a recording starts from an empty store; use --ephemeral or a new --store".into(),
        );
    }
    let models = scenario.models()?;
    let planners = scenario.planners()?;
    let config = if recording {
        // Lockstep, no passivation (a recording hashes every entity), and
        // history kept as in any run.
        RuntimeConfig {
            history: true,
            models,
            planners,
            ..lockstep_config(args.world.workers)
        }
    } else {
        RuntimeConfig {
            workers: args.world.workers,
            models,
            planners,
            ..RuntimeConfig::default()
        }
    };
    let runtime = Arc::new(Runtime::start(config, Some(store.clone()))?);
    let world = SimWorld::new(&scenario)?;
    let entities = world.records().len();
    let recorder = match &args.record {
        Some(path) => Some(Recorder::create(path, args.hash_every)?),
        None => None,
    };
    let driver = Driver::start(&runtime, world, start, recorder).await?;
    // The world's entities are written at once, so that the store (and
    // with it the API's entity count) holds all of them from the start.
    runtime.checkpoint().await?;
    info!(
        scenario = %scenario,
        entities,
        from = %start,
        store = %if args.ephemeral { "temporary".into() } else { args.store.display().to_string() },
        "world ready"
    );
    store.put_meta("seed", &scenario.spec.seed)?;
    store.put_meta("scenario", &scenario.spec.name)?;

    // A stop request sets the flag (checked between steps) and wakes any wait.
    let loads = LoadPolicy {
        catalog: Catalog::new(args.serve.scenario_dir.as_deref())
            .map_err(|e| format!("--scenario-dir: {e}"))?,
        max_entities: args.world.max_entities,
    };
    let control = Arc::new(RunControl::new(
        &scenario.spec.name,
        scenario.calendar.epoch_unix_ms(),
        mode,
        start,
        loads,
    ));
    let (flag, waker) = (Arc::new(AtomicBool::new(false)), control.clone());
    let stopping = flag.clone();
    tokio::spawn(async move {
        stop.requested().await;
        stopping.store(true, Ordering::SeqCst);
        waker.wake.notify_one();
    });
    let stop = flag;
    let clock = {
        let control = control.clone();
        Arc::new(move || {
            let s = twin_actors::grpc::SimControl::status(&*control);
            twin_feed::Clock {
                now: s.time,
                epoch_unix_ms: s.epoch_unix_ms,
            }
        })
    };
    let feeds = feeds::Feeds::start(&args.feeds, &runtime, clock, args.serve.max_skew)?;
    // Served once the feeds are on the board: a client may list them at once.
    let server = serve(&args.serve, runtime.clone(), Some(control.clone())).await?;
    ready(server.addr);

    let duration = if args.forever {
        None
    } else {
        Some(args.duration.unwrap_or(scenario.spec.duration.0))
    };
    let end = duration.map(|d| start + d);
    let mut run = Loop {
        bar: progress::bar(duration.map(|d| (d.as_ms() / 1000).max(1) as u64)),
        alerts: runtime.bus().subscribe(Filter {
            types: vec![EventType::AlertRaised],
            ..Filter::default()
        }),
        runtime: &runtime,
        store: &store,
        driver,
        start,
        raised: 0,
        last_alert: None,
        last_log: Instant::now(),
        earlier: Tally::default(),
    };
    let wall = Instant::now();
    let mut clock = Clock::new(mode, start, wall.elapsed());
    // Paced, each world tick is ingested as it falls due; unpaced, a minute
    // or more at a time, which saves round trips.
    let tick = run.driver.world.tick();
    let stride = |mode| {
        if mode == ClockMode::AsFastAsPossible {
            tick.max(TICK_EVERY)
        } else {
            tick
        }
    };
    while !stop.load(Ordering::SeqCst) && end.is_none_or(|e| run.driver.now() < e) {
        let requests = control.take();
        if let Some(m) = requests.clock {
            clock.set_mode(m, wall.elapsed());
        }
        match requests.pause {
            Some(true) => clock.pause(wall.elapsed()),
            Some(false) => clock.resume(wall.elapsed()),
            None => {}
        }
        for (commands, reply) in requests.commands {
            let _ = reply.send(run.driver.command(commands).await?);
        }
        if let Some((next, reply)) = requests.load {
            let loaded = run.load(&next, args.record.is_some()).await;
            if loaded.is_ok() {
                control.set_scenario(&next.spec.name, next.calendar.epoch_unix_ms());
            }
            let _ = reply.send(loaded);
        }
        let held = clock.is_paused() || clock.mode() == ClockMode::Stepped;
        if held {
            for (dt, reply) in requests.steps {
                let target = end.map_or(run.driver.now() + dt, |e| (run.driver.now() + dt).min(e));
                while run.driver.now() < target {
                    let to = (run.driver.now() + stride(ClockMode::AsFastAsPossible)).min(target);
                    run.advance(to).await?;
                }
                clock.step(SimTime::ZERO, wall.elapsed());
                // Published before answering, so the answer shows the step.
                control.publish(run.driver.now(), clock.mode(), clock.is_paused());
                let _ = reply.send(());
            }
            control.publish(run.driver.now(), clock.mode(), clock.is_paused());
            // Nothing moves until a request or Ctrl-C.
            control.wake.notified().await;
            continue;
        }
        let sim = run.driver.now();
        let target = end.map_or(sim + stride(clock.mode()), |e| {
            (sim + stride(clock.mode())).min(e)
        });
        // A zero wait must not sleep: even a zero sleep waits for the timer.
        if let Some(wait) = clock
            .wait_until(target, wall.elapsed())
            .filter(|w| !w.is_zero())
        {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // A request or Ctrl-C: look at it before going on.
                _ = control.wake.notified() => continue,
            }
        }
        clock.advance_to(target);
        run.advance(target).await?;
        control.publish(target, clock.mode(), clock.is_paused());
    }
    run.bar.finish_and_clear();
    let sim = run.driver.now();
    let raised = run.raised;
    let (_, mut tally) = run.driver.finish().await?;
    tally.add(&run.earlier);
    feeds.stop().await;
    hourly(&runtime, &store, sim).await?;
    server.stop().await;
    if !args.quiet {
        feeds::report(&runtime);
    }
    match Arc::try_unwrap(runtime) {
        Ok(runtime) => runtime.shutdown().await?,
        Err(_) => warn!("the runtime is still shared at exit; its last checkpoint stands"),
    }
    if !args.quiet {
        report(&args, &store, sim - start, wall.elapsed(), &tally, raised);
    }
    Ok(())
}

/// The run's store (temporary with `--ephemeral`), watched when the
/// command line asked for it.
fn open_store(args: &Args) -> Result<Store> {
    let retention = Retention {
        raw: args.raw_retention,
        rollups: args.rollup_retention,
        events: args.event_retention,
    };
    let store = if args.ephemeral {
        args.engine.temporary(retention)?
    } else {
        args.engine.open(&args.store, retention)?
    };
    if args.watchdog {
        watch_store(store.clone());
    }
    Ok(store)
}

/// The state of the run loop that each step updates.
struct Loop<'r> {
    driver: Driver<'r>,
    runtime: &'r Runtime,
    store: &'r Store,
    bar: indicatif::ProgressBar,
    alerts: twin_actors::Subscription,
    start: SimTime,
    raised: usize,
    last_alert: Option<String>,
    last_log: Instant,
    /// What the worlds run before a scenario was loaded did.
    earlier: Tally,
}

impl Loop<'_> {
    /// Replaces the world by `scenario`'s, from now on; the entities of the
    /// old world stay in the twin (and passivate when idle).
    async fn load(
        &mut self,
        scenario: &Scenario,
        recording: bool,
    ) -> std::result::Result<(), String> {
        if recording {
            return Err(
                "a recording holds one world: stop it and record the other scenario".into(),
            );
        }
        let world = SimWorld::new(scenario).map_err(|e| e.to_string())?;
        let now = self.driver.now();
        let next = Driver::start(self.runtime, world, now, None)
            .await
            .map_err(|e| e.to_string())?;
        self.runtime.checkpoint().await.map_err(|e| e.to_string())?;
        let old = std::mem::replace(&mut self.driver, next);
        let (_, tally) = old.finish().await.map_err(|e| e.to_string())?;
        self.earlier.add(&tally);
        info!(scenario = %scenario, from = %now, "scenario loaded");
        Ok(())
    }

    /// One driver step to `target`, then the hourly upkeep and the display.
    async fn advance(&mut self, target: SimTime) -> Result<()> {
        let sim = self.driver.now();
        self.driver.step(target).await?;
        while let Some(d) = self.alerts.try_recv() {
            if let Delivery::Events(f) = d {
                for e in f.iter() {
                    if let EventBody::AlertRaised { message, .. } = &e.body {
                        self.raised += 1;
                        self.last_alert = Some(format!("{} {message}", e.entity));
                    }
                }
            }
        }
        if target.floor(SimTime::hours(1)) > sim.floor(SimTime::hours(1)) {
            hourly(self.runtime, self.store, target).await?;
            // Where no progress bar is drawn (a service, a pipe), say where we are.
            if self.bar.is_hidden() && self.last_log.elapsed() >= Duration::from_secs(10) {
                self.last_log = Instant::now();
                let t = &self.driver.tally;
                info!(sim = %target, observations = t.observations, events = t.events, alerts = self.raised, "running");
            }
        }
        self.bar
            .set_position((target - self.start).as_ms() as u64 / 1000);
        let t = &self.driver.tally;
        self.bar.set_message(format!(
            "sim {target} · {} obs · {} events · {} alerts{}",
            t.observations,
            t.events,
            self.raised,
            self.last_alert
                .as_deref()
                .map(|a| format!(" · last: {a}"))
                .unwrap_or_default()
        ));
        Ok(())
    }
}

fn report(args: &Args, store: &Store, ran: SimTime, wall: Duration, t: &Tally, alerts: usize) {
    if let Some(e) = &t.first_refusal {
        warn!("{} observation(s) refused, the first: {e}", t.refused);
    }
    println!(
        "ran {ran} of simulated time in {:.1} s: {} observations ({} refused, {} late), {} events, {alerts} alerts, {} commands to the world",
        wall.as_secs_f64(),
        t.observations,
        t.refused,
        t.late,
        t.events,
        t.commands
    );
    if let Some(path) = &args.record {
        println!("recording: {} ({} steps)", path.display(), t.steps);
    } else if !args.ephemeral {
        println!(
            "store: {} ({} entities); try `twin inspect --store {}`",
            args.store.display(),
            store.state_count(),
            args.store.display()
        );
    }
}

/// Hourly upkeep: roll history up, checkpoint state, remember where we are.
async fn hourly(runtime: &Runtime, store: &Store, now: SimTime) -> Result<()> {
    let report = store.compact(now)?;
    runtime.checkpoint().await?;
    store.put_meta("sim_time", &now.as_ms())?;
    tracing::debug!(?report, "hourly compaction");
    Ok(())
}
