//! The value types scenario files share: durations, clock modes, random
//! quantities and sensor models.

use std::collections::BTreeMap;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Deserializer};
use twin_core::{ClockMode, SimTime};

/// A duration written as text (`5d`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dur(pub SimTime);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = String::deserialize(d)?;
        SimTime::parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// A clock mode written as text (`real`, `x60`, `max`, `step`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSpec(pub ClockMode);

impl<'de> Deserialize<'de> for ClockSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClockSpec, D::Error> {
        let s = String::deserialize(d)?;
        ClockMode::parse(&s)
            .map(ClockSpec)
            .map_err(serde::de::Error::custom)
    }
}

/// A random quantity: fixed, or drawn from a distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Fixed(f64),
    Uniform(f64, f64),
    Normal(f64, f64),
    LogNormal(f64, f64),
}

impl Dist {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Fixed(x) => x,
            Dist::Uniform(lo, hi) => lo + (hi - lo) * rand::RngExt::random::<f64>(rng),
            Dist::Normal(m, sd) => Normal::new(m, sd).map_or(m, |n| n.sample(rng)),
            Dist::LogNormal(mu, s) => LogNormal::new(mu, s).map_or(mu.exp(), |n| n.sample(rng)),
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed(x) => x,
            Dist::Uniform(lo, hi) => (lo + hi) / 2.0,
            Dist::Normal(m, _) => m,
            Dist::LogNormal(mu, s) => (mu + s * s / 2.0).exp(),
        }
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dist, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Fixed(f64),
            Table(BTreeMap<String, [f64; 2]>),
        }
        const EXPECTED: &str = "expected a number or one of { uniform = [lo, hi] }, \
                                { normal = [mean, sd] }, { lognormal = [mu, sigma] }";
        let raw = Raw::deserialize(d).map_err(|_| serde::de::Error::custom(EXPECTED))?;
        let table = match raw {
            Raw::Fixed(x) => return Ok(Dist::Fixed(x)),
            Raw::Table(t) if t.len() == 1 => t,
            Raw::Table(_) => return Err(serde::de::Error::custom(EXPECTED)),
        };
        let (name, [a, b]) = table.into_iter().next().expect("one entry");
        match name.as_str() {
            "uniform" if a <= b => Ok(Dist::Uniform(a, b)),
            "uniform" => Err(serde::de::Error::custom(format!(
                "uniform = [{a}, {b}]: the low end is above the high end"
            ))),
            "normal" if b >= 0.0 => Ok(Dist::Normal(a, b)),
            "lognormal" if b >= 0.0 => Ok(Dist::LogNormal(a, b)),
            "normal" | "lognormal" => Err(serde::de::Error::custom(format!(
                "{name}: the spread {b} is negative"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "unknown distribution `{other}`: {EXPECTED}"
            ))),
        }
    }
}

/// How a sensor turns the true value into observations.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SensorModelSpec {
    /// Time between samples.
    pub period: Option<Dur>,
    /// Standard deviation of additive noise, in the measurand's unit (for a
    /// position: in metres).
    #[serde(default)]
    pub noise: f64,
    /// Standard deviation of noise proportional to the value (0.02 = 2 %).
    #[serde(default)]
    pub relative_noise: f64,
    /// Standard deviation of each sensor's drift rate, unit per day: every
    /// sensor draws its own rate and its error grows with time.
    #[serde(default)]
    pub drift_per_day: f64,
    /// Probability that a sample is lost.
    #[serde(default)]
    pub dropout: f64,
    /// Episodes during which the sensor repeats its last value.
    pub stuck: Option<Episodes>,
    /// Occasional outliers.
    pub spikes: Option<Spikes>,
    /// Delivery delay: exponential with this mean, capped at `max`.
    pub latency: Option<Latency>,
    /// Probability that a sample is delivered twice.
    #[serde(default)]
    pub duplicates: f64,
    /// Resolution: values are rounded to a multiple of it (0: no rounding).
    #[serde(default)]
    pub resolution: f64,
    /// For a position model: the model of the speed and heading the same
    /// receiver reports (a GPS derives them from Doppler shifts, far more
    /// precisely than its fixes); by default this model itself.
    pub velocity: Option<toml::Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Episodes {
    pub per_day: f64,
    pub duration: Dur,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spikes {
    pub probability: f64,
    /// Size of a spike, in the measurand's unit (added or subtracted).
    pub size: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub mean: Dur,
    pub max: Dur,
}

/// Which sensor model observes which measurand, e.g.
/// `{ vibration_rms = "accelerometer", temperature = "pt100" }`.
pub type SensorMap = BTreeMap<String, toml::Spanned<String>>;
