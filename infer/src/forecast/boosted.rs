//! Gradient-boosted trees (`forust-ml`) on calendar and lag features,
//! trained once on a long past: one model for every horizon (the horizon
//! is a feature) that corrects the seasonal [`baseline`], the interval
//! split-conformal per horizon.
//!
//! The features of a forecast made at origin `o` for `o + h` read only the
//! values up to `o`: [`Forecaster::predict`] takes the known past as a
//! slice ending at the origin, so nothing later can reach it. Seasonal lags
//! (`o + h − 24`, `− 168`, `− 336`) are in that past since `h ≤ 24`.
//! Missing values are NaN; the trees route them.

use forust_ml::{GradientBooster, Matrix, objective::ObjectiveType};

use super::{Forecast, MAX_HORIZON, WARM, WEEK, at, baseline};
use crate::rul::columns;

/// How to train.
#[derive(Clone, Debug)]
pub struct Config {
    pub horizon: usize,
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    /// Every `stride`-th origin of the training span makes examples.
    pub stride: usize,
    /// Interval coverage (0.9: a 90 % interval).
    pub coverage: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            horizon: MAX_HORIZON,
            iterations: 300,
            learning_rate: 0.05,
            max_depth: 6,
            stride: 2,
            coverage: 0.9,
        }
    }
}

/// A trained forecaster for one hourly series.
pub struct Forecaster {
    booster: GradientBooster,
    /// Hour of the week (0 = Monday 00:00) of index 0 of the series.
    start_how: usize,
    horizon: usize,
    /// Half-width of the interval, per horizon (index h − 1).
    half_width: Vec<f64>,
    /// Extra features' count (values at the origin, e.g. weather).
    extras: usize,
}

/// The features of a forecast for `origin + h` from `known` (the series up
/// to and including the origin) and the extra columns at the origin.
fn features(known: &[f64], extras: &[f64], start_how: usize, h: usize, out: &mut Vec<f64>) {
    let o = known.len() as isize - 1;
    let target = o + h as isize;
    let how = (start_how as isize + target).rem_euclid(WEEK as isize) as usize;
    let last_day: Vec<f64> = (0..24)
        .map(|k| at(known, o - k))
        .filter(|v| !v.is_nan())
        .collect();
    let day_mean = if last_day.is_empty() {
        f64::NAN
    } else {
        last_day.iter().sum::<f64>() / last_day.len() as f64
    };
    out.extend_from_slice(&[
        h as f64,
        (how % 24) as f64,
        (how / 24) as f64,
        at(known, o),
        at(known, o - 1),
        at(known, o - 2),
        day_mean,
        at(known, target - 24),
        at(known, target - 48),
        at(known, target - WEEK as isize),
        at(known, target - 2 * WEEK as isize),
        at(known, target - 3 * WEEK as isize),
        baseline(known, h),
        // What the last hours did against their own baseline.
        at(known, o) - baseline(&known[..known.len() - 1], 1),
        at(known, o) - at(known, o - WEEK as isize),
    ]);
    out.extend_from_slice(extras);
}

/// Training examples at origins in `origins`: (rows, targets).
fn examples(
    y: &[f64],
    extras: &[Vec<f64>],
    start_how: usize,
    horizon: usize,
    origins: impl Iterator<Item = usize>,
) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
    let (mut rows, mut truth, mut hs) = (Vec::new(), Vec::new(), Vec::new());
    for o in origins {
        for h in 1..=horizon {
            let t = y.get(o + h).copied().unwrap_or(f64::NAN) - baseline(&y[..=o], h);
            if t.is_nan() {
                continue;
            }
            let x = extras.get(o).map_or(&[][..], Vec::as_slice);
            features(&y[..=o], x, start_how, h, &mut rows);
            truth.push(t);
            hs.push(h);
        }
    }
    (rows, truth, hs)
}

fn fit(rows: &[f64], truth: &[f64], config: &Config) -> Result<GradientBooster, String> {
    let n = truth.len();
    let cols = columns(rows, n);
    let mut booster = GradientBooster::default()
        .set_objective_type(ObjectiveType::SquaredLoss)
        .set_iterations(config.iterations)
        .set_learning_rate(config.learning_rate)
        .set_max_depth(config.max_depth)
        .set_subsample(0.8)
        .set_sample_method(forust_ml::sampler::SampleMethod::Random)
        .set_colsample_bytree(0.8)
        .set_min_leaf_weight(5.0)
        .set_seed(1);
    booster
        .fit_unweighted(&Matrix::new(&cols, n, rows.len() / n), truth, None)
        .map_err(|e| e.to_string())?;
    Ok(booster)
}

fn predict_rows(b: &GradientBooster, rows: &[f64], n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let cols = columns(rows, n);
    b.predict(&Matrix::new(&cols, n, rows.len() / n), false)
}

impl Forecaster {
    /// Trains on `y[..train_end]` (hourly, NaN where missing), index 0 at
    /// hour-of-week `start_how`, with `extras[i]` the extra features known
    /// at hour i (may be empty). The last sixth of the origins calibrates
    /// the interval and is not trained on.
    pub fn train(
        y: &[f64],
        extras: &[Vec<f64>],
        start_how: usize,
        train_end: usize,
        config: &Config,
    ) -> Result<Forecaster, String> {
        let horizon = config.horizon.clamp(1, MAX_HORIZON);
        let end = train_end.min(y.len());
        if end < WARM + 4 * horizon + WEEK {
            return Err(format!(
                "{end} hours to train on: at least {} are needed (three weeks of lags, then a week)",
                WARM + 4 * horizon + WEEK
            ));
        }
        let last = end - horizon - 1;
        let split = WARM + (last - WARM) * 5 / 6;
        let stride = config.stride.max(1);
        let (rows, truth, _) =
            examples(y, extras, start_how, horizon, (WARM..split).step_by(stride));
        let n = truth.len();
        if n == 0 {
            return Err("no value to learn from in the training span".into());
        }
        let booster = fit(&rows, &truth, config)?;
        // Split-conformal: the coverage quantile of absolute errors on the
        // held-out origins, per horizon.
        let (rows, truth, hs) = examples(y, extras, start_how, horizon, split..=last);
        let predicted = predict_rows(&booster, &rows, truth.len());
        let mut errors = vec![Vec::new(); horizon];
        for ((p, t), h) in predicted.iter().zip(&truth).zip(&hs) {
            errors[h - 1].push((p - t).abs());
        }
        let half_width = errors
            .into_iter()
            .map(|mut e| {
                if e.is_empty() {
                    return f64::NAN;
                }
                e.sort_by(f64::total_cmp);
                let k = ((e.len() + 1) as f64 * config.coverage).ceil() as usize;
                e[k.min(e.len()) - 1]
            })
            .collect();
        // Then the trees are fitted again on every origin: the calibration
        // span is the most recent, and the interval's width is a property of
        // the method, which more data only narrows.
        let (rows, truth, _) =
            examples(y, extras, start_how, horizon, (WARM..=last).step_by(stride));
        let booster = fit(&rows, &truth, config)?;
        Ok(Forecaster {
            booster,
            start_how,
            horizon,
            half_width,
            extras: extras.first().map_or(0, Vec::len),
        })
    }

    /// Forecasts 1..=horizon hours past the last value of `known` (the
    /// series from index 0 up to the origin), `extras` the extra features
    /// at the origin.
    pub fn predict(&self, known: &[f64], extras: &[f64]) -> Vec<Forecast> {
        let extras: Vec<f64> = (0..self.extras)
            .map(|i| extras.get(i).copied().unwrap_or(f64::NAN))
            .collect();
        let mut rows = Vec::new();
        for h in 1..=self.horizon {
            features(known, &extras, self.start_how, h, &mut rows);
        }
        predict_rows(&self.booster, &rows, self.horizon)
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let p = baseline(known, i + 1) + r;
                Forecast {
                    horizon_h: i + 1,
                    predicted: p,
                    low: p - self.half_width[i],
                    high: p + self.half_width[i],
                }
            })
            .collect()
    }
}
