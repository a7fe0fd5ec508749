//! The factory: machines that wear out and fail, technicians who repair them.
//!
//! Each machine follows the wear path of one C-MAPSS FD001 engine, drawn at
//! each renewal: its life is that engine's cycles to failure (stretched by a
//! factor of its own), and what its sensors read moves along that engine's
//! own recorded sensors (noise, plateaus and knees included), with gains of
//! its own, so that no single health number explains them. Wear runs faster
//! under load, load follows the shifts (day, night, weekend) and shifts the
//! readings' levels too; the machine reports its load. At the end of its
//! life, or in a sudden failure, a machine goes down and stops producing.
//!
//! `BeginMaintenance` on a machine calls the next free technician, who walks
//! to it, repairs it (the machine is in maintenance meanwhile) and walks
//! back; the repair restores the machine as new. A work order sent
//! (`WorkOrder` in progress, with a technician) puts the machine on that
//! technician's own list instead, taken before the shared queue; one
//! cancelled or opened again before the work began comes off it. A repair
//! after a breakdown takes `breakdown_repair` rather than `repair`, and the
//! machine was down meanwhile: unplanned downtime costs more than a planned
//! service. `SetDesired running=false` stops a machine (no wear, no
//! production) until it is set running again.

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryFilter;
use rand::RngExt;
use twin_core::rng::Light;
use twin_core::state::{MachineState, VehicleMode, VehicleState, ZoneShape, ZoneState, ZoneType};
use twin_core::workorder::OrderState;
use twin_core::{
    Action, Command, EntityId, EntityRecord, Kind, KindState, Measurand, Observation, Relation,
    SimTime, Value,
};

use super::build::Builder;
use super::lanes::{self, Lanes};
use super::mobility::{self, Frame, Mover};
use super::{SimClock, Stage, Twin};
use crate::profiles;
use crate::sensor::{Channels, Outbox, Reading, Truth};
use crate::spec::{ScenarioError, ShiftSpec};

/// Truth slots of a machine.
const VIBRATION: u8 = 0;
const TEMPERATURE: u8 = 1;
const PRESSURE: u8 = 2;
const CURRENT: u8 = 3;
const THROUGHPUT: u8 = 4;
const LOAD: u8 = 5;

/// Below this health a machine has failed.
const FAILED: f64 = 0.05;
const SPACING_M: f64 = 12.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Running,
    /// Stopped by an operator: no wear, no production.
    Stopped,
    Down,
    Maintenance,
}

impl Mode {
    pub fn status(self) -> &'static str {
        match self {
            Mode::Running => "running",
            Mode::Stopped => "idle",
            Mode::Down => "down",
            Mode::Maintenance => "maintenance",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Profile {
    vibration: f64,
    pressure: f64,
    current: f64,
}

fn profile(subtype: &str) -> Profile {
    match subtype {
        "pump" => Profile {
            vibration: 2.2,
            pressure: 6.0,
            current: 25.0,
        },
        "cnc-mill" => Profile {
            vibration: 1.4,
            pressure: 0.0,
            current: 60.0,
        },
        _ => Profile {
            vibration: 1.8,
            pressure: 0.0,
            current: 40.0,
        },
    }
}

#[derive(Component)]
pub struct Machine {
    pub mode: Mode,
    /// Operating hours to failure (at full load).
    pub life_h: f64,
    pub age_h: f64,
    pub health: f64,
    pub units_per_hour: f64,
    pub produced: f64,
    pub x: f64,
    pub y: f64,
    profile: Profile,
    /// Sudden failures per operating hour.
    hazard: f64,
    /// Operating hours left before the next sudden failure: drawn ahead
    /// from the exponential law of a Poisson process, rather than a uniform
    /// per machine per tick.
    until_sudden_h: f64,
    /// `1 / life_h`, for the fraction of life used at every tick.
    per_life_h: f64,
    /// The C-MAPSS engine whose wear path this life follows.
    path: usize,
    /// This machine's sensitivity of each reading to wear.
    gains: [f64; 4],
    announced: Option<Mode>,
    rng: Light,
    /// Whether the current stop began with a failure.
    failed: bool,
    failures: u32,
    unplanned_h: f64,
    planned_h: f64,
}

impl Machine {
    /// Remaining operating hours at full load.
    pub fn rul_h(&self) -> f64 {
        if self.mode == Mode::Down {
            0.0
        } else {
            (self.life_h - self.age_h).max(0.0)
        }
    }

    /// A new life: an engine's path, a stretch of it, gains.
    fn renew(&mut self, lives: &Lives) {
        let paths = profiles::paths();
        self.path = self.rng.random_range(lives.engines.clone());
        let stretch = self.rng.random_range(0.85..1.15);
        self.life_h = paths[self.path].len() as f64 * lives.hours_per_cycle * stretch;
        self.per_life_h = 1.0 / self.life_h;
        for g in &mut self.gains {
            *g = self.rng.random_range(0.75..1.25);
        }
        self.age_h = 0.0;
        self.health = 1.0;
    }

    /// Wear of each reading now, from the path at the fraction of life
    /// used (between two cycles, in proportion), one added so that a new
    /// machine reads about 0.3 and a failing one about 3.3.
    fn wear(&self) -> [f64; 4] {
        let path = &profiles::paths()[self.path];
        let x = (self.age_h * self.per_life_h).clamp(0.0, 1.0) * (path.len() - 1) as f64;
        let (i, f) = (x as usize, x.fract());
        let next = &path[(i + 1).min(path.len() - 1)];
        let mut w = [0.0; 4];
        for (k, w) in w.iter_mut().enumerate() {
            let z = path[i][k] as f64 * (1.0 - f) + next[k] as f64 * f;
            *w = (1.0 + z).max(0.0) * self.gains[k];
        }
        w
    }

    /// Draws the operating hours to the next sudden failure.
    fn next_sudden(&mut self) {
        self.until_sudden_h = if self.hazard > 0.0 {
            self.rng.sample::<f64, _>(rand_distr::Exp1) / self.hazard
        } else {
            f64::INFINITY
        };
    }
}

#[derive(Component)]
pub struct Technician {
    home: (f64, f64),
    speed_kmh: f64,
    job: Option<Entity>,
    repairing_until: Option<SimTime>,
    /// Machines sent to this technician by work orders, in order.
    orders: std::collections::VecDeque<Entity>,
    busy_h: f64,
}

/// What a machine's new life is drawn from.
#[derive(Clone)]
struct Lives {
    hours_per_cycle: f64,
    /// Indexes of the C-MAPSS engines whose paths lives follow.
    engines: std::ops::RangeInclusive<usize>,
}

#[derive(Resource)]
struct Shop {
    shifts: ShiftSpec,
    lives: Lives,
    repair: SimTime,
    breakdown_repair: SimTime,
    /// Machines waiting for a technician, first come first served.
    queue: std::collections::VecDeque<Entity>,
}

/// Which truth slot each measurand of a machine's sensors reads.
const SLOTS: &[(Measurand, u8)] = &[
    (Measurand::VibrationRms, VIBRATION),
    (Measurand::Temperature, TEMPERATURE),
    (Measurand::Pressure, PRESSURE),
    (Measurand::Current, CURRENT),
];

pub fn populate(b: &mut Builder) -> Result<(), ScenarioError> {
    let spec = b.scenario.spec.factory.clone().expect("factory");
    let total: usize = spec.machines.iter().map(|g| b.scaled(g.count)).sum();
    let columns = (total as f64).sqrt().ceil().max(1.0) as usize;
    let half = columns as f64 * SPACING_M / 2.0;
    let (lo, hi) = (
        b.local.lonlat(-half - 10.0, -half - 10.0),
        b.local.lonlat(half + 10.0, half + 10.0),
    );
    let site = EntityRecord::new(Kind::Zone, "site", "factory").with_state(KindState::Zone(
        ZoneState::new(
            ZoneType::Site,
            ZoneShape::Polygon(geo::Rect::new(lo, hi).to_polygon()),
        ),
    ));
    let site = b.record(site);
    let failures = b
        .scenario
        .spec
        .events
        .failures
        .map_or(0.0, |f| f.per_machine_year);
    let [first, last] = spec.engines.unwrap_or([1, profiles::paths().len()]);
    let lives = Lives {
        hours_per_cycle: spec.hours_per_cycle,
        engines: first - 1..=last - 1,
    };
    let mut n = 0;
    for (g, group) in spec.machines.iter().enumerate() {
        for i in 0..b.scaled(group.count) {
            let name = format!("{}-{i:04}", group.subtype);
            let (x, y) = (
                (n % columns) as f64 * SPACING_M - half,
                (n / columns) as f64 * SPACING_M - half,
            );
            n += 1;
            let (lon, lat) = b.local.lonlat(x, y);
            let record = EntityRecord::new(Kind::Machine, &name, &group.subtype)
                .with_state(KindState::Machine(MachineState::default()))
                .with_relation(Relation::LiesIn(site));
            let id = b.record(record);
            let mut channels = b.sensors(
                &format!("factory.machines[{g}].sensors"),
                &name,
                &group.sensors,
                Relation::AttachedTo(id),
                SLOTS,
            )?;
            channels.push(b.ideal_channel(
                id,
                Measurand::Throughput,
                Reading::Number(THROUGHPUT),
                SimTime::minutes(1),
            ));
            channels.push(b.ideal_channel(
                id,
                Measurand::Load,
                Reading::Number(LOAD),
                SimTime::minutes(1),
            ));
            b.place(id, lon, lat);
            let mut rng = b.rng(Some(id), "machine");
            let mut machine = Machine {
                mode: Mode::Running,
                life_h: 0.0,
                age_h: 0.0,
                health: 1.0,
                units_per_hour: group.units_per_hour,
                produced: 0.0,
                x,
                y,
                profile: profile(&group.subtype),
                hazard: failures / 8760.0,
                until_sudden_h: f64::INFINITY,
                per_life_h: 0.0,
                path: 0,
                gains: [1.0; 4],
                announced: None,
                rng: b.rng(Some(id), "life"),
                failed: false,
                failures: 0,
                unplanned_h: 0.0,
                planned_h: 0.0,
            };
            machine.renew(&lives);
            machine.next_sudden();
            machine.age_h =
                machine.life_h * group.initial_life_used.sample(&mut rng).clamp(0.0, 1.0);
            machine.health = 1.0 - profiles::degradation(machine.age_h * machine.per_life_h);
            b.spawn_twin(id, (machine, Truth::default(), Channels::from(channels)));
        }
    }
    let techs = b.scaled(spec.technicians.count);
    let gps = spec.gps.as_ref().map(|g| g.get_ref().as_str());
    for i in 0..techs {
        let name = format!("technician-{i:02}");
        let home = (-half - 8.0, -half + i as f64 * 4.0);
        let record = EntityRecord::new(Kind::Vehicle, &name, "technician")
            .with_state(KindState::Vehicle(VehicleState::new(
                VehicleMode::Technician,
            )))
            .with_relation(Relation::LiesIn(site));
        let id = b.record(record);
        let channels = match gps {
            Some(gps) => mobility::gps_channels(b, id, gps)?,
            None => Vec::new(),
        };
        b.spawn_twin(
            id,
            (
                Technician {
                    home,
                    speed_kmh: spec.technicians.speed_kmh,
                    job: None,
                    repairing_until: None,
                    orders: Default::default(),
                    busy_h: 0.0,
                },
                Mover::at(home.0, home.1),
                Truth::default(),
                Channels::from(channels),
            ),
        );
    }
    b.ecs.insert_resource(Shop {
        shifts: spec.shifts,
        lives,
        repair: spec.technicians.repair.0,
        breakdown_repair: spec.technicians.breakdown_repair.map_or(
            SimTime(spec.technicians.repair.0.as_ms().saturating_mul(4)),
            |d| d.0,
        ),
        queue: Default::default(),
    });
    Ok(())
}

pub fn add(schedule: &mut Schedule) {
    schedule.add_systems((operate, technicians).chain().in_set(Stage::Factory));
}

/// Load now, from the shift pattern.
fn load(shifts: &ShiftSpec, clock: &SimClock) -> f64 {
    let c = clock.civil();
    if c.weekday >= 5 {
        shifts.weekend
    } else if (6.0..22.0).contains(&c.hour) {
        shifts.day
    } else {
        shifts.night
    }
}

fn status(outbox: &mut Outbox, id: EntityId, now: SimTime, mode: Mode) {
    let obs =
        Observation::number(id, now, Measurand::Status, 0.0).with_value(Value::text(mode.status()));
    outbox.push(now, now, obs);
}

/// Wear, failures and what the machine's sensors would read, lane by lane.
fn operate(
    clock: Res<SimClock>,
    shop: Res<Shop>,
    mut lanes: ResMut<Lanes>,
    mut first: Query<(&Twin, &mut Machine, &mut Truth), lanes::First>,
    mut second: Query<(&Twin, &mut Machine, &mut Truth), lanes::Second>,
) {
    let (clock, load) = (*clock, load(&shop.shifts, &clock));
    lanes.run(
        |o| operate_lane(&mut first, &clock, load, o),
        |o| operate_lane(&mut second, &clock, load, o),
    );
}

fn operate_lane<F: QueryFilter>(
    q: &mut Query<(&Twin, &mut Machine, &mut Truth), F>,
    clock: &SimClock,
    load: f64,
    outbox: &mut Outbox,
) {
    let dt = clock.hours();
    let ambient = 22.0;
    for (twin, mut m, mut t) in q.iter_mut() {
        let m = &mut *m;
        if m.mode == Mode::Running {
            m.age_h += dt * (0.3 + 0.7 * load);
            m.health = 1.0 - profiles::degradation(m.age_h * m.per_life_h);
            m.until_sudden_h -= dt;
            let sudden = m.until_sudden_h <= 0.0;
            if sudden {
                m.next_sudden();
            }
            if m.health <= FAILED || sudden {
                m.mode = Mode::Down;
                m.failed = true;
                m.failures += 1;
            }
        }
        match m.mode {
            Mode::Down => m.unplanned_h += dt,
            Mode::Maintenance if m.failed => m.unplanned_h += dt,
            Mode::Maintenance => m.planned_h += dt,
            Mode::Running | Mode::Stopped => {}
        }
        if m.announced != Some(m.mode) {
            m.announced = Some(m.mode);
            status(outbox, twin.0, clock.now, m.mode);
        }
        let t = &mut t.0;
        if m.mode == Mode::Running {
            let d = 1.0 - m.health;
            let p = m.profile;
            let [wv, wt, wp, wc] = m.wear();
            t[VIBRATION as usize] = p.vibration * (0.5 + 0.5 * load) + 1.6 * wv;
            t[TEMPERATURE as usize] = ambient + 25.0 * load + 5.0 * wt;
            t[PRESSURE as usize] = p.pressure * load * (1.0 - 0.06 * wp).max(0.0);
            t[CURRENT as usize] = p.current * (0.3 + 0.7 * load) * (1.0 + 0.04 * wc);
            let rate = m.units_per_hour * load * (1.0 - 0.2 * d);
            t[THROUGHPUT as usize] = rate;
            t[LOAD as usize] = 100.0 * load;
            m.produced += rate * dt;
        } else {
            t[VIBRATION as usize] = 0.05;
            t[TEMPERATURE as usize] = ambient;
            t[PRESSURE as usize] = 0.0;
            t[CURRENT as usize] = 0.0;
            t[THROUGHPUT as usize] = 0.0;
            t[LOAD as usize] = 0.0;
        }
    }
}

/// Technicians take queued jobs, walk, repair, walk home.
fn technicians(
    clock: Res<SimClock>,
    frame: Res<Frame>,
    mut shop: ResMut<Shop>,
    mut techs: Query<(&mut Technician, &mut Mover, &mut Truth), Without<Machine>>,
    mut machines: Query<&mut Machine>,
) {
    let now = clock.now;
    for (mut tech, mut mover, mut truth) in &mut techs {
        if tech.job.is_none() {
            tech.job = match tech.orders.pop_front() {
                Some(job) => Some(job),
                None => shop.queue.pop_front(),
            };
        }
        if tech.job.is_some() {
            tech.busy_h += clock.hours();
        }
        match tech.job {
            Some(job) => {
                let Ok(mut m) = machines.get_mut(job) else {
                    tech.job = None;
                    continue;
                };
                if let Some(until) = tech.repairing_until {
                    mover.stop();
                    if now >= until {
                        m.renew(&shop.lives);
                        m.mode = Mode::Running;
                        m.failed = false;
                        tech.job = None;
                        tech.repairing_until = None;
                    }
                } else if mover.towards(m.x, m.y, tech.speed_kmh, clock.tick) {
                    let repair = if m.mode == Mode::Down {
                        shop.breakdown_repair
                    } else {
                        shop.repair
                    };
                    m.mode = Mode::Maintenance;
                    tech.repairing_until = Some(now + repair);
                }
            }
            None => {
                let (hx, hy) = tech.home;
                if mover.towards(hx, hy, tech.speed_kmh, clock.tick) {
                    mover.stop();
                }
            }
        }
        mover.write(&frame.0, &mut truth);
    }
}

/// Commands to machines: maintenance calls a technician; `running` stops or
/// restarts a machine.
pub fn command(world: &mut World, entity: Entity, cmd: &Command) -> bool {
    if world.get::<Machine>(entity).is_none() {
        return false;
    }
    match &cmd.action {
        Action::BeginMaintenance => {
            let techs = world.query::<&Technician>().iter(world).count();
            let mut shop = world.resource_mut::<Shop>();
            if shop.queue.contains(&entity) {
                return true;
            }
            if techs == 0 {
                // No technicians: the crew on the spot repairs at once.
                let lives = shop.lives.clone();
                let mut m = world.get_mut::<Machine>(entity).expect("checked");
                m.renew(&lives);
                m.mode = Mode::Running;
            } else {
                shop.queue.push_back(entity);
            }
        }
        Action::EndMaintenance => {}
        Action::WorkOrder {
            state, technician, ..
        } => {
            let mut techs = world.query::<(&Twin, &mut Technician)>();
            for (twin, mut t) in techs.iter_mut(world) {
                t.orders.retain(|m| *m != entity);
                if *state == OrderState::InProgress
                    && Some(twin.0) == *technician
                    && t.job != Some(entity)
                {
                    t.orders.push_back(entity);
                }
            }
        }
        Action::SetDesired {
            measurand: Measurand::Running,
            value: Value::Flag(on),
        } => {
            let mut m = world.get_mut::<Machine>(entity).expect("checked");
            m.mode = match (m.mode, on) {
                (Mode::Stopped, true) => Mode::Running,
                (Mode::Running, false) => Mode::Stopped,
                (mode, _) => mode,
            };
        }
        _ => {}
    }
    true
}

/// What the factory's machines really are.
pub fn truth(world: &mut World) -> Vec<super::MachineTruth> {
    let mut q = world.query::<(&Twin, &Machine)>();
    q.iter(world)
        .map(|(t, m)| super::MachineTruth {
            id: t.0,
            health: m.health,
            rul_h: m.rul_h(),
            status: m.mode.status(),
            produced: m.produced,
            failures: m.failures,
            unplanned_h: m.unplanned_h,
            planned_h: m.planned_h,
        })
        .collect()
}

/// Hours the technicians have spent on jobs since the start.
pub fn technician_hours(world: &mut World) -> f64 {
    let mut q = world.query::<&Technician>();
    q.iter(world).map(|t| t.busy_h).sum()
}
