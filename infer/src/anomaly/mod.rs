//! Streaming anomaly detection for one numeric series, unsupervised and
//! starting from nothing.
//!
//! A detector first learns for a probation of `probation` values, scoring
//! 0. It then scores each value in [0, 1]. Its idea is ARTime's (Fuzzy ART
//! over a downsampled window), written from the published description:
//! - values are averaged in steps of `probation / 100` (at least 1), so a
//!   window of [`Config::window`] steps spans a fixed share of the
//!   probation whatever the sampling rate;
//! - each window, scaled by the range seen so far, is a pattern; a Fuzzy
//!   ART network ([`art`]) keeps categories of the patterns it has seen;
//! - a pattern that matches no category within the vigilance starts a new
//!   one and scores above 0.5, by how far it is from the closest; one that
//!   joins a category scores below 0.5, by how close to the vigilance it
//!   came;
//! - for four windows after a new category (an event), only a score
//!   higher than the event's so far passes: one event, few alerts.
//!
//! Memory is bounded: the probation's step means (at most about a
//! hundred), one window, and at most [`Config::max_categories`] categories
//! of `2 × window` numbers.

pub mod art;

use art::FuzzyArt;

/// A detector's settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Values to learn from before scoring.
    pub probation: usize,
    /// Downsampled steps per pattern.
    pub window: usize,
    /// How close a pattern must be to a category to join it, in (0, 1].
    pub vigilance: f64,
    /// Categories kept; past it the least used is forgotten.
    pub max_categories: usize,
}

impl Config {
    pub const MAX_PROBATION: usize = 5_000;

    /// The settings for a series whose probation is `probation` values.
    pub fn for_probation(probation: usize) -> Config {
        Config {
            probation: probation.clamp(1, Self::MAX_PROBATION),
            window: 8,
            vigilance: 0.92,
            max_categories: 256,
        }
    }

    fn step(&self) -> usize {
        (self.probation / 100).max(1)
    }
}

/// How long an event lasts, in windows: after a new category, for this
/// many windows only a score above the event's highest so far passes.
/// With one window a single event raised a chain of alerts (README,
/// anomaly detection, has the figures).
const EVENT_WINDOWS: usize = 4;

/// Room beyond the probation's range, as a share of it on each side.
const MARGIN: f64 = 0.25;

/// One series' detector.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Detector {
    cfg: Config,
    seen: usize,
    /// Step means of the probation, kept until its end, when the range
    /// they are scaled by is known.
    early: Vec<f64>,
    lo: f64,
    hi: f64,
    /// The step being averaged: sum and count.
    acc: (f64, usize),
    /// The last `window` step means.
    steps: std::collections::VecDeque<f64>,
    art: FuzzyArt,
    /// Steps during which scores stay held down after an alert.
    quiet: usize,
    /// The highest score of the current event.
    peak: f64,
    last: f64,
}

impl Detector {
    /// A detector with `cfg` held to workable bounds: a probation of 1 to
    /// [`Config::MAX_PROBATION`] values, a window of 1 to 64 steps, a
    /// vigilance in [0.5, 1] and at least one category.
    pub fn new(mut cfg: Config) -> Detector {
        cfg.probation = cfg.probation.clamp(1, Config::MAX_PROBATION);
        cfg.window = cfg.window.clamp(1, 64);
        cfg.vigilance = cfg.vigilance.clamp(0.5, 1.0);
        cfg.max_categories = cfg.max_categories.max(1);
        let art = FuzzyArt::new(2 * cfg.window, cfg.vigilance, cfg.max_categories);
        Detector {
            early: Vec::new(),
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            acc: (0.0, 0),
            steps: std::collections::VecDeque::with_capacity(cfg.window),
            art,
            quiet: 0,
            peak: 0.0,
            last: 0.0,
            seen: 0,
            cfg,
        }
    }

    /// Takes the next value and returns its anomaly score in [0, 1]. A
    /// value that is not finite scores as the value before it did.
    pub fn update(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            return self.last;
        }
        self.seen += 1;
        if self.seen <= self.cfg.probation {
            // The range is not known yet: keep the step means (at most a
            // hundred), to learn their patterns once it is.
            self.lo = self.lo.min(value);
            self.hi = self.hi.max(value);
            if let Some(mean) = self.accumulate(value) {
                self.early.push(mean);
            }
            if self.seen == self.cfg.probation {
                for mean in std::mem::take(&mut self.early) {
                    self.pattern(mean);
                }
            }
            return 0.0;
        }
        let score = self
            .accumulate(value)
            .map_or(0.0, |mean| self.pattern(mean));
        self.last = score;
        score
    }

    /// Adds a value to the current step; the step's mean when it is full.
    fn accumulate(&mut self, value: f64) -> Option<f64> {
        self.acc.0 += value;
        self.acc.1 += 1;
        if self.acc.1 < self.cfg.step() {
            return None;
        }
        let mean = self.acc.0 / self.acc.1 as f64;
        self.acc = (0.0, 0);
        Some(mean)
    }

    /// Takes the next step mean; the score of the pattern it completes.
    fn pattern(&mut self, mean: f64) -> f64 {
        if self.steps.len() == self.cfg.window {
            self.steps.pop_front();
        }
        self.steps.push_back(mean);
        if self.steps.len() < self.cfg.window {
            return 0.0;
        }
        // Scaled by the probation's range widened by `MARGIN` of it on each
        // side, and clipped: a category's meaning never changes, and a level
        // past the range is a pattern of ones (or zeros) the first time.
        let span = (self.hi - self.lo).max(f64::EPSILON * self.hi.abs().max(1.0));
        let (lo, width) = (self.lo - MARGIN * span, (1.0 + 2.0 * MARGIN) * span);
        let pattern: Vec<f64> = self
            .steps
            .iter()
            .map(|v| ((v - lo) / width).clamp(0.0, 1.0))
            .collect();
        let best = self.art.learn(&pattern);
        let rho = self.cfg.vigilance;
        // Half for a pattern that joined a category, by how close to the
        // vigilance it came; above half for a new one, by how far it is.
        // Both sides on the scale of the vigilance's margin 1 − ρ.
        let margin = (1.0 - rho).max(f64::EPSILON);
        let mut score = if best >= rho {
            0.5 * (1.0 - best) / margin
        } else {
            0.5 + 0.5 * ((rho - best) / margin).min(1.0)
        };
        if self.quiet > 0 {
            // Within an event only a stronger score passes.
            self.quiet -= 1;
            if score > self.peak {
                self.peak = score;
            } else {
                score = 0.0;
            }
        } else if best < rho {
            self.quiet = EVENT_WINDOWS * self.cfg.window;
            self.peak = score;
        }
        score.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        // A small deterministic generator: the test needs no crate for it.
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                10.0 + (i as f64 / 50.0).sin() + 0.2 * (u - 0.5)
            })
            .collect()
    }

    /// A threshold above the faint novelty of patterns not yet seen.
    const ALERT: f64 = 0.55;

    fn scores(values: &[f64]) -> Vec<f64> {
        let mut d = Detector::new(Config::for_probation(750));
        values.iter().map(|v| d.update(*v)).collect()
    }

    #[test]
    fn clean_noise_stays_quiet_after_probation() {
        let s = scores(&noise(20_000, 7));
        let loud = s.iter().filter(|x| **x > ALERT).count();
        assert_eq!(loud, 0, "max {}", s.iter().cloned().fold(0.0, f64::max));
    }

    #[test]
    fn a_level_shift_and_a_spike_are_flagged_within_a_bounded_delay() {
        let mut v = noise(5000, 9);
        for x in &mut v[3000..] {
            *x += 3.0;
        }
        let s = scores(&v);
        let hit = s[3000..].iter().position(|x| *x > ALERT);
        assert!(hit.is_some_and(|d| d <= 8 * 7), "shift seen after {hit:?}");
        let mut v = noise(5000, 11);
        for x in &mut v[2000..2007] {
            *x += 5.0;
        }
        let s = scores(&v);
        let hit = s[2000..].iter().position(|x| *x > ALERT);
        assert!(hit.is_some_and(|d| d <= 8 * 7), "spike seen after {hit:?}");
    }

    #[test]
    fn probation_scores_zero() {
        assert!(scores(&noise(750, 3)).iter().all(|x| *x == 0.0));
    }
}
