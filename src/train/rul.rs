//! `twin train rul`: the RUL model (`twin_infer::rul`) trained on a C-MAPSS
//! training file, every engine run to failure, or on the lives of a
//! scenario's machines (`--scenario`), for the twin to host.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::builder::TypedValueParser;

use crate::progress;
use twin_core::SimTime;
use twin_eval::cmapss::{self, Unit};
use twin_infer::rul::{Config, Cycle, Model, Trajectory};
use twin_scenarios::Scenario;

use super::{Result, lives};

/// Training settings a user may change; the defaults are the twin's.
#[derive(clap::Args, Clone)]
pub struct Settings {
    /// Cycles summarised by the window features.
    #[arg(long, default_value_t = Config::default().window, value_parser = clap::value_parser!(u16).range(2..=500).map(usize::from))]
    pub window: usize,
    /// Remaining life above which an engine counts as healthy.
    #[arg(long, default_value_t = Config::default().cap)]
    pub cap: f64,
    /// Boosted models averaged for the estimate.
    #[arg(long, default_value_t = Config::default().ensemble, value_parser = clap::value_parser!(u16).range(1..=20).map(usize::from))]
    pub ensemble: usize,
    /// Boosting rounds per model.
    #[arg(long, default_value_t = Config::default().iterations, value_parser = clap::value_parser!(u16).range(1..=5000).map(usize::from))]
    pub iterations: usize,
    /// Depth of each tree.
    #[arg(long, default_value_t = Config::default().max_depth, value_parser = clap::value_parser!(u8).range(1..=12).map(usize::from))]
    pub depth: usize,
    /// Boosting learning rate.
    #[arg(long, default_value_t = Config::default().learning_rate)]
    pub learning_rate: f32,
}

impl Settings {
    pub fn config(&self) -> Result<Config> {
        if !(self.cap.is_finite() && self.cap >= 1.0) {
            return Err(format!("--cap {}: must be at least 1 cycle", self.cap).into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(
                format!("--learning-rate {}: must be in (0, 1]", self.learning_rate).into(),
            );
        }
        Ok(Config {
            window: self.window,
            cap: self.cap,
            ensemble: self.ensemble,
            iterations: self.iterations,
            max_depth: self.depth,
            learning_rate: self.learning_rate,
            ..Config::default()
        })
    }
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["data", "scenario"]))]
pub struct Args {
    /// A C-MAPSS training file (`train_FD001.txt`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A scenario (file or built-in name) whose machines' lives to learn
    /// from: the world runs alone, worn-out machines are repaired at once.
    #[arg(long)]
    scenario: Option<String>,
    /// With --scenario: only machines of this subtype (their sensors make
    /// the columns; without it, the measurands every machine has).
    #[arg(long, requires = "scenario")]
    subtype: Option<String>,
    /// With --scenario: simulated time to run.
    #[arg(long, default_value = "120d", value_parser = SimTime::parse_duration, requires = "scenario")]
    r#for: SimTime,
    /// With --scenario: the world's seed (the scenario's own by default).
    #[arg(long, requires = "scenario")]
    seed: Option<u64>,
    /// With --scenario: the C-MAPSS engines (`first-last`, of 1-100) the
    /// machines' wear paths come from, so that a world drawing from the
    /// others scores the model on paths it never saw.
    #[arg(long, value_parser = parse_engines, requires = "scenario")]
    pub engines: Option<[usize; 2]>,
    /// With --scenario: the length of a cycle.
    #[arg(long, default_value = "1h", value_parser = SimTime::parse_duration, requires = "scenario")]
    cycle: SimTime,
    /// Where to write the model (JSON).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    settings: Settings,
}

pub fn main(a: Args) -> Result<()> {
    let config = a.settings.config()?;
    let (histories, name, columns) = match (&a.data, &a.scenario) {
        (Some(data), _) => (
            trajectories(cmapss::read_units(data)?),
            format!("rul-gbm/{}", model_version(data)),
            None,
        ),
        (None, Some(scenario)) => {
            let mut scenario = Scenario::find(scenario)?;
            if let Some(seed) = a.seed {
                scenario = scenario.with_seed(seed);
            }
            if let Some(e) = a.engines {
                scenario = scenario.with_engines(e)?;
            }
            let subtype = a.subtype.as_deref();
            let columns = lives::columns(&scenario, subtype, a.cycle)?;
            let bar = progress::bar(Some(a.r#for.as_ms().max(1) as u64));
            let lives = lives::gather(&scenario, subtype, a.r#for, &columns, |now| {
                bar.set_position(now.as_ms().max(0) as u64)
            })?;
            bar.finish_and_clear();
            eprintln!(
                "{}: {} lives run to wear-out ({} ended by a sudden failure, left out), {} observations",
                scenario.spec.name,
                lives.histories.len(),
                lives.sudden,
                lives.observations
            );
            let name = format!(
                "rul-gbm/{}{}",
                scenario.spec.name,
                subtype.map_or(String::new(), |s| format!("-{s}"))
            );
            (lives.histories, name, Some(columns))
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let started = Instant::now();
    let mut model = Model::train(&histories, config, &name)?;
    model.columns = columns;
    write(&a.out, &model.to_json())?;
    eprintln!(
        "{}: {} lives, {} cycles, trained in {:.1} s",
        a.out.display(),
        histories.len(),
        histories.iter().map(|h| h.cycles.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `first-last`, e.g. `1-70`.
pub fn parse_engines(s: &str) -> std::result::Result<[usize; 2], String> {
    let bad = || format!("{s:?}: expected FIRST-LAST, e.g. 1-70");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    Ok([
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ])
}

/// The model's version: the training file's name, so that a reading says
/// which data its model learned from.
fn model_version(data: &Path) -> String {
    data.file_stem()
        .map_or_else(|| "unnamed".into(), |s| s.to_string_lossy().into_owned())
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// C-MAPSS units as the model's histories.
pub fn trajectories(units: Vec<Unit>) -> Vec<Trajectory> {
    units
        .into_iter()
        .map(|u| Trajectory {
            unit: u.id,
            cycles: u
                .rows
                .into_iter()
                .map(|r| Cycle {
                    settings: r.settings.to_vec(),
                    sensors: r.sensors.to_vec(),
                })
                .collect(),
        })
        .collect()
}
