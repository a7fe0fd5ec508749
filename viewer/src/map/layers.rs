//! The map's layers: which entities each draws, what colours them, and
//! which are switched on (saved with the other settings).

use serde::{Deserialize, Serialize};
use twin_proto::v1::Kind;

use crate::colors::{self, Ramp};
use crate::model::{Item, Twin};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layer {
    Parcels,
    Districts,
    Disease,
    Parking,
    Vehicles,
    Machines,
    Sensors,
    /// PM2.5 interpolated between stations (not an entity's layer).
    Pollution,
}

impl Layer {
    pub const ALL: [Layer; 8] = [
        Layer::Parcels,
        Layer::Districts,
        Layer::Disease,
        Layer::Parking,
        Layer::Vehicles,
        Layer::Machines,
        Layer::Sensors,
        Layer::Pollution,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Layer::Parcels => "Parcels",
            Layer::Districts => "Districts",
            Layer::Disease => "Disease zones",
            Layer::Parking => "Parking",
            Layer::Vehicles => "Vehicles",
            Layer::Machines => "Machines",
            Layer::Sensors => "Sensors",
            Layer::Pollution => "Pollution (PM2.5)",
        }
    }

    /// The layer an entity is drawn on.
    pub fn of(item: &Item) -> Layer {
        match item.kind {
            Kind::Parcel => Layer::Parcels,
            Kind::Vehicle => Layer::Vehicles,
            Kind::Machine => Layer::Machines,
            Kind::Zone => match item.zone_type.as_str() {
                "disease" => Layer::Disease,
                "parking" => Layer::Parking,
                _ => Layer::Districts,
            },
            Kind::Sensor | Kind::Unspecified => Layer::Sensors,
        }
    }
}

/// What colours districts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DistrictMetric {
    Aqi,
    Traffic,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    pub on: Vec<Layer>,
    pub district_metric: DistrictMetric,
}

impl Default for Layers {
    fn default() -> Layers {
        Layers {
            // The heat map is asked for: over districts filled by AQI it
            // says the same thing twice.
            on: Layer::ALL
                .into_iter()
                .filter(|l| *l != Layer::Pollution)
                .collect(),
            district_metric: DistrictMetric::Aqi,
        }
    }
}

impl Layers {
    pub fn shows(&self, l: Layer) -> bool {
        self.on.contains(&l)
    }

    pub fn toggle(&mut self, l: Layer, on: bool) {
        self.on.retain(|x| *x != l);
        if on {
            self.on.push(l);
        }
    }

    /// The ramp and the value that fill an area entity on this layer, if
    /// it is filled by a value (None: drawn by status).
    pub fn fill(&self, twin: &Twin, index: usize) -> Option<(&'static Ramp, Option<f64>)> {
        let item = &twin.items[index];
        match Layer::of(item) {
            Layer::Parcels => Some((&colors::NDVI, item.number("ndvi"))),
            Layer::Districts if item.zone_type == "district" => Some(match self.district_metric {
                DistrictMetric::Aqi => (&colors::AQI, twin.zones.aqi.get(&index).copied()),
                DistrictMetric::Traffic => {
                    (&colors::OCCUPANCY, twin.zones.traffic.get(&index).copied())
                }
            }),
            Layer::Disease => Some((&colors::SEVERITY, item.number("severity"))),
            Layer::Parking => Some((
                &colors::OCCUPANCY,
                twin.zones.occupancy.get(&index).copied(),
            )),
            _ => None,
        }
    }
}
