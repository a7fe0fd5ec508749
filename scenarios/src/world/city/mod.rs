//! The city: a road grid with traffic, districts, buses, taxis, bikes,
//! parking, incidents and air quality.
//!
//! - **Traffic**: each road's demand is its capacity times the weekly profile
//!   of the real I-94 series, busier towards the centre, with a slow random
//!   term; speed follows the BPR volume-delay curve, occupancy the density.
//!   Rain slows traffic; an incident cuts a road's capacity for a while.
//! - **Air quality**: each district's stations see a background that follows
//!   the diurnal shape of the UCI record plus the district's traffic,
//!   diluted by wind and washed out by rain.
//! - **Buses** run their routes back and forth at the speed of the road,
//!   dwelling at stops; **taxis** wander; **bike stations** empty towards the
//!   centre in the morning and back in the evening; **parking** fills with
//!   the working day in the centre and at night elsewhere.
//!
//! `roads.rs` builds the roads and runs traffic and incidents, `air.rs` the
//! stations and their pollution, `transit.rs` buses, taxis, bikes and
//! parking; here are the grid and its districts, the city resource they
//! share, commands and truth.

mod air;
mod roads;
mod transit;

use bevy_ecs::prelude::*;
use twin_core::rng::Light;
use twin_core::state::{SensorState, ZoneShape, ZoneState, ZoneType};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Kind, KindState, Measurand, Relation, Value,
};

use super::build::{Builder, slot};
use super::mobility::Frame;
use super::{RoadTruth, Stage, StationTruth, Twin};
use crate::sensor::Truth;
use crate::spec::{CitySpec, IncidentSpec, ScenarioError};
use air::Station;
use roads::Road;
use transit::Taxi;

#[derive(Resource)]
struct City {
    spec: CitySpec,
    incidents: Option<IncidentSpec>,
    nodes: Vec<(f64, f64)>,
    columns: usize,
    /// Road entity by (from, to) node.
    roads: std::collections::HashMap<(usize, usize), Entity>,
    road_list: Vec<Entity>,
    district_ids: Vec<EntityId>,
    /// Mean volume/capacity of each district's roads, this tick.
    district_load: Vec<f64>,
    rng: Light,
}

impl City {
    fn neighbours(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        let (c, r) = (n % self.columns, n / self.columns);
        let rows = self.nodes.len() / self.columns;
        [
            (c > 0).then(|| n - 1),
            (c + 1 < self.columns).then(|| n + 1),
            (r > 0).then(|| n - self.columns),
            (r + 1 < rows).then(|| n + self.columns),
        ]
        .into_iter()
        .flatten()
    }
}

/// The street grid: its nodes (metres from the centre) and its districts.
pub(super) struct Grid {
    pub cols: usize,
    pub rows: usize,
    pub nodes: Vec<(f64, f64)>,
    spacing: f64,
    /// Districts across and down.
    districts: [usize; 2],
    /// Half the grid's larger side, metres: how far "central" reaches.
    radius: f64,
}

impl Grid {
    fn new(spec: &CitySpec) -> Grid {
        let g = spec.grid;
        let (cols, rows) = (g.columns, g.rows);
        let node_xy = |c: usize, r: usize| {
            (
                (c as f64 - (cols - 1) as f64 / 2.0) * g.spacing_m,
                (r as f64 - (rows - 1) as f64 / 2.0) * g.spacing_m,
            )
        };
        Grid {
            cols,
            rows,
            nodes: (0..rows)
                .flat_map(|r| (0..cols).map(move |c| node_xy(c, r)))
                .collect(),
            spacing: g.spacing_m,
            districts: spec.districts,
            radius: (cols.max(rows) as f64) * g.spacing_m / 2.0,
        }
    }

    /// The district a point lies in.
    pub fn district_of(&self, x: f64, y: f64) -> usize {
        let [dc, dr] = self.districts;
        let (cols, rows) = (self.cols, self.rows);
        let fx =
            ((x / self.spacing + (cols - 1) as f64 / 2.0) / (cols - 1) as f64).clamp(0.0, 0.999);
        let fy =
            ((y / self.spacing + (rows - 1) as f64 / 2.0) / (rows - 1) as f64).clamp(0.0, 0.999);
        (fy * dr as f64) as usize * dc + (fx * dc as f64) as usize
    }

    /// 1 at the centre, falling off over the grid's half-size.
    pub fn centrality(&self, x: f64, y: f64) -> f64 {
        (-(x * x + y * y) / (self.radius * self.radius)).exp()
    }

    /// Where the `k`-th of `parts` bounds lies along a side of `n` nodes.
    fn extent(&self, n: usize, k: usize, parts: usize) -> f64 {
        let full = (n - 1) as f64 * self.spacing + self.spacing;
        -full / 2.0 + full * k as f64 / parts as f64
    }

    /// One zone entity per district, row by row.
    fn districts(&self, b: &mut Builder) -> Vec<EntityId> {
        let [dc, dr] = self.districts;
        let mut ids = Vec::new();
        for r in 0..dr {
            for c in 0..dc {
                let lo = b
                    .local
                    .lonlat(self.extent(self.cols, c, dc), self.extent(self.rows, r, dr));
                let hi = b.local.lonlat(
                    self.extent(self.cols, c + 1, dc),
                    self.extent(self.rows, r + 1, dr),
                );
                let record =
                    EntityRecord::new(Kind::Zone, &format!("district-{}", r * dc + c), "district")
                        .with_state(KindState::Zone(ZoneState::new(
                            ZoneType::District,
                            ZoneShape::Polygon(geo::Rect::new(lo, hi).to_polygon()),
                        )));
                ids.push(b.record(record));
            }
        }
        ids
    }
}

pub fn populate(b: &mut Builder) -> Result<(), ScenarioError> {
    let spec = b.scenario.spec.city.clone().expect("city");
    let grid = Grid::new(&spec);
    let district_ids = grid.districts(b);
    let roads = roads::build(b, &spec, &grid, &district_ids)?;
    if let Some(air) = &spec.air {
        air::build(b, air, &grid, &district_ids, &roads)?;
    }
    transit::build(b, &spec, &grid, &district_ids)?;
    let rng = b.rng(None, "incidents");
    let districts = district_ids.len();
    b.ecs.insert_resource(City {
        spec,
        incidents: b.scenario.spec.events.incidents,
        nodes: grid.nodes,
        columns: grid.cols,
        roads: roads.by_nodes,
        road_list: roads.list,
        district_ids,
        district_load: vec![0.0; districts],
        rng,
    });
    Ok(())
}

fn mid(nodes: &[(f64, f64)], a: usize, b: usize) -> (f64, f64) {
    (
        (nodes[a].0 + nodes[b].0) / 2.0,
        (nodes[a].1 + nodes[b].1) / 2.0,
    )
}

/// One sensor entity measuring every measurand of `map` (a traffic loop, an
/// air-quality station), standing at `at`, in `district`.
#[allow(clippy::too_many_arguments)]
fn device(
    b: &mut Builder,
    where_: &str,
    name: &str,
    subtype: &str,
    map: &crate::spec::SensorMap,
    district: EntityId,
    at: (f64, f64),
    slots: &[(Measurand, u8)],
) -> Result<(EntityId, Vec<crate::sensor::Channel>), ScenarioError> {
    let mut measurands = Vec::new();
    for m in map.keys() {
        let m: Measurand = m
            .parse()
            .map_err(|_| b.error(format!("{where_}: `{m}` is not a measurand")))?;
        if slot(slots, m).is_none() {
            return Err(b.error(format!(
                "{where_}.{m}: a {subtype} has no true {m} to measure"
            )));
        }
        measurands.push(m);
    }
    let record = EntityRecord::new(Kind::Sensor, name, subtype)
        .with_state(KindState::Sensor(SensorState::measuring(
            &measurands,
            b.scenario.spec.tick.0,
        )))
        .with_relation(Relation::LiesIn(district));
    let id = b.record(record);
    let mut channels = Vec::new();
    for (m, model) in measurands.iter().zip(map.values()) {
        channels.push(b.channel(id, *m, slot(slots, *m).expect("checked"), model.get_ref())?);
    }
    b.place(id, at.0, at.1);
    Ok((id, channels))
}

pub fn add(schedule: &mut Schedule) {
    schedule.add_systems(
        (
            roads::incidents,
            roads::traffic,
            air::air,
            transit::buses,
            transit::taxis,
            transit::bikes_and_parking,
        )
            .chain()
            .in_set(Stage::City),
    );
}

/// `destination` sends a taxi towards a point; other commands mean nothing
/// to the city's devices.
pub fn command(world: &mut World, entity: Entity, cmd: &Command) -> bool {
    let Action::SetDesired {
        measurand: Measurand::Destination,
        value: Value::Point { lon, lat },
    } = &cmd.action
    else {
        return false;
    };
    if world.get::<Taxi>(entity).is_none() {
        return false;
    }
    let frame = world.resource::<Frame>().0;
    let (x, y) = frame.xy(*lon, *lat);
    let goal = world
        .resource::<City>()
        .nodes
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1.0 - x)
                .hypot(a.1.1 - y)
                .total_cmp(&(b.1.0 - x).hypot(b.1.1 - y))
        })
        .map(|(i, _)| i);
    if let Some(mut taxi) = world.get_mut::<Taxi>(entity) {
        taxi.goal = goal;
    }
    true
}

/// Roads and stations as they are.
pub fn truth(world: &mut World) -> (Vec<RoadTruth>, Vec<StationTruth>) {
    let Some(city) = world.get_resource::<City>() else {
        return (Vec::new(), Vec::new());
    };
    let districts = city.district_ids.clone();
    let mut q = world.query::<&Road>();
    let roads = q
        .iter(world)
        .map(|r| RoadTruth {
            sensor: r.sensor,
            district: districts[r.district],
            flow_veh_h: r.flow,
            speed_kmh: r.speed,
            occupancy_pct: r.occupancy,
            incident: r.incident_until.is_some(),
        })
        .collect();
    let mut q = world.query::<(&Twin, &Station, &Truth)>();
    let stations = q
        .iter(world)
        .map(|(twin, s, t)| StationTruth {
            id: twin.0,
            district: districts[s.district],
            pm25: t.0[air::PM25 as usize],
            pm10: t.0[air::PM10 as usize],
            no2: t.0[air::NO2 as usize],
            co2: t.0[air::CO2 as usize],
        })
        .collect();
    (roads, stations)
}
