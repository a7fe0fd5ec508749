//! Desired values of commandable properties, set by commands and compared with
//! what observations report.

use serde::{Deserialize, Serialize};

use super::readings::Readings;
use crate::measurand::Measurand;
use crate::time::SimTime;
use crate::value::Value;

/// The desired side of a commandable property; the reported side is the
/// entity's reading of the same measurand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Control {
    pub measurand: Measurand,
    pub desired: Value,
    pub since: SimTime,
}

/// Desired against reported, for display and for planners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlView {
    pub measurand: Measurand,
    pub desired: Value,
    pub desired_since: SimTime,
    pub reported: Option<Value>,
    pub reported_at: Option<SimTime>,
    /// Whether reported equals desired (numbers within 0.5% of range).
    pub in_sync: bool,
}

impl Control {
    pub fn view(&self, readings: &Readings) -> ControlView {
        let reading = readings.get(self.measurand);
        let reported = reading.map(|r| r.value.clone());
        let in_sync = match (&self.desired, &reported) {
            (Value::Number(d), Some(Value::Number(r))) => {
                let (lo, hi) = self.measurand.valid_range();
                (d - r).abs() <= (hi - lo) * 0.005
            }
            (d, Some(r)) => d == r,
            (_, None) => false,
        };
        ControlView {
            measurand: self.measurand,
            desired: self.desired.clone(),
            desired_since: self.since,
            reported,
            reported_at: reading.map(|r| r.time),
            in_sync,
        }
    }
}
