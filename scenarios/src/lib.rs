//! # twin-scenarios: the simulated world
//!
//! The ground truth that the twin never sees directly. A [`Scenario`] file
//! (TOML) describes a region, its populations, sensor models and random
//! processes; [`SimWorld`] builds a bevy_ecs world from it and advances it tick
//! by tick, emitting observations through sensors and acting on the commands
//! the twin sends back. It talks to the runtime only through the
//! [`ObservationSource`](twin_core::ports::ObservationSource) and
//! [`CommandSink`](twin_core::ports::CommandSink) traits of twin-core, and
//! exposes the truth the twin cannot see ([`GroundTruth`]) for scoring.

pub mod bench;
pub mod calendar;
pub mod catalog;
pub mod geojson;
pub mod limits;
pub mod profiles;
pub mod sensor;
pub mod site;
mod size;
pub mod spec;
pub mod world;

pub use spec::{Scenario, ScenarioError, ScenarioSpec};
pub use world::{GroundTruth, SimWorld};
