//! The value an observation carries or a command asks for.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A measured or desired value. Numbers dominate; positions, flags, text
/// statuses and estimates with an interval (remaining useful life) are the rest.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Number(f64),
    Flag(bool),
    /// WGS84 longitude and latitude in degrees.
    Point {
        lon: f64,
        lat: f64,
    },
    Text(Arc<str>),
    /// An estimate with its interval, e.g. RUL 120 h in [90, 160]. Boxed:
    /// it is rare, and inline it would make every value a third larger.
    Interval(Box<Estimate>),
    /// Forecasts of the next steps of a series from the reading's time:
    /// point `i` is the mean over `[time + i·step, time + (i+1)·step)`.
    Forecast(Box<Path>),
}

/// Cloned on every reading applied (the reading, its event): the common
/// cases inline, the boxed ones out of line, whatever the compiler's
/// partition of the crates.
impl Clone for Value {
    #[inline]
    fn clone(&self) -> Value {
        match self {
            Value::Number(x) => Value::Number(*x),
            Value::Flag(b) => Value::Flag(*b),
            Value::Point { lon, lat } => Value::Point {
                lon: *lon,
                lat: *lat,
            },
            Value::Text(t) => Value::Text(t.clone()),
            other => other.clone_boxed(),
        }
    }
}

impl Value {
    #[cold]
    #[inline(never)]
    fn clone_boxed(&self) -> Value {
        match self {
            Value::Interval(e) => Value::Interval(e.clone()),
            Value::Forecast(p) => Value::Forecast(p.clone()),
            Value::Number(_) | Value::Flag(_) | Value::Point { .. } | Value::Text(_) => {
                unreachable!("cloned inline")
            }
        }
    }
}

/// Forecasts at a regular step, each with its interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Path {
    /// The step between points, ms (an hour for the twin's forecasts).
    pub step_ms: i64,
    pub points: Vec<Estimate>,
}

impl Path {
    /// Most points a forecast may carry (a week of hours).
    pub const MAX_POINTS: usize = 168;
}

/// An estimate and its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Number,
    Flag,
    Point,
    Text,
    Interval,
    Forecast,
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Number => "number",
            ValueType::Flag => "flag",
            ValueType::Point => "point",
            ValueType::Text => "text",
            ValueType::Interval => "interval",
            ValueType::Forecast => "forecast",
        })
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Number(_) => ValueType::Number,
            Value::Flag(_) => ValueType::Flag,
            Value::Point { .. } => ValueType::Point,
            Value::Text(_) => ValueType::Text,
            Value::Interval(_) => ValueType::Interval,
            Value::Forecast(_) => ValueType::Forecast,
        }
    }

    /// The scalar that history roll-ups and thresholds use, if any.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Flag(b) => Some(f64::from(u8::from(*b))),
            Value::Interval(e) => Some(e.value),
            Value::Point { .. } | Value::Text(_) | Value::Forecast(_) => None,
        }
    }

    /// All the floating-point components, for finiteness checks.
    pub fn components(&self) -> impl Iterator<Item = f64> {
        let (a, b, c) = match self {
            Value::Number(v) => (Some(*v), None, None),
            Value::Point { lon, lat } => (Some(*lon), Some(*lat), None),
            Value::Interval(e) => (Some(e.value), Some(e.low), Some(e.high)),
            Value::Flag(_) | Value::Text(_) | Value::Forecast(_) => (None, None, None),
        };
        let path: &[Estimate] = match self {
            Value::Forecast(p) => &p.points,
            _ => &[],
        };
        a.into_iter()
            .chain(b)
            .chain(c)
            .chain(path.iter().flat_map(|e| [e.value, e.low, e.high]))
    }

    pub fn text(s: &str) -> Value {
        Value::Text(Arc::from(s))
    }

    pub fn interval(value: f64, low: f64, high: f64) -> Value {
        Value::Interval(Box::new(Estimate { value, low, high }))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Flag(b) => write!(f, "{}", if *b { "on" } else { "off" }),
            Value::Point { lon, lat } => write!(f, "({lon:.6}, {lat:.6})"),
            Value::Text(s) => f.write_str(s),
            Value::Interval(e) => write!(f, "{} [{}, {}]", e.value, e.low, e.high),
            Value::Forecast(p) => match (p.points.first(), p.points.last()) {
                (Some(a), Some(b)) => write!(
                    f,
                    "{} [{}, {}] next, {} [{}, {}] in {} h",
                    a.value,
                    a.low,
                    a.high,
                    b.value,
                    b.low,
                    b.high,
                    (p.points.len() as i64).saturating_mul(p.step_ms) / 3_600_000
                ),
                _ => f.write_str("no forecast"),
            },
        }
    }
}
