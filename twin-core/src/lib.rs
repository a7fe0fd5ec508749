//! # twin-core: the vocabulary of the twin
//!
//! Everything the other crates agree on, with no async and no actors: entity
//! ids and the five [`Kind`]s, per-kind state and behaviour (plain functions of
//! state, input and context), observations, commands and events, virtual time
//! and its clock, geometry, deterministic random streams, and the sled-backed
//! [`store`]. Because behaviour lives here and does no I/O, the runtime, the
//! lockstep replayer and the tests all execute exactly the same code.

pub mod aqi;
pub mod command;
pub mod event;
pub mod geometry;
pub mod id;
pub mod measurand;
pub mod memory;
pub mod names;
pub mod observation;
pub mod plan;
pub mod ports;
pub mod recording;
pub mod rng;
pub mod state;
pub mod store;
pub mod subtype;
pub mod time;
pub mod value;
pub mod workorder;

pub use command::{Action, Command};
pub use event::{AlertId, EntityChains, Event, EventBody, EventLogHash, EventType, Severity};
pub use id::{EntityId, IdMap, Kind};
pub use measurand::Measurand;
pub use observation::{Observation, Quality, Source};
pub use state::{Common, EntityRecord, InputError, KindState, Relation};
pub use store::Store;
pub use time::{Clock, ClockMode, SimTime};
pub use value::Value;
