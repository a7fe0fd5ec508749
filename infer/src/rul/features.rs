//! What the RUL model sees of a machine: its sensors scaled within its
//! operating regime, then summarised over a recent window.
//!
//! Sensor levels depend as much on how a machine is run (altitude, speed,
//! load) as on its wear. [`Regimes`] finds the distinct operating regimes in
//! the settings of the training data and scales each sensor by its mean and
//! spread within the regime of each row, so that what is left is wear and
//! noise. A sensor that does not vary in any regime carries nothing and is
//! dropped.
//!
//! [`Window`] is the per-machine streaming state: the last `window` scaled
//! rows, two exponential averages per sensor and the age in cycles. Training
//! and the twin build features through the same `Window`, one cycle at a
//! time, so the model is trained on exactly what it sees in service, and the
//! state stays bounded (`window × sensors + 2 × sensors` numbers) however
//! long the machine runs.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// A gap wider than this share of a setting's range separates two regimes.
const GAP: f64 = 0.05;
/// A regime needs at least this share of the rows; smaller groups of a
/// setting's values are noise at its extremes and join their neighbour.
const MIN_SHARE: f64 = 0.01;
/// A sensor whose spread within every regime is below this share of its
/// level carries no signal.
const FLAT: f64 = 1e-6;
/// Smoothing factors of the two exponential averages: a fast one that follows
/// the recent level, a slow one that remembers the trend.
const ALPHAS: [f64; 2] = [0.1, 0.02];

/// Per-setting group boundaries and per-regime sensor scaling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Regimes {
    /// For each setting, the cut points between its groups of values.
    cuts: Vec<Vec<f64>>,
    /// The groups (one per setting) that make up each known regime.
    keys: Vec<Vec<u16>>,
    /// Per regime and kept sensor: mean and standard deviation. The last
    /// entry is over all rows, for a regime training never saw.
    mean: Vec<Vec<f64>>,
    std: Vec<Vec<f64>>,
    /// Indices of the sensors that vary.
    kept: Vec<usize>,
    settings: usize,
    sensors: usize,
}

/// Cut points of one setting's values: where sorted values jump by more than
/// [`GAP`] of the range, keeping groups of at least [`MIN_SHARE`] of rows.
fn cuts_of(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (v[0], v[v.len() - 1]);
    let range = hi - lo;
    if range <= 0.0 {
        return Vec::new();
    }
    let min_rows = ((v.len() as f64) * MIN_SHARE).ceil() as usize;
    let mut cuts = Vec::new();
    let mut start = 0;
    for i in 1..v.len() {
        let jump = v[i] - v[i - 1] > GAP * range;
        if jump && i - start >= min_rows && v.len() - i >= min_rows {
            cuts.push((v[i] + v[i - 1]) / 2.0);
            start = i;
        }
    }
    cuts
}

fn group(cuts: &[f64], x: f64) -> u16 {
    cuts.iter().take_while(|&&c| x > c).count() as u16
}

impl Regimes {
    /// Fits the regimes on every row of the training data (`settings` and
    /// `sensors` of the same rows).
    pub fn fit(settings: &[&[f64]], sensors: &[&[f64]]) -> Regimes {
        let n_set = settings.first().map_or(0, |s| s.len());
        let n_sen = sensors.first().map_or(0, |s| s.len());
        let cuts: Vec<Vec<f64>> = (0..n_set)
            .map(|j| cuts_of(settings.iter().map(|r| r[j]).collect()))
            .collect();
        let mut keys: Vec<Vec<u16>> = Vec::new();
        let mut of_row = Vec::with_capacity(settings.len());
        for s in settings {
            let key: Vec<u16> = cuts
                .iter()
                .zip(s.iter())
                .map(|(c, &x)| group(c, x))
                .collect();
            let r = match keys.iter().position(|k| *k == key) {
                Some(r) => r,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            of_row.push(r);
        }
        let regimes = keys.len() + 1;
        let mut sum = vec![vec![0.0; n_sen]; regimes];
        let mut sq = vec![vec![0.0; n_sen]; regimes];
        let mut count = vec![0.0f64; regimes];
        for (row, &r) in sensors.iter().zip(&of_row) {
            for g in [r, regimes - 1] {
                count[g] += 1.0;
                for (k, &x) in row.iter().enumerate() {
                    sum[g][k] += x;
                    sq[g][k] += x * x;
                }
            }
        }
        let mut mean = vec![vec![0.0; n_sen]; regimes];
        let mut std = vec![vec![0.0; n_sen]; regimes];
        for g in 0..regimes {
            for k in 0..n_sen {
                let m = sum[g][k] / count[g].max(1.0);
                mean[g][k] = m;
                std[g][k] = (sq[g][k] / count[g].max(1.0) - m * m).max(0.0).sqrt();
            }
        }
        let kept: Vec<usize> = (0..n_sen)
            .filter(|&k| (0..regimes - 1).any(|g| std[g][k] > FLAT * mean[g][k].abs().max(1.0)))
            .collect();
        let pick = |v: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            v.into_iter()
                .map(|row| kept.iter().map(|&k| row[k]).collect())
                .collect()
        };
        Regimes {
            cuts,
            keys,
            mean: pick(mean),
            std: pick(std),
            kept,
            settings: n_set,
            sensors: n_sen,
        }
    }

    /// Checks that the parts agree, as a model file read from disk may not.
    pub fn check(&self) -> Result<(), String> {
        let rows = self.keys.len() + 1;
        let aligned =
            |v: &[Vec<f64>]| v.len() == rows && v.iter().all(|r| r.len() == self.kept.len());
        if self.cuts.len() != self.settings
            || self.keys.iter().any(|k| k.len() != self.settings)
            || !aligned(&self.mean)
            || !aligned(&self.std)
            || self.kept.iter().any(|&k| k >= self.sensors)
        {
            return Err("regimes and sensor scaling do not agree".into());
        }
        Ok(())
    }

    /// How many regimes training found.
    pub fn count(&self) -> usize {
        self.keys.len()
    }

    /// The sensors that vary, by index in a row.
    pub fn kept(&self) -> &[usize] {
        &self.kept
    }

    /// Settings and sensors a row must have.
    pub fn shape(&self) -> (usize, usize) {
        (self.settings, self.sensors)
    }

    /// The kept sensors of one row, scaled within its regime.
    pub fn scale(&self, settings: &[f64], sensors: &[f64], out: &mut Vec<f64>) {
        let key = self
            .cuts
            .iter()
            .zip(settings.iter())
            .map(|(c, &x)| group(c, x));
        let r = self
            .keys
            .iter()
            .position(|k| k.iter().copied().eq(key.clone()))
            .unwrap_or(self.keys.len());
        out.clear();
        for (i, &k) in self.kept.iter().enumerate() {
            let s = self.std[r][i];
            let z = if s > 0.0 {
                (sensors[k] - self.mean[r][i]) / s
            } else {
                0.0
            };
            out.push(z);
        }
    }
}

/// Features per kept sensor: mean of the last 5 rows, mean and slope over
/// the window, the two exponential averages.
const PER_SENSOR: usize = 3 + ALPHAS.len();

/// Streaming feature state of one machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Window {
    len: usize,
    rows: VecDeque<Vec<f64>>,
    ewma: Vec<[f64; 2]>,
    age: u64,
}

impl Window {
    pub fn new(len: usize) -> Window {
        Window {
            len: len.max(2),
            rows: VecDeque::new(),
            ewma: Vec::new(),
            age: 0,
        }
    }

    /// Cycles seen.
    pub fn age(&self) -> u64 {
        self.age
    }

    /// Number of features [`Window::features`] writes for `sensors` kept
    /// sensors.
    pub fn width(sensors: usize) -> usize {
        sensors * PER_SENSOR + 1
    }

    /// Takes one cycle's scaled sensors.
    pub fn push(&mut self, z: &[f64]) {
        if self.ewma.len() != z.len() {
            self.ewma = z.iter().map(|&x| [x; 2]).collect();
        } else {
            for (e, &x) in self.ewma.iter_mut().zip(z) {
                for (v, a) in e.iter_mut().zip(ALPHAS) {
                    *v += a * (x - *v);
                }
            }
        }
        if self.rows.len() == self.len {
            let mut old = self.rows.pop_front().expect("full");
            old.clear();
            old.extend_from_slice(z);
            self.rows.push_back(old);
        } else {
            self.rows.push_back(z.to_vec());
        }
        self.age += 1;
    }

    /// Appends this machine's features to `out` (nothing if it has seen no
    /// cycle yet).
    pub fn features(&self, out: &mut Vec<f64>) {
        let n = self.rows.len();
        if n == 0 {
            return;
        }
        let recent = n.min(5);
        // Least-squares slope over the window: x is the row's position.
        let xm = (n as f64 - 1.0) / 2.0;
        let sxx: f64 = (0..n).map(|i| (i as f64 - xm).powi(2)).sum();
        for k in 0..self.ewma.len() {
            let col = self.rows.iter().map(|r| r[k]);
            let mean = col.clone().sum::<f64>() / n as f64;
            let last = col.clone().skip(n - recent).sum::<f64>() / recent as f64;
            let sxy: f64 = col.enumerate().map(|(i, y)| (i as f64 - xm) * y).sum();
            let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            out.extend_from_slice(&[last, mean, slope]);
            out.extend_from_slice(&self.ewma[k]);
        }
        out.push(self.age as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_separate_regimes_and_none_in_noise() {
        // Two operating points far apart, with small noise around each.
        let rows: Vec<[f64; 2]> = (0..400)
            .map(|i| {
                let noise = ((i * 37) % 11) as f64 * 1e-3;
                if i % 2 == 0 {
                    [0.0 + noise, 100.0]
                } else {
                    [35.0 + noise, 60.0]
                }
            })
            .collect();
        let settings: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        let sensors_v: Vec<[f64; 2]> = (0..400)
            .map(|i| [if i % 2 == 0 { 10.0 } else { 50.0 } + (i % 7) as f64, 3.0])
            .collect();
        let sensors: Vec<&[f64]> = sensors_v.iter().map(|r| &r[..]).collect();
        let r = Regimes::fit(&settings, &sensors);
        assert_eq!(r.count(), 2);
        assert_eq!(r.kept(), &[0], "the constant sensor goes");
        let mut z = Vec::new();
        r.scale(&[35.0, 60.0], &[53.0, 3.0], &mut z);
        assert!(z[0].abs() < 0.5, "scaled within its own regime: {z:?}");

        let noisy: Vec<[f64; 1]> = (0..1000)
            .map(|i| [((i * 7919) % 1000) as f64 / 1000.0])
            .collect();
        let settings: Vec<&[f64]> = noisy.iter().map(|r| &r[..]).collect();
        let sensors: Vec<&[f64]> = noisy.iter().map(|r| &r[..]).collect();
        assert_eq!(Regimes::fit(&settings, &sensors).count(), 1);
    }

    #[test]
    fn window_slope_follows_a_trend_and_stays_bounded() {
        let mut w = Window::new(30);
        for t in 0..100 {
            w.push(&[t as f64 * 0.5]);
        }
        let mut f = Vec::new();
        w.features(&mut f);
        assert_eq!(f.len(), Window::width(1));
        assert!((f[2] - 0.5).abs() < 1e-9, "slope {}", f[2]);
        assert_eq!(f[0], (95..100).map(|t| t as f64 * 0.5).sum::<f64>() / 5.0);
        assert_eq!(*f.last().unwrap(), 100.0);
        assert_eq!(w.rows.len(), 30);
    }
}
