//! The loop that joins a simulated world to a runtime.
//!
//! One step: the world advances and its sensors deliver observations; the
//! runtime ingests them in batches; the commands the twin issues go back to
//! the world, which applies them after its actuation delay; every simulated
//! minute the runtime gets its upkeep tick. With a [`Recorder`], every input
//! the runtime is given goes to a recording, in the order it was given, with
//! a state hash every few steps, so that `twin replay` can check a fresh
//! runtime reproduces the run.

use std::path::Path;

use twin_actors::{Runtime, RuntimeError};
use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::recording::{self, Block, EntityHash, Header, RecordingError, StateHash, Writer};
use twin_core::state::InputError;
use twin_core::{Command, Observation, SimTime};
use twin_scenarios::SimWorld;

/// How often the runtime gets its upkeep tick.
pub const TICK_EVERY: SimTime = SimTime::minutes(1);

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("recording: {0}")]
    Recording(#[from] RecordingError),
    #[error("creating the scenario's entities: {0}")]
    Create(InputError),
}

/// Figures of a run.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub observations: usize,
    /// Refused for a reason other than arriving late.
    pub refused: usize,
    /// Arrived after a newer value of the same series (sensor latency): kept
    /// in history only. Expected, not a fault.
    pub late: usize,
    pub events: usize,
    pub commands: usize,
    /// Commands the planners decided.
    pub planned: usize,
    pub steps: u64,
    /// The first refusal, to show the user.
    pub first_refusal: Option<String>,
}

impl Tally {
    /// Adds another run's figures (a world replaced by another).
    pub fn add(&mut self, other: &Tally) {
        self.observations += other.observations;
        self.refused += other.refused;
        self.late += other.late;
        self.events += other.events;
        self.commands += other.commands;
        self.planned += other.planned;
        self.steps += other.steps;
        if self.first_refusal.is_none() {
            self.first_refusal.clone_from(&other.first_refusal);
        }
    }
}

/// Writes the inputs of a run to a recording.
pub struct Recorder {
    writer: Writer,
    hash_every: u64,
}

impl Recorder {
    pub fn create(path: &Path, hash_every: u64) -> Result<Recorder, RecordingError> {
        Ok(Recorder {
            writer: Writer::create(path)?,
            hash_every: hash_every.max(1),
        })
    }
}

/// The state hash of a runtime now: its event log and every resident entity.
pub async fn state_hash(
    runtime: &Runtime,
    step: u64,
    now: SimTime,
) -> Result<StateHash, RuntimeError> {
    let (events, event_log) = runtime.event_log_hash();
    let records = runtime.resident_records(None).await?;
    let event_hashes = runtime.entity_log_hashes(records.iter().map(|r| r.id()));
    let entities = records
        .iter()
        .zip(event_hashes)
        .map(|(r, events)| EntityHash {
            id: r.id(),
            state: recording::record_hash(r),
            events,
        })
        .collect();
    Ok(StateHash {
        step,
        now,
        events,
        event_log,
        entities,
    })
}

/// A world driving a runtime; see the module doc.
pub struct Driver<'r> {
    runtime: &'r Runtime,
    pub world: SimWorld,
    /// Simulated time at which the world's zero falls (a run may continue an
    /// older one in the same store).
    origin: SimTime,
    now: SimTime,
    pub tally: Tally,
    recorder: Option<Recorder>,
}

impl<'r> Driver<'r> {
    /// Creates the world's entities in the runtime (those already there from
    /// an earlier run are kept) and starts at `origin`.
    pub async fn start(
        runtime: &'r Runtime,
        world: SimWorld,
        origin: SimTime,
        mut recorder: Option<Recorder>,
    ) -> Result<Driver<'r>, DriveError> {
        let records = world.records().to_vec();
        if let Some(r) = &mut recorder {
            let spec = &world.scenario().spec;
            r.writer.write(&Block::Header(Header {
                scenario: spec.name.clone(),
                seed: spec.seed,
                start: origin,
                hash_every: r.hash_every,
            }))?;
            if !spec.inference.is_empty() {
                let files = world
                    .scenario()
                    .model_files()
                    .map_err(|e| RecordingError::Io(std::io::Error::other(e.to_string())))?;
                r.writer.write(&Block::Inference {
                    entries: serde_json::to_string(&spec.inference)
                        .expect("inference entries serialise"),
                    files,
                })?;
            }
            if !spec.planning.is_empty() {
                r.writer.write(&Block::Planning {
                    entries: serde_json::to_string(&spec.planning)
                        .expect("planning entries serialise"),
                })?;
            }
            r.writer.write(&Block::Create {
                at: origin,
                records: records.clone(),
            })?;
        }
        let created = runtime.create(records, origin).await?;
        if let Some((_, e)) = created
            .errors
            .into_iter()
            .find(|(_, e)| !matches!(e, InputError::AlreadyExists(_)))
        {
            return Err(DriveError::Create(e));
        }
        Ok(Driver {
            runtime,
            world,
            origin,
            now: origin,
            tally: Tally::default(),
            recorder,
        })
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Advances the world and the runtime to `to`.
    pub async fn step(&mut self, to: SimTime) -> Result<(), DriveError> {
        let step = self.tally.steps;
        let mut observations = Vec::new();
        self.world.advance(to - self.origin, &mut observations);
        for o in &mut observations {
            o.time = o.time + self.origin;
        }
        let mut issued: Vec<Command> = Vec::new();
        let max = self.runtime.config().max_batch.max(1);
        let mut observations = observations.into_iter();
        loop {
            // Taken from the front, each observation moved once.
            let batch: Vec<Observation> = observations.by_ref().take(max).collect();
            if batch.is_empty() {
                break;
            }
            if let Some(r) = &mut self.recorder {
                r.writer.write(&Block::Observations {
                    step,
                    observations: batch.clone(),
                })?;
            }
            self.tally.observations += batch.len();
            let report = self.runtime.ingest(batch, false).await?;
            for (_, e) in &report.errors {
                if matches!(e, InputError::OutOfOrder { .. }) {
                    self.tally.late += 1;
                } else {
                    self.tally.refused += 1;
                    self.tally
                        .first_refusal
                        .get_or_insert_with(|| e.to_string());
                }
            }
            self.tally.events += report.events;
            issued.extend(report.commands);
        }
        if to.floor(TICK_EVERY) > self.now.floor(TICK_EVERY) {
            if let Some(r) = &mut self.recorder {
                r.writer.write(&Block::Tick { step, now: to })?;
            }
            let report = self.runtime.tick(to).await?;
            if let Some(r) = &mut self.recorder
                && !(report.planned.is_empty() && report.schedules.is_empty())
            {
                r.writer.write(&Block::Planned {
                    step,
                    schedules: report
                        .schedules
                        .iter()
                        .map(|(k, s)| (k.clone(), s.to_bytes()))
                        .collect(),
                    commands: report.planned.clone(),
                })?;
            }
            self.tally.events += report.events;
            self.tally.planned += report.planned.len();
            issued.extend(report.commands);
        }
        self.deliver(issued);
        self.now = to;
        self.tally.steps += 1;
        if let Some(r) = &mut self.recorder {
            r.writer.write(&Block::Step { step, now: to })?;
            if (step + 1).is_multiple_of(r.hash_every) {
                let hash = state_hash(self.runtime, step, to).await?;
                r.writer.write(&Block::Hash(hash))?;
            }
        }
        Ok(())
    }

    /// Applies commands from outside the world (an operator, an API client)
    /// to the runtime, and hands what the twin issues to the world.
    pub async fn command(
        &mut self,
        commands: Vec<Command>,
    ) -> Result<Vec<(usize, InputError)>, DriveError> {
        if let Some(r) = &mut self.recorder {
            r.writer.write(&Block::Commands {
                step: self.tally.steps,
                commands: commands.clone(),
            })?;
        }
        let report = self.runtime.command(commands).await?;
        self.tally.events += report.events;
        self.deliver(report.commands);
        Ok(report.errors)
    }

    fn deliver(&mut self, commands: Vec<Command>) {
        self.tally.commands += commands.len();
        for c in commands {
            self.world.deliver(Command {
                time: c.time - self.origin,
                ..c
            });
        }
    }

    /// Ends the run: a final state hash and the end block when recording.
    pub async fn finish(mut self) -> Result<(SimWorld, Tally), DriveError> {
        if let Some(mut r) = self.recorder.take() {
            let steps = self.tally.steps;
            if !steps.is_multiple_of(r.hash_every) {
                let hash = state_hash(self.runtime, steps.saturating_sub(1), self.now).await?;
                r.writer.write(&Block::Hash(hash))?;
            }
            r.writer.write(&Block::End { steps })?;
            r.writer.finish()?;
        }
        Ok((self.world, self.tally))
    }
}
