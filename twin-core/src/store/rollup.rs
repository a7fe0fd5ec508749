//! Aggregates of a series over a time bucket: count, min, max, mean.

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

/// History resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Raw,
    FiveMinutes,
    Hourly,
}

impl Resolution {
    pub fn width(self) -> Option<SimTime> {
        match self {
            Resolution::Raw => None,
            Resolution::FiveMinutes => Some(SimTime::minutes(5)),
            Resolution::Hourly => Some(SimTime::hours(1)),
        }
    }
}

/// Count, min, max and sum of the numeric samples in a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

impl Default for Rollup {
    fn default() -> Self {
        Rollup {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
}

impl Rollup {
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.sum += x;
    }
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
    pub fn to_bytes(self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&self.count.to_le_bytes());
        b[8..16].copy_from_slice(&self.min.to_le_bytes());
        b[16..24].copy_from_slice(&self.max.to_le_bytes());
        b[24..].copy_from_slice(&self.sum.to_le_bytes());
        b
    }
    pub fn from_bytes(b: &[u8]) -> Rollup {
        let f = |i: usize| f64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Rollup {
            count: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            min: f(8),
            max: f(16),
            sum: f(24),
        }
    }
}

/// One point of a rolled-up history.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: SimTime,
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Bucket {
    pub fn new(start: SimTime, r: Rollup) -> Bucket {
        Bucket {
            start,
            count: r.count,
            min: r.min,
            max: r.max,
            mean: r.mean(),
        }
    }
}
