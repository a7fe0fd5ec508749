//! `twin train rul`: the RUL model (`twin_infer::rul`) trained on a C-MAPSS
//! training file, every engine run to failure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::builder::TypedValueParser;

use twin_eval::cmapss::{self, Unit};
use twin_infer::rul::{Config, Cycle, Model, Trajectory};

use super::Result;

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
pub struct Args {
    /// A C-MAPSS training file (`train_FD001.txt`).
    #[arg(long)]
    data: PathBuf,
    /// Where to write the model (JSON).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    settings: Settings,
}

pub fn main(a: Args) -> Result<()> {
    let config = a.settings.config()?;
    let histories = trajectories(cmapss::read_units(&a.data)?);
    let started = Instant::now();
    let name = format!("rul-gbm/{}", model_version(&a.data));
    let model = Model::train(&histories, config, &name)?;
    write(&a.out, &model.to_json())?;
    eprintln!(
        "{}: {} engines, {} cycles, trained in {:.1} s",
        a.out.display(),
        histories.len(),
        histories.iter().map(|h| h.cycles.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
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
