//! The runtime handle: starts the shard actors on their own actix system,
//! routes batches to them, and merges what they answer.
//!
//! Routing partitions a caller's batch by shard (a hash of the entity id) and
//! sends one message per shard, concurrently; the reply combines per-item
//! results by the caller's indexes, so one bad item never affects the others.
//!
//! In lockstep mode the runtime, not the shards, publishes: it sorts the
//! shards' events by (input index, entity) — an order that does not depend on
//! how many shards there are — appends them to the event log and the running
//! event-log hash, then publishes them. Callers then await each call before the
//! next, so inputs are applied in one well-defined order.

use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use actix::prelude::*;
use futures::future::join_all;
use twin_core::state::{EntityRecord, InputError};
use twin_core::store::Store;
use twin_core::{Command, EntityId, Event, EventLogHash, Kind, Observation, SimTime};
use twin_infer::models::Models;

use crate::areas::AreaHost;
use crate::bus::Bus;
use crate::journal::Journal;
use crate::planning::{Board, PlanHost};
use crate::shard::{ShardCore, UnknownPolicy};
use crate::shard_actor::{
    Checkpoint, Commands, Create, Ingest, ListResident, Relate, Resident, ShardActor, ShardReply,
    SharedCore, Tick, lock, resident_or_store,
};
use twin_plan::Planners;

#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Shard actors, one per worker thread.
    pub workers: usize,
    pub unknown: UnknownPolicy,
    /// Largest batch accepted in one call.
    pub max_batch: usize,
    /// Passivate entities idle this long (simulated time) at each tick.
    pub passivate_after: Option<SimTime>,
    /// Write every accepted observation to the store's history.
    pub history: bool,
    /// Batches the bus holds for a slow subscriber before it lags.
    pub bus_capacity: usize,
    pub lockstep: bool,
    /// Inference models hosted beside the entities they follow.
    pub models: Models,
    /// Planners stepped at each tick (`[[planning]]`).
    pub planners: Planners,
    /// Durable batches journaled since the last checkpoint past which the
    /// ingest call that crosses it checkpoints: the journal (and the work
    /// a restart after a crash has) stays bounded however rarely the
    /// caller checkpoints.
    pub checkpoint_every: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            unknown: UnknownPolicy::Reject,
            max_batch: 100_000,
            passivate_after: Some(SimTime::hours(1)),
            history: true,
            bus_capacity: 1024,
            lockstep: false,
            models: Models::default(),
            planners: Planners::default(),
            checkpoint_every: 4_096,
        }
    }
}

/// What happened to a batch.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// Items applied as current values.
    pub applied: usize,
    /// Items kept in history only (older than the current value).
    pub history_only: usize,
    /// Refused items, by index in the batch, in index order. Out-of-order
    /// observations appear here too, though their history is kept.
    pub errors: Vec<(usize, InputError)>,
    /// Commands the twin issued to the world while handling the batch.
    pub commands: Vec<Command>,
    /// Commands the planners decided at a tick (already applied), and the
    /// schedules they solved, by planner: a recording keeps both, and a
    /// replay hands the schedules back ([`Runtime::replay_schedules`]).
    pub planned: Vec<Command>,
    pub schedules: Vec<(String, twin_plan::schedule::Schedule)>,
    pub events: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("runtime stopped")]
    Stopped,
    #[error("store: {0}")]
    Store(String),
    #[error("could not start the runtime: {0}")]
    Start(String),
}

struct ActixThread {
    system: actix::System,
    thread: JoinHandle<()>,
}

pub struct Runtime {
    shards: Vec<Addr<ShardActor>>,
    /// Each shard's core, for reads that skip its mailbox (see `get`).
    cores: Vec<SharedCore>,
    bus: Bus,
    store: Option<Store>,
    config: RuntimeConfig,
    log: Mutex<EventLogHash>,
    actix: Option<ActixThread>,
    /// Durable ingest's numbering, with a store.
    journal: Option<Journal>,
    /// The area models, when any is configured (see [`crate::areas`]).
    areas: Mutex<Option<AreaHost>>,
    /// The planners, when any is configured (see [`crate::planning`]).
    planning: Mutex<Option<PlanHost>>,
    board: Arc<RwLock<Board>>,
    feeds: crate::feeds::Feeds,
}

impl Runtime {
    /// Starts `config.workers` shard actors, each on its own arbiter thread.
    pub fn start(config: RuntimeConfig, store: Option<Store>) -> Result<Runtime, RuntimeError> {
        let bus = Bus::new(config.bus_capacity);
        let (tx, rx) = std::sync::mpsc::channel();
        let (workers, policy) = (config.workers.max(1), config.unknown);
        let history = config.history;
        let b = bus.clone();
        let cores: Vec<SharedCore> = (0..workers)
            .map(|_| {
                let core = ShardCore::new(store.clone(), policy).with_models(config.models.clone());
                Arc::new(Mutex::new(core))
            })
            .collect();
        let shared = cores.clone();
        let thread = std::thread::Builder::new()
            .name("twin-actors".into())
            .spawn(move || {
                let sys = actix::System::new();
                let arbiters = sys.block_on(async move {
                    let mut arbiters = Vec::new();
                    let mut addrs = Vec::new();
                    for core in shared {
                        let arbiter = Arbiter::new();
                        let b = b.clone();
                        addrs.push(ShardActor::start_in_arbiter(&arbiter.handle(), move |_| {
                            crate::priority::lower(crate::priority::WRITES);
                            ShardActor::new(core, b, history)
                        }));
                        arbiters.push(arbiter);
                    }
                    let _ = tx.send((addrs, actix::System::current()));
                    arbiters
                });
                let _ = sys.run();
                for a in arbiters {
                    a.stop();
                    let _ = a.join();
                }
            })
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        let (shards, system) = rx
            .recv()
            .map_err(|_| RuntimeError::Start("actor system did not start".into()))?;
        let journal = store.as_ref().map(Journal::open).transpose()?;
        let areas = Mutex::new(AreaHost::new(&config.models, &bus, store.as_ref()));
        let board = Arc::new(RwLock::new(Board::default()));
        let planning = Mutex::new(PlanHost::new(
            &config.planners,
            &bus,
            store.as_ref(),
            board.clone(),
        ));
        let runtime = Runtime {
            areas,
            planning,
            board,
            shards,
            cores,
            bus,
            store,
            config,
            log: Mutex::new(EventLogHash::default()),
            actix: Some(ActixThread { system, thread }),
            journal,
            feeds: Default::default(),
        };
        runtime.recover()?;
        Ok(runtime)
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    pub(crate) fn cores(&self) -> &[SharedCore] {
        &self.cores
    }

    /// The live feeds writing into this runtime, and what each has done.
    pub fn feeds(&self) -> &crate::feeds::Feeds {
        &self.feeds
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Splits a batch into per-shard lists of (index, item).
    fn partition<T>(&self, batch: Vec<T>, id: impl Fn(&T) -> EntityId) -> Vec<Vec<(u32, T)>> {
        let n = self.shards.len();
        let mut parts: Vec<Vec<(u32, T)>> = (0..n)
            .map(|_| Vec::with_capacity(batch.len() / n + 16))
            .collect();
        for (i, item) in batch.into_iter().enumerate() {
            parts[id(&item).shard(n)].push((i as u32, item));
        }
        parts
    }

    fn check_size(&self, size: usize) -> Result<(), RuntimeError> {
        if size > self.config.max_batch {
            return Err(InputError::BatchTooLarge {
                size,
                max: self.config.max_batch,
            }
            .into());
        }
        Ok(())
    }

    /// Sends one message per non-empty part and merges the replies.
    async fn scatter<M>(
        &self,
        parts: Vec<Vec<(u32, M::Item)>>,
        make: impl Fn(Vec<(u32, M::Item)>) -> M,
        total: usize,
    ) -> Result<(BatchReport, Vec<(u32, Observation)>), RuntimeError>
    where
        M: Routed,
        ShardActor: Handler<M>,
    {
        let sends = parts
            .into_iter()
            .zip(&self.shards)
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, addr)| addr.send(make(p)));
        let replies = join_all(sends).await;
        let mut report = BatchReport::default();
        let mut events: Vec<(u32, Event, u64)> = Vec::new();
        let mut store_error = None;
        let mut attached = Vec::new();
        for reply in replies {
            let reply: ShardReply = reply.map_err(|_| RuntimeError::Stopped)?;
            report.history_only += reply.history_only as usize;
            report
                .errors
                .extend(reply.errors.into_iter().map(|(i, e)| (i as usize, e)));
            report.commands.extend(reply.commands);
            report.events += reply.event_count;
            events.extend(reply.events);
            attached.extend(reply.attached);
            store_error = store_error.or(reply.store_error);
        }
        report.errors.sort_by_key(|(i, _)| *i);
        report.applied = total.saturating_sub(report.errors.len() + report.history_only);
        if self.config.lockstep {
            self.log_in_order(events)?;
        }
        match store_error {
            Some(e) => Err(RuntimeError::Store(e)),
            None => Ok((report, attached)),
        }
    }

    /// Lockstep: order, log, hash and publish the events of one call.
    fn log_in_order(&self, mut events: Vec<(u32, Event, u64)>) -> Result<(), RuntimeError> {
        events.sort_by_key(|(i, e, _)| (*i, e.entity));
        let events: Vec<Event> = {
            let mut log = self.log.lock().expect("log lock poisoned");
            events
                .into_iter()
                .map(|(_, e, digest)| {
                    log.push_digest(digest);
                    e
                })
                .collect()
        };
        if let Some(store) = &self.store {
            let notable: Vec<Event> = events
                .iter()
                .filter(|e| e.body.is_notable())
                .cloned()
                .collect();
            store
                .append_events(&notable)
                .map_err(|e| RuntimeError::Store(e.to_string()))?;
        }
        self.bus.publish(events);
        Ok(())
    }

    /// Creates entities. Each refused record is reported by index.
    pub async fn create(
        &self,
        records: Vec<EntityRecord>,
        now: SimTime,
    ) -> Result<BatchReport, RuntimeError> {
        self.check_size(records.len())?;
        let total = records.len();
        let lockstep = self.config.lockstep;
        let parts = self.partition(records, EntityRecord::id);
        self.scatter(
            parts,
            |items| Create {
                items,
                now,
                lockstep,
            },
            total,
        )
        .await
        .map(|(report, _)| report)
    }

    /// Applies a batch of observations. With `durable`, returns only once the
    /// batch would survive a crash: it is journaled, and the store synced
    /// (its history with it; the states it changed are applied again from
    /// the journal at the next start if no checkpoint stored them).
    pub async fn ingest(
        &self,
        batch: Vec<Observation>,
        durable: bool,
    ) -> Result<BatchReport, RuntimeError> {
        let report = self.ingest_unsynced(batch, durable).await?;
        if durable {
            self.sync().await?;
        }
        Ok(report)
    }

    /// [`Runtime::ingest`] up to the sync: a durable batch is journaled and
    /// applied, and is durable once a [`Runtime::sync`] called after this
    /// returns has returned. A stream of batches can so apply the next
    /// while the last ones are being made durable.
    pub async fn ingest_unsynced(
        &self,
        batch: Vec<Observation>,
        durable: bool,
    ) -> Result<BatchReport, RuntimeError> {
        self.check_size(batch.len())?;
        let (Some(store), Some(journal), true) = (&self.store, &self.journal, durable) else {
            return self.apply(batch, false).await;
        };
        let creates = self.config.unknown == UnknownPolicy::Create;
        let (seq, batch) = journal.append(store, batch, creates).await?;
        let report = self.apply(batch, false).await;
        journal.applied(seq);
        if journal.due(seq, self.config.checkpoint_every)
            && let Err(e) = self.checkpoint().await
        {
            journal.checkpoint_failed();
            return Err(e);
        }
        report
    }

    /// Makes every write so far durable (one sync shared by concurrent
    /// callers); nothing to do without a store.
    pub async fn sync(&self) -> Result<(), RuntimeError> {
        match self.store.clone() {
            Some(store) => blocking(move || store.flush()).await,
            None => Ok(()),
        }
    }

    /// Routes a batch to the shards, then the readings its sensors pass on
    /// to what they are attached to; `replay`: again from the journal.
    pub(crate) async fn apply(
        &self,
        batch: Vec<Observation>,
        replay: bool,
    ) -> Result<BatchReport, RuntimeError> {
        let total = batch.len();
        let lockstep = self.config.lockstep;
        let parts = self.partition(batch, |o| o.entity);
        let send = |parts, attached| {
            self.scatter(
                parts,
                move |items| Ingest {
                    items,
                    replay,
                    lockstep,
                    attached,
                },
                if attached { 0 } else { total },
            )
        };
        let (mut report, attached) = send(parts, false).await?;
        if !attached.is_empty() {
            // Sensors' readings reach what they are attached to after the
            // batch, in the order of the inputs they came from. A refusal
            // there (a kind that has no such measurand) is not the
            // caller's: the sensor's reading was applied.
            // In input order whatever the number of shards, so that a
            // machine takes its sensors' readings in the same order in
            // any lockstep run (the sort is stable: one input's readings
            // keep the order of its relations).
            let mut attached = attached;
            attached.sort_by_key(|(i, _)| *i);
            let n = self.shards.len();
            let mut parts: Vec<Vec<(u32, Observation)>> = (0..n).map(|_| Vec::new()).collect();
            for (i, o) in attached {
                parts[o.entity.shard(n)].push((i, o));
            }
            let (passed, _) = send(parts, true).await?;
            report.events += passed.events;
            report.commands.extend(passed.commands);
        }
        Ok(report)
    }

    /// Sets what each entity affects (see `ShardCore::relate`): a zone
    /// keeper's new extents. Each refused item is reported by index.
    pub async fn relate(
        &self,
        items: Vec<(EntityId, Vec<EntityId>)>,
        now: SimTime,
    ) -> Result<BatchReport, RuntimeError> {
        self.check_size(items.len())?;
        let total = items.len();
        let lockstep = self.config.lockstep;
        let parts = self.partition(items, |(id, _)| *id);
        self.scatter(
            parts,
            |items| Relate {
                items,
                now,
                lockstep,
            },
            total,
        )
        .await
        .map(|(report, _)| report)
    }

    /// Applies a batch of commands.
    pub async fn command(&self, commands: Vec<Command>) -> Result<BatchReport, RuntimeError> {
        self.check_size(commands.len())?;
        let total = commands.len();
        let lockstep = self.config.lockstep;
        let parts = self.partition(commands, |c| c.entity);
        self.scatter(parts, |items| Commands { items, lockstep }, total)
            .await
            .map(|(report, _)| report)
    }

    /// Periodic upkeep at `now` on every shard, then passivation; then the
    /// area models decide on what was published since the last tick.
    pub async fn tick(&self, now: SimTime) -> Result<BatchReport, RuntimeError> {
        let lockstep = self.config.lockstep;
        let passivate_after = self.config.passivate_after;
        let parts: Vec<Vec<(u32, ())>> = self.shards.iter().map(|_| vec![(0, ())]).collect();
        let report = self
            .scatter(
                parts,
                |_| Tick {
                    now,
                    passivate_after,
                    lockstep,
                },
                0,
            )
            .await
            .map(|(report, _)| report)?;
        // Taken out for the step (which awaits the runtime): a tick called
        // while another's areas step leaves them to the next tick.
        let host = self.areas.lock().expect("areas lock poisoned").take();
        if let Some(mut host) = host {
            let stepped = host.step(self, now).await;
            *self.areas.lock().expect("areas lock poisoned") = Some(host);
            stepped?;
        }
        let mut report = report;
        let host = self.planning.lock().expect("planning lock poisoned").take();
        if let Some(mut host) = host {
            let stepped = host.step(self, now).await;
            *self.planning.lock().expect("planning lock poisoned") = Some(host);
            let stepped = stepped?;
            report.planned = stepped.decided;
            report.schedules = stepped.schedules;
            report.commands.extend(stepped.issued);
        }
        Ok(report)
    }

    /// Replaying: the planners take these schedules, recorded at the next
    /// tick of the run, instead of solving.
    pub fn replay_schedules(&self, schedules: Vec<(String, twin_plan::schedule::Schedule)>) {
        if let Some(host) = self
            .planning
            .lock()
            .expect("planning lock poisoned")
            .as_mut()
        {
            host.replaying(schedules);
        }
    }

    /// The planners' work orders as of their last step.
    pub fn board(&self) -> Board {
        self.board.read().expect("board lock poisoned").clone()
    }

    /// The current record of an entity, resident or passivated. A resident
    /// one is read on the caller's thread under the shard's lock, not
    /// through its mailbox, so it shows every batch already acknowledged and
    /// waits at most for the step of a batch the shard is in; a passivated
    /// one is read from the store on the blocking pool, so that a slow disk
    /// never holds an async worker.
    pub async fn get(&self, id: EntityId) -> Result<Option<EntityRecord>, RuntimeError> {
        match resident_or_store(&self.cores[id.shard(self.cores.len())], id) {
            Ok(r) => Ok(Some(r)),
            Err(None) => Ok(None),
            Err(Some(store)) => blocking(move || store.get_state(id)).await,
        }
    }

    /// Records of all resident entities, optionally of one kind, by id.
    pub async fn resident_records(
        &self,
        kind: Option<Kind>,
    ) -> Result<Vec<EntityRecord>, RuntimeError> {
        let replies = join_all(self.shards.iter().map(|s| s.send(ListResident(kind)))).await;
        let mut out = Vec::new();
        for r in replies {
            out.extend(r.map_err(|_| RuntimeError::Stopped)?);
        }
        out.sort_by_key(EntityRecord::id);
        Ok(out)
    }

    /// Entities resident in memory, over all shards.
    pub async fn resident(&self) -> Result<usize, RuntimeError> {
        let replies = join_all(self.shards.iter().map(|s| s.send(Resident))).await;
        replies
            .into_iter()
            .map(|r| r.map_err(|_| RuntimeError::Stopped))
            .sum()
    }

    /// Writes every changed entity to the store and flushes it.
    pub async fn checkpoint(&self) -> Result<usize, RuntimeError> {
        // Every journaled batch up to here is applied: the states written
        // next reflect it.
        let position = self.journal.as_ref().map(Journal::position);
        let replies = join_all(self.shards.iter().map(|s| s.send(Checkpoint))).await;
        let mut n = 0;
        for r in replies {
            n += r
                .map_err(|_| RuntimeError::Stopped)?
                .map_err(RuntimeError::Store)?;
        }
        let mut areas = match self.areas.lock().expect("areas lock poisoned").as_ref() {
            Some(host) if self.store.is_some() => host.saved(),
            _ => Vec::new(),
        };
        if let Some(host) = self
            .planning
            .lock()
            .expect("planning lock poisoned")
            .as_ref()
            && self.store.is_some()
        {
            areas.extend(host.saved());
        }
        // The area models' states, the syncs and the journal's trimming are
        // written on the blocking pool: a checkpoint may be taken by an
        // ingest call on an async worker.
        if let Some(store) = self.store.clone() {
            let p = position.filter(|p| *p > 0);
            blocking(move || {
                for (key, bytes) in &areas {
                    store.put_meta(key, bytes)?;
                }
                store.flush()?;
                if let Some(p) = p {
                    store.journal_checkpointed(p)?;
                    store.flush()?;
                }
                Ok(())
            })
            .await?;
            if let (Some(p), Some(journal)) = (p, &self.journal) {
                journal.checkpointed(p);
            }
        }
        Ok(n)
    }

    /// Lockstep: (events logged, hash of the event log so far).
    pub fn event_log_hash(&self) -> (u64, u64) {
        let log = self.log.lock().expect("log lock poisoned");
        (log.count(), log.digest())
    }

    /// Lockstep: the running hash of each entity's events, for `ids`. Each
    /// shard keeps its own entities' chains; all shards are held at once so
    /// the hashes are of one moment.
    pub fn entity_log_hashes(&self, ids: impl Iterator<Item = EntityId>) -> Vec<u64> {
        let cores: Vec<_> = self.cores.iter().map(lock).collect();
        ids.map(|id| cores[id.shard(cores.len())].chains.get(id))
            .collect()
    }

    /// Checkpoints, then stops the actor threads.
    pub async fn shutdown(mut self) -> Result<(), RuntimeError> {
        let result = self.checkpoint().await.map(|_| ());
        self.stop_threads();
        result
    }

    fn stop_threads(&mut self) {
        if let Some(a) = self.actix.take() {
            a.system.stop();
            let _ = a.thread.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// A shard message built from a part of a routed batch.
pub trait Routed: Message<Result = ShardReply> + Send + 'static {
    type Item;
}
impl Routed for Ingest {
    type Item = Observation;
}
impl Routed for Commands {
    type Item = Command;
}
impl Routed for Create {
    type Item = EntityRecord;
}
impl Routed for Tick {
    type Item = ();
}
impl Routed for Relate {
    type Item = (EntityId, Vec<EntityId>);
}

/// Store I/O off the async workers: on tokio's blocking pool when called
/// from a tokio runtime, else (a plain executor) on the caller's thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> twin_core::store::Result<T> + Send + 'static,
) -> Result<T, RuntimeError> {
    let done = match tokio::runtime::Handle::try_current() {
        Ok(rt) => rt
            .spawn_blocking(f)
            .await
            .map_err(|e| RuntimeError::Store(e.to_string()))?,
        Err(_) => f(),
    };
    done.map_err(|e| RuntimeError::Store(e.to_string()))
}
