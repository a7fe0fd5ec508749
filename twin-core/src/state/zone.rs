//! Zones: districts, parking areas, disease outbreaks, air-quality areas, sites.

use geo::{Point, Polygon};
use serde::{Deserialize, Serialize};

use super::behaviour::{Ctx, InputError, KindBehaviour};
use super::readings::AlarmLevel;
use super::{Common, KindState, Status};
use crate::event::EventBody;
use crate::geometry::Region;
use crate::id::Kind;
use crate::measurand::Measurand;
use crate::observation::Observation;
use crate::value::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneType {
    #[default]
    District,
    Parking,
    Disease,
    AirQuality,
    Site,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneShape {
    Polygon(Polygon<f64>),
    Circle { centre: Point<f64>, radius_m: f64 },
}

impl ZoneShape {
    pub fn region(&self) -> Region {
        match self {
            ZoneShape::Polygon(p) => Region::Polygon(p.clone()),
            ZoneShape::Circle { centre, radius_m } => Region::Circle {
                centre: *centre,
                radius_m: *radius_m,
            },
        }
    }
}

/// A zone's aggregates (mean PM2.5, occupancy, traffic flow, severity…) are
/// its readings; its alert level is the worst level among them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZoneState {
    pub zone_type: ZoneType,
    pub shape: Option<ZoneShape>,
    pub alert_level: AlarmLevel,
}

impl ZoneState {
    pub fn new(zone_type: ZoneType, shape: ZoneShape) -> Self {
        ZoneState {
            zone_type,
            shape: Some(shape),
            alert_level: AlarmLevel::Normal,
        }
    }
}

impl KindBehaviour for ZoneState {
    const KIND: Kind = Kind::Zone;

    fn into_state(self) -> KindState {
        KindState::Zone(self)
    }
    fn from_state(state: KindState) -> Option<Self> {
        match state {
            KindState::Zone(s) => Some(s),
            _ => None,
        }
    }

    fn accepts(&self, m: Measurand) -> bool {
        !m.commandable() || m == Measurand::ValveOpening
    }

    /// A zone whose extent moves (a disease zone) reports it as readings: a
    /// `position` moves a circle's centre, a `radius` resizes it, so the
    /// shape a client reads is the latest extent, and the history of both
    /// readings is how it grew.
    fn observe(
        &mut self,
        common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        match (&obs.measurand, &obs.value, &mut self.shape) {
            (
                Measurand::Position,
                Value::Point { lon, lat },
                Some(ZoneShape::Circle { centre, .. }),
            ) => *centre = Point::new(*lon, *lat),
            (Measurand::Radius, Value::Number(r), Some(ZoneShape::Circle { radius_m, .. })) => {
                *radius_m = *r
            }
            _ => {}
        }
        let level = common.readings.worst_level();
        if level != self.alert_level {
            ctx.emit(EventBody::StatusChanged {
                from: Status::Zone(self.alert_level),
                to: Status::Zone(level),
            });
            self.alert_level = level;
        }
        Ok(())
    }
}
