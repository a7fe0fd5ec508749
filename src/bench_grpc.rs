//! `twin bench grpc`: the API over loopback, measured from a real client.
//!
//! - ingest: observations per second through `Ingest`, batches of 1,000,
//!   several client streams each keeping batches in flight;
//! - get_entity: latencies of `GetEntity` sent at a fixed rate;
//! - watchers: the ingest rate with watchers connected (each following its
//!   own handful of sensors, as a dashboard does) over the rate without;
//! - ingest_durable: ingest with every batch acknowledged once durable;
//! - get_entity under ingest: GetEntity at the same fixed rate while
//!   another client ingests at full rate;
//! - history: GetHistory of a day at 5-minute resolution, 100 a second,
//!   while another client ingests at full rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use twin_actors::grpc::{LimitConfig, Role, ServerConfig, Token, bind};
use twin_actors::{Runtime, RuntimeConfig, priority};
use twin_core::state::SensorState;
use twin_core::store::{Retention, Store};
use twin_core::{EntityRecord, Kind, KindState, Measurand, SimTime};
use twin_proto::client::{Client, Connect};
use twin_proto::v1 as pb;

const TOKEN: &str = "bench";

#[derive(Clone, Debug)]
pub struct GrpcFigures {
    pub entities: usize,
    pub ingest_obs_per_s: f64,
    pub get_entity_p50_ms: f64,
    pub get_entity_p99_ms: f64,
    /// Each run's p99, in the order they ran.
    pub get_entity_p99_ms_runs: Vec<f64>,
    pub get_entity_rate: f64,
    /// Mean of back-to-back calls on one connection, no other load.
    pub get_entity_sequential_ms: f64,
    pub watchers: usize,
    pub watch_events_per_s: f64,
    pub ingest_with_watchers_obs_per_s: f64,
    pub ingest_slowdown: f64,
    /// Each pair's ratio (with watchers / alone), in the order they ran.
    pub ingest_slowdown_runs: Vec<f64>,
    /// Every batch acknowledged once durable.
    pub ingest_durable_obs_per_s: f64,
    pub ingest_durable_obs_per_s_runs: Vec<f64>,
    /// GetEntity at `rate` while another client ingests at full rate.
    pub get_entity_p99_under_ingest_ms: f64,
    pub get_entity_p99_under_ingest_ms_runs: Vec<f64>,
    /// GetHistory of a day at 5-minute resolution, 100 a second, during ingest.
    pub history_p99_ms: f64,
    pub history_p99_ms_runs: Vec<f64>,
}

/// What `twin bench grpc` runs, as its options.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct GrpcBench {
    /// Sensor entities.
    #[arg(long, default_value_t = 100_000)]
    pub entities: usize,
    /// Ingest batches of 1,000 per measured run.
    #[arg(long, default_value_t = 2_000)]
    pub batches: usize,
    /// Concurrent ingest streams.
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Batches each stream keeps in flight.
    #[arg(long, default_value_t = 8)]
    pub in_flight: usize,
    /// GetEntity requests per second.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// GetEntity requests in all.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Watchers connected during the second ingest run.
    #[arg(long, default_value_t = 1_000)]
    pub watchers: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Runs per figure (ingest alone, with watchers, GetEntity); the
    /// median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

fn sensor(i: usize) -> String {
    format!("s-{i:07}")
}

/// One ingest run: `batches` batches of 1,000 over `streams` streams; returns
/// observations per second. `t0` keeps times increasing across runs.
async fn ingest(
    c: &Connect,
    b: &GrpcBench,
    t0: i64,
    durable: bool,
) -> Result<f64, Box<dyn std::error::Error>> {
    let per_stream = b.batches / b.streams.max(1);
    // Ids written once, cloned into each observation, as a real feeder would.
    let ids: Arc<Vec<String>> = Arc::new(
        (0..b.entities)
            .map(|i| format!("sensor/{}", sensor(i)))
            .collect(),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..b.streams.max(1) {
        let mut client: Client = c.connect().await?;
        let (entities, in_flight, streams) = (b.entities, b.in_flight, b.streams.max(1));
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::IngestRequest>(in_flight);
            let mut acks = client
                .ingest(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await?
                .into_inner();
            let sender = tokio::spawn(async move {
                for k in 0..per_stream {
                    // Each stream feeds its own sensors (index ≡ s mod
                    // streams), each in time order: nothing arrives late.
                    let own = (entities / streams).max(1);
                    let batch = (0..1000)
                        .map(|i| {
                            let n = k * 1000 + i;
                            pb::Observation {
                                entity: ids[(n % own) * streams + s].clone(),
                                time_ms: t0 + (n / own) as i64 * 1000 + 1,
                                measurand: "temperature".into(),
                                value: Some(pb::Value {
                                    kind: Some(pb::value::Kind::Number(20.0 + (n % 13) as f64)),
                                }),
                                ..Default::default()
                            }
                        })
                        .collect();
                    let req = pb::IngestRequest {
                        batch_id: k as u64,
                        observations: batch,
                        durable,
                    };
                    if tx.send(req).await.is_err() {
                        break;
                    }
                }
            });
            let mut refused = 0usize;
            for _ in 0..per_stream {
                let ack = acks
                    .message()
                    .await?
                    .ok_or_else(|| tonic::Status::internal("the server closed the stream"))?;
                refused += ack.errors.len();
                if durable && !ack.durable {
                    return Err(tonic::Status::internal(
                        "a durable batch came back not durable",
                    ));
                }
            }
            sender.await.ok();
            if refused > 0 {
                return Err(tonic::Status::internal(format!(
                    "{refused} observations refused"
                )));
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per_stream * b.streams.max(1) * 1000) as f64 / start.elapsed().as_secs_f64())
}

/// Calls made at a fixed `rate`, `n` in all, each by `call(i)`; returns
/// the sorted latencies in ms (of all but the first tenth) and the rate
/// achieved.
///
/// Requests are paced by a thread of their own: tokio's timer ticks by the
/// millisecond, so pacing with it would send them in bursts of ten at
/// 10k/s, and measure those bursts' queueing rather than the server.
async fn paced<F, Fut>(
    rate: f64,
    n: usize,
    call: F,
) -> Result<(Vec<f64>, f64), Box<dyn std::error::Error>>
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let handle = tokio::runtime::Handle::current();
    let start = Instant::now();
    let pacer = std::thread::spawn(move || {
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let due = start + interval.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let answer = call(i);
            tasks.push(handle.spawn(async move {
                let t = Instant::now();
                answer.await.map(|_| t.elapsed())
            }));
        }
        tasks
    });
    let tasks = tokio::task::spawn_blocking(move || pacer.join())
        .await?
        .map_err(|_| "the pacing thread panicked")?;
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await??.as_secs_f64() * 1000.0);
    }
    // The first tenth warms the connection and the server's caches up; it
    // is paced like the rest but not counted.
    lat.drain(..lat.len() / 10);
    let rate = n as f64 / start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    Ok((lat, rate))
}

/// GetEntity at `b.rate`, `b.requests` of them, over one connection.
async fn get_entity(
    c: &Connect,
    b: &GrpcBench,
) -> Result<(Vec<f64>, f64), Box<dyn std::error::Error>> {
    let channel = c.endpoint()?.connect().await?;
    let client = c.with_channel(channel)?;
    let entities = b.entities;
    paced(b.rate, b.requests, move |i| {
        let mut client = client.clone();
        let id = format!("sensor/{}", sensor(i * 7919 % entities));
        async move {
            client
                .get_entity(pb::GetEntityRequest { id })
                .await
                .map(|_| ())
        }
    })
    .await
}

/// GetHistory of a whole day at 5-minute resolution, at `rate` a second,
/// over the `HISTORY_SERIES` series holding a day each.
async fn history(
    c: &Connect,
    rate: f64,
    n: usize,
) -> Result<(Vec<f64>, f64), Box<dyn std::error::Error>> {
    let channel = c.endpoint()?.connect().await?;
    let client = c.with_channel(channel)?;
    paced(rate, n, move |i| {
        let mut client = client.clone();
        let id = format!("sensor/{}", day_sensor(i % HISTORY_SERIES));
        async move {
            let h = client
                .get_history(pb::GetHistoryRequest {
                    id,
                    measurand: "temperature".into(),
                    from_ms: 0,
                    to_ms: DAY_MS,
                    resolution: pb::Resolution::FiveMinutes as i32,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if h.buckets.len() != 288 {
                return Err(tonic::Status::internal(format!(
                    "a day at 5 minutes is 288 buckets, not {}",
                    h.buckets.len()
                )));
            }
            Ok(())
        }
    })
    .await
}

/// Series holding a day of history, one sample a minute, for the history
/// reads; the ingest runs write after that day.
const HISTORY_SERIES: usize = 100;
const DAY_MS: i64 = 86_400_000;

fn day_sensor(i: usize) -> String {
    format!("day-{i:04}")
}

/// Samples per series written before measuring: enough for every series
/// to have sealed its first history chunk (at most 1.5 KiB, about a hundred
/// samples here). Before that no series seals and ingest runs a third faster
/// than it can sustain; after it, seals are spread as in a twin that has
/// run a while.
const WARM_SAMPLES_PER_SERIES: usize = 150;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(b: GrpcBench) -> Result<GrpcFigures, Box<dyn std::error::Error>> {
    // The ingest client stands for another machine: it gets threads of its
    // own, not a place in the queue of the server's async workers, at the
    // bulk priority, so that it takes the cycles the server leaves rather
    // than the server's own (on another machine it would take none).
    let load = priority::Pool::new("bench-load", 2, priority::BULK)?;
    let store = Store::temporary(Retention::default())?;
    let runtime = Arc::new(Runtime::start(
        RuntimeConfig {
            workers: b.workers,
            ..RuntimeConfig::default()
        },
        Some(store.clone()),
    )?);
    let records: Vec<EntityRecord> = (0..b.entities)
        .map(|i| {
            EntityRecord::new(Kind::Sensor, &sensor(i), "pt100").with_state(KindState::Sensor(
                SensorState::measuring(&[Measurand::Temperature], SimTime::secs(1)),
            ))
        })
        .collect();
    for chunk in records.chunks(50_000) {
        runtime.create(chunk.to_vec(), SimTime::ZERO).await?;
    }
    // A day of history, a sample a minute, for the history reads.
    let day: Vec<EntityRecord> = (0..HISTORY_SERIES)
        .map(|i| {
            EntityRecord::new(Kind::Sensor, &day_sensor(i), "pt100").with_state(KindState::Sensor(
                SensorState::measuring(&[Measurand::Temperature], SimTime::minutes(1)),
            ))
        })
        .collect();
    let day_ids: Vec<_> = day.iter().map(EntityRecord::id).collect();
    runtime.create(day, SimTime::ZERO).await?;
    for minute in 0..1440 {
        let batch = day_ids
            .iter()
            .map(|id| {
                twin_core::Observation::number(
                    *id,
                    SimTime::minutes(minute),
                    Measurand::Temperature,
                    20.0 + (minute % 17) as f64,
                )
            })
            .collect();
        runtime.ingest(batch, false).await?;
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, serve) = bind(
        ServerConfig {
            limits: LimitConfig {
                max_obs_per_s: f64::INFINITY,
                ..LimitConfig::default()
            },
            ..ServerConfig::new("127.0.0.1:0".parse()?, vec![Token::new(TOKEN, Role::Admin)])
        },
        runtime.clone(),
        None,
        async move {
            let _ = stopped.await;
        },
    )
    .await?;
    let server = tokio::spawn(serve);
    let c = Connect {
        url: format!("http://{addr}"),
        token: Some(TOKEN.into()),
        ..Connect::default()
    };
    let span = (b.batches * 1000 / (b.entities / b.streams.max(1)).max(1)) as i64 * 1000 + 10_000;
    // Ingest writes after the day of history.
    let mut t0 = DAY_MS + 10_000;
    // Every run starts from the same state: the writes before it flushed and
    // the server idle a moment. Without this, a run that followed a pause
    // (the watchers' drain) ran some 5 % faster than one that followed a run
    // directly, and the slowdown read 0.90-1.0 with no watcher connected.
    let run_as = async |t0: &mut i64, durable: bool| {
        let flushing = store.clone();
        tokio::task::spawn_blocking(move || flushing.flush()).await??;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (c, b, from) = (c.clone(), b, *t0);
        let rate = load
            .spawn(async move {
                ingest(&c, &b, from, durable)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await?
            .map_err(Box::<dyn std::error::Error>::from);
        *t0 += span;
        rate
    };
    let run = async |t0: &mut i64| run_as(t0, false).await;
    // Fill the history the reads go through, then measure the reads.
    run(&mut t0).await?;
    let sequential = sequential_get(&c, 2_000, b.entities).await?;
    // The latency figures are for a server at rest: the writes of the
    // warm-up are flushed first, not left to compete with the calls.
    let flushing = store.clone();
    tokio::task::spawn_blocking(move || flushing.flush()).await??;
    // Each percentile is the median over runs: on a shared host one burst
    // of preemption moves a single run's tail by milliseconds.
    let (mut p50s, mut p99s, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..b.runs.max(1) {
        let (lat, rate) = get_entity(&c, &b).await?;
        p50s.push(percentile(&lat, 0.5));
        p99s.push(percentile(&lat, 0.99));
        rates.push(rate);
    }

    // Warm up to the steady state of sealing before measuring ingest.
    // (GetEntity is measured before this, as it always was: after these
    // 15 million writes its p99 at 10,000 calls a second came out at
    // 0.9-1.4 ms instead of 0.2-0.6 on this host; see the README.)
    let warm_runs = (WARM_SAMPLES_PER_SERIES * b.entities).div_ceil(b.batches.max(1) * 1000);
    for _ in 1..warm_runs.max(2) {
        run(&mut t0).await?;
    }

    // Runs alone and with watchers alternate, and the slowdown is the
    // median of each pair's ratio: the host is shared, and its load drifts
    // more between a block of runs and the next than within a pair. Which
    // goes first alternates, as the store grows from run to run.
    let (mut alone, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut delivered, mut watched_for) = (0u64, Duration::ZERO);
    for pair in 0..b.runs.max(1) {
        let first = if pair % 2 == 1 {
            Some(run(&mut t0).await?)
        } else {
            None
        };
        let watching = Watchers::connect(&c, &b).await?;
        let t = Instant::now();
        let w = run(&mut t0).await?;
        // Let the watchers drain what is on its way.
        tokio::time::sleep(Duration::from_millis(200)).await;
        watched_for += t.elapsed();
        delivered += watching.stop();
        let a = match first {
            Some(a) => a,
            None => run(&mut t0).await?,
        };
        alone.push(a);
        with.push(w);
        ratios.push(w / a);
    }
    // Durable ingest, then reads while another client ingests.
    let mut durable = Vec::new();
    for _ in 0..b.runs.max(1) {
        durable.push(run_as(&mut t0, true).await?);
    }
    let (mut under, mut history_p99) = (Vec::new(), Vec::new());
    for _ in 0..b.runs.max(1) {
        let (rate, reads) = tokio::join!(run(&mut t0), get_entity(&c, &b));
        rate?;
        under.push(percentile(&reads?.0, 0.99));
    }
    for _ in 0..b.runs.max(1) {
        let (rate, reads) = tokio::join!(run(&mut t0), history(&c, 100.0, 300));
        rate?;
        history_p99.push(percentile(&reads?.0, 0.99));
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(GrpcFigures {
        ingest_durable_obs_per_s: median(durable.clone()),
        ingest_durable_obs_per_s_runs: durable,
        get_entity_p99_under_ingest_ms: median(under.clone()),
        get_entity_p99_under_ingest_ms_runs: under,
        history_p99_ms: median(history_p99.clone()),
        history_p99_ms_runs: history_p99,
        entities: b.entities,
        ingest_obs_per_s: median(alone),
        get_entity_p50_ms: median(p50s),
        get_entity_p99_ms_runs: p99s.clone(),
        get_entity_p99_ms: median(p99s),
        get_entity_rate: median(rates),
        get_entity_sequential_ms: sequential,
        watchers: b.watchers,
        watch_events_per_s: delivered as f64 / watched_for.as_secs_f64(),
        ingest_with_watchers_obs_per_s: median(with),
        ingest_slowdown_runs: ratios.clone(),
        ingest_slowdown: median(ratios),
    })
}

/// Watch streams, each following 10 sensors of its own, counting the events
/// they receive.
struct Watchers {
    delivered: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchers {
    async fn connect(c: &Connect, b: &GrpcBench) -> Result<Watchers, Box<dyn std::error::Error>> {
        let delivered = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let channel = c.endpoint()?.connect().await?;
        for w in 0..b.watchers {
            let mut client = c.with_channel(channel.clone())?;
            let ids = (0..10)
                .map(|k| format!("sensor/{}", sensor((w * 10 + k) % b.entities)))
                .collect();
            let mut stream = client
                .watch_entities(pb::WatchRequest {
                    filter: Some(pb::EntityFilter {
                        ids,
                        ..Default::default()
                    }),
                    types: vec![pb::EventType::StateChanged as i32],
                })
                .await?
                .into_inner();
            let delivered = delivered.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok(Some(m)) = stream.message().await {
                    if let Some(pb::watch_response::Message::Events(e)) = m.message {
                        delivered.fetch_add(e.events.len() as u64, Ordering::Relaxed);
                    }
                }
            }));
        }
        Ok(Watchers { delivered, tasks })
    }

    /// Closes the streams; returns the events they received.
    fn stop(self) -> u64 {
        for t in self.tasks {
            t.abort();
        }
        self.delivered.load(Ordering::Relaxed)
    }
}

/// Sequential GetEntity round trips, for latency without queueing: mean ms.
pub async fn sequential_get(
    c: &Connect,
    n: usize,
    entities: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut client = c.connect().await?;
    let t = Instant::now();
    for i in 0..n {
        client
            .get_entity(pb::GetEntityRequest {
                id: format!("sensor/{}", sensor(i * 7919 % entities)),
            })
            .await?;
    }
    Ok(t.elapsed().as_secs_f64() * 1000.0 / n as f64)
}
