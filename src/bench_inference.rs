//! `twin bench inference`: what hosting models costs the runtime, and how
//! fast a RUL model estimates.
//!
//! - `anomaly_obs_per_s`: a runtime of `series` sensors with the anomaly
//!   model on every one, timed once every series is past its probation
//!   (steady state: every observation is scored), beside `twin_obs_per_s`,
//!   the same runtime and load without models, runs alternating; no
//!   history, no subscriber.
//! - `rul_predictions_per_s`: the factory's pump model estimating machines
//!   whose windows are full, in batches as a planner would ask.

use std::time::Instant;

use serde_json::{Value as Json, json};
use twin_actors::bench;
use twin_infer::models::{Models, Spec, no_files};
use twin_infer::rul;
use twin_scenarios::Scenario;

#[derive(clap::Args, Clone)]
pub struct InferenceBench {
    /// Sensor series.
    #[arg(long, default_value_t = 100_000)]
    pub series: usize,
    /// The anomaly model's probation, in values.
    #[arg(long, default_value_t = 100)]
    pub probation: usize,
    /// Rounds timed after the probation.
    #[arg(long, default_value_t = 50)]
    pub rounds: usize,
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Runs per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Machines estimated at once for the RUL figure.
    #[arg(long, default_value_t = 10_000)]
    pub machines: usize,
}

pub fn run(b: &InferenceBench) -> Result<Json, Box<dyn std::error::Error>> {
    let spec: Spec = toml::from_str(&format!(
        "model = \"anomaly\"\nselect = {{ kinds = [\"sensor\"] }}\nparams = {{ probation = {} }}",
        b.probation
    ))?;
    let models = Models::build(&[spec], &no_files)?;
    // Past the probation and one window of steps, every value is scored.
    let warm = b.probation + 2 * (b.probation / 100).max(1) * 8 + 1;
    let (mut plain, mut scored) = (Vec::new(), Vec::new());
    for _ in 0..b.runs.max(1) {
        let run =
            |m: Models| bench::followed_obs_per_s(b.series, warm, b.rounds, b.batch, b.workers, m);
        plain.push(run(Models::default())?);
        scored.push(run(models.clone())?);
    }
    let (plain_m, scored_m) = (median(&plain), median(&scored));
    let rul = rul_predictions_per_s(b.machines)?;
    Ok(json!({
        "series": b.series,
        "twin_obs_per_s": plain_m,
        "anomaly_obs_per_s": scored_m,
        "anomaly_ratio": scored_m / plain_m,
        "runs_twin_obs_per_s": plain,
        "runs_anomaly_obs_per_s": scored,
        "rul_machines": b.machines,
        "rul_predictions_per_s": rul,
    }))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Estimates per second of the factory's pump model over `machines`
/// windows filled with rows it could see (its columns' typical values).
fn rul_predictions_per_s(machines: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let factory = Scenario::builtin("factory").ok_or("no built-in factory")?;
    let (_, text) = factory.read_relative("models/rul-factory-pump.json")?;
    let model = rul::Model::from_json(&text)?;
    let columns = model
        .columns
        .clone()
        .ok_or("the pump model names no columns")?;
    let mut windows: Vec<rul::Window> = (0..machines.max(1)).map(|_| model.follow()).collect();
    for (i, w) in windows.iter_mut().enumerate() {
        for c in 0..model.config.window {
            let wear = (i % 100) as f64 / 100.0 + c as f64 / 1000.0;
            let sensors: Vec<f64> = (0..columns.sensors.len())
                .map(|k| 3.0 + 10.0 * k as f64 + 2.0 * wear)
                .collect();
            model.observe(w, &[100.0], &sensors)?;
        }
    }
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < 2.0 {
        n += model.estimate_all(&windows).iter().flatten().count();
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
