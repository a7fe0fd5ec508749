//! Re-driving a fresh runtime from a recording, checking every state hash.
//!
//! Blocks are read and checked on a thread of their own while the runtime
//! applies the previous ones, so decoding overlaps with the work it feeds.

use std::path::Path;
use std::time::{Duration, Instant};

use twin_actors::{Runtime, RuntimeError};
use twin_core::SimTime;
use twin_core::recording::{Block, Divergence, Reader, RecordingError};

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
    /// Wall time spent applying inputs, excluding reading the file.
    pub elapsed: Duration,
}

/// Replays `path` into `runtime` (fresh, lockstep). `speed`, when given,
/// paces simulated time at that many simulated seconds per wall second;
/// `progress` is called after each step with its simulated time.
pub async fn replay(
    path: &Path,
    runtime: &Runtime,
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
    let result = loop {
        let (offset, block) = match rx.recv() {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => break Err(e.into()),
            Err(_) => break Err(ReplayError::Truncated(last_offset)),
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
        match block {
            Block::Header(h) => {
                report.scenario = h.scenario;
                start_sim = Some(h.start);
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
            Block::Tick { now, .. } => {
                runtime.tick(now).await?;
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
    report.events = runtime.event_log_hash().0;
    report.elapsed = busy;
    Ok(report)
}
