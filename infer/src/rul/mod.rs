//! Remaining useful life of a machine, with a 90 % interval.
//!
//! Trained on run-to-failure histories (C-MAPSS or the factory world's own):
//! each cycle of each history becomes one example, its features built by the
//! streaming [`Window`] exactly as in service, its target the cycles left,
//! capped at `cap` (early in life nothing tells 300 cycles left from 200, so
//! the model learns "healthy" there, as the literature does). A small
//! ensemble of gradient-boosted trees (`forust-ml`) predicts the point.
//!
//! The interval is split-conformal: during training the histories are split
//! into folds *by machine*; models trained without a fold predict it, and the
//! errors they make against the true, uncapped remaining life give, per band
//! of predicted life, the 5 % and 95 % error quantiles. An interval is the
//! prediction plus those two quantiles of its band. Only errors at cycles
//! whose true remaining life is within `horizon` calibrate, so the interval
//! is tuned to the span where an estimate matters.

pub mod cycles;
pub mod features;

use forust_ml::{GradientBooster, Matrix, objective::ObjectiveType};
use serde::{Deserialize, Serialize};

pub use cycles::{Columns, Cycles, Step};
pub use features::{Regimes, Window};
/// A point estimate of remaining life and its 90 % interval, in cycles.
pub use twin_core::value::Estimate;

/// The format this module writes; a model file of another is refused.
const FORMAT: u32 = 1;
/// Bands of predicted life that calibrate their own interval.
const BANDS: usize = 5;

/// Errors of training or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no history to train on")]
    Empty,
    #[error("history of unit {unit}: {what}")]
    Shape { unit: u32, what: String },
    #[error("training: {0}")]
    Train(String),
    #[error("model file: {0}")]
    File(String),
}

/// One cycle of a machine: its operating settings and its sensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub settings: Vec<f64>,
    pub sensors: Vec<f64>,
}

/// One machine's cycles up to and including the one it failed at.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub unit: u32,
    pub cycles: Vec<Cycle>,
}

/// Training settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Rows summarised by the window features.
    pub window: usize,
    /// Remaining life above which a machine counts as healthy.
    pub cap: f64,
    /// Only cycles with at most this much true remaining life calibrate the
    /// interval.
    pub horizon: f64,
    /// Folds of the calibration split (by machine).
    pub folds: usize,
    /// Boosted models averaged for the point estimate.
    pub ensemble: usize,
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub subsample: f32,
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window: 200,
            cap: 125.0,
            horizon: 150.0,
            folds: 5,
            ensemble: 3,
            iterations: 300,
            learning_rate: 0.05,
            max_depth: 5,
            subsample: 0.8,
            seed: 1,
        }
    }
}

/// Interval offsets per band of predicted life.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Calibration {
    /// Upper bounds of the bands but the last.
    edges: Vec<f64>,
    /// Per band: 5 % and 95 % quantiles of `truth - prediction`.
    offsets: Vec<[f64; 2]>,
}

impl Calibration {
    /// From out-of-fold `(prediction, truth)` pairs.
    fn fit(mut pairs: Vec<(f64, f64)>) -> Calibration {
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bands = BANDS.min(pairs.len().max(1));
        let per = pairs.len().div_ceil(bands).max(1);
        let mut edges = Vec::new();
        let mut offsets = Vec::new();
        for (b, chunk) in pairs.chunks(per).enumerate() {
            let mut errors: Vec<f64> = chunk.iter().map(|(p, t)| t - p).collect();
            errors.sort_by(f64::total_cmp);
            offsets.push([quantile(&errors, 0.05), quantile(&errors, 0.95)]);
            if b + 1 < bands && per * (b + 1) < pairs.len() {
                edges.push((chunk[chunk.len() - 1].0 + pairs[per * (b + 1)].0) / 2.0);
            }
        }
        if offsets.is_empty() {
            offsets.push([0.0, 0.0]);
        }
        Calibration { edges, offsets }
    }

    fn band(&self, prediction: f64) -> [f64; 2] {
        let b = self.edges.iter().take_while(|&&e| prediction > e).count();
        self.offsets[b.min(self.offsets.len() - 1)]
    }
}

/// The conformal quantile of sorted values: the `ceil((n + 1) q)`-th
/// smallest (or largest, below the median), so that coverage holds in
/// finite samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    let k = if q >= 0.5 {
        ((n + 1) as f64 * q).ceil() as usize
    } else {
        ((n + 1) as f64 * q).floor() as usize
    };
    sorted[k.clamp(1, n) - 1]
}

/// A trained model: regimes, boosted trees and interval calibration.
#[derive(Serialize, Deserialize)]
pub struct Model {
    format: u32,
    /// Name and version, carried by every reading the model derives.
    pub name: String,
    pub config: Config,
    regimes: Regimes,
    trees: Vec<GradientBooster>,
    calibration: Calibration,
    /// What a twin feeds it, for a model trained on a twin's machines
    /// (none for one trained on a C-MAPSS file).
    #[serde(default)]
    pub columns: Option<Columns>,
}

/// Feature rows (row-major) and targets of a set of histories.
struct Examples {
    rows: Vec<f64>,
    width: usize,
    /// Per row: true remaining life and cycle number (1-based).
    truth: Vec<f64>,
    cycle: Vec<usize>,
}

impl Examples {
    fn of(histories: &[&Trajectory], regimes: &Regimes, window: usize) -> Examples {
        let width = Window::width(regimes.kept().len());
        let mut e = Examples {
            rows: Vec::new(),
            width,
            truth: Vec::new(),
            cycle: Vec::new(),
        };
        let mut z = Vec::new();
        for h in histories {
            let mut w = Window::new(window);
            let life = h.cycles.len();
            for (i, c) in h.cycles.iter().enumerate() {
                regimes.scale(&c.settings, &c.sensors, &mut z);
                w.push(&z);
                w.features(&mut e.rows);
                e.truth.push((life - i - 1) as f64);
                e.cycle.push(i + 1);
            }
        }
        e
    }

    fn len(&self) -> usize {
        self.truth.len()
    }
}

/// Column-major copy of `n` row-major rows, as the booster takes them.
/// Row-major examples (`n` rows) to the column-major layout forust reads.
pub(crate) fn columns(rows: &[f64], n: usize) -> Vec<f64> {
    let width = rows.len() / n.max(1);
    let mut out = vec![0.0; rows.len()];
    for (i, row) in rows.chunks(width.max(1)).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            out[j * n + i] = x;
        }
    }
    out
}

fn check(histories: &[Trajectory]) -> Result<(usize, usize), Error> {
    let first = histories
        .iter()
        .find_map(|h| h.cycles.first())
        .ok_or(Error::Empty)?;
    let shape = (first.settings.len(), first.sensors.len());
    for h in histories {
        for (i, c) in h.cycles.iter().enumerate() {
            if (c.settings.len(), c.sensors.len()) != shape {
                return Err(Error::Shape {
                    unit: h.unit,
                    what: format!(
                        "cycle {} has {} settings and {} sensors, the first had {} and {}",
                        i + 1,
                        c.settings.len(),
                        c.sensors.len(),
                        shape.0,
                        shape.1
                    ),
                });
            }
            if c.settings.iter().chain(&c.sensors).any(|x| !x.is_finite()) {
                return Err(Error::Shape {
                    unit: h.unit,
                    what: format!("cycle {} holds a value that is not finite", i + 1),
                });
            }
        }
    }
    Ok(shape)
}

fn boosters(examples: &Examples, config: &Config) -> Result<Vec<GradientBooster>, Error> {
    let cols = columns(&examples.rows, examples.len());
    let matrix = Matrix::new(&cols, examples.len(), examples.width);
    let target: Vec<f64> = examples.truth.iter().map(|t| t.min(config.cap)).collect();
    (0..config.ensemble.max(1))
        .map(|m| {
            let mut b = GradientBooster::default()
                .set_objective_type(ObjectiveType::SquaredLoss)
                .set_iterations(config.iterations)
                .set_learning_rate(config.learning_rate)
                .set_max_depth(config.max_depth)
                .set_subsample(config.subsample)
                .set_sample_method(forust_ml::sampler::SampleMethod::Random)
                .set_colsample_bytree(0.8)
                .set_min_leaf_weight(5.0)
                .set_seed(config.seed.wrapping_add(m as u64));
            b.fit_unweighted(&matrix, &target, None)
                .map_err(|e| Error::Train(e.to_string()))?;
            Ok(b)
        })
        .collect()
}

fn mean_prediction(trees: &[GradientBooster], rows: &[f64], n: usize, cap: f64) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let cols = columns(rows, n);
    let matrix = Matrix::new(&cols, n, rows.len() / n);
    let mut sum = vec![0.0; n];
    for t in trees {
        for (s, p) in sum.iter_mut().zip(t.predict(&matrix, false)) {
            *s += p;
        }
    }
    sum.iter()
        .map(|s| (s / trees.len() as f64).clamp(0.0, cap))
        .collect()
}

impl Model {
    /// Trains on run-to-failure histories: each must end at its failure.
    pub fn train(histories: &[Trajectory], config: Config, name: &str) -> Result<Model, Error> {
        check(histories)?;
        let all_settings: Vec<&[f64]> = histories
            .iter()
            .flat_map(|h| h.cycles.iter().map(|c| &c.settings[..]))
            .collect();
        let all_sensors: Vec<&[f64]> = histories
            .iter()
            .flat_map(|h| h.cycles.iter().map(|c| &c.sensors[..]))
            .collect();
        let regimes = Regimes::fit(&all_settings, &all_sensors);
        let folds = config.folds.clamp(2, histories.len().max(2));
        let mut pairs = Vec::new();
        for f in 0..folds {
            let (held, kept): (Vec<_>, Vec<_>) = histories
                .iter()
                .enumerate()
                .partition(|(i, _)| i % folds == f);
            let kept: Vec<&Trajectory> = kept.into_iter().map(|(_, h)| h).collect();
            let held: Vec<&Trajectory> = held.into_iter().map(|(_, h)| h).collect();
            if kept.is_empty() || held.is_empty() {
                continue;
            }
            let train = Examples::of(&kept, &regimes, config.window);
            let trees = boosters(&train, &config)?;
            let test = Examples::of(&held, &regimes, config.window);
            let p = mean_prediction(&trees, &test.rows, test.len(), config.cap);
            pairs.extend(
                p.into_iter()
                    .zip(test.truth.iter().zip(&test.cycle))
                    .filter(|(_, (t, _))| **t <= config.horizon)
                    .map(|(p, (t, _))| (p, *t)),
            );
        }
        let all: Vec<&Trajectory> = histories.iter().collect();
        let examples = Examples::of(&all, &regimes, config.window);
        let trees = boosters(&examples, &config)?;
        Ok(Model {
            format: FORMAT,
            name: name.to_string(),
            config,
            regimes,
            trees,
            calibration: Calibration::fit(pairs),
            columns: None,
        })
    }

    /// Fresh streaming state for one machine.
    pub fn follow(&self) -> Window {
        Window::new(self.config.window)
    }

    /// Adds one cycle of a machine to its state. The row must have the shape
    /// the model was trained on.
    pub fn observe(
        &self,
        state: &mut Window,
        settings: &[f64],
        sensors: &[f64],
    ) -> Result<(), Error> {
        let shape = self.regimes.shape();
        if (settings.len(), sensors.len()) != shape {
            return Err(Error::Shape {
                unit: 0,
                what: format!(
                    "{} settings and {} sensors, the model takes {} and {}",
                    settings.len(),
                    sensors.len(),
                    shape.0,
                    shape.1
                ),
            });
        }
        let mut z = Vec::with_capacity(self.regimes.kept().len());
        self.regimes.scale(settings, sensors, &mut z);
        state.push(&z);
        Ok(())
    }

    /// The estimate for a machine in `state`; `None` before its first cycle.
    pub fn estimate(&self, state: &Window) -> Option<Estimate> {
        self.estimate_all(std::slice::from_ref(state))
            .pop()
            .flatten()
    }

    /// Estimates for many machines at once (one pass over the trees).
    pub fn estimate_all(&self, states: &[Window]) -> Vec<Option<Estimate>> {
        let mut rows = Vec::new();
        let live: Vec<usize> = (0..states.len()).filter(|&i| states[i].age() > 0).collect();
        for &i in &live {
            states[i].features(&mut rows);
        }
        let p = mean_prediction(&self.trees, &rows, live.len(), self.config.cap);
        let mut out = vec![None; states.len()];
        for (&i, p) in live.iter().zip(p) {
            let [lo, hi] = self.calibration.band(p);
            out[i] = Some(Estimate {
                value: p,
                low: (p + lo).max(0.0),
                high: (p + hi).max(p),
            });
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a model serialises")
    }

    pub fn from_json(text: &str) -> Result<Model, Error> {
        let m: Model = serde_json::from_str(text).map_err(|e| Error::File(e.to_string()))?;
        if m.format != FORMAT {
            return Err(Error::File(format!(
                "format {}, this build reads format {FORMAT}",
                m.format
            )));
        }
        if m.trees.is_empty() {
            return Err(Error::File("no trees".into()));
        }
        if m.calibration.offsets.is_empty() {
            return Err(Error::File("no interval calibration".into()));
        }
        m.regimes.check().map_err(Error::File)?;
        if let Some(c) = &m.columns {
            c.check().map_err(Error::File)?;
            if (c.settings.len(), c.sensors.len()) != m.regimes.shape() {
                return Err(Error::File(
                    "its columns and its regimes disagree on the row's shape".into(),
                ));
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
pub(crate) mod tests;
