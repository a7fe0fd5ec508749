//! Models over many entities at once: where a follower ([`crate::models`])
//! sees one entity's readings, an area model sees the readings of every
//! entity its selector admits, with where each entity lies, and maintains
//! entities of its own (a disease zone over the parcels it affects).
//!
//! The runtime hosts one instance of each configured area model. It hands
//! the model, in the order the twin applied them, the readings its selector
//! admits ([`Area::observe`]), then at each upkeep tick asks it to decide
//! ([`Area::step`]); what the model writes ([`AreaOutputs`]) goes back in
//! as inputs like any other: new entities, derived readings (source
//! `Inference`), and the relations of the entities it keeps. An area model
//! has no clock, thread or I/O, so lockstep replay reproduces it; its state
//! saves to bytes and restores.
//!
//! Adding an area model is one file in this folder plus one line in
//! [`REGISTRY`].

pub mod disease;
pub mod districts;

use twin_core::state::EntityRecord;
use twin_core::{EntityId, Measurand, Observation, SimTime, Value};

use crate::models::{Error, Selector, Spec};

/// A duration setting written as text ("1d", "5m") in a model's params.
pub(crate) mod duration {
    use serde::{Deserialize, Deserializer};
    use twin_core::SimTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SimTime, D::Error> {
        let text = String::deserialize(d)?;
        SimTime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Where an entity lies: its centre (WGS84) and the radius of a disc of its
/// area (0 for a point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Place {
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
}

/// One reading an area model is given.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    pub entity: EntityId,
    pub subtype: &'a str,
    /// Where the entity lies, when it has a shape or a position.
    pub place: Option<Place>,
    /// The zones it lies in (its `lies_in` relations).
    pub zones: &'a [EntityId],
    pub time: SimTime,
    pub measurand: Measurand,
    pub value: &'a Value,
}

/// What an area model decided at one step.
#[derive(Debug, Default)]
pub struct AreaOutputs {
    /// Entities to create (the model's own, before their first readings).
    pub create: Vec<EntityRecord>,
    /// Readings of the model's entities (source `Inference` for an
    /// estimate, `Aggregate` for a figure computed from other readings).
    pub readings: Vec<Observation>,
    /// The full new set of what each entity affects.
    pub affects: Vec<(EntityId, Vec<EntityId>)>,
}

impl AreaOutputs {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.readings.is_empty() && self.affects.is_empty()
    }
}

/// One area model's whole state.
pub trait Area: Send {
    /// Name and version, the provenance of every output.
    fn provenance(&self) -> &str;
    fn selector(&self) -> &Selector;
    /// Takes one reading the selector admitted, in the twin's order.
    fn observe(&mut self, reading: Reading);
    /// Decides at `now` (an upkeep tick) and writes what changes.
    fn step(&mut self, now: SimTime, out: &mut AreaOutputs);
    fn save(&self) -> Vec<u8>;
    /// Takes the state [`Area::save`] wrote, replacing its own.
    fn restore(&mut self, saved: &[u8]) -> Result<(), Error>;
}

type Build = fn(&Spec) -> Result<Box<dyn Area>, Error>;

/// Every area model the twin knows, by the name `[[inference]]` gives.
pub const REGISTRY: &[(&str, Build)] = &[
    ("disease_zones", disease::build),
    ("district_aggregates", districts::build),
];

/// Whether `model` names an area model.
pub fn is_area(model: &str) -> bool {
    REGISTRY.iter().any(|(n, _)| *n == model)
}

/// Builds the area model a spec names.
pub fn build(spec: &Spec) -> Result<Box<dyn Area>, Error> {
    let (_, build) = REGISTRY
        .iter()
        .find(|(n, _)| *n == spec.model)
        .ok_or_else(|| Error::Unknown(spec.model.clone()))?;
    build(spec)
}
