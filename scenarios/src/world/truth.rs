//! Ground truth: what the world knows and the twin can only estimate, for
//! scoring the twin's inferences (remaining useful life, disease zones,
//! traffic and pollution) against reality.

use bevy_ecs::prelude::*;
use serde::Serialize;
use twin_core::{EntityId, SimTime};

use super::{SimClock, Weather, agriculture, city, factory};

#[derive(Clone, Debug, Default, Serialize)]
pub struct GroundTruth {
    pub time: SimTime,
    pub weather: WeatherTruth,
    pub machines: Vec<MachineTruth>,
    pub parcels: Vec<ParcelTruth>,
    pub outbreaks: Vec<OutbreakTruth>,
    pub roads: Vec<RoadTruth>,
    pub stations: Vec<StationTruth>,
    /// Hours the factory's technicians have spent on jobs (travelling to
    /// them and working), since the start.
    pub technician_hours: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WeatherTruth {
    pub temperature_c: f64,
    pub humidity_pct: f64,
    pub rain_mm_h: f64,
    pub wind_ms: f64,
    pub cloud: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MachineTruth {
    pub id: EntityId,
    /// 1 as new, 0 failed.
    pub health: f64,
    /// Remaining operating hours at full load before failure.
    pub rul_h: f64,
    pub status: &'static str,
    /// Units produced since the start.
    pub produced: f64,
    /// Since the start: failures, hours down or repaired after one
    /// (unplanned), hours in maintenance that was planned.
    pub failures: u32,
    pub unplanned_h: f64,
    pub planned_h: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ParcelTruth {
    pub id: EntityId,
    pub ndvi: f64,
    pub soil_moisture: f64,
    /// The disease on the parcel and its severity (0..1), if any.
    pub disease: Option<(&'static str, f64)>,
    /// Yield the parcel would give if harvested now, t/ha.
    pub expected_yield_t_ha: f64,
    /// That yield over the crop's potential.
    pub yield_index: f64,
    /// Irrigation water it received since the start, m³.
    pub water_m3: f64,
    /// Hours its soil moisture spent below the crop's stress threshold.
    pub stress_h: f64,
}

/// The true extent of one outbreak: the parcels it reached, as a circle.
#[derive(Clone, Debug, Serialize)]
pub struct OutbreakTruth {
    /// The outbreak's number, and when it began on its first parcel.
    pub id: u32,
    pub onset: SimTime,
    pub disease: &'static str,
    pub centre: (f64, f64),
    pub radius_m: f64,
    /// Mean severity over the infected parcels.
    pub severity: f64,
    pub parcels: Vec<EntityId>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RoadTruth {
    /// The traffic loop on the road, when it has one.
    pub sensor: Option<EntityId>,
    pub district: EntityId,
    pub flow_veh_h: f64,
    pub speed_kmh: f64,
    pub occupancy_pct: f64,
    pub incident: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StationTruth {
    pub id: EntityId,
    pub district: EntityId,
    pub pm25: f64,
    pub pm10: f64,
    pub no2: f64,
    pub co2: f64,
}

pub fn collect(world: &mut World) -> GroundTruth {
    let time = world.resource::<SimClock>().now;
    let w = world.resource::<Weather>();
    let weather = WeatherTruth {
        temperature_c: w.temperature_c,
        humidity_pct: w.humidity_pct,
        rain_mm_h: w.rain_mm_h,
        wind_ms: w.wind_ms,
        cloud: w.cloud,
    };
    let (parcels, outbreaks) = agriculture::truth(world);
    let (roads, stations) = city::truth(world);
    GroundTruth {
        time,
        weather,
        machines: factory::truth(world),
        technician_hours: factory::technician_hours(world),
        parcels,
        outbreaks,
        roads,
        stations,
    }
}
