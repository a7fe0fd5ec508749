//! Run-to-failure lives of a scenario's machines, as a RUL model learns
//! them: the world runs alone, each machine's readings (its own and those
//! of the sensors attached to it) are summed into cycles by the same
//! [`Cycles`] the hosted model uses, and every machine that wears out is
//! repaired at once, so that it starts another life.
//!
//! The rows are built from what the twin would see: observations in order
//! per series (a late one is history only in the twin, so it is skipped
//! here), none of bad quality. A life ended by a sudden failure (the world
//! draws them at random, whatever the wear) is left out: nothing in the
//! readings foretells it, and a model that learned from it would learn
//! noise.

use std::collections::HashMap;

use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::{
    Action, Command, EntityId, Kind, Measurand, Observation, Quality, Relation, SimTime, Value,
};
use twin_infer::rul::{Columns, Cycle, Cycles, Step, Trajectory};
use twin_scenarios::{Scenario, SimWorld};

/// A machine whose health is at or below this when it goes down wore out.
const WORN_OUT: f64 = 0.1;

/// What a run gave.
pub struct Lives {
    pub histories: Vec<Trajectory>,
    /// Lives ended by a sudden failure, left out.
    pub sudden: usize,
    pub observations: u64,
}

struct Machine {
    cycles: Cycles,
    life: Vec<Cycle>,
}

/// The columns of a model for the machines of `subtype` (every machine
/// when `None`): their load as the setting, and as sensors every measurand
/// that a sensor attached to each of them measures.
pub fn columns(
    scenario: &Scenario,
    subtype: Option<&str>,
    cycle: SimTime,
) -> Result<Columns, Box<dyn std::error::Error>> {
    let world = SimWorld::new(scenario)?;
    let records = world.records();
    let mut common: Option<Vec<Measurand>> = None;
    for m in records.iter().filter(|r| is_followed(r, subtype)) {
        let mut own: Vec<Measurand> = records
            .iter()
            .filter(|s| s.common.relations().contains(&Relation::AttachedTo(m.id())))
            .filter_map(|s| match &s.state {
                twin_core::KindState::Sensor(st) => Some(st.measurands.iter().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .filter(|x| x.value_type() == twin_core::value::ValueType::Number)
            .collect();
        own.sort_unstable();
        own.dedup();
        common = Some(match common {
            None => own,
            Some(c) => c.into_iter().filter(|x| own.contains(x)).collect(),
        });
    }
    let sensors = common.ok_or_else(|| {
        format!(
            "scenario {} has no machine{}",
            scenario.spec.name,
            subtype.map_or(String::new(), |s| format!(" of subtype {s}"))
        )
    })?;
    let columns = Columns {
        settings: vec![Measurand::Load],
        sensors,
        cycle_ms: cycle.as_ms(),
        min_values: 3,
    };
    columns.check()?;
    Ok(columns)
}

fn is_followed(r: &twin_core::EntityRecord, subtype: Option<&str>) -> bool {
    r.id().kind() == Kind::Machine && subtype.is_none_or(|s| *r.common.subtype.name() == *s)
}

/// Runs `scenario` for `duration` and gathers the lives of its machines of
/// `subtype` (all when `None`).
pub fn gather(
    scenario: &Scenario,
    subtype: Option<&str>,
    duration: SimTime,
    columns: &Columns,
    mut progress: impl FnMut(SimTime),
) -> Result<Lives, Box<dyn std::error::Error>> {
    let mut world = SimWorld::new(scenario)?;
    let mut machines: HashMap<EntityId, Machine> = HashMap::new();
    let mut attached: HashMap<EntityId, EntityId> = HashMap::new();
    for r in world.records() {
        if is_followed(r, subtype) {
            machines.insert(
                r.id(),
                Machine {
                    cycles: Cycles::default(),
                    life: Vec::new(),
                },
            );
        }
        for rel in r.common.relations() {
            if let Relation::AttachedTo(t) = rel {
                attached.insert(r.id(), *t);
            }
        }
    }
    if machines.is_empty() {
        return Err(format!("scenario {} has no machines", scenario.spec.name).into());
    }
    let mut latest: HashMap<(EntityId, Measurand), SimTime> = HashMap::new();
    let mut out = Lives {
        histories: Vec::new(),
        sudden: 0,
        observations: 0,
    };
    let mut batch = Vec::new();
    let stride = world.tick().max(SimTime::minutes(1));
    while world.now() < duration {
        let to = (world.now() + stride).min(duration);
        batch.clear();
        world.advance(to, &mut batch);
        out.observations += batch.len() as u64;
        let mut failed = Vec::new();
        for obs in &batch {
            let Some(target) = machine_of(obs, &machines, &attached) else {
                continue;
            };
            let last = latest
                .entry((obs.entity, obs.measurand))
                .or_insert(SimTime::MIN);
            if obs.time < *last || obs.quality == Quality::Bad {
                continue;
            }
            *last = obs.time;
            let m = machines.get_mut(&target).expect("a machine");
            let seen = Observation {
                entity: target,
                ..obs.clone()
            };
            match m.cycles.observe(columns, &seen) {
                Some(Step::Row {
                    settings, sensors, ..
                }) => m.life.push(Cycle { settings, sensors }),
                Some(Step::Renewed) => m.life.clear(),
                Some(Step::Failed) | None => {}
            }
            if matches!(&seen.value, Value::Text(t) if seen.measurand == Measurand::Status && &**t == "down")
            {
                // The failing cycle's row, if any, came with the status.
                failed.push((target, obs.time));
            }
        }
        if !failed.is_empty() {
            let truth = world.truth();
            for (id, at) in failed {
                let m = machines.get_mut(&id).expect("a machine");
                let life = std::mem::take(&mut m.life);
                let worn = truth
                    .machines
                    .iter()
                    .find(|t| t.id == id)
                    .is_some_and(|t| t.health <= WORN_OUT);
                if !worn {
                    out.sudden += 1;
                } else if !life.is_empty() {
                    out.histories.push(Trajectory {
                        unit: out.histories.len() as u32 + 1,
                        cycles: life,
                    });
                }
                world.deliver(Command {
                    entity: id,
                    time: at,
                    action: Action::BeginMaintenance,
                });
            }
        }
        progress(world.now());
    }
    Ok(out)
}

/// The machine an observation tells about: its own, or the one its sensor
/// is attached to (a device's battery is its own).
fn machine_of(
    obs: &Observation,
    machines: &HashMap<EntityId, Machine>,
    attached: &HashMap<EntityId, EntityId>,
) -> Option<EntityId> {
    if machines.contains_key(&obs.entity) {
        return Some(obs.entity);
    }
    if obs.measurand == Measurand::Battery {
        return None;
    }
    attached
        .get(&obs.entity)
        .copied()
        .filter(|t| machines.contains_key(t))
}
