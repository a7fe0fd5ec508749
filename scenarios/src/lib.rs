//! # twin-scenarios: the simulated world
//!
//! The ground truth that the twin never sees directly: a world that evolves
//! and emits observations through sensors, and acts on the commands the twin
//! sends back. It talks to the runtime only through the
//! [`ObservationSource`](twin_core::ports::ObservationSource) and
//! [`CommandSink`](twin_core::ports::CommandSink) traits of twin-core.
//!
//! For now it holds the built-in [`demo`] world; scenario files, the bevy_ecs
//! world simulator for the three domains and load-generation sinks come next.

pub mod demo;

pub use demo::DemoWorld;
