//! # twin-plan: planning actors
//!
//! A planner reacts to what the twin publishes (readings, findings of the
//! inference models, status changes), decides, and acts only through
//! commands to entities, which the twin passes on to the world in a
//! simulation or to a live sink otherwise. Like the models of
//! `twin-infer`, a planner has no clock, thread or I/O of its own: the
//! runtime hands it the events it asked for and steps it at each upkeep
//! tick; its state saves to bytes and restores.
//!
//! Adding a planner is one file in this crate plus one line in
//! [`REGISTRY`]; a scenario or site configures them in `[[planning]]`.

pub mod irrigation;
pub mod maintenance;
pub mod schedule;

use serde::{Deserialize, Serialize};
use twin_core::plan::Plan;
use twin_core::workorder::WorkOrder;
use twin_core::{Command, EntityId, Event, EventType, Kind, SimTime};

/// Errors building a planner or restoring its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown planner {0:?} (known: {known})", known = known())]
    Unknown(String),
    #[error("planner {planner}: {what}")]
    Params { planner: String, what: String },
    #[error("planner {planner}: saved state: {what}")]
    State { planner: String, what: String },
}

fn known() -> String {
    REGISTRY
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `[[planning]]` entry of a scenario or a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name from [`REGISTRY`].
    pub planner: String,
    /// What its saved state is kept under; the planner's name when not
    /// given. Two entries of one planner need names.
    pub name: Option<String>,
    /// The planner's own settings; each refuses keys it does not know.
    #[serde(default)]
    pub params: toml::Table,
}

impl Spec {
    pub fn key(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.planner)
    }

    /// The parameters as the planner's own settings type, unknown keys
    /// refused.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        toml::Value::Table(self.params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| Error::Params {
                planner: self.planner.clone(),
                what: e.message().to_string(),
            })
    }
}

/// Which events a planner is handed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wants {
    /// Of entities of these kinds (empty: every kind).
    pub kinds: Vec<Kind>,
    pub types: Vec<EventType>,
}

/// An event with what the host knows of its entity.
pub struct Seen<'a> {
    pub event: &'a Event,
    pub subtype: &'a str,
    /// Where the entity is, (lon, lat).
    pub place: Option<(f64, f64)>,
    /// What the entity is attached to (a sensor's machine).
    pub attached_to: Option<EntityId>,
    /// The pump that waters it (a parcel).
    pub fed_by: Option<EntityId>,
    /// Its area, m² (a parcel).
    pub area_m2: Option<f64>,
}

pub trait Planner: Send {
    fn wants(&self) -> Wants;
    /// Takes one event, in the order the twin published them.
    fn observe(&mut self, seen: &Seen<'_>);
    /// Decides at `now`, scheduling through `solve`; the commands go to
    /// the twin in order.
    fn step(&mut self, now: SimTime, solve: &mut dyn schedule::Solve, out: &mut Vec<Command>);
    /// Its work orders, oldest first.
    fn work_orders(&self) -> &[WorkOrder] {
        &[]
    }
    /// Its plans, oldest first.
    fn plans(&self) -> &[Plan] {
        &[]
    }
    /// Changes whenever what [`Planner::work_orders`] or
    /// [`Planner::plans`] returns changes.
    fn revision(&self) -> u64;
    fn save(&self) -> Vec<u8>;
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

type Build = fn(&Spec) -> Result<Box<dyn Planner>, Error>;

/// Every planner, by name: one line each.
pub const REGISTRY: &[(&str, Build)] = &[
    ("maintenance", maintenance::build),
    ("irrigation", irrigation::build),
];

/// The planners a twin runs, as configured: checked once, built afresh for
/// each runtime.
#[derive(Debug, Clone, Default)]
pub struct Planners {
    specs: Vec<Spec>,
}

impl Planners {
    /// Checks every entry (name known, parameters valid, keys distinct).
    pub fn new(specs: &[Spec]) -> Result<Planners, Error> {
        let mut keys = std::collections::HashSet::new();
        for s in specs {
            build(s)?;
            if !keys.insert(s.key()) {
                return Err(Error::Params {
                    planner: s.planner.clone(),
                    what: format!("two entries are kept under {:?}: name one", s.key()),
                });
            }
        }
        Ok(Planners {
            specs: specs.to_vec(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// A fresh instance of each, under its key.
    pub fn instances(&self) -> Vec<(String, Box<dyn Planner>)> {
        self.specs
            .iter()
            .map(|s| (s.key().to_string(), build(s).expect("checked in new")))
            .collect()
    }
}

/// A planner's state as bytes (postcard).
fn save<T: Serialize>(state: &T) -> Vec<u8> {
    postcard::to_allocvec(state).expect("planner state serialises")
}

/// A planner's state from [`save`]'s bytes; an error names the planner.
fn restore<T: serde::de::DeserializeOwned>(planner: &str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::State {
        planner: planner.to_string(),
        what: e.to_string(),
    })
}

fn build(spec: &Spec) -> Result<Box<dyn Planner>, Error> {
    let (_, b) = REGISTRY
        .iter()
        .find(|(n, _)| *n == spec.planner)
        .ok_or_else(|| Error::Unknown(spec.planner.clone()))?;
    b(spec)
}
