//! Roads: the grid's links in both directions, their traffic loops, the
//! traffic on them (demand from the weekly profile of the real I-94 series,
//! busier towards the centre, speed on the BPR volume-delay curve, occupancy
//! from density; rain slows it) and incidents that cut a road's capacity.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use twin_core::rng::Light;
use twin_core::{EntityId, Measurand, SimTime};

use super::{City, Grid, device, mid};
use crate::profiles;
use crate::sensor::{Channels, Truth};
use crate::spec::{CitySpec, ScenarioError};
use crate::world::build::Builder;
use crate::world::{SimClock, Weather};

/// Truth slots of a road (its loop).
const FLOW: u8 = 0;
const SPEED: u8 = 1;
const OCCUPANCY: u8 = 2;

#[derive(Component)]
pub struct Road {
    pub(super) district: usize,
    capacity: f64,
    /// How much busier than average this road is (centre roads more).
    demand: f64,
    noise: f64,
    pub(super) incident_until: Option<SimTime>,
    pub(super) sensor: Option<EntityId>,
    pub flow: f64,
    pub speed: f64,
    pub occupancy: f64,
    rng: Light,
}

/// Which truth slot each measurand of a traffic loop reads.
const ROAD_SLOTS: &[(Measurand, u8)] = &[
    (Measurand::TrafficFlow, FLOW),
    (Measurand::Speed, SPEED),
    (Measurand::Occupancy, OCCUPANCY),
];

/// The roads as built: by (from, to) node, in order, and the links by
/// district (stations stand beside them).
pub(super) struct Roads {
    pub by_nodes: std::collections::HashMap<(usize, usize), Entity>,
    pub list: Vec<Entity>,
    pub pairs: Vec<(usize, usize, bool)>,
    pub by_district: Vec<Vec<usize>>,
}

pub(super) fn build(
    b: &mut Builder,
    spec: &CitySpec,
    grid: &Grid,
    district_ids: &[EntityId],
) -> Result<Roads, ScenarioError> {
    let (rows, cols, nodes) = (grid.rows, grid.cols, &grid.nodes);
    let district_of = |x: f64, y: f64| grid.district_of(x, y);
    let centrality = |x: f64, y: f64| grid.centrality(x, y);
    // Roads in both directions; every third line is a two-lane arterial.
    let mut pairs = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let n = r * cols + c;
            if c + 1 < cols {
                pairs.push((n, n + 1, r % 3 == 0));
                pairs.push((n + 1, n, r % 3 == 0));
            }
            if r + 1 < rows {
                pairs.push((n, n + cols, c % 3 == 0));
                pairs.push((n + cols, n, c % 3 == 0));
            }
        }
    }
    let mut by_district: Vec<Vec<usize>> = vec![Vec::new(); district_ids.len()];
    for (i, &(from, to, _)) in pairs.iter().enumerate() {
        let (x, y) = mid(nodes, from, to);
        by_district[district_of(x, y)].push(i);
    }
    let mut loop_on: Vec<Option<usize>> = vec![None; pairs.len()];
    if let Some(loops) = &spec.loops {
        let mut rng = b.rng(None, "loops");
        for (d, roads) in by_district.iter().enumerate() {
            let mut candidates = roads.clone();
            for k in 0..b.scaled(loops.per_district).min(candidates.len()) {
                let pick = candidates.swap_remove(rng.random_range(0..candidates.len()));
                loop_on[pick] = Some(d * 10_000 + k);
            }
        }
    }
    let mut roads = std::collections::HashMap::new();
    let mut road_list = Vec::new();
    for (i, &(from, to, arterial)) in pairs.iter().enumerate() {
        let (x, y) = mid(nodes, from, to);
        let district = district_of(x, y);
        let lanes = if arterial { 2.0 } else { 1.0 };
        let mut sensor = None;
        let mut channels = Vec::new();
        if let (Some(tag), Some(loops)) = (loop_on[i], &spec.loops) {
            let name = format!("loop-{}-{}", tag / 10_000, tag % 10_000);
            let (id, c) = device(
                b,
                "city.loops.sensors",
                &name,
                "traffic-loop",
                &loops.sensors,
                district_ids[district],
                b.local.lonlat(x, y),
                ROAD_SLOTS,
            )?;
            sensor = Some(id);
            channels = c;
        }
        let rng = b.rng(None, &format!("road-{from}-{to}"));
        let road = Road {
            district,
            capacity: spec.lane_capacity_veh_h * lanes,
            demand: 0.45 + 0.75 * centrality(x, y),
            noise: 0.0,
            incident_until: None,
            sensor,
            flow: 0.0,
            speed: spec.free_speed_kmh,
            occupancy: 0.0,
            rng,
        };
        let e = match sensor {
            Some(id) => b.spawn_twin(id, (road, Truth::default(), Channels::from(channels))),
            None => b.spawn((road, Truth::default(), Channels::from(channels))),
        };
        roads.insert((from, to), e);
        road_list.push(e);
    }

    Ok(Roads {
        by_nodes: roads,
        list: road_list,
        pairs,
        by_district,
    })
}

pub(super) fn incidents(clock: Res<SimClock>, mut city: ResMut<City>, mut roads: Query<&mut Road>) {
    let Some(spec) = city.incidents else { return };
    let days = clock.hours() / 24.0;
    let city = &mut *city;
    if city.rng.random::<f64>() < spec.per_day * days {
        let e = city.road_list[city.rng.random_range(0..city.road_list.len())];
        let minutes = spec.minutes.sample(&mut city.rng).max(1.0);
        if let Ok(mut r) = roads.get_mut(e) {
            r.incident_until = Some(clock.now + SimTime((minutes * 60_000.0) as i64));
        }
    }
}

pub(super) fn traffic(
    clock: Res<SimClock>,
    weather: Res<Weather>,
    mut city: ResMut<City>,
    mut q: Query<(&mut Road, &mut Truth)>,
) {
    let civil = clock.civil();
    let level = profiles::traffic_level(civil);
    let dt = clock.hours();
    let rain = weather.rain_mm_h > 0.1;
    let loss = city.incidents.map_or(0.0, |i| i.capacity_loss);
    let free = city.spec.free_speed_kmh * if rain { 0.88 } else { 1.0 };
    let mut load = vec![(0.0, 0usize); city.district_load.len()];
    for (mut r, mut t) in &mut q {
        let r = &mut *r;
        let phi = (-dt / 0.25).exp();
        r.noise = r.noise * phi
            + 0.08 * (1.0 - phi * phi).sqrt() * r.rng.sample::<f64, _>(StandardNormal);
        let incident = r.incident_until.is_some_and(|u| u > clock.now);
        if !incident {
            r.incident_until = None;
        }
        let capacity = r.capacity * if incident { 1.0 - loss } else { 1.0 };
        let demand = (r.capacity * 0.9 * level * r.demand * (1.0 + r.noise)).max(0.0);
        let vc = demand / capacity.max(1.0);
        r.flow = demand.min(capacity);
        r.speed = (free / (1.0 + 0.15 * vc.powi(4))).max(4.0);
        // Density (veh/km per lane) × 6 m per vehicle, as % of the loop's time.
        let lanes = r.capacity / city.spec.lane_capacity_veh_h;
        r.occupancy = (r.flow / lanes / r.speed * 0.6).min(97.0);
        t.0[FLOW as usize] = r.flow;
        t.0[SPEED as usize] = r.speed;
        t.0[OCCUPANCY as usize] = r.occupancy;
        let d = &mut load[r.district];
        d.0 += vc;
        d.1 += 1;
    }
    city.district_load = load.iter().map(|(s, n)| s / (*n).max(1) as f64).collect();
}

/// Speed on the road from `a` to `b`, km/h.
pub(super) fn road_speed(city: &City, roads: &Query<&Road>, a: usize, b: usize) -> f64 {
    city.roads
        .get(&(a, b))
        .and_then(|e| roads.get(*e).ok())
        .map_or(city.spec.free_speed_kmh, |r| r.speed)
}
