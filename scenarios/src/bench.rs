//! The world's own speed: entity updates per second of the factory world,
//! the domain with the most entities per site and the fastest sensors.
//!
//! One update is one entity's state advanced by one tick: every machine and
//! technician at every tick, every sensor when it samples. Observations are
//! produced and dropped (the runtime is not involved). The world runs its
//! two lanes on two threads when the machine has two cores, or on one when
//! asked to (`parallel: false`), for the single-thread figure.

use std::time::Instant;

use crate::spec::{Scenario, ScenarioError};
use crate::world::SimWorld;
use twin_core::Kind;

#[derive(Clone, Debug)]
pub struct WorldFigures {
    pub entities: usize,
    pub ticks: usize,
    pub seconds: f64,
    pub updates_per_s: f64,
    pub observations_per_s: f64,
    /// Time to build the world from its scenario.
    pub build_seconds: f64,
    /// Threads the world's lanes ran on.
    pub threads: usize,
}

/// Runs the built-in factory scaled to about `entities` twin entities for
/// `ticks` ticks of one second, its lanes on two threads when `parallel`
/// and the machine has a second core.
pub fn factory_updates(
    entities: usize,
    ticks: usize,
    parallel: bool,
) -> Result<WorldFigures, ScenarioError> {
    let base = Scenario::builtin("factory").expect("built in");
    let per_unit = SimWorld::new(&base)?.records().len() as f64;
    let scenario = base.with_scale(entities as f64 / per_unit);
    let t = Instant::now();
    let mut world = SimWorld::new(&scenario)?;
    if !parallel {
        world.set_parallel(false);
    }
    let build_seconds = t.elapsed().as_secs_f64();
    let count = |k: Kind| {
        world
            .records()
            .iter()
            .filter(|r| r.id().kind() == k)
            .count()
    };
    let stepped = count(Kind::Machine) + count(Kind::Vehicle);
    let n = world.records().len();
    // Warm up: the first ticks also announce every machine's status.
    let before = world.run_ticks(2);
    let t = Instant::now();
    let emitted = world.run_ticks(ticks) - before;
    let seconds = t.elapsed().as_secs_f64();
    let updates = (stepped * ticks) as f64 + emitted as f64;
    Ok(WorldFigures {
        entities: n,
        ticks,
        seconds,
        updates_per_s: updates / seconds,
        observations_per_s: emitted as f64 / seconds,
        build_seconds,
        threads: if world.parallel() { 2 } else { 1 },
    })
}
