//! The simulated world: a bevy_ecs `World` advanced tick by tick.
//!
//! Each domain (weather, factory, agriculture, city) spawns its entities from
//! the scenario and adds its systems; the last system samples every sensor
//! channel. Commands from the twin are queued with their actuation delay and
//! applied at the start of the tick they fall due in. Every random draw comes
//! from a stream keyed by (seed, entity, purpose), so the same scenario and
//! seed give the same observations, whatever else runs.

mod agriculture;
mod build;
mod city;
mod factory;
mod forecast;
mod irrigation;
pub(crate) mod lanes;
mod mobility;
mod truth;
mod weather;

use std::collections::HashMap;

use bevy_ecs::prelude::*;
use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::{Command, EntityId, EntityRecord, Observation, SimTime};

use crate::calendar::{Calendar, Civil};
use crate::sensor::{self, Outbox};
use crate::spec::{Scenario, ScenarioError};

pub use build::Local;
pub use truth::{GroundTruth, MachineTruth, OutbreakTruth, ParcelTruth, RoadTruth, StationTruth};
pub use weather::Weather;

/// Simulated time as the systems see it.
#[derive(Resource, Clone, Copy, Debug)]
pub struct SimClock {
    pub now: SimTime,
    pub tick: SimTime,
    pub calendar: Calendar,
    pub seed: u64,
}

impl SimClock {
    pub fn civil(&self) -> Civil {
        self.calendar.civil(self.now)
    }
    /// The tick as a fraction of an hour, for rates given per hour.
    pub fn hours(&self) -> f64 {
        self.tick.as_secs_f64() / 3600.0
    }
}

/// The twin entity a world entity stands for.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Twin(pub EntityId);

/// Which world entity stands for which twin entity, for commands.
#[derive(Resource, Default)]
pub struct Registry(pub HashMap<EntityId, Entity>);

/// How a domain applies a command to one of its entities. Returns `false`
/// when the command means nothing to that entity (it is then ignored, as a
/// real device ignores what it does not understand).
pub type CommandHandler = fn(&mut World, Entity, &Command) -> bool;

/// Delay between a command reaching the world and its physical effect.
pub const ACTUATION_DELAY: SimTime = SimTime::secs(30);

/// See the module doc.
pub struct SimWorld {
    ecs: World,
    schedule: Schedule,
    records: Vec<EntityRecord>,
    pending: Vec<(SimTime, u64, Command)>,
    handlers: Vec<CommandHandler>,
    received: u64,
    scenario: Scenario,
}

impl SimWorld {
    /// Builds the world of a scenario at its seed and scale.
    pub fn new(scenario: &Scenario) -> Result<SimWorld, ScenarioError> {
        let mut ecs = World::new();
        let spec = &scenario.spec;
        ecs.insert_resource(SimClock {
            now: SimTime::ZERO,
            tick: spec.tick.0,
            calendar: scenario.calendar,
            seed: spec.seed,
        });
        ecs.init_resource::<Outbox>();
        ecs.init_resource::<lanes::Lanes>();
        let (lon0, lat0) = spec.region.centre();
        ecs.insert_resource(mobility::Frame(Local { lon0, lat0 }));
        ecs.init_resource::<Registry>();
        let mut b = build::Builder::new(&mut ecs, scenario);
        let mut schedule = Schedule::default();
        schedule.configure_sets(
            (
                Stage::Weather,
                Stage::Factory,
                Stage::Agriculture,
                Stage::City,
                Stage::Sensors,
            )
                .chain(),
        );
        weather::populate(&mut b)?;
        weather::add(&mut schedule);
        let mut handlers: Vec<CommandHandler> = Vec::new();
        if spec.factory.is_some() {
            factory::populate(&mut b)?;
            factory::add(&mut schedule);
            handlers.push(factory::command);
        }
        if spec.agriculture.is_some() {
            agriculture::populate(&mut b)?;
            agriculture::add(&mut schedule);
            handlers.push(agriculture::command);
        }
        if spec.city.is_some() {
            city::populate(&mut b)?;
            city::add(&mut schedule);
            handlers.push(city::command);
        }
        let (mut records, models, announced) = b.finish();
        // An entity named in `[[limits]]` that this world (at this scale)
        // lacks is passed over.
        crate::limits::apply(&spec.limits, &mut records, false)
            .map_err(|m| ScenarioError::new(&scenario.file, m))?;
        ecs.insert_resource(models);
        ecs.resource_mut::<Outbox>().ready.extend(announced);
        schedule.add_systems(sensor::sample_all.in_set(Stage::Sensors));
        let parallel = ecs.entities().count_spawned() as usize >= lanes::PARALLEL_FROM
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        ecs.resource_mut::<lanes::Lanes>().parallel = parallel;
        Ok(SimWorld {
            ecs,
            schedule,
            records,
            pending: Vec::new(),
            handlers,
            received: 0,
            scenario: scenario.clone(),
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The entities the twin should be told about before the first observation.
    pub fn records(&self) -> &[EntityRecord] {
        &self.records
    }

    pub fn now(&self) -> SimTime {
        self.ecs.resource::<SimClock>().now
    }

    pub fn tick(&self) -> SimTime {
        self.ecs.resource::<SimClock>().tick
    }

    /// World entities (twin entities plus the world-only ones such as roads).
    pub fn entity_count(&self) -> usize {
        self.ecs.entities().count_spawned() as usize
    }

    /// Whether the world's two lanes advance on two threads (by default,
    /// when the world is large and the machine has a second core). The
    /// observations are the same either way.
    pub fn set_parallel(&mut self, parallel: bool) {
        self.ecs.resource_mut::<lanes::Lanes>().parallel = parallel;
    }

    pub fn parallel(&self) -> bool {
        self.ecs.resource::<lanes::Lanes>().parallel
    }

    /// Where every vehicle and technician truly is now: (entity, lon, lat).
    /// For scoring only, like [`SimWorld::truth`].
    pub fn positions(&mut self) -> Vec<(EntityId, f64, f64)> {
        mobility::positions(&mut self.ecs)
    }

    /// What the twin cannot see, now.
    pub fn truth(&mut self) -> GroundTruth {
        truth::collect(&mut self.ecs)
    }

    /// Advances one tick, leaving what the sensors delivered in the outbox.
    fn step(&mut self) {
        let now = self.now();
        self.apply_due_commands(now);
        self.schedule.run(&mut self.ecs);
        let mut clock = self.ecs.resource_mut::<SimClock>();
        clock.now = clock.now + clock.tick;
    }

    fn apply_due_commands(&mut self, now: SimTime) {
        if self.pending.iter().all(|(due, _, _)| *due > now) {
            return;
        }
        let mut due: Vec<(SimTime, u64, Command)> = Vec::new();
        self.pending.retain(|p| {
            if p.0 <= now {
                due.push(p.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(t, n, _)| (*t, *n));
        for (_, _, cmd) in due {
            let Some(&entity) = self.ecs.resource::<Registry>().0.get(&cmd.entity) else {
                continue;
            };
            for handler in &self.handlers {
                if handler(&mut self.ecs, entity, &cmd) {
                    break;
                }
            }
        }
    }

    /// Runs `ticks` ticks without collecting observations: the world's own
    /// work, as the benchmark measures it. Returns the observations emitted.
    pub fn run_ticks(&mut self, ticks: usize) -> u64 {
        for _ in 0..ticks {
            self.step();
            self.ecs.resource_mut::<Outbox>().ready.clear();
            for o in self.ecs.resource_mut::<lanes::Lanes>().outboxes_mut() {
                o.ready.clear();
            }
        }
        self.ecs.resource::<Outbox>().emitted + self.ecs.resource::<lanes::Lanes>().emitted()
    }
}

/// The stages of a tick, in order: the weather first (every domain feels
/// it), then each domain, then the sensors read what the domains left.
/// A fixed order keeps the observation stream the same from run to run.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Weather,
    Factory,
    Agriculture,
    City,
    Sensors,
}

impl ObservationSource for SimWorld {
    fn advance(&mut self, until: SimTime, out: &mut Vec<Observation>) -> bool {
        while self.now() < until {
            self.step();
            self.ecs.resource_scope(|ecs, mut serial: Mut<Outbox>| {
                lanes::collect(&mut serial, &mut ecs.resource_mut(), out)
            });
        }
        true
    }
}

impl CommandSink for SimWorld {
    fn deliver(&mut self, command: Command) {
        let due = command.time.max(self.now()) + ACTUATION_DELAY;
        self.received += 1;
        self.pending.push((due, self.received, command));
    }
}
