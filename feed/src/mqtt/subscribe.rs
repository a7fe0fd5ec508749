//! The MQTT feed in: a persistent QoS 1 subscription whose messages become
//! readings in the twin.
//!
//! - The session is persistent (`clean_session = false`, a stable client
//!   id): while the twin is away the broker keeps its QoS 1 messages, and
//!   hands them over when it returns.
//! - A message is acknowledged only once what it carries is applied, and
//!   durable when the store is ([`Applier`] runs with `durable`): a twin
//!   that dies before the ack gets the message again. Acks go in the order
//!   the messages came, as MQTT asks.
//! - The connection, in MQTT 3.1.1 or 5, is watched by one task that polls
//!   it ([`super::session`]); when it drops it waits a back-off with jitter
//!   and reconnects, subscribing again if the broker lost the session.
//! - Messages are taken in batches of up to [`BATCH`], so that one sync
//!   serves many.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, watch};
use tracing::warn;
use twin_actors::Runtime;
use twin_actors::feeds::FeedStats;
use twin_core::{SimTime, Source};

use super::Connection;
use super::session::{self, Delivery};
use crate::apply::Applier;
use crate::map::Map;
use crate::reading::Clock;
use crate::reading::{Malformed, Reading};

/// Most messages applied in one batch.
pub const BATCH: usize = 512;
/// Largest message taken, bytes (a SenML pack of a few thousand readings).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// What a feed needs besides the broker: how to read messages and the
/// twin's clock.
pub struct Feed {
    pub connection: Connection,
    pub map: Arc<Map>,
    /// The twin's clock now (simulated or wall-clock time).
    pub clock: Arc<dyn Fn() -> Clock + Send + Sync>,
    /// How far ahead of the clock a reading may be; `None`: any time.
    pub max_skew: Option<SimTime>,
    /// MQTT 3.1.1 (4) or 5.
    pub version: u8,
}

/// Registers the feed on the runtime's board (so that it is listed from
/// now on) and runs it on a task until `stop` turns true. The task ends
/// with an error only if the runtime fails for good; a broker down is
/// retried for ever.
pub fn start(
    feed: Feed,
    runtime: Arc<Runtime>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), String>> {
    let stats = runtime
        .feeds()
        .register("mqtt", &feed.connection.endpoint.url());
    tokio::spawn(run(feed, runtime, stats, stop))
}

async fn run(
    feed: Feed,
    runtime: Arc<Runtime>,
    stats: Arc<FeedStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<Delivery>(4 * BATCH);
    let (client, poller) = session::open(
        &feed.connection,
        feed.version,
        MAX_MESSAGE,
        4 * BATCH,
        feed.map.subscriptions(),
        stats.clone(),
        tx,
    )?;

    let mut applier = Applier::new(runtime, stats.clone(), Source::Mqtt);
    applier.max_skew = feed.max_skew;
    let mut batch = Vec::with_capacity(BATCH);
    let mut retry_stop = stop.clone();
    let result = loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break Ok(()),
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break Err("the MQTT connection task ended".to_string());
                }
                if let Err(e) = take(&mut applier, &feed, &batch, &mut retry_stop).await {
                    break Err(e);
                }
                for d in batch.drain(..) {
                    // Queued for the connection; a dropped connection
                    // means the broker sends the message again.
                    client.ack(&d).await;
                }
            }
        }
    };
    client.disconnect();
    poller.abort();
    stats.connected.store(false, Ordering::Relaxed);
    result
}

/// Readings applied at a time. A batch of SenML packs may carry millions
/// of them, far more than one runtime batch may hold; every chunk is
/// applied (and durable) before any message of the batch is acknowledged.
const APPLY_CHUNK: usize = 10_000;

/// Decodes and applies one batch, a chunk at a time: decoding on the
/// blocking pool (a batch may hold megabytes of JSON, which must not stall
/// the API's async workers), each chunk's runtime error retried with
/// back-off (the messages stay unacknowledged) until it passes or the feed
/// stops.
async fn take(
    applier: &mut Applier,
    feed: &Feed,
    batch: &[Delivery],
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let stats = applier.stats().clone();
    FeedStats::add(&stats.messages, batch.len() as u64);
    stats
        .last_message_ms
        .store(jiff::Timestamp::now().as_millisecond(), Ordering::Relaxed);
    let clock = (feed.clock)();
    let messages: Arc<[(String, bytes::Bytes)]> = batch
        .iter()
        .map(|d| (d.topic().into_owned(), d.payload_bytes()))
        .collect();
    let mut next = 0;
    while next < messages.len() {
        let (map, msgs) = (feed.map.clone(), messages.clone());
        let (readings, bad, after) =
            tokio::task::spawn_blocking(move || decode_chunk(&map, &msgs, next, &clock))
                .await
                .map_err(|e| format!("decoding: {e}"))?;
        for (i, e) in &bad {
            applier.malformed(&messages[*i].0, e);
        }
        next = after;
        FeedStats::add(&stats.readings, readings.len() as u64);
        apply(applier, &readings, clock.now, stop).await?;
    }
    Ok(())
}

/// Decodes `msgs` from `start` until a chunk's worth of readings: the
/// readings, what could not be decoded (by message), and where to go on.
fn decode_chunk(
    map: &Map,
    msgs: &[(String, bytes::Bytes)],
    start: usize,
    clock: &crate::reading::Clock,
) -> (Vec<Reading>, Vec<(usize, Malformed)>, usize) {
    let (mut readings, mut bad) = (Vec::new(), Vec::new());
    let mut i = start;
    while i < msgs.len() && readings.len() < APPLY_CHUNK {
        match map.decode(&msgs[i].0, &msgs[i].1, clock) {
            Ok(decoded) => {
                bad.extend(decoded.bad.into_iter().map(|e| (i, e)));
                readings.extend(decoded.readings);
            }
            Err(e) => bad.push((i, e)),
        }
        i += 1;
    }
    (readings, bad, i)
}

/// Applies `readings`, retrying a runtime error until it passes or the
/// feed stops.
async fn apply(
    applier: &mut Applier,
    readings: &[Reading],
    now: SimTime,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut attempt = 0;
    loop {
        match applier.apply(readings, now).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                applier
                    .stats()
                    .set_error(format!("the twin could not apply a batch: {e}"));
                warn!("MQTT feed: the twin could not apply a batch ({e}); retrying");
                let wait = super::backoff(attempt);
                attempt += 1;
                tokio::select! {
                    _ = stopped(stop) => return Err(format!("stopped with a batch unapplied: {e}")),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
