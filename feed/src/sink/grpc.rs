//! The gRPC sink: another twin's `Ingest`, batches of up to [`BATCH`]
//! observations on one stream; a message's latency is its batch's, from
//! send to acknowledgement. Items the twin refuses count as errors.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use twin_core::{Observation, Quality, Source};
use twin_proto::client::Connect;
use twin_proto::convert;
use twin_proto::v1 as pb;

use super::{Message, Sink, SinkStats};

/// Most observations in one `Ingest` batch.
pub const BATCH: usize = 1_000;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
    /// Per batch in flight: when it was sent and how many it carried.
    batches: Mutex<VecDeque<(Instant, usize)>>,
    latencies: Mutex<(Vec<u32>, u64)>,
    first_error: Mutex<Option<String>>,
}

pub struct GrpcSink {
    tx: mpsc::Sender<pb::IngestRequest>,
    counters: Arc<Counters>,
    next_batch: u64,
    task: tokio::task::JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GrpcSink {
    /// `url` is `grpc://HOST:PORT` (or `http://`, `https://`).
    pub async fn connect(url: &str, token: Option<String>) -> Result<GrpcSink, String> {
        let http = match url.strip_prefix("grpc://") {
            Some(rest) => format!("http://{rest}"),
            None => url.to_string(),
        };
        let mut client = Connect {
            url: http,
            token,
            ..Connect::default()
        }
        .connect()
        .await
        .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel::<pb::IngestRequest>(16);
        let mut acks = client
            .ingest(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|e| format!("Ingest: {}", e.message()))?
            .into_inner();
        let counters = Arc::new(Counters::default());
        let k = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok(Some(ack)) = acks.message().await {
                let Some((t, n)) = lock(&k.batches).pop_front() else {
                    continue;
                };
                let us = t.elapsed().as_micros() as u64;
                let mut l = lock(&k.latencies);
                let (samples, seen) = &mut *l;
                for _ in 0..n {
                    super::sample(samples, seen, us);
                }
                k.acked.fetch_add(n as u64, Ordering::Relaxed);
                k.errors
                    .fetch_add(ack.errors.len() as u64, Ordering::Relaxed);
                if let Some(e) = ack.errors.first() {
                    lock(&k.first_error)
                        .get_or_insert_with(|| format!("{}: {}", e.code, e.message));
                }
            }
        });
        Ok(GrpcSink {
            tx,
            counters,
            next_batch: 0,
            task,
        })
    }
}

impl GrpcSink {
    /// The first item the twin refused, with its reason.
    pub fn first_error(&self) -> Option<String> {
        lock(&self.counters.first_error).clone()
    }
}

impl Sink for GrpcSink {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        for chunk in batch.chunks(BATCH) {
            let observations = chunk
                .iter()
                .map(|m| {
                    let mut o = convert::observation_to_pb(&Observation {
                        entity: m.entity,
                        time: m.time,
                        measurand: m.measurand,
                        value: m.value.clone(),
                        quality: Quality::Ok,
                        source: Source::Grpc,
                        seq: m.seq,
                    });
                    if m.corrupt {
                        o.measurand = "\u{fffd}".into();
                    }
                    o
                })
                .collect();
            self.next_batch += 1;
            lock(&self.counters.batches).push_back((Instant::now(), chunk.len()));
            self.counters
                .sent
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.tx
                .send(pb::IngestRequest {
                    batch_id: self.next_batch,
                    observations,
                    durable: false,
                })
                .await
                .map_err(|_| "the Ingest stream closed".to_string())?;
        }
        Ok(())
    }

    async fn flush(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.stats().inflight > 0 {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} observations unacknowledged",
                    self.stats().inflight
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        let k = &self.counters;
        let sent = k.sent.load(Ordering::Relaxed);
        SinkStats {
            sent,
            errors: k.errors.load(Ordering::Relaxed),
            inflight: sent.saturating_sub(k.acked.load(Ordering::Relaxed)),
        }
    }

    fn latencies_us(&self) -> Vec<u32> {
        lock(&self.counters.latencies).0.clone()
    }
}

impl Drop for GrpcSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
