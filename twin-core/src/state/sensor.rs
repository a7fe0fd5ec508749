//! Sensors: what they measure, how often, their battery and the twin's judgement
//! of their data quality.

use serde::{Deserialize, Serialize};

use super::behaviour::{Ctx, InputError, KindBehaviour};
use super::{Common, KindState, Status};
use crate::event::EventBody;
use crate::id::Kind;
use crate::measurand::{Measurand, MeasurandSet};
use crate::observation::{Observation, Quality};
use crate::time::SimTime;

/// Identical consecutive values after which a sensor is judged stuck.
pub const STUCK_AFTER: u16 = 20;
/// Sampling periods without data after which a sensor is judged stale.
pub const STALE_AFTER_PERIODS: i64 = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorState {
    /// What it measures; empty means "whatever it reports".
    pub measurands: MeasurandSet,
    pub sampling_period_ms: u32,
    pub battery_pct: Option<f32>,
    pub quality: Quality,
}

impl Default for SensorState {
    fn default() -> Self {
        SensorState {
            measurands: MeasurandSet::default(),
            sampling_period_ms: 60_000,
            battery_pct: None,
            quality: Quality::Ok,
        }
    }
}

impl SensorState {
    pub fn measuring(measurands: &[Measurand], period: SimTime) -> Self {
        SensorState {
            measurands: MeasurandSet::of(measurands),
            sampling_period_ms: period.as_ms().clamp(1, u32::MAX as i64) as u32,
            ..Default::default()
        }
    }

    fn set_quality(&mut self, q: Quality, ctx: &mut Ctx) {
        if self.quality != q {
            ctx.emit(EventBody::StatusChanged {
                from: Status::Sensor(self.quality),
                to: Status::Sensor(q),
            });
            self.quality = q;
        }
    }
}

impl KindBehaviour for SensorState {
    const KIND: Kind = Kind::Sensor;

    fn into_state(self) -> KindState {
        KindState::Sensor(self)
    }
    fn from_state(state: KindState) -> Option<Self> {
        match state {
            KindState::Sensor(s) => Some(s),
            _ => None,
        }
    }

    fn accepts(&self, m: Measurand) -> bool {
        !m.commandable() || self.measurands.contains(m)
    }

    fn check(&self, obs: &Observation) -> Result<(), InputError> {
        let declared = self.measurands.is_empty()
            || self.measurands.contains(obs.measurand)
            // Every device may report its battery and where it stands, and
            // inference may score any entity.
            || super::behaviour::universal(obs.measurand)
            || obs.measurand == Measurand::Position
            // Forecasts of what it measures, which inference writes.
            || obs
                .measurand
                .forecast_of()
                .is_some_and(|m| self.measurands.contains(m));
        if declared {
            Ok(())
        } else {
            Err(InputError::NotMeasured {
                entity: obs.entity,
                measurand: obs.measurand,
            })
        }
    }

    fn observe(
        &mut self,
        common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        if obs.measurand == Measurand::Battery {
            self.battery_pct = obs.value.as_f64().map(|b| b as f32);
            return Ok(());
        }
        let stuck = common
            .readings
            .get(obs.measurand)
            .is_some_and(|r| r.repeats >= STUCK_AFTER);
        let q = if stuck { Quality::Stuck } else { obs.quality };
        self.set_quality(q, ctx);
        Ok(())
    }

    fn tick(&mut self, common: &mut Common, ctx: &mut Ctx) {
        let Some(last) = common.readings.latest() else {
            return;
        };
        let limit = i64::from(self.sampling_period_ms) * STALE_AFTER_PERIODS;
        if (ctx.now() - last).as_ms() > limit {
            self.set_quality(Quality::Stale, ctx);
        }
    }

    fn flag_out_of_range(&mut self, ctx: &mut Ctx) {
        self.set_quality(Quality::OutOfRange, ctx);
    }
}
