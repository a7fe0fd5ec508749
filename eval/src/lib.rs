//! Scoring of the twin's models the way published benchmarks define it, so
//! that a figure the twin reports can be set beside the published record.
//! It reads results and labels; it never runs a model (the `twin eval`
//! commands run the twin's own models and hand their outputs here).

pub mod cmapss;
pub mod nab;
