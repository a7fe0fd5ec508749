//! A shard: many entity actors hosted in one bevy_ecs `World`.
//!
//! Each entity is one ECS entity with a single [`Hosted<S>`] component, where
//! `S` is its kind's state type, so every kind has its own compact archetype
//! (a sensor does not pay for a parcel's polygon). An id → ECS entity index
//! routes messages. This struct is plain data with no actix in it: the shard
//! actor wraps it, and tests drive it directly.
//!
//! Virtual-actor life cycle: an entity is activated on its first message
//! (loaded from the store, or created when the policy says so), handles its
//! messages one at a time in arrival order, and is passivated (written to the
//! store and dropped from memory) when idle.

use std::collections::BTreeSet;

use bevy_ecs::prelude::*;
use twin_core::state::{
    self, AlarmLevel, Applied, Common, EntityRecord, InputError, KindBehaviour, KindState,
    MachineState, ParcelState, Relation, SensorState, VehicleState, ZoneState,
};
use twin_core::store::{Store, StoreError};
use twin_core::{
    Command, EntityChains, EntityId, Event, EventBody, IdMap, Kind, Observation, SimTime, Source,
};
use twin_infer::models::Models;

use crate::inference::{Followers, Host};

/// What to do with an observation for an entity nobody created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownPolicy {
    /// Refuse it with [`InputError::UnknownEntity`].
    #[default]
    Reject,
    /// Create the entity in its kind's default state (live feeds that announce
    /// devices by sending data).
    Create,
}

/// One hosted entity: common data and kind state. `common.updated` (simulated
/// time of the latest input) drives passivation; `common.dirty` says whether it
/// changed since it was last written to the store.
#[derive(Component)]
pub struct Hosted<S: KindBehaviour> {
    pub common: Common,
    pub state: S,
}

/// An entity's state with its models' followers, when some model may
/// follow it.
type HostedQuery<S> = QueryState<(&'static mut Hosted<S>, Option<&'static mut Followers>)>;

/// One cached query per kind: looking an entity up through a cached query
/// skips the per-call component lookup that `World::get_mut` does.
pub(crate) struct Queries {
    parcel: HostedQuery<ParcelState>,
    machine: HostedQuery<MachineState>,
    sensor: HostedQuery<SensorState>,
    vehicle: HostedQuery<VehicleState>,
    zone: HostedQuery<ZoneState>,
}

/// A kind state the shard can host.
pub(crate) trait Hostable: KindBehaviour {
    #[doc(hidden)]
    fn query(q: &mut Queries) -> &mut HostedQuery<Self>;
}

macro_rules! hostable {
    ($($t:ty => $field:ident),*) => {$(
        impl Hostable for $t {
            fn query(q: &mut Queries) -> &mut HostedQuery<Self> {
                &mut q.$field
            }
        }
    )*};
}
hostable!(ParcelState => parcel, MachineState => machine, SensorState => sensor,
    VehicleState => vehicle, ZoneState => zone);

/// Calls a generic method with the state type of `kind`.
macro_rules! by_kind {
    ($kind:expr, $self:ident . $method:ident ( $($arg:expr),* )) => {
        match $kind {
            Kind::Parcel => $self.$method::<ParcelState>($($arg),*),
            Kind::Machine => $self.$method::<MachineState>($($arg),*),
            Kind::Sensor => $self.$method::<SensorState>($($arg),*),
            Kind::Vehicle => $self.$method::<VehicleState>($($arg),*),
            Kind::Zone => $self.$method::<ZoneState>($($arg),*),
        }
    };
}

/// An input to an entity actor.
#[derive(Clone, Copy)]
enum Input<'a> {
    Observe(&'a Observation),
    Command(&'a Command),
}

pub struct ShardCore {
    world: World,
    queries: Queries,
    index: IdMap<Entity>,
    /// The resident ids in order, for listing a page at a time (kept on
    /// activation and passivation only, never per message).
    order: BTreeSet<EntityId>,
    /// The resident ids with an open alert, in order: `ListAlerts` pages
    /// through these (and the store's index of the passivated ones). Kept
    /// when an alert is raised or cleared, never per plain message.
    alerting: BTreeSet<EntityId>,
    store: Option<Store>,
    policy: UnknownPolicy,
    /// The inference models, when any are configured.
    host: Option<Host>,
    /// Outputs of the inputs handled since the caller last drained them.
    pub events: Vec<Event>,
    pub commands: Vec<Command>,
    /// Readings the models derived, for the history.
    pub derived: Vec<Observation>,
    /// Readings of sensors passed on to what they are attached to, for the
    /// runtime to deliver after the batch.
    pub attached: Vec<Observation>,
    /// Lockstep: the event-log chain of each entity of this shard.
    pub chains: EntityChains,
}

impl ShardCore {
    pub fn new(store: Option<Store>, policy: UnknownPolicy) -> ShardCore {
        let mut world = World::new();
        let queries = Queries {
            parcel: world.query(),
            machine: world.query(),
            sensor: world.query(),
            vehicle: world.query(),
            zone: world.query(),
        };
        ShardCore {
            world,
            queries,
            index: IdMap::default(),
            order: Default::default(),
            alerting: Default::default(),
            store,
            policy,
            host: None,
            events: Vec::new(),
            commands: Vec::new(),
            derived: Vec::new(),
            attached: Vec::new(),
            chains: EntityChains::default(),
        }
    }

    /// Hosts `models` beside the entities they may follow (entities resident
    /// before this call are not followed until their next activation).
    pub fn with_models(mut self, models: Models) -> ShardCore {
        self.host = Host::new(models);
        self
    }

    /// Entities resident in memory.
    pub fn resident(&self) -> usize {
        self.index.len()
    }

    pub fn is_resident(&self, id: EntityId) -> bool {
        self.index.contains_key(&id)
    }

    /// Creates a new entity. Fails if it exists, resident or passivated.
    pub fn create(&mut self, record: EntityRecord, now: SimTime) -> Result<(), InputError> {
        record.check()?;
        let id = record.id();
        if self.index.contains_key(&id) || self.stored(id)? {
            return Err(InputError::AlreadyExists(id));
        }
        if let (Some(store), false) = (&self.store, record.common.relations().is_empty()) {
            // Relationship indexes are written at once so they can be queried
            // both ways from anywhere; state follows at passivation.
            if let Err(e) = store.put_relations(id, record.common.relations()) {
                tracing::error!("{id}: relationships not indexed: {e}");
            }
        }
        self.spawn(record, now, true);
        self.events.push(Event {
            time: now,
            entity: id,
            body: EventBody::Created,
        });
        Ok(())
    }

    /// Replaces what `id` affects (its [`Relation::Affects`] relations) by
    /// `targets`, in its record and in the store's indexes: a disease zone
    /// now over other parcels. Other relations stay as created.
    pub fn relate(
        &mut self,
        id: EntityId,
        targets: &[EntityId],
        now: SimTime,
    ) -> Result<(), InputError> {
        let wanted: Vec<Relation> = targets.iter().map(|t| Relation::Affects(*t)).collect();
        for r in &wanted {
            r.check(id)?;
        }
        let e = self.locate(id, now)?;
        let (removed, added) = by_kind!(id.kind(), self.relate_as(e, &wanted, now));
        if let (Some(store), false) = (&self.store, removed.is_empty() && added.is_empty())
            && let Err(e) = store.replace_relations(id, &removed, &added)
        {
            return Err(unavailable(id, e));
        }
        Ok(())
    }

    /// Sets the `Affects` relations of `e`; returns those dropped and added.
    fn relate_as<S: Hostable>(
        &mut self,
        e: Entity,
        wanted: &[Relation],
        now: SimTime,
    ) -> (Vec<Relation>, Vec<Relation>) {
        let (mut h, _) = S::query(&mut self.queries)
            .get_mut(&mut self.world, e)
            .expect("an indexed entity has its kind's component");
        let relations = &mut h.common.extras_mut().relations;
        let removed: Vec<Relation> = relations
            .iter()
            .filter(|r| matches!(r, Relation::Affects(_)) && !wanted.contains(r))
            .copied()
            .collect();
        let added: Vec<Relation> = wanted
            .iter()
            .filter(|r| !relations.contains(r))
            .copied()
            .collect();
        relations.retain(|r| !removed.contains(r));
        relations.extend(&added);
        if !(removed.is_empty() && added.is_empty()) {
            h.common.updated = h.common.updated.max(now);
            h.common.dirty = true;
        }
        (removed, added)
    }

    fn stored(&self, id: EntityId) -> Result<bool, InputError> {
        match &self.store {
            Some(s) => s.contains_state(id).map_err(|e| unavailable(id, e)),
            None => Ok(false),
        }
    }

    fn spawn(&mut self, record: EntityRecord, now: SimTime, dirty: bool) -> Entity {
        let id = record.id();
        let common = record.common;
        if common.readings.worst_level() != AlarmLevel::Normal {
            self.alerting.insert(id);
        }
        let followers = self
            .host
            .as_ref()
            .and_then(|h| h.followers(&common, &record.inferred));
        let e = match record.state {
            KindState::Parcel(s) => self.spawn_as(common, s, now, dirty),
            KindState::Machine(s) => self.spawn_as(common, s, now, dirty),
            KindState::Sensor(s) => self.spawn_as(common, s, now, dirty),
            KindState::Vehicle(s) => self.spawn_as(common, s, now, dirty),
            KindState::Zone(s) => self.spawn_as(common, s, now, dirty),
        };
        if let Some(f) = followers {
            self.world.entity_mut(e).insert(f);
        }
        self.index.insert(id, e);
        self.order.insert(id);
        e
    }

    fn spawn_as<S: Hostable>(
        &mut self,
        mut common: Common,
        state: S,
        now: SimTime,
        dirty: bool,
    ) -> Entity {
        common.updated = common.updated.max(now);
        common.dirty = dirty;
        self.world.spawn(Hosted { common, state }).id()
    }

    /// Finds the entity for `id`, activating it from the store or creating it
    /// under the [`UnknownPolicy::Create`] policy.
    fn locate(&mut self, id: EntityId, now: SimTime) -> Result<Entity, InputError> {
        if let Some(e) = self.index.get(&id) {
            return Ok(*e);
        }
        if let Some(store) = &self.store
            && let Some(record) = store.get_state(id).map_err(|e| unavailable(id, e))?
        {
            return Ok(self.spawn(record, now, false));
        }
        match self.policy {
            UnknownPolicy::Reject => Err(InputError::UnknownEntity(id)),
            UnknownPolicy::Create => {
                let record = EntityRecord {
                    name: local_name(id),
                    common: Common::new(id, ""),
                    state: KindState::default_for(id.kind()),
                    inferred: Default::default(),
                };
                self.events.push(Event {
                    time: now,
                    entity: id,
                    body: EventBody::Created,
                });
                Ok(self.spawn(record, now, true))
            }
        }
    }

    /// Looks up the resident entities of a batch in one tight pass. Index
    /// lookups are cache misses on a large table; done back to back they
    /// overlap in the CPU, while interleaved with handler work they cannot.
    pub fn resolve(&self, ids: impl Iterator<Item = EntityId>, out: &mut Vec<Option<Entity>>) {
        out.clear();
        out.extend(ids.map(|id| self.index.get(&id).copied()));
    }

    /// Handles one observation. Outputs land in `self.events` / `self.commands`.
    pub fn observe(&mut self, obs: &Observation) -> Result<Applied, InputError> {
        self.observe_resolved(None, obs)
    }

    /// Applies an observation again from the journal after a crash, unless
    /// the entity's state already reflects it: it was stored (by a
    /// checkpoint or a passivation) after the observation was applied, so
    /// its reading of that measurand is of the same time or later.
    pub fn replay(&mut self, obs: &Observation) -> Result<Applied, InputError> {
        let e = self.locate(obs.entity, obs.time)?;
        let seen = by_kind!(obs.entity.kind(), self.reading_time_as(e, obs.measurand));
        if seen.is_some_and(|t| t >= obs.time) {
            return Ok(Applied::HistoryOnly);
        }
        by_kind!(obs.entity.kind(), self.apply_as(e, Input::Observe(obs)))
    }

    fn reading_time_as<S: Hostable>(
        &mut self,
        e: Entity,
        m: twin_core::Measurand,
    ) -> Option<SimTime> {
        let (h, _) = S::query(&mut self.queries).get(&self.world, e).ok()?;
        h.common.readings.get(m).map(|r| r.time)
    }

    /// Handles one observation whose entity [`ShardCore::resolve`] may have found.
    pub fn observe_resolved(
        &mut self,
        entity: Option<Entity>,
        obs: &Observation,
    ) -> Result<Applied, InputError> {
        let e = match entity {
            Some(e) => e,
            None => self.locate(obs.entity, obs.time)?,
        };
        by_kind!(obs.entity.kind(), self.apply_as(e, Input::Observe(obs)))
    }

    /// Applies one input to a resident entity of kind `S`: its handler, then
    /// the bookkeeping every input shares (latest activity, changed).
    fn apply_as<S: Hostable>(&mut self, e: Entity, input: Input) -> Result<Applied, InputError> {
        let (entity, time) = match input {
            Input::Observe(o) => (o.entity, o.time),
            Input::Command(c) => (c.entity, c.time),
        };
        let (mut h, followers) = S::query(&mut self.queries)
            .get_mut(&mut self.world, e)
            .expect("an indexed entity has its kind's component");
        let h = &mut *h;
        let before = self.events.len();
        let mut ctx = state::Ctx::new(entity, time, &mut self.events, &mut self.commands);
        let result = match input {
            Input::Observe(o) => state::observe(&mut h.state, &mut h.common, o, &mut ctx),
            Input::Command(c) => {
                state::command(&mut h.state, &mut h.common, c, &mut ctx).map(|()| Applied::Current)
            }
        };
        if let (Ok(Applied::Current), Input::Observe(o)) = (&result, input) {
            pass_on(&h.common, o, &mut self.attached);
        }
        if let (Ok(Applied::Current), Input::Observe(o), Some(host), Some(mut f)) =
            (&result, input, &mut self.host, followers)
        {
            host.follow(
                &mut f,
                &mut h.state,
                &mut h.common,
                o,
                &mut ctx,
                &mut self.derived,
            );
        }
        note_alerts(&mut self.alerting, &h.common, &self.events[before..]);
        // A refused input changes nothing: not the time of the last
        // update (which passivation and staleness read), not what is saved.
        if result.is_ok() {
            h.common.updated = h.common.updated.max(time);
            h.common.dirty = true;
        }
        result
    }

    /// Handles one command.
    pub fn command(&mut self, cmd: &Command) -> Result<(), InputError> {
        let e = self.locate(cmd.entity, cmd.time)?;
        by_kind!(cmd.entity.kind(), self.apply_as(e, Input::Command(cmd))).map(|_| ())
    }

    /// Periodic upkeep of every resident entity at `now` (staleness…).
    pub fn tick(&mut self, now: SimTime) {
        for kind in Kind::ALL {
            by_kind!(kind, self.tick_as(now));
        }
    }

    fn tick_as<S: Hostable>(&mut self, now: SimTime) {
        for (mut h, _) in S::query(&mut self.queries).iter_mut(&mut self.world) {
            let h = &mut *h;
            let before = self.events.len();
            let mut ctx = state::Ctx::new(h.common.id, now, &mut self.events, &mut self.commands);
            state::tick_kind(&mut h.state, &mut h.common, &mut ctx);
            if self.events.len() != before {
                h.common.dirty = true;
                note_alerts(&mut self.alerting, &h.common, &self.events[before..]);
            }
        }
    }

    /// Records of the resident entities with no input since `cutoff`, for
    /// the shard to write before [`ShardCore::evict`] drops them. Without a
    /// store nothing is idle: memory is the only copy.
    pub fn idle(&mut self, cutoff: SimTime) -> Vec<(Entity, EntityRecord)> {
        let mut idle = Vec::new();
        if self.store.is_some() {
            for kind in Kind::ALL {
                by_kind!(
                    kind,
                    self.collect_as(&mut idle, true, |h| h.common.updated < cutoff)
                );
            }
        }
        idle
    }

    /// Drops written entities from memory; reads then go to the store.
    pub fn evict(&mut self, written: &[(Entity, EntityRecord)]) {
        for (e, r) in written {
            self.world.despawn(*e);
            self.index.remove(&r.id());
            self.order.remove(&r.id());
            self.alerting.remove(&r.id());
        }
    }

    /// Records of every changed resident entity.
    pub fn dirty(&mut self) -> Vec<(Entity, EntityRecord)> {
        let mut dirty = Vec::new();
        for kind in Kind::ALL {
            by_kind!(kind, self.collect_as(&mut dirty, true, |h| h.common.dirty));
        }
        dirty
    }

    /// Records of the given entities that are resident, as the store keeps
    /// them (with their models' states).
    pub fn records_of(&mut self, ids: &[EntityId]) -> Vec<(Entity, EntityRecord)> {
        ids.iter()
            .filter_map(|id| {
                let e = *self.index.get(id)?;
                Some((e, by_kind!(id.kind(), self.snapshot_as(e, true))?))
            })
            .collect()
    }

    /// Marks entities as written to the store as they are.
    pub fn mark_clean(&mut self, written: &[(Entity, EntityRecord)]) {
        for (e, r) in written {
            by_kind!(r.id().kind(), self.mark_clean_as(*e));
        }
    }

    fn mark_clean_as<S: Hostable>(&mut self, e: Entity) {
        if let Ok((mut h, _)) = S::query(&mut self.queries).get_mut(&mut self.world, e) {
            h.common.dirty = false;
        }
    }

    /// Records of the entities `pick` takes; with `states`, as the store
    /// keeps them.
    fn collect_as<S: Hostable>(
        &mut self,
        out: &mut Vec<(Entity, EntityRecord)>,
        states: bool,
        pick: impl Fn(&Hosted<S>) -> bool,
    ) {
        let host = self.host.as_ref();
        let mut q = self
            .world
            .query::<(Entity, &Hosted<S>, Option<&Followers>)>();
        out.extend(
            q.iter(&self.world)
                .filter(|(_, h, _)| pick(h))
                .map(|(e, h, f)| (e, record_of(h, host.zip(f), states))),
        );
    }

    /// The current record of a resident entity.
    pub fn snapshot(&mut self, id: EntityId) -> Option<EntityRecord> {
        let e = *self.index.get(&id)?;
        by_kind!(id.kind(), self.snapshot_as(e, false))
    }

    fn snapshot_as<S: Hostable>(&mut self, e: Entity, states: bool) -> Option<EntityRecord> {
        let (h, f) = S::query(&mut self.queries)
            .get(&self.world, e)
            .expect("an indexed entity has its kind's component");
        Some(record_of(h, self.host.as_ref().zip(f), states))
    }

    /// Lockstep: moves the events from `from` on into `out`, tagged with
    /// `index`, each folded into its entity's chain with its digest.
    pub fn drain_logged(&mut self, from: usize, index: u32, out: &mut Vec<(u32, Event, u64)>) {
        let chains = &mut self.chains;
        out.extend(self.events.drain(from..).map(|e| {
            let digest = chains.push(&e);
            (index, e, digest)
        }));
    }

    /// Where passivated entities live, if anywhere.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Resident entities after `after`, in id order, that `keep` accepts:
    /// at most `limit`, looking at no more than `budget`. The second value
    /// is the last id looked at when it stopped before the end.
    pub fn resident_page(
        &mut self,
        after: Option<EntityId>,
        limit: usize,
        budget: usize,
        keep: &dyn Fn(&EntityRecord) -> bool,
    ) -> (Vec<EntityRecord>, Option<EntityId>) {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = after.map_or(Unbounded, Excluded);
        let ids: Vec<EntityId> = self
            .order
            .range((from, Unbounded))
            .take(budget.max(1))
            .copied()
            .collect();
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if let Some(r) = self.snapshot(*id).filter(|r| keep(r)) {
                out.push(r);
                if out.len() >= limit {
                    return (out, Some(*id));
                }
            }
            if i + 1 == budget.max(1) {
                return (out, Some(*id));
            }
        }
        (out, None)
    }

    /// Resident ids after `after` with an open alert, in id order, at most
    /// `limit`.
    pub fn alerting_after(&self, after: Option<EntityId>, limit: usize) -> Vec<EntityId> {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = after.map_or(Unbounded, Excluded);
        self.alerting
            .range((from, Unbounded))
            .take(limit)
            .copied()
            .collect()
    }

    /// Records of every resident entity, optionally of one kind.
    pub fn resident_records(&mut self, kind: Option<Kind>) -> Vec<EntityRecord> {
        let mut out = Vec::new();
        for k in Kind::ALL
            .into_iter()
            .filter(|k| kind.is_none_or(|x| x == *k))
        {
            by_kind!(k, self.collect_as(&mut out, false, |_| true));
        }
        out.into_iter().map(|(_, r)| r).collect()
    }
}

/// Keeps `alerting` true to an entity that may just have raised or cleared
/// an alert (`events` are the ones its input emitted).
fn note_alerts(alerting: &mut BTreeSet<EntityId>, common: &Common, events: &[Event]) {
    let changed = events.iter().any(|e| {
        matches!(
            e.body,
            EventBody::AlertRaised { .. } | EventBody::AlertCleared { .. }
        )
    });
    if changed {
        if common.readings.worst_level() == AlarmLevel::Normal {
            alerting.remove(&common.id);
        } else {
            alerting.insert(common.id);
        }
    }
}

/// Passes a sensor's reading on to each entity it is attached to, so that a
/// machine shows its sensors' vibration and a parcel its probe's moisture.
/// A reading already passed on, and a device's own battery, stay where
/// they are.
fn pass_on(common: &Common, obs: &Observation, out: &mut Vec<Observation>) {
    if obs.source == Source::Attached || obs.measurand == twin_core::Measurand::Battery {
        return;
    }
    for r in common.relations() {
        if let Relation::AttachedTo(target) = r {
            out.push(Observation {
                entity: *target,
                source: Source::Attached,
                ..obs.clone()
            });
        }
    }
}

/// The local name of `id`, or its hash when this process never learnt it
/// (an entity created by the policy from a bare id).
fn local_name(id: EntityId) -> String {
    id.local_name()
        .unwrap_or_else(|| format!("#{:x}", id.raw()))
}

/// An entity's record; with `states`, its models' states too (for the
/// store: they are serialised, which costs).
fn record_of<S: KindBehaviour>(
    h: &Hosted<S>,
    followed: Option<(&Host, &Followers)>,
    states: bool,
) -> EntityRecord {
    EntityRecord {
        name: local_name(h.common.id),
        common: h.common.clone(),
        state: h.state.clone().into_state(),
        inferred: followed.map_or_else(Default::default, |(host, f)| host.inferred(f, states)),
    }
}

/// A store error met while looking for `id`: the input is refused as such.
fn unavailable(id: EntityId, e: StoreError) -> InputError {
    tracing::error!("{id}: {e}");
    InputError::StoreUnavailable {
        entity: id,
        reason: e.to_string(),
    }
}
