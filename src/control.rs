//! Simulation control of a `twin run` loop, as the gRPC service drives it.
//!
//! The service and the loop share a small state: requests (pause, resume,
//! clock, steps, commands) go in, the loop takes them between steps and
//! answers through one-shot channels, and publishes where it is.

use std::sync::Mutex;

use tokio::sync::{Notify, oneshot};
use twin_actors::grpc::{LoadError, SimControl, SimStatus};
use twin_core::state::InputError;
use twin_core::{ClockMode, Command, SimTime};
use twin_scenarios::Scenario;
use twin_scenarios::catalog::Catalog;

/// Commands waiting for the loop, with where to answer.
type PendingCommands = (Vec<Command>, oneshot::Sender<Vec<(usize, InputError)>>);

/// A scenario to load, with where to answer.
pub type PendingLoad = (Scenario, oneshot::Sender<Result<(), String>>);

#[derive(Default)]
struct State {
    time: SimTime,
    clock: Option<ClockMode>,
    paused: bool,
    clock_change: Option<ClockMode>,
    pause_change: Option<bool>,
    steps: Vec<(SimTime, oneshot::Sender<()>)>,
    commands: Vec<PendingCommands>,
    load: Option<PendingLoad>,
    scenario: String,
    epoch_unix_ms: i64,
}

/// What the loop takes at the top of each iteration.
#[derive(Default)]
pub struct Requests {
    pub clock: Option<ClockMode>,
    pub pause: Option<bool>,
    pub steps: Vec<(SimTime, oneshot::Sender<()>)>,
    pub commands: Vec<PendingCommands>,
    pub load: Option<PendingLoad>,
}

/// What a `LoadScenario` request may load.
pub struct LoadPolicy {
    pub catalog: Catalog,
    /// The largest world, in entities (`--max-entities`).
    pub max_entities: usize,
}

pub struct RunControl {
    state: Mutex<State>,
    loads: LoadPolicy,
    /// Wakes the loop when a request arrives.
    pub wake: Notify,
}

impl RunControl {
    /// A control for a run of `scenario`, whose time zero falls at
    /// `epoch_unix_ms`.
    pub fn new(
        scenario: &str,
        epoch_unix_ms: i64,
        clock: ClockMode,
        time: SimTime,
        loads: LoadPolicy,
    ) -> RunControl {
        RunControl {
            loads,
            state: Mutex::new(State {
                time,
                clock: Some(clock),
                scenario: scenario.to_string(),
                epoch_unix_ms,
                ..State::default()
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("control lock poisoned")
    }

    /// Takes the pending requests.
    pub fn take(&self) -> Requests {
        let mut s = self.lock();
        // What is taken is as good as done: the status shows it at once.
        let (clock, pause) = (s.clock_change.take(), s.pause_change.take());
        if let Some(c) = clock {
            s.clock = Some(c);
        }
        if let Some(p) = pause {
            s.paused = p;
        }
        Requests {
            clock,
            pause,
            steps: std::mem::take(&mut s.steps),
            commands: std::mem::take(&mut s.commands),
            load: s.load.take(),
        }
    }

    /// The loop reports the scenario it now runs.
    pub fn set_scenario(&self, name: &str, epoch_unix_ms: i64) {
        let mut s = self.lock();
        s.scenario = name.to_string();
        s.epoch_unix_ms = epoch_unix_ms;
    }

    /// The loop reports where it is.
    pub fn publish(&self, time: SimTime, clock: ClockMode, paused: bool) {
        let mut s = self.lock();
        s.time = time;
        s.clock = Some(clock);
        s.paused = paused;
    }
}

#[tonic::async_trait]
impl SimControl for RunControl {
    fn status(&self) -> SimStatus {
        let s = self.lock();
        SimStatus {
            time: s.time,
            clock: s
                .clock_change
                .or(s.clock)
                .unwrap_or(ClockMode::AsFastAsPossible),
            paused: s.pause_change.unwrap_or(s.paused),
            scenario: s.scenario.clone(),
            epoch_unix_ms: s.epoch_unix_ms,
        }
    }

    fn pause(&self) {
        self.lock().pause_change = Some(true);
        self.wake.notify_one();
    }

    fn resume(&self) {
        self.lock().pause_change = Some(false);
        self.wake.notify_one();
    }

    fn set_clock(&self, mode: ClockMode) -> Result<(), String> {
        self.lock().clock_change = Some(mode);
        self.wake.notify_one();
        Ok(())
    }

    async fn step(&self, dt: SimTime) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        {
            let s = self.lock();
            let paused = s.pause_change.unwrap_or(s.paused);
            let stepped = s.clock_change.or(s.clock) == Some(ClockMode::Stepped);
            if !paused && !stepped {
                return Err("time is running: pause first, or use the stepped clock".into());
            }
        }
        self.lock().steps.push((dt, tx));
        self.wake.notify_one();
        rx.await
            .map_err(|_| "the run stopped before the step was done".to_string())
    }

    async fn command(&self, commands: Vec<Command>) -> Result<Vec<(usize, InputError)>, String> {
        let (tx, rx) = oneshot::channel();
        self.lock().commands.push((commands, tx));
        self.wake.notify_one();
        rx.await
            .map_err(|_| "the run stopped before the commands were applied".to_string())
    }

    fn scenarios(&self) -> Vec<String> {
        self.loads.catalog.names()
    }

    /// Checks the request fully (name, scale, the size of the world it
    /// asks for) before the loop builds anything.
    async fn load(
        &self,
        name: &str,
        seed: Option<u64>,
        scale: Option<f64>,
    ) -> Result<(), LoadError> {
        let invalid = |field, reason| LoadError::Invalid { field, reason };
        let mut scenario = self.loads.catalog.load(name).map_err(|r| {
            if let Some(detail) = &r.detail {
                tracing::warn!("LoadScenario refused: {detail}");
            }
            invalid("name", r.reason)
        })?;
        if let Some(seed) = seed {
            scenario = scenario.with_seed(seed);
        }
        if let Some(scale) = scale {
            if !(scale > 0.0 && scale.is_finite()) {
                return Err(invalid(
                    "scale",
                    format!("{scale} is not a positive number"),
                ));
            }
            scenario = scenario.with_scale(scale);
        }
        scenario
            .check_size(self.loads.max_entities)
            .map_err(|e| invalid("scale", e.message))?;
        let (tx, rx) = oneshot::channel();
        self.lock().load = Some((scenario, tx));
        self.wake.notify_one();
        rx.await
            .map_err(|_| {
                LoadError::Failed("the run stopped before the scenario was loaded".into())
            })?
            .map_err(LoadError::Failed)
    }
}
