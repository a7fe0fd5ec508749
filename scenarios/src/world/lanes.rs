//! Lanes: the world's entities in two fixed halves, so the heaviest systems
//! (sampling every sensor, wearing every machine) can run on two threads.
//!
//! Every world entity is put in lane 0 or lane 1 when it is spawned,
//! alternately, as a marker component: each lane is then its own bevy table,
//! and two queries filtered by lane borrow disjoint rows, which is what lets
//! them be handed to two threads without `unsafe`. Each lane has its own
//! [`Outbox`]; what the lanes deliver is read lane by lane, after the outbox
//! of the serial systems. Which lane an entity is in and the order the
//! outboxes are read in never depend on the number of threads, so the
//! observation stream is the same whether the lanes run in parallel or not.

use bevy_ecs::prelude::*;
use twin_core::Observation;

use crate::sensor::Outbox;

/// Marks an entity of lane 0.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Lane0;

/// Marks an entity of lane 1.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Lane1;

/// The query filter of lane 0 (the `Without` tells bevy the two lanes'
/// queries cannot meet).
pub type First = (With<Lane0>, Without<Lane1>);
/// The query filter of lane 1.
pub type Second = (With<Lane1>, Without<Lane0>);

/// Below this many world entities a second thread costs more than it saves
/// (spawning one is tens of microseconds; a tick of 10,000 machines takes a
/// few hundred).
pub const PARALLEL_FROM: usize = 20_000;

/// The lanes' outboxes and whether the lanes run on two threads.
#[derive(Resource, Default)]
pub struct Lanes {
    pub parallel: bool,
    outboxes: [Outbox; 2],
}

impl Lanes {
    /// Runs each lane's part of a system with that lane's outbox, lane 1 on
    /// a second thread when the lanes are parallel.
    pub fn run(
        &mut self,
        first: impl FnOnce(&mut Outbox) + Send,
        second: impl FnOnce(&mut Outbox) + Send,
    ) {
        let [a, b] = &mut self.outboxes;
        if self.parallel {
            std::thread::scope(|s| {
                s.spawn(|| second(b));
                first(a);
            });
        } else {
            first(a);
            second(b);
        }
    }

    pub fn outboxes_mut(&mut self) -> impl Iterator<Item = &mut Outbox> {
        self.outboxes.iter_mut()
    }

    pub fn emitted(&self) -> u64 {
        self.outboxes.iter().map(|o| o.emitted).sum()
    }
}

/// Spawns the `n`-th world entity in its lane: even to lane 0, odd to 1.
pub fn spawn_in_lane(ecs: &mut World, n: usize, bundle: impl Bundle) -> Entity {
    if n.is_multiple_of(2) {
        ecs.spawn((Lane0, bundle)).id()
    } else {
        ecs.spawn((Lane1, bundle)).id()
    }
}

/// Moves everything the serial systems and the lanes delivered this tick to
/// `out`, in their fixed order.
pub fn collect(serial: &mut Outbox, lanes: &mut Lanes, out: &mut Vec<Observation>) {
    out.append(&mut serial.ready);
    for o in lanes.outboxes_mut() {
        out.append(&mut o.ready);
    }
}
