//! Vehicles: buses, taxis, shared bikes, tractors and technicians' vans.

use serde::{Deserialize, Serialize};

use super::behaviour::{Ctx, InputError, KindBehaviour, parse_text};
use super::{Common, KindState, Status};
use crate::event::EventBody;
use crate::id::Kind;
use crate::measurand::Measurand;
use crate::observation::Observation;
use crate::value::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleMode {
    #[default]
    Bus,
    Taxi,
    Bike,
    Tractor,
    Technician,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleStatus {
    #[default]
    Parked,
    EnRoute,
    InService,
    OutOfService,
}

const STATUSES: &[(&str, VehicleStatus)] = &[
    ("parked", VehicleStatus::Parked),
    ("en_route", VehicleStatus::EnRoute),
    ("in_service", VehicleStatus::InService),
    ("out_of_service", VehicleStatus::OutOfService),
];
const EXPECTED: &str = "parked, en_route, in_service, out_of_service";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleState {
    pub mode: VehicleMode,
    /// WGS84 longitude and latitude.
    pub position: Option<(f64, f64)>,
    pub heading_deg: f64,
    pub speed_kmh: f64,
    pub route: Option<String>,
    /// Load or occupancy in percent of capacity.
    pub load_pct: Option<f64>,
    pub status: VehicleStatus,
}

impl VehicleState {
    pub fn new(mode: VehicleMode) -> Self {
        VehicleState {
            mode,
            ..Default::default()
        }
    }
}

impl KindBehaviour for VehicleState {
    const KIND: Kind = Kind::Vehicle;

    fn into_state(self) -> KindState {
        KindState::Vehicle(self)
    }
    fn from_state(state: KindState) -> Option<Self> {
        match state {
            KindState::Vehicle(s) => Some(s),
            _ => None,
        }
    }

    fn accepts(&self, m: Measurand) -> bool {
        use Measurand::*;
        matches!(
            m,
            Position
                | Heading
                | Speed
                | Load
                | Occupancy
                | Status
                | Headway
                | Destination
                | PositionEstimate
                | PositionSigma
        )
    }

    fn check(&self, obs: &Observation) -> Result<(), InputError> {
        if obs.measurand == Measurand::Status {
            parse_text(obs, STATUSES, EXPECTED)?;
        }
        Ok(())
    }

    fn observe(
        &mut self,
        _common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        match (obs.measurand, &obs.value) {
            (Measurand::Position, Value::Point { lon, lat }) => self.position = Some((*lon, *lat)),
            (Measurand::Heading, Value::Number(h)) => self.heading_deg = *h,
            (Measurand::Speed, Value::Number(s)) => self.speed_kmh = *s,
            (Measurand::Load | Measurand::Occupancy, Value::Number(l)) => self.load_pct = Some(*l),
            (Measurand::Status, _) => {
                let s = parse_text(obs, STATUSES, EXPECTED)?;
                if s != self.status {
                    ctx.emit(EventBody::StatusChanged {
                        from: Status::Vehicle(self.status),
                        to: Status::Vehicle(s),
                    });
                    self.status = s;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
