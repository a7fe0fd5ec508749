//! `twin bench world`'s replay figure: how fast a recording re-drives a
//! fresh runtime, hashes checked; and [`run_self`], which runs a figure in a
//! fresh process of its own.

use std::path::Path;
use std::time::Instant;

use twin_actors::{Runtime, RuntimeConfig};
use twin_core::SimTime;
use twin_scenarios::{Scenario, SimWorld};

use crate::drive::{Driver, Recorder, TICK_EVERY};
use crate::replay::{ReplayReport, replay};

/// The runtime a recording is made with and replayed into: lockstep, no
/// passivation (every entity is hashed), no history (hashes do not need it).
pub fn lockstep_config(workers: usize) -> RuntimeConfig {
    RuntimeConfig {
        workers,
        lockstep: true,
        passivate_after: None,
        history: false,
        ..RuntimeConfig::default()
    }
}

#[derive(Clone, Debug)]
pub struct ReplayFigures {
    pub entities: usize,
    pub inputs: u64,
    pub events: u64,
    pub hashes_checked: u64,
    pub recording_bytes: u64,
    pub seconds: f64,
    pub inputs_per_s: f64,
    pub events_per_s: f64,
    /// Each replay's inputs per second, in the order they ran; the figures
    /// above are those of the median replay.
    pub runs_inputs_per_s: Vec<f64>,
}

/// Records `scenario` for `duration` into `path` as fast as possible.
pub async fn record(
    scenario: &Scenario,
    duration: SimTime,
    path: &Path,
    workers: usize,
    hash_every: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = RuntimeConfig {
        models: scenario.models()?,
        ..lockstep_config(workers)
    };
    let runtime = Runtime::start(config, None)?;
    let world = SimWorld::new(scenario)?;
    let stride = world.tick().max(TICK_EVERY);
    let recorder = Recorder::create(path, hash_every)?;
    let mut driver = Driver::start(&runtime, world, SimTime::ZERO, Some(recorder)).await?;
    while driver.now() < duration {
        let to = (driver.now() + stride).min(duration);
        driver.step(to).await?;
    }
    driver.finish().await?;
    runtime.shutdown().await?;
    Ok(())
}

/// Records the factory at `scale` for `duration`, then replays it `runs`
/// times, each into a fresh runtime, and times each replay (reading,
/// decoding, applying, hashing). The median replay is reported: one replay
/// lasts seconds, and on a shared host one burst of preemption moves it by
/// a fifth.
pub async fn replay_rate(
    scale: f64,
    duration: SimTime,
    workers: usize,
    runs: usize,
) -> Result<ReplayFigures, Box<dyn std::error::Error>> {
    let scenario = Scenario::builtin("factory")
        .expect("built in")
        .with_scale(scale);
    let entities = SimWorld::new(&scenario)?.records().len();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.rec");
    record(&scenario, duration, &path, workers, 10).await?;
    let recording_bytes = std::fs::metadata(&path)?.len();
    let mut figures = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let ReplayReport {
            inputs,
            events,
            hashes_checked,
            ..
        } = replay(&path, lockstep_config(workers), None, |_, _| {}).await?;
        let seconds = t.elapsed().as_secs_f64();
        figures.push(ReplayFigures {
            entities,
            inputs,
            events,
            hashes_checked,
            recording_bytes,
            seconds,
            inputs_per_s: inputs as f64 / seconds,
            events_per_s: events as f64 / seconds,
            runs_inputs_per_s: Vec::new(),
        });
    }
    let runs_inputs_per_s: Vec<f64> = figures.iter().map(|f| f.inputs_per_s).collect();
    figures.sort_by(|x, y| x.inputs_per_s.total_cmp(&y.inputs_per_s));
    Ok(ReplayFigures {
        runs_inputs_per_s,
        ..figures.swap_remove(figures.len() / 2)
    })
}

/// Runs this binary with `args` (a hidden bench mode) in a fresh process, so
/// that a memory figure is its own; returns its standard output, or an
/// error naming `what` with the child's standard error.
pub fn run_self(args: &[&str], what: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out.stdout)
}
