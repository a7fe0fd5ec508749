//! The twin's models, as pure state machines: each follows one stream of
//! values and keeps its own bounded state, with no clock, thread or I/O of
//! its own, so that the runtime can host one per series next to its entity
//! and replay reproduces every output.

pub mod anomaly;
pub mod areas;
pub mod forecast;
pub mod models;
pub mod raster;
pub mod rul;
pub mod track;
