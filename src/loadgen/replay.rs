//! `twin replay REC --sink URL`: a recording's observations sent to a sink
//! at their recorded pace (`--speed xN`) or as fast as it takes them, so
//! that a scenario recorded once drives another system the same way every
//! time.

use std::path::Path;
use std::time::{Duration, Instant};

use twin_core::SimTime;
use twin_core::recording::{Block, Reader};
use twin_feed::sink::{self, AnySink, Message, Sink, SinkOptions, percentile};

use super::{Report, Result, message};

/// Sends the observations of the recording at `path` to `url`; `speed` is
/// simulated seconds per wall second (`None`: as fast as possible).
pub async fn to_sink(
    path: &Path,
    url: &str,
    options: &SinkOptions,
    speed: Option<f64>,
) -> Result<Report> {
    let mut reader = Reader::open(path)?;
    let mut sink = AnySink::open(url, options).await?;
    let start = Instant::now();
    let mut first: Option<SimTime> = None;
    let mut seq = 0u64;
    let mut batch: Vec<Message> = Vec::new();
    while let Some(block) = reader.next_block()? {
        match block {
            // The names travel with the messages.
            Block::Create { records, .. } => {
                for r in &records {
                    twin_core::EntityId::new(r.id().kind(), &r.name);
                }
            }
            Block::Observations { observations, .. } => {
                batch.clear();
                for o in observations {
                    let t0 = *first.get_or_insert(o.time);
                    if let Some(f) = speed {
                        let secs = (o.time - t0).as_ms().max(0) as f64 / 1000.0 / f;
                        sink::hold(&mut sink, &mut batch, sink::due(start, secs)).await?;
                    }
                    batch.push(message(o, seq));
                    seq += 1;
                }
                sink.send(&batch).await?;
            }
            _ => {}
        }
    }
    sink.flush(Duration::from_secs(30)).await?;
    let seconds = start.elapsed().as_secs_f64();
    let s = sink.stats();
    let mut lat = sink.latencies_us();
    let mut p = |q| percentile(&mut lat, q).map(|us| us as f64 / 1000.0);
    Ok(Report {
        sink: url.to_string(),
        generated: seq,
        sent: s.sent,
        errors: s.errors,
        seconds,
        msgs_per_s: s.sent as f64 / seconds,
        latency_p50_ms: p(0.5),
        latency_p99_ms: p(0.99),
        latency_p999_ms: p(0.999),
        faults: Default::default(),
    })
}
