//! Workloads for `twin bench runtime`: the same observations through a plain
//! per-shard baseline, through the twin runtime (with and without history), and
//! through one actix actor per entity; plus resident memory per entity.
//!
//! Figures are wall-clock throughputs over the whole load (the run with
//! history excepted: it measures the steady state after an hour of warm-up);
//! the command prints them, tests never time anything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix::prelude::*;
use futures::StreamExt;
use twin_core::state::{EntityRecord, KindState, SensorState};
use twin_core::store::Store;
use twin_core::{EntityId, IdMap, Kind, Measurand, Observation, SimTime, Value};

use crate::bus::{Delivery, Filter};
use crate::runtime::{Runtime, RuntimeConfig, RuntimeError};
use twin_infer::models::Models;

/// Sensor ids `sensor/s-0000000`… and their records.
pub fn sensors(n: usize) -> (Vec<EntityId>, impl Iterator<Item = EntityRecord>) {
    let ids: Vec<EntityId> = (0..n)
        .map(|i| EntityId::new(Kind::Sensor, &format!("s-{i:07}")))
        .collect();
    let records = (0..n).map(|i| {
        EntityRecord::new(Kind::Sensor, &format!("s-{i:07}"), "temperature").with_state(
            KindState::Sensor(SensorState::measuring(
                &[Measurand::Temperature],
                SimTime::secs(1),
            )),
        )
    });
    (ids, records)
}

/// `rounds` observations of every sensor, one round per simulated second, in
/// batches of `batch`.
pub fn load(ids: &[EntityId], rounds: usize, batch: usize) -> Vec<Vec<Observation>> {
    load_rounds(ids, 0..rounds, batch)
}

/// [`load`] of the rounds `rounds` only.
pub fn load_rounds(
    ids: &[EntityId],
    rounds: std::ops::Range<usize>,
    batch: usize,
) -> Vec<Vec<Observation>> {
    let mut out = Vec::new();
    let mut cur = Vec::with_capacity(batch);
    for r in rounds {
        for (i, id) in ids.iter().enumerate() {
            cur.push(reading(*id, i, r, SimTime::secs(r as i64 + 1)));
            if cur.len() == batch {
                out.push(std::mem::replace(&mut cur, Vec::with_capacity(batch)));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Sensor `i`'s temperature in round `r`.
fn reading(id: EntityId, i: usize, r: usize, at: SimTime) -> Observation {
    let v = 18.0 + ((i * 7 + r * 3) % 100) as f64 / 10.0;
    Observation::number(id, at, Measurand::Temperature, v)
}

fn count(batches: &[Vec<Observation>]) -> usize {
    batches.iter().map(Vec::len).sum()
}

/// The baseline: each worker thread owns a plain vector of latest values and an
/// id → slot index; the driver partitions batches by shard as the runtime does,
/// and workers resolve a batch's ids in one pass before writing, as the shards
/// do. No actors, no ECS, no behaviour, no events: the limit of this machine
/// for the same data movement.
pub fn raw_obs_per_s(ids: &[EntityId], batches: Vec<Vec<Observation>>, workers: usize) -> f64 {
    let total = count(&batches);
    let mut txs = Vec::new();
    let mut threads = Vec::new();
    for w in 0..workers {
        let mine: Vec<EntityId> = ids
            .iter()
            .copied()
            .filter(|id| id.shard(workers) == w)
            .collect();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Observation>>(8);
        txs.push(tx);
        threads.push(std::thread::spawn(move || {
            let mut index: IdMap<u32> = IdMap::default();
            let mut slots = vec![(0.0f64, SimTime::ZERO); mine.len()];
            for (i, id) in mine.iter().enumerate() {
                index.insert(*id, i as u32);
            }
            let mut applied = 0usize;
            let mut resolved = Vec::new();
            for batch in rx {
                // Same two passes as the shards: look every id up, then write.
                resolved.clear();
                resolved.extend(batch.iter().map(|o| index.get(&o.entity).copied()));
                for (o, slot) in batch.iter().zip(&resolved) {
                    if let (Some(i), Value::Number(v)) = (slot, &o.value) {
                        slots[*i as usize] = (*v, o.time);
                        applied += 1;
                    }
                }
            }
            std::hint::black_box(&slots);
            applied
        }));
    }
    let start = Instant::now();
    for batch in batches {
        let mut parts: Vec<Vec<Observation>> = (0..workers)
            .map(|_| Vec::with_capacity(batch.len() / workers + 16))
            .collect();
        for o in batch {
            parts[o.entity.shard(workers)].push(o);
        }
        for (tx, p) in txs.iter().zip(parts) {
            tx.send(p).expect("baseline worker alive");
        }
    }
    drop(txs);
    let applied: usize = threads.into_iter().map(|t| t.join().expect("worker")).sum();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(applied, total, "baseline applied every observation");
    total as f64 / secs
}

/// Result of one runtime throughput run.
#[derive(Clone, Copy, Debug)]
pub struct TwinRun {
    pub obs_per_s: f64,
    pub observations: usize,
    /// Events the counting subscriber received.
    pub events_received: u64,
    /// Events it was told it missed (lag).
    pub events_missed: u64,
}

/// A runtime of `n` sensors (history kept when given a store), as the
/// throughput runs start.
fn populated(
    n: usize,
    batch: usize,
    workers: usize,
    store: Option<Store>,
    models: Models,
) -> Result<(Runtime, Vec<EntityId>), RuntimeError> {
    let rt = Runtime::start(
        RuntimeConfig {
            workers,
            history: store.is_some(),
            passivate_after: None,
            bus_capacity: 4096,
            max_batch: batch.max(100_000),
            models,
            ..RuntimeConfig::default()
        },
        store,
    )?;
    let (ids, records) = sensors(n);
    let records: Vec<EntityRecord> = records.collect();
    futures::executor::block_on(async {
        for chunk in records.chunks(50_000) {
            rt.create(chunk.to_vec(), SimTime::ZERO).await?;
        }
        Ok::<_, RuntimeError>(())
    })?;
    Ok((rt, ids))
}

/// Ingests `batches`, four in flight; returns how many were applied.
fn ingest_all(rt: &Runtime, batches: Vec<Vec<Observation>>) -> Result<usize, RuntimeError> {
    futures::executor::block_on(async {
        let mut applied = 0;
        let mut stream = futures::stream::iter(batches)
            .map(|b| rt.ingest(b, false))
            .buffer_unordered(4);
        while let Some(r) = stream.next().await {
            applied += r?.applied;
        }
        Ok(applied)
    })
}

/// Observations through ingest → entity actors → bus, with one subscriber
/// counting every event, without history ([`history_steady`] measures it).
pub fn twin_obs_per_s(
    n: usize,
    rounds: usize,
    batch: usize,
    workers: usize,
) -> Result<TwinRun, RuntimeError> {
    let (rt, ids) = populated(n, batch, workers, None, Models::default())?;
    let batches = load(&ids, rounds, batch);
    let total = count(&batches);
    let mut sub = rt.bus().subscribe(Filter::all());
    let counter = std::thread::spawn(move || {
        let (mut got, mut missed) = (0u64, 0u64);
        while got + missed < total as u64 {
            match sub.blocking_recv() {
                Delivery::Events(f) => got += f.count() as u64,
                Delivery::Lagged { missed: m } => missed += m,
                Delivery::Closed => break,
            }
        }
        (got, missed)
    });
    let start = Instant::now();
    let applied = ingest_all(&rt, batches)?;
    let (events_received, events_missed) = counter.join().expect("counter thread");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(applied, total, "every observation applied");
    drop(rt);
    Ok(TwinRun {
        obs_per_s: total as f64 / secs,
        observations: total,
        events_received,
        events_missed,
    })
}

/// Observations per second through a runtime of `n` sensors hosting
/// `models` (none: the plain twin), timed over `rounds` rounds once every
/// series has had `warm` (past its models' probation: steady state); no
/// history, no subscriber.
pub fn followed_obs_per_s(
    n: usize,
    warm: usize,
    rounds: usize,
    batch: usize,
    workers: usize,
    models: Models,
) -> Result<f64, RuntimeError> {
    let (rt, ids) = populated(n, batch, workers, None, models)?;
    let ingest = |batches| ingest_all(&rt, batches);
    ingest(load_rounds(&ids, 0..warm, batch))?;
    let measured = load_rounds(&ids, warm..warm + rounds, batch);
    let total = count(&measured);
    let start = Instant::now();
    let applied = ingest(measured)?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(applied, total, "every observation applied");
    drop(rt);
    Ok(total as f64 / secs)
}

/// Simulated time between two readings of a sensor in [`history_steady`]:
/// an hour holds 120 readings per series, enough to seal its chunks.
const HISTORY_STEP_S: i64 = 30;

/// Result of one [`history_steady`] run.
#[derive(Clone, Copy, Debug)]
pub struct HistoryRun {
    /// Observations per second over the measured hours.
    pub obs_per_s: f64,
    /// Observations in the measured hours.
    pub observations: usize,
    /// Compactions that finished inside the measured window.
    pub compactions: usize,
}

/// The runtime with history at steady state: `n` sensors each read every 30
/// simulated seconds for `hours` simulated hours, ingested in batches of
/// `batch` into a runtime that writes history to `store`, with the store's
/// own syncing on (as `twin run` runs it). At every simulated hour boundary
/// a compaction (sealing, WAL trimming, roll-up, repacking) runs on its own
/// thread, as the hourly upkeep of `twin run` does, while ingest goes on. The
/// first hour is warm-up (every head fills and seals once) and not counted;
/// the measured hours hold heads sealing, the WAL trimming and `hours - 2`
/// or more compactions.
pub fn history_steady(
    n: usize,
    hours: usize,
    batch: usize,
    workers: usize,
    store: Store,
) -> Result<HistoryRun, RuntimeError> {
    let (rt, ids) = populated(n, batch, workers, Some(store.clone()), Models::default())?;
    let per_hour = (3600 / HISTORY_STEP_S) as usize;
    let (hour_tx, hour_rx) = std::sync::mpsc::channel::<i64>();
    let compactor = std::thread::spawn(move || {
        let mut done = Vec::new();
        for h in hour_rx {
            store.compact(SimTime::hours(h))?;
            done.push(Instant::now());
        }
        Ok::<_, twin_core::store::StoreError>(done)
    });
    let round_batches = |r: usize| {
        let at = SimTime::secs((r as i64 + 1) * HISTORY_STEP_S);
        let ids = &ids;
        (0..n).step_by(batch.max(1)).map(move |from| {
            (from..(from + batch).min(n))
                .map(|i| reading(ids[i], i, r, at))
                .collect::<Vec<_>>()
        })
    };
    let ingest = |rounds: std::ops::Range<usize>| {
        futures::executor::block_on(async {
            let mut applied = 0;
            for r in rounds {
                if r > 0 && r % per_hour == 0 {
                    let _ = hour_tx.send((r / per_hour) as i64);
                }
                let mut stream = futures::stream::iter(round_batches(r))
                    .map(|b| rt.ingest(b, false))
                    .buffer_unordered(4);
                while let Some(report) = stream.next().await {
                    applied += report?.applied;
                }
            }
            Ok::<_, RuntimeError>(applied)
        })
    };
    ingest(0..per_hour)?;
    let start = Instant::now();
    let applied = ingest(per_hour..hours.max(2) * per_hour)?;
    let end = Instant::now();
    drop(hour_tx);
    let done = compactor
        .join()
        .expect("compaction thread")
        .map_err(|e| RuntimeError::Store(e.to_string()))?;
    drop(rt);
    Ok(HistoryRun {
        obs_per_s: applied as f64 / (end - start).as_secs_f64(),
        observations: applied,
        compactions: done.iter().filter(|t| **t > start && **t <= end).count(),
    })
}

/// The median of `runs` measurements (the machines are noisy).
pub fn median_of<E>(runs: usize, mut f: impl FnMut() -> Result<f64, E>) -> Result<f64, E> {
    let mut xs = (0..runs.max(1))
        .map(|_| f())
        .collect::<Result<Vec<f64>, E>>()?;
    xs.sort_by(f64::total_cmp);
    Ok(xs[xs.len() / 2])
}

pub use twin_core::memory::rss_bytes;

/// Resident bytes per activated idle entity: `n` sensors created and given
/// one observation each, then left idle. Run it in a fresh process.
pub fn bytes_per_idle_entity(n: usize, workers: usize) -> Result<f64, RuntimeError> {
    let before = rss_bytes();
    let rt = Runtime::start(
        RuntimeConfig {
            workers,
            history: false,
            passivate_after: None,
            ..RuntimeConfig::default()
        },
        None,
    )?;
    let (ids, records) = sensors(n);
    futures::executor::block_on(async {
        let mut chunk = Vec::with_capacity(5_000);
        for r in records {
            chunk.push(r);
            if chunk.len() == 5_000 {
                rt.create(std::mem::take(&mut chunk), SimTime::ZERO).await?;
            }
        }
        rt.create(chunk, SimTime::ZERO).await?;
        for part in ids.chunks(5_000) {
            let batch = load(part, 1, part.len()).pop().unwrap_or_default();
            rt.ingest(batch, false).await?;
        }
        Ok::<_, RuntimeError>(())
    })?;
    let resident = futures::executor::block_on(rt.resident())?;
    assert_eq!(resident, n);
    drop(ids);
    let after = rss_bytes();
    std::hint::black_box(&rt);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// One plain actix actor per entity, for comparison.
struct EntityActor {
    value: f64,
    time: SimTime,
    done: Arc<AtomicU64>,
}

impl Actor for EntityActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Obs(f64, SimTime);

impl Handler<Obs> for EntityActor {
    type Result = ();
    fn handle(&mut self, msg: Obs, _: &mut Context<Self>) {
        if msg.1 >= self.time {
            self.value = msg.0;
            self.time = msg.1;
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The same load through one actix actor per entity (`n` actors on
/// `workers` arbiters), sent with `do_send` from the driver thread.
pub fn actix_per_entity_obs_per_s(n: usize, rounds: usize, workers: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let d = done.clone();
    let thread = std::thread::spawn(move || {
        let sys = actix::System::new();
        let arbiters = sys.block_on(async move {
            let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
            let addrs: Vec<Addr<EntityActor>> = (0..n)
                .map(|i| {
                    let d = d.clone();
                    EntityActor::start_in_arbiter(&arbiters[i % workers].handle(), move |_| {
                        EntityActor {
                            value: 0.0,
                            time: SimTime::MIN,
                            done: d,
                        }
                    })
                })
                .collect();
            let _ = tx.send((addrs, actix::System::current()));
            arbiters
        });
        let _ = sys.run();
        for a in arbiters {
            a.stop();
            let _ = a.join();
        }
    });
    let (addrs, system) = rx.recv().expect("actix system started");
    let total = (n * rounds) as u64;
    let start = Instant::now();
    for r in 0..rounds {
        for (i, a) in addrs.iter().enumerate() {
            a.do_send(Obs(
                18.0 + (i % 100) as f64 / 10.0,
                SimTime::secs(r as i64 + 1),
            ));
        }
    }
    while done.load(Ordering::Relaxed) < total {
        std::thread::yield_now();
    }
    let secs = start.elapsed().as_secs_f64();
    drop(addrs);
    system.stop();
    let _ = thread.join();
    total as f64 / secs
}
