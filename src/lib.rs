//! # twin: the runtime joined to its worlds
//!
//! The `twin` command is built on this library, and other projects can use it
//! in their tests: load a scenario, run it for a while on a real runtime, and
//! look at what the twin made of it (its events) and at what really happened
//! (the world's ground truth).
//!
//! ```
//! use twin::{RunScenario, Scenario, hours};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/scenarios/factory.toml");
//! let run = Scenario::load(path)?.with_seed(7).with_scale(0.5).run_for(hours(24))?;
//!
//! // The twin raised alerts from what the sensors reported…
//! let alerts = run.events.iter().filter(|e| e.body.event_type() == twin::EventType::AlertRaised);
//! assert!(alerts.count() > 0);
//! // …and the world knows what really happened: the scenario's maintenance
//! // planner sent technicians, who serviced machines or repaired failed ones.
//! assert!(run.truth.technician_hours > 0.0);
//! assert!(run.truth.machines.iter().any(|m| m.planned_h > 0.0 || m.failures > 0));
//! # Ok(()) }
//! ```
//!
//! A run is deterministic: the same scenario and seed give the same events
//! and the same `event_log_hash`, whatever the number of worker threads.

pub mod bench;
pub mod bench_grpc;
pub mod bench_inference;
pub mod bench_loadgen;
pub mod bench_ndvi;
pub mod bench_planning;
pub mod bench_store;
pub mod control;
pub mod drive;
pub mod eval;
pub mod feed;
pub mod fuzz;
pub mod loadgen;
pub mod ndvi;
pub mod progress;
pub mod replay;
pub mod run;
pub mod store_args;
pub mod train;

pub use twin_core::{Event, EventType, SimTime};
pub use twin_scenarios::{GroundTruth, Scenario, SimWorld};

use twin_actors::{Delivery, Filter, Runtime, RuntimeConfig};

/// `n` hours of simulated time.
pub fn hours(n: i64) -> SimTime {
    SimTime::hours(n)
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Every event the twin emitted, in the order of its event log.
    pub events: Vec<Event>,
    /// The world's truth at the end of the run.
    pub truth: GroundTruth,
    pub tally: drive::Tally,
    /// Hash of the event log: equal for equal runs.
    pub event_log_hash: u64,
}

/// Runs a scenario on a fresh in-memory runtime.
pub trait RunScenario {
    /// Runs for `duration` of simulated time, as fast as possible, with
    /// `workers` shard threads (2 by default through [`RunScenario::run_for`]).
    fn run_with(
        self,
        duration: SimTime,
        workers: usize,
    ) -> Result<Outcome, Box<dyn std::error::Error>>;

    fn run_for(self, duration: SimTime) -> Result<Outcome, Box<dyn std::error::Error>>
    where
        Self: Sized,
    {
        self.run_with(duration, 2)
    }
}

impl RunScenario for Scenario {
    fn run_with(
        self,
        duration: SimTime,
        workers: usize,
    ) -> Result<Outcome, Box<dyn std::error::Error>> {
        let world = SimWorld::new(&self)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let runtime = Runtime::start(
                RuntimeConfig {
                    bus_capacity: 1 << 16,
                    models: self.models()?,
                    planners: self.planners()?,
                    ..bench::lockstep_config(workers)
                },
                None,
            )?;
            let mut events = Vec::new();
            let mut sub = runtime.bus().subscribe(Filter::all());
            let mut driver = drive::Driver::start(&runtime, world, SimTime::ZERO, None).await?;
            let stride = driver.world.tick().max(drive::TICK_EVERY);
            let mut drain = |sub: &mut twin_actors::Subscription| -> Result<(), String> {
                while let Some(d) = sub.try_recv() {
                    match d {
                        Delivery::Events(batch) => events.extend(batch.iter().cloned()),
                        Delivery::Lagged { missed } => return Err(format!("lost {missed} events")),
                        Delivery::Closed => break,
                    }
                }
                Ok(())
            };
            while driver.now() < duration {
                let to = (driver.now() + stride).min(duration);
                driver.step(to).await?;
                drain(&mut sub)?;
            }
            let (mut world, tally) = driver.finish().await?;
            drain(&mut sub)?;
            let event_log_hash = runtime.event_log_hash().1;
            runtime.shutdown().await?;
            Ok(Outcome {
                events,
                truth: world.truth(),
                tally,
                event_log_hash,
            })
        })
    }
}

/// The async runtime of a command: two worker threads, the machine's
/// cores, shared by its tasks (the API, feeds, sinks).
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
