//! The online forecaster: the seasonal [`baseline`] corrected by what the
//! last hours did against it, learned as the values come.
//!
//! At each origin `o` two deviations are measured: the last hour's from
//! its baseline, and the mean deviation over the last day (a whole day
//! running high, as on a holiday or in a pollution episode). Per horizon
//! `h`, a linear regression with forgetting (about eight weeks) maps them,
//! with an intercept, to the target's deviation from its baseline:
//! `forecast = baseline(o + h) + β_h · (d_hour, d_day, 1)`. It is refitted
//! from sums at every hour: nothing is trained offline, the state is
//! bounded, and a twin that starts with no past forecasts after a day.
//! The interval is the coverage quantile of the last week's absolute
//! errors at that horizon (split-conformal over a sliding window).
//!
//! Every forecast made at `o` reads only values pushed up to `o`; errors
//! and the regression learn from a target only once it has been pushed.

use std::collections::VecDeque;

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use super::{Forecast, MAX_HORIZON, WEEK, baseline, weekly};

/// Hourly values kept: the three weekly lags of the farthest target, and
/// the day of deviations behind the origin.
const KEEP: usize = 3 * WEEK + 2 * MAX_HORIZON;
/// Absolute errors kept per horizon (a week of origins).
const WINDOW: usize = WEEK;
/// Errors a horizon needs before its interval is trusted, and forecasts
/// are given.
const MIN_ERRORS: usize = 24;
/// Weight each update leaves to the past: a memory of about eight weeks
/// (the choice is measured in README, "Forecasts").
const FORGET: f64 = 1.0 - 1.0 / (8.0 * WEEK as f64);

/// Examples' worth of belief that the baseline needs no correction: four
/// weeks of hours (measured likewise).
const PRIOR: f64 = 4.0 * WEEK as f64;

/// One series' forecaster. Serialisable: the twin saves it with the entity.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Seasonal {
    /// The last hourly values, oldest first (NaN: nothing that hour).
    values: Vec<f64>,
    /// The deviations measured at the last origins, newest last.
    features: VecDeque<[f64; 2]>,
    /// The points forecast at the last origins, newest last; NaN when
    /// none was made.
    made: VecDeque<[f32; MAX_HORIZON]>,
    /// Per horizon, the regression's sums with forgetting: the upper
    /// triangle of `Σ x xᵀ` (6) and `Σ x y` (3).
    sums: Vec<[f64; 9]>,
    /// Per horizon, the last absolute errors.
    errors: Vec<VecDeque<f32>>,
}

impl Default for Seasonal {
    fn default() -> Seasonal {
        Seasonal {
            values: Vec::with_capacity(KEEP + MAX_HORIZON),
            features: VecDeque::with_capacity(MAX_HORIZON + 1),
            made: VecDeque::with_capacity(MAX_HORIZON + 1),
            sums: vec![[0.0; 9]; MAX_HORIZON],
            errors: vec![VecDeque::with_capacity(WINDOW + 1); MAX_HORIZON],
        }
    }
}

impl Seasonal {
    /// Takes the next hour's value (NaN when the hour had none): first it
    /// scores the forecasts made for this hour and learns from them, then
    /// it measures the deviations at this new origin.
    pub fn push(&mut self, x: f64) {
        let x = if x.is_finite() { x } else { f64::NAN };
        // Deviations are measured, and learned from, against the weekly
        // median only: the daily fallback of a young series is a different
        // quantity, and what the regression learned of it would stay.
        let base = weekly(&self.values, 1);
        if !x.is_nan() {
            for h in 1..=MAX_HORIZON {
                self.learn(h, x, base);
            }
        }
        let dev = base.map_or(f64::NAN, |b| x - b);
        self.values.push(x);
        if self.values.len() > KEEP + MAX_HORIZON {
            self.values.drain(..self.values.len() - KEEP);
        }
        let day = self.day_deviation(dev);
        self.features.push_back([dev, day]);
        if self.features.len() > MAX_HORIZON {
            self.features.pop_front();
        }
        let made = match self.predict() {
            Some(p) => p.map(|v| v as f32),
            None => [f32::NAN; MAX_HORIZON],
        };
        self.made.push_back(made);
        if self.made.len() > MAX_HORIZON {
            self.made.pop_front();
        }
    }

    /// The forecasts 1..=24 h past the last value pushed, with intervals
    /// of `coverage` (0..1); `None` until every horizon has been scored a
    /// day's worth of times (about two days after the first value).
    pub fn forecast(&self, coverage: f64) -> Option<Vec<Forecast>> {
        let made = self.made.back()?;
        let mut out = Vec::with_capacity(MAX_HORIZON);
        for (i, errors) in self.errors.iter().enumerate() {
            if errors.len() < MIN_ERRORS || made[i].is_nan() {
                return None;
            }
            let mut e: Vec<f32> = errors.iter().copied().collect();
            let k = (((e.len() + 1) as f64 * coverage).ceil() as usize).clamp(1, e.len());
            let (_, q, _) = e.select_nth_unstable_by(k - 1, f32::total_cmp);
            let (p, q) = (f64::from(made[i]), f64::from(*q));
            out.push(Forecast {
                horizon_h: i + 1,
                predicted: p,
                low: p - q,
                high: p + q,
            });
        }
        Some(out)
    }

    /// The points for 1..=24 h past the last value, from the current fit.
    fn predict(&self) -> Option<[f64; MAX_HORIZON]> {
        let [dev, day] = *self.features.back()?;
        let x = Vector3::new(
            if dev.is_nan() { 0.0 } else { dev },
            if day.is_nan() { 0.0 } else { day },
            1.0,
        );
        let mut out = [f64::NAN; MAX_HORIZON];
        for (h, o) in (1..=MAX_HORIZON).zip(out.iter_mut()) {
            let base = baseline(&self.values, h);
            if base.is_nan() {
                return None;
            }
            *o = base + solve(&self.sums[h - 1]).dot(&x);
        }
        Some(out)
    }

    /// Learns from `x`, the value of the hour being pushed, as the target
    /// of the forecast made `h` hours before (`base` is its baseline).
    fn learn(&mut self, h: usize, x: f64, base: Option<f64>) {
        let i = h - 1;
        if let Some(made) = self.made.len().checked_sub(h).map(|k| self.made[k][i])
            && !made.is_nan()
        {
            let errors = &mut self.errors[i];
            errors.push_back((x - f64::from(made)).abs() as f32);
            if errors.len() > WINDOW {
                errors.pop_front();
            }
        }
        let Some(&[dev, day]) = self
            .features
            .len()
            .checked_sub(h)
            .map(|k| &self.features[k])
        else {
            return;
        };
        let Some(base) = base else { return };
        let y = x - base;
        if dev.is_nan() || day.is_nan() || y.is_nan() {
            return;
        }
        let f = [dev, day, 1.0];
        let s = &mut self.sums[i];
        for v in s.iter_mut() {
            *v *= FORGET;
        }
        let mut k = 0;
        for a in 0..3 {
            for b in a..3 {
                s[k] += f[a] * f[b];
                k += 1;
            }
        }
        for a in 0..3 {
            s[6 + a] += f[a] * y;
        }
    }

    /// The mean deviation of the last day's hours from their baselines:
    /// `dev`, the newest, and those measured at the 23 origins before it.
    fn day_deviation(&self, dev: f64) -> f64 {
        let (sum, count) = std::iter::once(dev)
            .chain(
                self.features
                    .iter()
                    .rev()
                    .take(MAX_HORIZON - 1)
                    .map(|f| f[0]),
            )
            .filter(|d| !d.is_nan())
            .fold((0.0, 0usize), |(s, n), d| (s + d, n + 1));
        if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        }
    }
}

/// The regression's coefficients from its sums, shrunk towards zero (the
/// baseline alone) as if [`PRIOR`] more examples had said so: a young fit,
/// or one on noise, stays near the baseline rather than chase it.
fn solve(s: &[f64; 9]) -> Vector3<f64> {
    let m = Matrix3::new(
        s[0], s[1], s[2], //
        s[1], s[3], s[4], //
        s[2], s[4], s[5],
    );
    // s[5] is the weight of the examples seen (the intercept's Σ 1).
    let per = PRIOR / s[5].max(1.0);
    let ridge = Matrix3::from_diagonal(&Vector3::new(
        s[0] * per + 1e-9,
        s[3] * per + 1e-9,
        s[5] * per + 1e-9,
    ));
    (m + ridge)
        .cholesky()
        .map(|c| c.solve(&Vector3::new(s[6], s[7], s[8])))
        .unwrap_or_else(Vector3::zeros)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hourly values with a daily and a weekly cycle, noise, and a day in
    /// every three weeks running 30 % high.
    fn value(i: usize) -> f64 {
        let (hour, day) = ((i % 24) as f64, (i / 24) % 7);
        let episode = if (i / 24) % 21 == 10 { 1.3 } else { 1.0 };
        episode * (100.0 + 40.0 * (hour / 24.0 * std::f64::consts::TAU).sin() + 8.0 * day as f64)
            + noise(i)
    }

    /// Uniform in ±6, from a hash of the hour.
    fn noise(i: usize) -> f64 {
        let h = (i as u64 ^ 0x9e37_79b9).wrapping_mul(0x2545_f491_4f6c_dd1d);
        (h >> 11) as f64 / (1u64 << 53) as f64 * 12.0 - 6.0
    }

    #[test]
    fn it_beats_the_weekly_naive_and_covers_what_it_says() {
        let mut m = Seasonal::default();
        let (mut err, mut naive, mut covered, mut n) = (0.0, 0.0, 0, 0);
        let mut pending: Vec<(usize, Forecast)> = Vec::new();
        for i in 0..24 * 7 * 10 {
            let x = value(i);
            for (t, f) in pending.extract_if(.., |(t, _)| *t == i) {
                if i >= 24 * 7 * 5 {
                    err += (f.predicted - x).abs();
                    naive += (value(t - WEEK) - x).abs();
                    covered += usize::from(f.low <= x && x <= f.high);
                    n += 1;
                }
            }
            m.push(x);
            if let Some(fs) = m.forecast(0.9) {
                pending.extend(fs.into_iter().map(|f| (i + f.horizon_h, f)));
            }
        }
        assert!(n > 1000);
        let ratio = err / naive;
        // Pure noise alone would leave about 0.85 (the median of three weeks
        // against one); the episodes are where the correction earns the rest.
        assert!(ratio < 0.85, "ratio {ratio}");
        let coverage = covered as f64 / n as f64;
        assert!((0.8..=0.98).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn it_forecasts_after_two_days_and_resumes_from_its_saved_state() {
        let mut m = Seasonal::default();
        for i in 0..24 {
            m.push(value(i));
            assert!(m.forecast(0.9).is_none(), "forecast at hour {i}");
        }
        for i in 24..24 * 3 {
            m.push(value(i));
        }
        assert!(m.forecast(0.9).is_some());
        let bytes = postcard::to_allocvec(&m).unwrap();
        let mut back: Seasonal = postcard::from_bytes(&bytes).unwrap();
        for i in 24 * 3..24 * 30 {
            m.push(value(i));
            back.push(value(i));
        }
        assert_eq!(m, back);
        assert!(m.values.len() <= KEEP + MAX_HORIZON);
        // A gap of missing hours is carried, not fatal.
        for _ in 0..30 {
            m.push(f64::NAN);
        }
        m.push(value(24 * 31));
        assert!(
            m.forecast(0.9)
                .is_some_and(|f| f.iter().all(|f| f.predicted.is_finite()))
        );
    }
}
