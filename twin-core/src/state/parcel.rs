//! Parcels: fields and garden beds, with their crop and its condition.

use geo::Polygon;
use serde::{Deserialize, Serialize};

use super::behaviour::{Ctx, InputError, KindBehaviour};
use super::{Common, KindState, Status};
use crate::event::EventBody;
use crate::id::Kind;
use crate::measurand::Measurand;
use crate::observation::Observation;
use crate::time::SimTime;
use crate::value::Value;

/// Coarse crop growth stage, from the BBCH scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowthStage {
    #[default]
    Dormant,
    Vegetative,
    Flowering,
    Fruiting,
    Ripening,
    Senescent,
}

impl GrowthStage {
    fn from_bbch(b: f64) -> GrowthStage {
        match b as u32 {
            0..=9 => GrowthStage::Dormant,
            10..=59 => GrowthStage::Vegetative,
            60..=69 => GrowthStage::Flowering,
            70..=79 => GrowthStage::Fruiting,
            80..=89 => GrowthStage::Ripening,
            _ => GrowthStage::Senescent,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropHealth {
    #[default]
    Unknown,
    Healthy,
    Stressed,
    Critical,
}

impl CropHealth {
    /// Health from NDVI of a crop in season: dense healthy canopy is above 0.6,
    /// stressed canopy 0.4–0.6, sparse or failing below 0.4.
    fn from_ndvi(ndvi: f64) -> CropHealth {
        if ndvi >= 0.6 {
            CropHealth::Healthy
        } else if ndvi >= 0.4 {
            CropHealth::Stressed
        } else {
            CropHealth::Critical
        }
    }
}

/// Red and near-infrared reflectances within this time of each other belong
/// to the same satellite pass.
const SAME_PASS: SimTime = SimTime::hours(1);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParcelState {
    pub crop: String,
    pub area_ha: f64,
    pub polygon: Option<Polygon<f64>>,
    pub ndvi: Option<f64>,
    pub soil_moisture: Option<f64>,
    pub growth_stage: GrowthStage,
    pub predicted_yield_t_ha: Option<f64>,
    pub health: CropHealth,
}

impl ParcelState {
    pub fn new(crop: &str, polygon: Polygon<f64>) -> Self {
        ParcelState {
            crop: crop.to_string(),
            area_ha: crate::geometry::area_ha(&polygon),
            polygon: Some(polygon),
            ..Default::default()
        }
    }

    fn set_ndvi(&mut self, ndvi: f64, ctx: &mut Ctx) {
        self.ndvi = Some(ndvi);
        let health = CropHealth::from_ndvi(ndvi);
        if health != self.health {
            ctx.emit(EventBody::StatusChanged {
                from: Status::Crop(self.health),
                to: Status::Crop(health),
            });
            self.health = health;
        }
    }
}

/// NDVI from red (B04) and near-infrared (B08) reflectance.
pub fn ndvi(red: f64, nir: f64) -> Option<f64> {
    let sum = red + nir;
    (sum > 0.0).then(|| (nir - red) / sum)
}

impl KindBehaviour for ParcelState {
    const KIND: Kind = Kind::Parcel;

    fn into_state(self) -> KindState {
        KindState::Parcel(self)
    }
    fn from_state(state: KindState) -> Option<Self> {
        match state {
            KindState::Parcel(s) => Some(s),
            _ => None,
        }
    }

    fn accepts(&self, m: Measurand) -> bool {
        use Measurand::*;
        matches!(
            m,
            Red | Nir
                | Ndvi
                | SoilMoisture
                | GrowthStage
                | PredictedYield
                | ValveOpening
                | Irrigation
                | Rainfall
                | Temperature
                | Humidity
                | Severity
                | Yield
                | Treatment
        )
    }

    fn observe(
        &mut self,
        common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        let Value::Number(x) = obs.value else {
            return Ok(());
        };
        match obs.measurand {
            Measurand::Ndvi => self.set_ndvi(x, ctx),
            Measurand::Red | Measurand::Nir => {
                let other = if obs.measurand == Measurand::Red {
                    Measurand::Nir
                } else {
                    Measurand::Red
                };
                let pair = common
                    .readings
                    .get(other)
                    .filter(|r| (r.time - obs.time).as_ms().abs() <= SAME_PASS.as_ms())
                    .and_then(|r| r.value.as_f64());
                if let Some(y) = pair {
                    let (red, nir) = if obs.measurand == Measurand::Red {
                        (x, y)
                    } else {
                        (y, x)
                    };
                    if let Some(v) = ndvi(red, nir) {
                        ctx.emit(EventBody::StateChanged {
                            measurand: Measurand::Ndvi,
                            value: Value::Number(v),
                        });
                        self.set_ndvi(v, ctx);
                    }
                }
            }
            Measurand::SoilMoisture => self.soil_moisture = Some(x),
            Measurand::GrowthStage => self.growth_stage = GrowthStage::from_bbch(x),
            Measurand::PredictedYield => self.predicted_yield_t_ha = Some(x),
            _ => {}
        }
        Ok(())
    }
}
