//! Air quality: each district's stations see a background that follows the
//! diurnal shape of the UCI record plus the district's traffic, diluted by
//! wind and washed out by rain.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use twin_core::rng::Light;
use twin_core::{EntityId, Measurand};

use super::roads::Roads;
use super::{City, Grid, device, mid};
use crate::profiles;
use crate::sensor::{Channels, Truth};
use crate::spec::{AirSpec, ScenarioError};
use crate::world::build::Builder;
use crate::world::{SimClock, Weather};

/// Truth slots of an air-quality station.
pub(super) const PM25: u8 = 0;
pub(super) const PM10: u8 = 1;
pub(super) const NO2: u8 = 2;
pub(super) const CO2: u8 = 3;
const TEMPERATURE: u8 = 4;
const HUMIDITY: u8 = 5;

#[derive(Component)]
pub struct Station {
    pub(super) district: usize,
    background: f64,
    rng: Light,
}

/// Which truth slot each measurand of an air-quality station reads.
const STATION_SLOTS: &[(Measurand, u8)] = &[
    (Measurand::Pm25, PM25),
    (Measurand::Pm10, PM10),
    (Measurand::No2, NO2),
    (Measurand::Co2, CO2),
    (Measurand::Temperature, TEMPERATURE),
    (Measurand::Humidity, HUMIDITY),
];

pub(super) fn build(
    b: &mut Builder,
    air: &AirSpec,
    grid: &Grid,
    district_ids: &[EntityId],
    roads: &Roads,
) -> Result<(), ScenarioError> {
    let nodes = &grid.nodes;
    let (pairs, by_district) = (&roads.pairs, &roads.by_district);
    {
        for (d, &district) in district_ids.iter().enumerate() {
            let candidates = &by_district[d];
            for k in 0..b.scaled(air.per_district) {
                let (from, to, _) = pairs[candidates[(k * 7) % candidates.len().max(1)]];
                let (x, y) = mid(nodes, from, to);
                let name = format!("aq-{d}-{k}");
                let (id, channels) = device(
                    b,
                    "city.air.sensors",
                    &name,
                    "air-quality-station",
                    &air.sensors,
                    district,
                    b.local.lonlat(x + 15.0, y + 15.0),
                    STATION_SLOTS,
                )?;
                let mut rng = b.rng(Some(id), "station");
                let background = rng.random_range(0.85..1.15);
                b.spawn_twin(
                    id,
                    (
                        Station {
                            district: d,
                            background,
                            rng,
                        },
                        Truth::default(),
                        Channels::from(channels),
                    ),
                );
            }
        }
    }

    Ok(())
}

pub(super) fn air(
    clock: Res<SimClock>,
    weather: Res<Weather>,
    city: Res<City>,
    mut q: Query<(&mut Station, &mut Truth)>,
) {
    let shape = profiles::air_hour(clock.civil());
    // Wind disperses, rain washes out.
    let dilution = 1.0 / (0.4 + weather.wind_ms / 4.0);
    let washout = 1.0 - (weather.rain_mm_h * 0.12).min(0.5);
    for (mut s, mut t) in &mut q {
        let traffic = city.district_load[s.district];
        let jitter = 1.0 + 0.05 * s.rng.sample::<f64, _>(StandardNormal);
        let local = traffic * dilution * washout * s.background * jitter;
        let pm25 = 5.0 * shape.co * washout + 28.0 * local;
        t.0[PM25 as usize] = pm25.max(0.0);
        t.0[PM10 as usize] = (1.6 * pm25 + 6.0 * washout).max(0.0);
        t.0[NO2 as usize] = (12.0 * shape.no2 + 70.0 * local).max(0.0);
        t.0[CO2 as usize] = 420.0 + 45.0 * local;
        t.0[TEMPERATURE as usize] = weather.temperature_c + 1.0;
        t.0[HUMIDITY as usize] = (weather.humidity_pct - 3.0).clamp(0.0, 100.0);
    }
}
