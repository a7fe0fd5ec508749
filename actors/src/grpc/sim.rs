//! Simulation control as the gRPC service sees it. The runtime does not know
//! the world; whatever drives one (the `twin run` loop) implements this.

use twin_core::state::InputError;
use twin_core::{ClockMode, Command, SimTime};

/// Where a simulation is.
#[derive(Clone, Debug)]
pub struct SimStatus {
    pub time: SimTime,
    pub clock: ClockMode,
    pub paused: bool,
    pub scenario: String,
    /// The Unix time of simulated time zero, ms.
    pub epoch_unix_ms: i64,
}

/// Why a scenario was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A request field is wrong (`INVALID_ARGUMENT`).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The run could not take it (`FAILED_PRECONDITION`).
    #[error("{0}")]
    Failed(String),
}

#[tonic::async_trait]
pub trait SimControl: Send + Sync + 'static {
    fn status(&self) -> SimStatus;
    fn pause(&self);
    fn resume(&self);
    /// Changes the clock; refused for modes the driver cannot run.
    fn set_clock(&self, mode: ClockMode) -> Result<(), String>;
    /// Advances by `dt` and returns once the step is done.
    async fn step(&self, dt: SimTime) -> Result<(), String>;
    /// Applies commands through the driver, so that the world receives what
    /// the twin issues; per-item errors by index.
    async fn command(&self, commands: Vec<Command>) -> Result<Vec<(usize, InputError)>, String>;
    fn scenarios(&self) -> Vec<String>;
    /// Replaces the running world by a scenario's.
    async fn load(
        &self,
        name: &str,
        seed: Option<u64>,
        scale: Option<f64>,
    ) -> Result<(), LoadError>;
}
