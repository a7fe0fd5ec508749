//! Entity state: what is common to every kind, and the typed state per kind.
//!
//! Every entity has [`Common`] data (subtype, tags, relationships, desired
//! values, and [`Readings`]: the last reported value of each measurand) and one
//! kind-specific state. Each kind's behaviour is a plain function of
//! (state, input, context) in its own module, with no I/O, so the runtime, the
//! lockstep replayer and the tests all run the same code.

mod behaviour;
mod controls;
mod machine;
mod parcel;
mod readings;
mod sensor;
mod vehicle;
mod zone;

use compact_str::CompactString;

use crate::subtype::Subtype;
use serde::{Deserialize, Serialize};

pub use behaviour::{
    Applied, Ctx, InputError, KindBehaviour, apply_command, apply_observation, command, observe,
    tick, tick_kind, validate,
};
pub use controls::{Control, ControlView};
pub use machine::{MachineState, MachineStatus, RulEstimate};
pub use parcel::{CropHealth, GrowthStage, ParcelState, ndvi};
pub use readings::{ALARM_DELAY, AlarmLevel, Reading, Readings};
pub use sensor::SensorState;
pub use vehicle::{VehicleMode, VehicleState, VehicleStatus};
pub use zone::{ZoneShape, ZoneState, ZoneType};

use crate::id::{EntityId, Kind};
use crate::measurand::{AlarmLimits, Measurand};
use crate::observation::Quality;
use crate::time::SimTime;

/// A relationship from one entity to another. Stored forward on the entity and
/// indexed both ways by the store, so "what is attached to press-07" is a
/// prefix scan, not a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// A sensor attached to a machine, parcel, vehicle or zone.
    AttachedTo(EntityId),
    /// A parcel, machine or sensor lying in a zone.
    LiesIn(EntityId),
    /// A zone over what it affects: a disease zone over its parcels. Set
    /// and replaced by whoever maintains the zone, as the zone changes.
    Affects(EntityId),
    /// A parcel or bed watered by an irrigation pump (a machine).
    FedBy(EntityId),
}

impl Relation {
    pub fn target(self) -> EntityId {
        match self {
            Relation::AttachedTo(t)
            | Relation::LiesIn(t)
            | Relation::Affects(t)
            | Relation::FedBy(t) => t,
        }
    }
    pub fn code(self) -> u8 {
        match self {
            Relation::AttachedTo(_) => 1,
            Relation::LiesIn(_) => 2,
            Relation::Affects(_) => 3,
            Relation::FedBy(_) => 4,
        }
    }
    pub fn from_code(code: u8, target: EntityId) -> Option<Relation> {
        match code {
            1 => Some(Relation::AttachedTo(target)),
            2 => Some(Relation::LiesIn(target)),
            3 => Some(Relation::Affects(target)),
            4 => Some(Relation::FedBy(target)),
            _ => None,
        }
    }
    /// Checks the kinds at both ends make sense.
    pub fn check(self, from: EntityId) -> Result<(), InputError> {
        let ok = match self {
            Relation::AttachedTo(t) => from.kind() == Kind::Sensor && t.kind() != Kind::Sensor,
            Relation::LiesIn(t) => t.kind() == Kind::Zone && from != t,
            Relation::Affects(t) => from.kind() == Kind::Zone && t.kind() != Kind::Zone,
            Relation::FedBy(t) => from.kind() == Kind::Parcel && t.kind() == Kind::Machine,
        };
        if ok {
            Ok(())
        } else {
            Err(InputError::BadRelation {
                from,
                relation: self,
            })
        }
    }
}

/// Rarely-present common data, boxed so that an entity without tags,
/// relationships or desired values costs one pointer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    pub tags: Vec<CompactString>,
    pub relations: Vec<Relation>,
    pub controls: Vec<Control>,
    /// Alarm limits of this entity that replace its measurands' defaults
    /// (set by a site file or a `set_limits` command). Stored after the
    /// record (see the store), so that records written before it read.
    #[serde(skip)]
    pub limits: Vec<(Measurand, AlarmLimits)>,
}

/// What every entity carries whatever its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Common {
    pub id: EntityId,
    /// Domain subtype: "cocoa", "bus", "cnc-mill", "pm25", "district"…
    pub subtype: Subtype,
    /// Changed since a host last stored it. Bookkeeping for hosts, kept here
    /// because it fits in padding that a separate field would not.
    #[serde(skip)]
    pub dirty: bool,
    /// Time of the last input applied.
    pub updated: SimTime,
    pub readings: Readings,
    pub extras: Option<Box<Extras>>,
}

impl Common {
    pub fn new(id: EntityId, subtype: &str) -> Common {
        Common {
            id,
            subtype: Subtype::new(subtype),
            dirty: false,
            updated: SimTime::MIN,
            readings: Readings::default(),
            extras: None,
        }
    }
    pub fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Default::default)
    }

    /// The alarm limits of `m` for this entity: its own, else the
    /// measurand's defaults.
    #[inline]
    pub fn limits(&self, m: Measurand) -> Option<AlarmLimits> {
        match &self.extras {
            Some(e) if !e.limits.is_empty() => e
                .limits
                .iter()
                .find(|(x, _)| *x == m)
                .map_or_else(|| m.alarm(), |(_, l)| Some(*l)),
            _ => m.alarm(),
        }
    }

    /// This entity's own limits (`None`: back to the defaults).
    pub fn set_limits(&mut self, m: Measurand, limits: Option<AlarmLimits>) {
        let own = &mut self.extras_mut().limits;
        own.retain(|(x, _)| *x != m);
        if let Some(l) = limits {
            own.push((m, l));
        }
    }
    pub fn relations(&self) -> &[Relation] {
        self.extras.as_deref().map_or(&[], |e| &e.relations)
    }
    /// What the entity affects (a disease zone: its parcels).
    pub fn affects(&self) -> impl Iterator<Item = EntityId> + '_ {
        self.relations().iter().filter_map(|r| match r {
            Relation::Affects(t) => Some(*t),
            _ => None,
        })
    }
    pub fn tags(&self) -> &[CompactString] {
        self.extras.as_deref().map_or(&[], |e| &e.tags)
    }
    pub fn controls(&self) -> &[Control] {
        self.extras.as_deref().map_or(&[], |e| &e.controls)
    }
    /// Desired against reported for every commandable property.
    pub fn control_views(&self) -> Vec<ControlView> {
        self.controls()
            .iter()
            .map(|c| c.view(&self.readings))
            .collect()
    }
}

/// The kind-specific state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindState {
    Parcel(ParcelState),
    Machine(MachineState),
    Sensor(SensorState),
    Vehicle(VehicleState),
    Zone(ZoneState),
}

impl KindState {
    pub fn kind(&self) -> Kind {
        match self {
            KindState::Parcel(_) => Kind::Parcel,
            KindState::Machine(_) => Kind::Machine,
            KindState::Sensor(_) => Kind::Sensor,
            KindState::Vehicle(_) => Kind::Vehicle,
            KindState::Zone(_) => Kind::Zone,
        }
    }
    /// The state a newly created entity of `kind` starts with.
    pub fn default_for(kind: Kind) -> KindState {
        match kind {
            Kind::Parcel => KindState::Parcel(ParcelState::default()),
            Kind::Machine => KindState::Machine(MachineState::default()),
            Kind::Sensor => KindState::Sensor(SensorState::default()),
            Kind::Vehicle => KindState::Vehicle(VehicleState::default()),
            Kind::Zone => KindState::Zone(ZoneState::default()),
        }
    }
}

/// A whole entity, as stored, listed and inspected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    /// The local name (`press-07` of `machine/press-07`).
    pub name: String,
    pub common: Common,
    pub state: KindState,
    /// What inference keeps for the entity. Not part of the record's own
    /// encoding (nor of its hash): the store writes it after the record, so
    /// that records written before inference existed still read.
    #[serde(skip)]
    pub inferred: Inferred,
}

/// What inference models keep for one entity: which model wrote each
/// derived reading, and each model's saved state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inferred {
    /// The model (name/version) behind each derived reading.
    pub provenance: Vec<(Measurand, std::sync::Arc<str>)>,
    /// Each model's state for this entity, by the model's key (its
    /// `[[inference]]` name).
    pub saved: Vec<(String, Vec<u8>)>,
}

impl Inferred {
    pub fn is_empty(&self) -> bool {
        self.provenance.is_empty() && self.saved.is_empty()
    }
    /// The model that wrote reading `m`, if a model did.
    pub fn provenance_of(&self, m: Measurand) -> Option<&str> {
        self.provenance
            .iter()
            .find(|(x, _)| *x == m)
            .map(|(_, p)| &**p)
    }
}

impl EntityRecord {
    /// A new entity `kind/name` of `subtype` in its default state.
    pub fn new(kind: Kind, name: &str, subtype: &str) -> EntityRecord {
        let id = EntityId::new(kind, name);
        EntityRecord {
            name: name.to_string(),
            common: Common::new(id, subtype),
            state: KindState::default_for(kind),
            inferred: Inferred::default(),
        }
    }
    pub fn id(&self) -> EntityId {
        self.common.id
    }
    pub fn with_state(mut self, state: KindState) -> Self {
        assert_eq!(state.kind(), self.id().kind(), "state of another kind");
        self.state = state;
        self
    }
    pub fn with_relation(mut self, relation: Relation) -> Self {
        self.common.extras_mut().relations.push(relation);
        self
    }
    pub fn with_tag(mut self, tag: &str) -> Self {
        self.common.extras_mut().tags.push(tag.into());
        self
    }
    /// Checks the record is coherent before it is created, and remembers its
    /// name: a record that arrived decoded (from a recording, a client) is
    /// named like one built in this process.
    pub fn check(&self) -> Result<(), InputError> {
        let id = self.id();
        if EntityId::of(id.kind(), &self.name) != id || self.state.kind() != id.kind() {
            return Err(InputError::IdMismatch(id));
        }
        if !crate::names::consistent(id, &self.name) {
            return Err(InputError::NameCollision(id, self.name.clone()));
        }
        self.common
            .relations()
            .iter()
            .try_for_each(|r| r.check(id))?;
        crate::names::record(id, &self.name);
        Ok(())
    }
}

/// Any status an entity can be in, for [`crate::event::EventBody::StatusChanged`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Machine(MachineStatus),
    Sensor(Quality),
    Vehicle(VehicleStatus),
    Zone(AlarmLevel),
    Crop(CropHealth),
}
