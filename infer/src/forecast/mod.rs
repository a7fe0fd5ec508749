//! Hourly forecasts 1–24 h ahead with an interval, by two methods that
//! share what a weekly series is expected to do (the [`baseline`]):
//!
//! - [`boosted`]: gradient-boosted trees trained once on a long past
//!   (`twin eval forecast`, the default there);
//! - [`seasonal`]: an online correction of the baseline that learns as the
//!   values come, in bounded state; the method the twin runs next to each
//!   followed series (the `forecast` model), where no long past is at hand.
//!
//! Both read an hourly series (the mean of each hour, NaN where nothing
//! came) and never a value after the origin they forecast from.

pub mod boosted;
pub mod seasonal;

pub use boosted::{Config, Forecaster};
pub use seasonal::Seasonal;

/// Longest horizon, hours.
pub const MAX_HORIZON: usize = 24;
/// History the boosted forecaster needs behind its origin (three weeks).
pub const WARM: usize = 504;
/// A week, hours: the season of traffic and of what traffic emits.
pub const WEEK: usize = 168;

/// One forecast: the point and its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forecast {
    pub horizon_h: usize,
    pub predicted: f64,
    pub low: f64,
    pub high: f64,
}

/// What a forecast corrects: the [`weekly`] median, else the value a day
/// before the target, else the last value known. `known` ends at the
/// origin; the target is `h ≤ 24` hours past it, so every lag read is in it.
pub fn baseline(known: &[f64], h: usize) -> f64 {
    weekly(known, h).unwrap_or_else(|| {
        let o = known.len() as isize - 1;
        let day = at(known, o + h as isize - 24);
        if day.is_nan() { at(known, o) } else { day }
    })
}

/// The median of the same hour one, two and three weeks before the target
/// `h` hours past the end of `known` (robust to one holiday among them),
/// of those known; `None` when none is.
pub fn weekly(known: &[f64], h: usize) -> Option<f64> {
    let target = known.len() as isize - 1 + h as isize;
    let mut w = [f64::NAN; 3];
    let mut n = 0;
    for k in 1..=3 {
        let v = at(known, target - k * WEEK as isize);
        if !v.is_nan() {
            w[n] = v;
            n += 1;
        }
    }
    let w = &mut w[..n];
    w.sort_by(f64::total_cmp);
    match n {
        0 => None,
        n if n % 2 == 1 => Some(w[n / 2]),
        n => Some((w[n / 2 - 1] + w[n / 2]) / 2.0),
    }
}

/// `y[i]`, NaN outside the series.
pub(crate) fn at(y: &[f64], i: isize) -> f64 {
    if i < 0 {
        f64::NAN
    } else {
        y.get(i as usize).copied().unwrap_or(f64::NAN)
    }
}
