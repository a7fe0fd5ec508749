//! What moves and parks: buses on their routes, taxis wandering or sent
//! somewhere, bike stations that empty towards the centre in the morning
//! and back in the evening, parking that fills with the working day in the
//! centre and at night elsewhere.

use bevy_ecs::prelude::*;
use rand::RngExt;
use twin_core::rng::Light;
use twin_core::state::{SensorState, VehicleMode, VehicleState, ZoneShape, ZoneState, ZoneType};
use twin_core::{EntityId, EntityRecord, Kind, KindState, Measurand, Relation, SimTime};

use rand_distr::StandardNormal;

use super::roads::{Road, road_speed};
use super::{City, Grid};
use crate::profiles;
use crate::sensor::{Channels, Reading, Truth};
use crate::spec::{CitySpec, ScenarioError};
use crate::world::SimClock;
use crate::world::build::Builder;
use crate::world::mobility::{self, FREE, Frame, Mover};

/// Occupancy slot of a vehicle, a bike station, a parking zone.
const FILL: u8 = FREE;

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
    pub(super) goal: Option<usize>,
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

pub(super) fn build(
    b: &mut Builder,
    spec: &CitySpec,
    grid: &Grid,
    district_ids: &[EntityId],
) -> Result<(), ScenarioError> {
    let (rows, cols, nodes) = (grid.rows, grid.cols, &grid.nodes);
    let district_of = |x: f64, y: f64| grid.district_of(x, y);
    let centrality = |x: f64, y: f64| grid.centrality(x, y);
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
    Ok(())
}

pub(super) fn buses(
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

pub(super) fn taxis(
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

pub(super) fn bikes_and_parking(
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
