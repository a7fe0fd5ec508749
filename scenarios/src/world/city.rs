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

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use twin_core::rng::Light;
use twin_core::state::{SensorState, VehicleMode, VehicleState, ZoneShape, ZoneState, ZoneType};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Kind, KindState, Measurand, Relation, SimTime, Value,
};

use super::build::{Builder, slot};
use super::mobility::{self, FREE, Frame, Mover};
use super::{RoadTruth, SimClock, Stage, StationTruth, Twin, Weather};
use crate::profiles;
use crate::sensor::{Channels, Reading, Truth};
use crate::spec::{CitySpec, IncidentSpec, ScenarioError};

/// Truth slots of a road (its loop) and of an air-quality station.
const FLOW: u8 = 0;
const SPEED: u8 = 1;
const OCCUPANCY: u8 = 2;
const PM25: u8 = 0;
const PM10: u8 = 1;
const NO2: u8 = 2;
const CO2: u8 = 3;
const TEMPERATURE: u8 = 4;
const HUMIDITY: u8 = 5;
/// Occupancy slot of a vehicle, a bike station, a parking zone.
const FILL: u8 = FREE;

#[derive(Component)]
pub struct Road {
    district: usize,
    capacity: f64,
    /// How much busier than average this road is (centre roads more).
    demand: f64,
    noise: f64,
    incident_until: Option<SimTime>,
    sensor: Option<EntityId>,
    pub flow: f64,
    pub speed: f64,
    pub occupancy: f64,
    rng: Light,
}

#[derive(Component)]
pub struct Station {
    district: usize,
    background: f64,
    rng: Light,
}

#[derive(Component)]
pub struct Bus {
    path: Vec<usize>,
    /// Index of the node the bus left, and how far along the next road.
    leg: usize,
    along_m: f64,
    dwell_until: SimTime,
    dwell: SimTime,
    occupancy: f64,
    rng: Light,
}

#[derive(Component)]
pub struct Taxi {
    from: usize,
    to: usize,
    along_m: f64,
    hired: bool,
    /// A destination node set by a command.
    goal: Option<usize>,
    rng: Light,
}

#[derive(Component)]
pub struct BikeStation {
    central: bool,
    docks: f64,
    level: f64,
    rng: Light,
}

#[derive(Component)]
pub struct Parking {
    central: bool,
    level: f64,
}

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

/// Which truth slot each measurand of a traffic loop reads.
const ROAD_SLOTS: &[(Measurand, u8)] = &[
    (Measurand::TrafficFlow, FLOW),
    (Measurand::Speed, SPEED),
    (Measurand::Occupancy, OCCUPANCY),
];

/// Which truth slot each measurand of an air-quality station reads.
const STATION_SLOTS: &[(Measurand, u8)] = &[
    (Measurand::Pm25, PM25),
    (Measurand::Pm10, PM10),
    (Measurand::No2, NO2),
    (Measurand::Co2, CO2),
    (Measurand::Temperature, TEMPERATURE),
    (Measurand::Humidity, HUMIDITY),
];

pub fn populate(b: &mut Builder) -> Result<(), ScenarioError> {
    let spec = b.scenario.spec.city.clone().expect("city");
    let g = spec.grid;
    let (cols, rows) = (g.columns, g.rows);
    let node_xy = |c: usize, r: usize| {
        (
            (c as f64 - (cols - 1) as f64 / 2.0) * g.spacing_m,
            (r as f64 - (rows - 1) as f64 / 2.0) * g.spacing_m,
        )
    };
    let nodes: Vec<(f64, f64)> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| node_xy(c, r)))
        .collect();
    let [dc, dr] = spec.districts;
    let district_of = |x: f64, y: f64| {
        let fx =
            ((x / g.spacing_m + (cols - 1) as f64 / 2.0) / (cols - 1) as f64).clamp(0.0, 0.999);
        let fy =
            ((y / g.spacing_m + (rows - 1) as f64 / 2.0) / (rows - 1) as f64).clamp(0.0, 0.999);
        (fy * dr as f64) as usize * dc + (fx * dc as f64) as usize
    };
    let extent = |n: usize, k: usize, parts: usize| {
        let full = (n - 1) as f64 * g.spacing_m + g.spacing_m;
        -full / 2.0 + full * k as f64 / parts as f64
    };
    let mut district_ids = Vec::new();
    for r in 0..dr {
        for c in 0..dc {
            let lo = b.local.lonlat(extent(cols, c, dc), extent(rows, r, dr));
            let hi = b
                .local
                .lonlat(extent(cols, c + 1, dc), extent(rows, r + 1, dr));
            let record =
                EntityRecord::new(Kind::Zone, &format!("district-{}", r * dc + c), "district")
                    .with_state(KindState::Zone(ZoneState::new(
                        ZoneType::District,
                        ZoneShape::Polygon(geo::Rect::new(lo, hi).to_polygon()),
                    )));
            district_ids.push(b.record(record));
        }
    }
    let radius = (cols.max(rows) as f64) * g.spacing_m / 2.0;
    let centrality = |x: f64, y: f64| (-(x * x + y * y) / (radius * radius)).exp();

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
        let (x, y) = mid(&nodes, from, to);
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
        let (x, y) = mid(&nodes, from, to);
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

    if let Some(air) = &spec.air {
        for (d, &district) in district_ids.iter().enumerate() {
            let candidates = &by_district[d];
            for k in 0..b.scaled(air.per_district) {
                let (from, to, _) = pairs[candidates[(k * 7) % candidates.len().max(1)]];
                let (x, y) = mid(&nodes, from, to);
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

    let gps = spec.gps.as_ref().map(|g| g.get_ref().clone());
    let vehicle =
        |b: &mut Builder, name: &str, mode: VehicleMode, subtype: &str, district: EntityId| {
            let record = EntityRecord::new(Kind::Vehicle, name, subtype)
                .with_state(KindState::Vehicle(VehicleState::new(mode)))
                .with_relation(Relation::LiesIn(district));
            let id = b.record(record);
            let mut channels = match &gps {
                Some(g) => mobility::gps_channels(b, id, g)?,
                None => Vec::new(),
            };
            // Buses report passenger occupancy; a taxi its load (0 free, 100
            // hired), which is no cause for alarm.
            let fill = if mode == VehicleMode::Taxi {
                Measurand::Load
            } else {
                Measurand::Occupancy
            };
            channels.push(b.ideal_channel(id, fill, Reading::Number(FILL), SimTime::minutes(1)));
            Ok::<_, ScenarioError>((id, channels))
        };
    if let Some(bus) = spec.buses {
        for route in 0..b.scaled(bus.routes) {
            // Route r runs along row (r × 2 + 1) mod rows, out and back.
            let row = (route * 2 + 1) % rows;
            let mut path: Vec<usize> = (0..cols).map(|c| row * cols + c).collect();
            path.extend((0..cols - 1).rev().map(|c| row * cols + c));
            path.pop();
            let per = b.scaled(bus.per_route);
            for k in 0..per {
                let name = format!("bus-{route}-{k}");
                let leg = k * path.len() / per;
                let (x, y) = nodes[path[leg]];
                let (id, channels) = vehicle(
                    b,
                    &name,
                    VehicleMode::Bus,
                    "bus",
                    district_ids[district_of(x, y)],
                )?;
                let rng = b.rng(Some(id), "bus");
                b.spawn_twin(
                    id,
                    (
                        Bus {
                            path: path.clone(),
                            leg,
                            along_m: 0.0,
                            dwell_until: SimTime::ZERO,
                            dwell: bus.dwell.0,
                            occupancy: 20.0,
                            rng,
                        },
                        Mover::at(x, y),
                        Truth::default(),
                        Channels::from(channels),
                    ),
                );
            }
        }
    }
    for k in 0..b.scaled(spec.taxis) {
        let name = format!("taxi-{k:03}");
        let mut rng = b.rng(None, &name);
        let from = rng.random_range(0..nodes.len());
        let (x, y) = nodes[from];
        let (id, channels) = vehicle(
            b,
            &name,
            VehicleMode::Taxi,
            "taxi",
            district_ids[district_of(x, y)],
        )?;
        b.spawn_twin(
            id,
            (
                Taxi {
                    from,
                    to: from,
                    along_m: 0.0,
                    hired: false,
                    goal: None,
                    rng,
                },
                Mover::at(x, y),
                Truth::default(),
                Channels::from(channels),
            ),
        );
    }
    if let Some(bikes) = &spec.bikes {
        for k in 0..b.scaled(bikes.stations) {
            let node = (k * 11 + 5) % nodes.len();
            let (x, y) = nodes[node];
            let record = EntityRecord::new(Kind::Sensor, &format!("bikes-{k:02}"), "bike-station")
                .with_state(KindState::Sensor(SensorState::measuring(
                    &[Measurand::Occupancy],
                    b.scenario.spec.tick.0,
                )))
                .with_relation(Relation::LiesIn(district_ids[district_of(x, y)]));
            let id = b.record(record);
            let channel = b.channel(
                id,
                Measurand::Occupancy,
                Reading::Number(FILL),
                bikes.model.get_ref(),
            )?;
            let central = centrality(x, y) > 0.5;
            b.spawn_twin(
                id,
                (
                    BikeStation {
                        central,
                        docks: bikes.docks.max(1.0),
                        level: 50.0,
                        rng: b.rng(Some(id), "bikes"),
                    },
                    Truth::default(),
                    Channels::from(vec![channel]),
                ),
            );
        }
    }
    if let Some(parking) = spec.parking {
        let mut rng = b.rng(None, "parking");
        for k in 0..b.scaled(parking.count) {
            let node = (k * 13 + 2) % nodes.len();
            let (x, y) = nodes[node];
            let (lon, lat) = b.local.lonlat(x + 40.0, y - 40.0);
            let capacity = parking.capacity.sample(&mut rng).max(1.0).round();
            let record = EntityRecord::new(Kind::Zone, &format!("parking-{k:02}"), "parking")
                .with_state(KindState::Zone(ZoneState::new(
                    ZoneType::Parking,
                    ZoneShape::Circle {
                        centre: geo::Point::new(lon, lat),
                        radius_m: 40.0,
                    },
                )))
                .with_relation(Relation::LiesIn(district_ids[district_of(x, y)]))
                .with_tag(&format!("capacity={capacity}"));
            let id = b.record(record);
            let channel = b.ideal_channel(
                id,
                Measurand::Occupancy,
                Reading::Number(FILL),
                SimTime::minutes(5),
            );
            b.spawn_twin(
                id,
                (
                    Parking {
                        central: centrality(x, y) > 0.5,
                        level: 30.0,
                    },
                    Truth::default(),
                    Channels::from(vec![channel]),
                ),
            );
        }
    }
    let rng = b.rng(None, "incidents");
    let districts = district_ids.len();
    b.ecs.insert_resource(City {
        spec,
        incidents: b.scenario.spec.events.incidents,
        nodes,
        columns: cols,
        roads,
        road_list,
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
        (incidents, traffic, air, buses, taxis, bikes_and_parking)
            .chain()
            .in_set(Stage::City),
    );
}

fn incidents(clock: Res<SimClock>, mut city: ResMut<City>, mut roads: Query<&mut Road>) {
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

fn traffic(
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

fn air(
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

/// Speed on the road from `a` to `b`, km/h.
fn road_speed(city: &City, roads: &Query<&Road>, a: usize, b: usize) -> f64 {
    city.roads
        .get(&(a, b))
        .and_then(|e| roads.get(*e).ok())
        .map_or(city.spec.free_speed_kmh, |r| r.speed)
}

fn buses(
    clock: Res<SimClock>,
    frame: Res<Frame>,
    city: Res<City>,
    roads: Query<&Road>,
    mut q: Query<(&mut Bus, &mut Mover, &mut Truth)>,
) {
    let level = profiles::traffic_level(clock.civil());
    let spacing = city.spec.grid.spacing_m;
    for (mut bus, mut m, mut t) in &mut q {
        let bus = &mut *bus;
        let target = 10.0 + 80.0 * level;
        bus.occupancy = (bus.occupancy
            + 0.1 * (target - bus.occupancy)
            + 2.0 * bus.rng.sample::<f64, _>(StandardNormal))
        .clamp(0.0, 100.0);
        if clock.now < bus.dwell_until {
            m.stop();
        } else {
            let (a, b) = (bus.path[bus.leg], bus.path[(bus.leg + 1) % bus.path.len()]);
            // Buses run a little slower than cars.
            let speed = 0.8 * road_speed(&city, &roads, a, b);
            let (bx, by) = city.nodes[b];
            bus.along_m += speed / 3.6 * clock.tick.as_secs_f64();
            if m.towards(bx, by, speed, clock.tick) || bus.along_m >= spacing {
                bus.leg = (bus.leg + 1) % bus.path.len();
                bus.along_m = 0.0;
                bus.dwell_until = clock.now + bus.dwell;
            }
        }
        m.write(&frame.0, &mut t);
        t.0[FILL as usize] = bus.occupancy;
    }
}

fn taxis(
    clock: Res<SimClock>,
    frame: Res<Frame>,
    city: Res<City>,
    roads: Query<&Road>,
    mut q: Query<(&mut Taxi, &mut Mover, &mut Truth)>,
) {
    let level = profiles::traffic_level(clock.civil());
    for (mut taxi, mut m, mut t) in &mut q {
        let taxi = &mut *taxi;
        let dt_h = clock.hours();
        // Hired about half the time at the busiest hours.
        let flip = if taxi.hired {
            2.0 * dt_h
        } else {
            2.0 * level * dt_h
        };
        if taxi.rng.random::<f64>() < flip {
            taxi.hired = !taxi.hired;
        }
        if taxi.from == taxi.to {
            let options: Vec<usize> = city.neighbours(taxi.from).collect();
            taxi.to = match taxi.goal {
                // Towards the goal: the neighbour closest to it.
                Some(goal) if goal != taxi.from => *options
                    .iter()
                    .min_by(|a, b| {
                        let d = |n: usize| {
                            let (x, y) = (
                                city.nodes[n].0 - city.nodes[goal].0,
                                city.nodes[n].1 - city.nodes[goal].1,
                            );
                            x.hypot(y)
                        };
                        d(**a).total_cmp(&d(**b))
                    })
                    .expect("grid nodes have neighbours"),
                Some(_) => {
                    taxi.goal = None;
                    options[taxi.rng.random_range(0..options.len())]
                }
                None => options[taxi.rng.random_range(0..options.len())],
            };
        }
        let speed = road_speed(&city, &roads, taxi.from, taxi.to);
        let (x, y) = city.nodes[taxi.to];
        taxi.along_m += speed / 3.6 * clock.tick.as_secs_f64();
        if m.towards(x, y, speed, clock.tick) {
            taxi.from = taxi.to;
            taxi.along_m = 0.0;
        }
        m.write(&frame.0, &mut t);
        t.0[FILL as usize] = if taxi.hired { 100.0 } else { 0.0 };
    }
}

fn bikes_and_parking(
    clock: Res<SimClock>,
    mut bikes: Query<(&mut BikeStation, &mut Truth), Without<Parking>>,
    mut parks: Query<(&mut Parking, &mut Truth), Without<BikeStation>>,
) {
    let c = clock.civil();
    let dt = clock.hours();
    let workday = c.weekday < 5;
    // Commuters: towards the centre in the morning, back in the evening.
    let commute = if workday {
        (-(c.hour - 8.5).powi(2) / 2.0).exp() - (-(c.hour - 17.5).powi(2) / 2.0).exp()
    } else {
        0.0
    };
    for (mut s, mut t) in &mut bikes {
        let s = &mut *s;
        let sign = if s.central { 1.0 } else { -1.0 };
        let noise = 4.0 * s.rng.sample::<f64, _>(StandardNormal) * dt.sqrt();
        s.level = (s.level + sign * commute * 25.0 * dt + (50.0 - s.level) * 0.02 * dt + noise)
            .clamp(0.0, 100.0);
        // Bikes come whole: the fill is a number of docks.
        t.0[FILL as usize] = (s.level / 100.0 * s.docks).round() / s.docks * 100.0;
    }
    let working = workday && (8.0..19.0).contains(&c.hour);
    for (mut p, mut t) in &mut parks {
        let target = match (p.central, working) {
            (true, true) => 92.0,
            (true, false) => 35.0,
            (false, true) => 40.0,
            (false, false) => 80.0,
        };
        p.level += (target - p.level) * (dt / 1.5).min(1.0);
        t.0[FILL as usize] = p.level;
    }
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
            pm25: t.0[PM25 as usize],
            pm10: t.0[PM10 as usize],
            no2: t.0[NO2 as usize],
            co2: t.0[CO2 as usize],
        })
        .collect();
    (roads, stations)
}
