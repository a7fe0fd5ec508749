//! The actix actor around a [`ShardCore`]: one per worker thread.
//!
//! It takes inputs in batches (a `Vec` per message, not a message per input),
//! handles them in order, then does the shard's I/O for the whole batch: raw
//! history (with the readings models derived) to the store, notable events to the event log, all events to the bus.
//! In lockstep mode it does none of the publishing and returns its events,
//! tagged with the index of the input that caused them, for the runtime to merge
//! in a fixed order.
//!
//! The core sits behind a mutex that the actor takes per step of a batch:
//! reads of one entity ([`read`]) take it directly from the caller's thread,
//! so that a read costs no hop to the shard's thread and back (two
//! cross-thread wake-ups, the bulk of a read's latency tail on a small
//! machine). Everything that changes the core still goes through the actor,
//! in its mailbox order.

use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use bevy_ecs::entity::Entity;
use twin_core::state::{Applied, EntityRecord, InputError};
use twin_core::store::{Store, StoreError};
use twin_core::{Command, EntityId, Event, Kind, Observation, SimTime};

use crate::bus::Bus;
use crate::shard::ShardCore;

/// What a shard answers to a batch.
#[derive(Debug, Default)]
pub struct ShardReply {
    /// Refused inputs, by their index in the caller's batch.
    pub errors: Vec<(u32, InputError)>,
    /// Inputs accepted but older than the current value (history only).
    pub history_only: u32,
    /// Lockstep only: events tagged with the index of their input, each
    /// with its digest for the event-log hash.
    pub events: Vec<(u32, Event, u64)>,
    /// Commands to forward to the world or a live sink.
    pub commands: Vec<Command>,
    /// Events produced (published or returned).
    pub event_count: usize,
    /// A store failure while doing the batch's I/O.
    pub store_error: Option<String>,
    /// Readings of attached sensors to pass on, by the index of the input
    /// they came from.
    pub attached: Vec<(u32, Observation)>,
}

/// A shard's core, shared by its actor and the readers of [`read`].
pub type SharedCore = Arc<Mutex<ShardCore>>;

/// Takes a shard's core; a poisoned lock means a shard panicked mid-batch,
/// and its state can no longer be trusted.
pub fn lock(core: &SharedCore) -> MutexGuard<'_, ShardCore> {
    core.lock().expect("shard core lock poisoned")
}

/// A resident entity's record, taken under the shard's lock; or, when it is
/// not resident, the store to read it from (`None`: no store), so that the
/// caller reads the store after the lock is let go and a read of a
/// passivated entity never holds up the shard.
pub fn resident_or_store(core: &SharedCore, id: EntityId) -> Result<EntityRecord, Option<Store>> {
    let mut core = lock(core);
    core.snapshot(id).ok_or_else(|| core.store().cloned())
}

pub struct ShardActor {
    core: SharedCore,
    /// Reused buffer of resolved entities for a batch.
    resolved: Vec<Option<bevy_ecs::entity::Entity>>,
    bus: Bus,
    /// The core's store, held here too so that a batch's I/O runs without
    /// the core's lock.
    store: Option<Store>,
    history: bool,
}

impl ShardActor {
    pub fn new(core: SharedCore, bus: Bus, history: bool) -> Self {
        let store = lock(&core).store().cloned();
        ShardActor {
            core,
            resolved: Vec::new(),
            bus,
            store,
            history,
        }
    }

    /// Writes the records `pick` takes under the core's lock to the store,
    /// with the lock let go (a checkpoint of a large shard writes for tens
    /// of milliseconds, which every reader of the shard would wait out),
    /// then marks them clean. Only this actor changes the core, so nothing
    /// changes them in between. Returns what was written.
    fn write_states(
        &self,
        pick: impl FnOnce(&mut ShardCore) -> Vec<(Entity, EntityRecord)>,
    ) -> Result<Vec<(Entity, EntityRecord)>, StoreError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let taken = pick(&mut lock(&self.core));
        store.put_states(taken.iter().map(|(_, r)| r))?;
        lock(&self.core).mark_clean(&taken);
        Ok(taken)
    }

    /// Runs `f` on each input in order, tagging errors and (in lockstep) events
    /// with the input's index. The caller does its store writes, then calls
    /// [`ShardActor::finish`], so that an event is published only once what it
    /// reports is stored.
    fn run<T>(
        core: &mut ShardCore,
        items: &[(u32, T)],
        lockstep: bool,
        mut f: impl FnMut(&mut ShardCore, usize, &T) -> Result<Applied, InputError>,
    ) -> (ShardReply, Vec<bool>) {
        let mut reply = ShardReply::default();
        let mut kept = Vec::with_capacity(items.len());
        for (pos, (idx, item)) in items.iter().enumerate() {
            let before = core.events.len();
            let result = f(core, pos, item);
            reply
                .attached
                .extend(core.attached.drain(..).map(|o| (*idx, o)));
            kept.push(matches!(result, Ok(_) | Err(InputError::OutOfOrder { .. })));
            match result {
                Ok(Applied::Current) => {}
                Ok(Applied::HistoryOnly) => reply.history_only += 1,
                Err(e) => reply.errors.push((*idx, e)),
            }
            if lockstep {
                core.drain_logged(before, *idx, &mut reply.events);
            }
        }
        (reply, kept)
    }

    /// Hands over the batch's commands, then publishes its events (appending
    /// the notable ones to the event log), or in lockstep leaves them in the
    /// reply for the runtime to order.
    fn finish(&mut self, reply: &mut ShardReply, lockstep: bool) {
        let mut core = lock(&self.core);
        reply.commands = std::mem::take(&mut core.commands);
        if lockstep {
            reply.event_count = reply.events.len();
            return;
        }
        // Hand the events over and keep a buffer of the same size, so the next
        // batch does not regrow it from nothing.
        let capacity = core.events.len();
        let events = std::mem::replace(&mut core.events, Vec::with_capacity(capacity));
        drop(core);
        reply.event_count = events.len();
        if let Some(store) = &self.store {
            let notable: Vec<Event> = events
                .iter()
                .filter(|e| e.body.is_notable())
                .cloned()
                .collect();
            if let Err(e) = store.append_events(&notable) {
                reply.store_error = Some(e.to_string());
            }
        }
        self.bus.publish(events);
    }
}

impl Actor for ShardActor {
    type Context = Context<Self>;
}

/// A batch of observations for this shard.
#[derive(Message)]
#[rtype(result = "ShardReply")]
pub struct Ingest {
    pub items: Vec<(u32, Observation)>,
    /// Applied again from the journal after a crash: its history and
    /// events are already stored, and what an entity's stored state already
    /// reflects is not applied twice.
    pub replay: bool,
    pub lockstep: bool,
    /// Readings passed on from attached sensors: their history is the
    /// sensor's, so only what models derive from them is written.
    pub attached: bool,
}

impl Handler<Ingest> for ShardActor {
    type Result = MessageResult<Ingest>;

    fn handle(&mut self, msg: Ingest, _: &mut Context<Self>) -> Self::Result {
        let mut resolved = std::mem::take(&mut self.resolved);
        let (mut reply, kept, derived) = {
            let mut core = lock(&self.core);
            core.resolve(msg.items.iter().map(|(_, o)| o.entity), &mut resolved);
            let (reply, kept) = Self::run(&mut core, &msg.items, msg.lockstep, |core, pos, obs| {
                if msg.replay {
                    core.replay(obs)
                } else {
                    core.observe_resolved(resolved[pos], obs)
                }
            });
            if msg.replay {
                // Stored before the crash, with the batch.
                core.events.clear();
            }
            (reply, kept, std::mem::take(&mut core.derived))
        };
        self.resolved = resolved;
        if let (Some(store), true, false) = (&self.store, self.history, msg.replay) {
            let accepted = msg
                .items
                .iter()
                .zip(&kept)
                .filter(|(_, k)| **k && !msg.attached)
                .map(|((_, o), _)| o)
                .chain(&derived);
            if let Err(e) = store.write_history(accepted) {
                reply.store_error = Some(e.to_string());
            }
        }
        self.finish(&mut reply, msg.lockstep);
        MessageResult(reply)
    }
}

/// A batch of commands for this shard.
#[derive(Message)]
#[rtype(result = "ShardReply")]
pub struct Commands {
    pub items: Vec<(u32, Command)>,
    pub lockstep: bool,
}

impl Handler<Commands> for ShardActor {
    type Result = MessageResult<Commands>;

    fn handle(&mut self, msg: Commands, _: &mut Context<Self>) -> Self::Result {
        let (mut reply, _) = Self::run(
            &mut lock(&self.core),
            &msg.items,
            msg.lockstep,
            |core, _, cmd| core.command(cmd).map(|()| Applied::Current),
        );
        self.finish(&mut reply, msg.lockstep);
        MessageResult(reply)
    }
}

/// New entities for this shard.
#[derive(Message)]
#[rtype(result = "ShardReply")]
pub struct Create {
    pub items: Vec<(u32, EntityRecord)>,
    pub now: SimTime,
    pub lockstep: bool,
}

impl Handler<Create> for ShardActor {
    type Result = MessageResult<Create>;

    fn handle(&mut self, msg: Create, _: &mut Context<Self>) -> Self::Result {
        let now = msg.now;
        let (mut reply, _) = Self::run(
            &mut lock(&self.core),
            &msg.items,
            msg.lockstep,
            |core, _, rec| core.create(rec.clone(), now).map(|()| Applied::Current),
        );
        // A new entity is stored at once: a durable batch journaled for it
        // must find it again after a crash (see `twin_core::store::journal`).
        let ids: Vec<EntityId> = msg.items.iter().map(|(_, r)| r.id()).collect();
        if let Err(e) = self.write_states(|core| core.records_of(&ids)) {
            reply.store_error = Some(e.to_string());
        }
        self.finish(&mut reply, msg.lockstep);
        MessageResult(reply)
    }
}

/// New `Affects` relations of entities of this shard (see
/// [`ShardCore::relate`]).
#[derive(Message)]
#[rtype(result = "ShardReply")]
pub struct Relate {
    pub items: Vec<(u32, (EntityId, Vec<EntityId>))>,
    pub now: SimTime,
    pub lockstep: bool,
}

impl Handler<Relate> for ShardActor {
    type Result = MessageResult<Relate>;

    fn handle(&mut self, msg: Relate, _: &mut Context<Self>) -> Self::Result {
        let now = msg.now;
        let (mut reply, _) = Self::run(
            &mut lock(&self.core),
            &msg.items,
            msg.lockstep,
            |core, _, (id, targets)| core.relate(*id, targets, now).map(|()| Applied::Current),
        );
        self.finish(&mut reply, msg.lockstep);
        MessageResult(reply)
    }
}

/// Periodic upkeep, then passivation of entities idle for `passivate_after`.
#[derive(Message)]
#[rtype(result = "ShardReply")]
pub struct Tick {
    pub now: SimTime,
    pub passivate_after: Option<SimTime>,
    pub lockstep: bool,
}

impl Handler<Tick> for ShardActor {
    type Result = MessageResult<Tick>;

    fn handle(&mut self, msg: Tick, _: &mut Context<Self>) -> Self::Result {
        let mut reply = ShardReply::default();
        {
            let mut core = lock(&self.core);
            core.tick(msg.now);
            if msg.lockstep {
                // Tick events are ordered by entity by the runtime.
                core.drain_logged(0, 0, &mut reply.events);
            }
        }
        self.finish(&mut reply, msg.lockstep);
        if let Some(idle) = msg.passivate_after {
            match self.write_states(|core| core.idle(msg.now - idle)) {
                Ok(written) => lock(&self.core).evict(&written),
                Err(e) => reply.store_error = Some(e.to_string()),
            }
        }
        MessageResult(reply)
    }
}

/// Records of resident entities.
#[derive(Message)]
#[rtype(result = "Vec<EntityRecord>")]
pub struct ListResident(pub Option<Kind>);

impl Handler<ListResident> for ShardActor {
    type Result = MessageResult<ListResident>;

    fn handle(&mut self, msg: ListResident, _: &mut Context<Self>) -> Self::Result {
        MessageResult(lock(&self.core).resident_records(msg.0))
    }
}

/// Writes every changed entity to the store.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct Checkpoint;

impl Handler<Checkpoint> for ShardActor {
    type Result = Result<usize, String>;

    fn handle(&mut self, _: Checkpoint, _: &mut Context<Self>) -> Self::Result {
        self.write_states(ShardCore::dirty)
            .map(|written| written.len())
            .map_err(|e| e.to_string())
    }
}

/// Number of resident entities.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Resident;

impl Handler<Resident> for ShardActor {
    type Result = usize;

    fn handle(&mut self, _: Resident, _: &mut Context<Self>) -> usize {
        lock(&self.core).resident()
    }
}
