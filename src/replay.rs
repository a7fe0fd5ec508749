//! Re-driving a fresh runtime from a recording, checking every state hash.
//!
//! Blocks are read and checked on a thread of their own while the runtime
//! applies the previous ones, so decoding overlaps with the work it feeds.

use std::path::Path;
use std::time::{Duration, Instant};

use twin_actors::{Runtime, RuntimeConfig, RuntimeError};
use twin_core::SimTime;
use twin_core::recording::{Block, Divergence, Reader, RecordingError};
use twin_infer::models::Models;

use crate::drive::state_hash;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Recording(#[from] RecordingError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("diverged at step {step} (simulated time {now}): {what}")]
    Diverged {
        step: u64,
        now: SimTime,
        what: Divergence,
    },
    #[error("the recording ends at offset {0} without its end block: it was cut short")]
    Truncated(u64),
    #[error("the recording does not start with a header block")]
    NoHeader,
    #[error("the recording's inference models: {0}")]
    Models(String),
    #[error("the recording's planners: {0}")]
    Planning(String),
}

/// What a replay did.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    pub scenario: String,
    pub steps: u64,
    /// Observations and commands given to the runtime.
    pub inputs: u64,
    /// Events the runtime produced.
    pub events: u64,
    pub hashes_checked: u64,
    /// The inference models hosted, name/version.
    pub models: Vec<String>,
    /// Work orders the planners hold at the end.
    pub work_orders: usize,
    /// Plans the planners hold at the end.
    pub plans: usize,
    /// Wall time spent applying inputs, excluding reading the file.
    pub elapsed: Duration,
}

/// Replays `path` into a fresh runtime started with `config` (lockstep)
/// and the inference models the recording names. `speed`, when given,
/// paces simulated time at that many simulated seconds per wall second;
/// `progress` is called after each step with its simulated time.
pub async fn replay(
    path: &Path,
    config: RuntimeConfig,
    speed: Option<f64>,
    progress: impl FnMut(u64, SimTime),
) -> Result<ReplayReport, ReplayError> {
    let mut runtime = None;
    let report = replay_into(path, config, &mut runtime, speed, progress).await;
    if let Some(r) = runtime {
        r.shutdown().await?;
    }
    report
}

/// The models a recording's [`Block::Inference`] names.
fn recorded_models(entries: &str, files: &[(String, String)]) -> Result<Models, ReplayError> {
    let specs: Vec<twin_infer::models::Spec> =
        serde_json::from_str(entries).map_err(|e| ReplayError::Models(e.to_string()))?;
    let read = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| text.clone())
            .ok_or_else(|| format!("{name:?} is not in the recording"))
    };
    Models::build(&specs, &read).map_err(|e| ReplayError::Models(e.to_string()))
}

async fn replay_into(
    path: &Path,
    mut config: RuntimeConfig,
    slot: &mut Option<Runtime>,
    speed: Option<f64>,
    mut progress: impl FnMut(u64, SimTime),
) -> Result<ReplayReport, ReplayError> {
    let mut reader = Reader::open(path)?;
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<Result<(u64, Option<Block>), RecordingError>>(64);
    let feeder = std::thread::Builder::new()
        .name("replay-reader".into())
        .spawn(move || {
            loop {
                let offset = reader.offset();
                let next = reader.next_block().map(|b| (offset, b));
                let done = !matches!(next, Ok((_, Some(_))));
                if tx.send(next).is_err() || done {
                    break;
                }
            }
        })
        .map_err(RecordingError::Io)?;
    let mut report = ReplayReport::default();
    let mut start_sim = None;
    let wall = Instant::now();
    let mut busy = Duration::ZERO;
    let mut ended = false;
    let mut last_offset = 0;
    let next = |rx: &std::sync::mpsc::Receiver<_>, last: u64| match rx.recv() {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(ReplayError::from(e)),
        Err(_) => Err(ReplayError::Truncated(last)),
    };
    // A block read ahead (after a tick, to see whether the planners'
    // schedules follow it) and not yet handled.
    let mut held: Option<(u64, Option<Block>)> = None;
    let result = loop {
        let (offset, block) = match held.take().map_or_else(|| next(&rx, last_offset), Ok) {
            Ok(b) => b,
            Err(e) => break Err(e),
        };
        last_offset = offset;
        let Some(block) = block else {
            break if ended {
                Ok(())
            } else {
                Err(ReplayError::Truncated(offset))
            };
        };
        if start_sim.is_none() && !matches!(block, Block::Header(_)) {
            break Err(ReplayError::NoHeader);
        }
        let t = Instant::now();
        if let Block::Inference { entries, files } = &block {
            if slot.is_some() {
                break Err(ReplayError::Models(
                    "they are named after the inputs began".into(),
                ));
            }
            match recorded_models(entries, files) {
                Ok(models) => {
                    report.models = models
                        .iter()
                        .map(|(_, m)| m.provenance().to_string())
                        .collect();
                    config.models = models;
                }
                Err(e) => break Err(e),
            }
            continue;
        }
        if let Block::Planning { entries } = &block {
            if slot.is_some() {
                break Err(ReplayError::Planning(
                    "they are named after the inputs began".into(),
                ));
            }
            let planners = serde_json::from_str::<Vec<twin_plan::Spec>>(entries)
                .map_err(|e| e.to_string())
                .and_then(|s| twin_plan::Planners::new(&s).map_err(|e| e.to_string()));
            match planners {
                Ok(p) => config.planners = p,
                Err(e) => break Err(ReplayError::Planning(e)),
            }
            continue;
        }
        if let Block::Header(h) = &block {
            report.scenario.clone_from(&h.scenario);
            start_sim = Some(h.start);
            continue;
        }
        // The runtime starts at the first input, once the models are known.
        let runtime = match slot {
            Some(r) => &*r,
            None => match Runtime::start(config.clone(), None) {
                Ok(r) => {
                    // Its planners schedule only from the recording.
                    r.replay_schedules(Vec::new());
                    slot.insert(r)
                }
                Err(e) => break Err(e.into()),
            },
        };
        match block {
            Block::Header(_) | Block::Inference { .. } | Block::Planning { .. } => {
                unreachable!("handled above")
            }
            Block::Create { at, records } => {
                runtime.create(records, at).await?;
            }
            Block::Observations { observations, .. } => {
                report.inputs += observations.len() as u64;
                runtime.ingest(observations, false).await?;
            }
            Block::Commands { commands, .. } => {
                report.inputs += commands.len() as u64;
                runtime.command(commands).await?;
            }
            Block::Tick { step, now } => {
                let after = match next(&rx, offset) {
                    Ok(b) => b,
                    Err(e) => break Err(e),
                };
                let recorded = match after {
                    (
                        _,
                        Some(Block::Planned {
                            schedules,
                            commands,
                            ..
                        }),
                    ) => {
                        let decoded: Result<Vec<_>, _> = schedules
                            .iter()
                            .map(|(k, bytes)| {
                                twin_plan::schedule::Schedule::from_bytes(bytes)
                                    .map(|s| (k.clone(), s))
                            })
                            .collect();
                        match decoded {
                            Ok(d) => runtime.replay_schedules(d),
                            Err(e) => break Err(ReplayError::Planning(format!("a schedule: {e}"))),
                        }
                        commands
                    }
                    other => {
                        held = Some(other);
                        Vec::new()
                    }
                };
                let ours = runtime.tick(now).await?;
                if ours.planned != recorded {
                    break Err(ReplayError::Planning(format!(
                        "at step {step} (simulated time {now}) they decided {} commands, \
                         the run {}",
                        ours.planned.len(),
                        recorded.len()
                    )));
                }
            }
            Block::Planned { step, .. } => {
                break Err(ReplayError::Planning(format!(
                    "step {step}: what they did without the tick they did it at"
                )));
            }
            Block::Step { step, now } => {
                report.steps = step + 1;
                busy += t.elapsed();
                progress(step, now);
                if let (Some(speed), Some(s0)) = (speed, start_sim) {
                    let due = Duration::from_secs_f64((now - s0).as_secs_f64() / speed);
                    if let Some(wait) = due.checked_sub(wall.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                continue;
            }
            Block::Hash(recorded) => {
                let ours = state_hash(runtime, recorded.step, recorded.now).await?;
                if let Some(d) = ours.divergence(&recorded) {
                    break Err(ReplayError::Diverged {
                        step: recorded.step,
                        now: recorded.now,
                        what: d,
                    });
                }
                report.hashes_checked += 1;
            }
            Block::End { .. } => ended = true,
        }
        busy += t.elapsed();
    };
    drop(rx);
    let _ = feeder.join();
    result?;
    report.events = slot.as_ref().map_or(0, |r| r.event_log_hash().0);
    if let Some(board) = slot.as_ref().map(|r| r.board()) {
        report.work_orders = board.work_orders.len();
        report.plans = board.plans.len();
    }
    report.elapsed = busy;
    Ok(report)
}
