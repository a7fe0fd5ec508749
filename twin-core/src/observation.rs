//! Observations: the only way the twin learns about the world.

use serde::{Deserialize, Serialize};

use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::time::SimTime;
use crate::value::Value;

/// Data quality, as stated by a source for one observation and as judged by
/// the twin for a sensor (stale, stuck, out of range).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    #[default]
    Ok,
    /// The source doubts the value (e.g. a sensor warming up); applied, flagged.
    Uncertain,
    /// The source says the value is wrong; kept in history, never applied.
    Bad,
    /// No observation for several sampling periods.
    Stale,
    /// The same value repeated for too long.
    Stuck,
    /// The last value offered was outside the measurand's valid range.
    OutOfRange,
}

/// Where an observation came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The simulated world of a scenario.
    #[default]
    World,
    Mqtt,
    Grpc,
    Replay,
    /// An inference actor's estimate.
    Inference,
    /// A reading of a sensor attached to the entity, passed on by the twin
    /// so that a machine or a parcel shows what its sensors measure.
    Attached,
    /// A figure the twin computed from other entities' readings (a
    /// district's mean speed): models may follow it like a measurement.
    Aggregate,
}

/// One measured value of one entity at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub entity: EntityId,
    pub time: SimTime,
    pub measurand: Measurand,
    pub value: Value,
    pub quality: Quality,
    pub source: Source,
    /// The source's sequence number: with (entity, measurand, time) it makes an
    /// observation unique, so a duplicate delivery overwrites instead of adding.
    pub seq: u64,
}

impl Observation {
    /// A good-quality numeric observation from the world.
    pub fn number(entity: EntityId, time: SimTime, measurand: Measurand, value: f64) -> Self {
        Observation {
            entity,
            time,
            measurand,
            value: Value::Number(value),
            quality: Quality::Ok,
            source: Source::World,
            seq: 0,
        }
    }

    pub fn with_value(mut self, value: Value) -> Self {
        self.value = value;
        self
    }
}
