//! `twin bench store`: the store's engines side by side on the twin's own
//! history workload, alternating engines so that host noise hits both.
//!
//! Each figure covers:
//! - `E_ingest_obs_per_s`: history written by two writer threads (as two
//!   shards would), one sample a simulated second for each series, with a
//!   flush every 500 ms (as `twin run` makes writes durable), compaction
//!   running at every simulated hour boundary and a raw retention of two
//!   hours, so the measured window holds heads sealing, WAL trimming, at
//!   least two compactions and a retention pass. The first simulated hour
//!   is warm-up and not counted. The median over `--runs`.
//! - `E_history_read_p99_ms`: a 24-hour query at 5-minute resolution, 100 a
//!   second from a third thread during the measured window, over series
//!   holding a day of history.
//! - `E_compaction_*` and `E_bytes_per_obs`: in a child process per figure,
//!   hours of 1 Hz series (`--series` and 4 × `--series` of them) written,
//!   flushed and compacted as warm-up (four small hours, one large: the
//!   same volume), then one more hour written, the engine settled
//!   (memtables flushed) and that hour compacted; samples rolled up per
//!   second and the rise of the peak resident size during that compaction
//!   (medians over `--runs`),
//!   and the store's size
//!   on disk per sample once compacted and settled (the engine's own
//!   background space reclaiming done at once), and the bytes of the keys
//!   and values it holds per sample (`E_stored_bytes_per_obs`: without the
//!   engine's logs, pre-allocated files and unreclaimed garbage).
//! - `E_stress_stalls`: four writers making every batch durable, with
//!   compaction, for `--stress-minutes`; a stall is a watchdog seeing writes
//!   pending for 10 s with none completing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use serde_json::{Map, Value as Json, json};
use twin_core::memory::{peak_rss_bytes, reset_peak_rss, rss_bytes};
use twin_core::store::watch::STALL_AFTER;
use twin_core::store::{EngineKind, Options, Resolution, Retention, Store};
use twin_core::{EntityId, Kind, Measurand, Observation, SimTime};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(ClapArgs, Clone)]
pub struct StoreBench {
    /// Engine to measure: sled, fjall or both.
    #[arg(long, default_value = "both")]
    pub engine: String,
    /// Series written at 1 Hz of simulated time during ingest.
    #[arg(long, default_value_t = 4000)]
    pub series: usize,
    /// Ingest and compaction runs per engine; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Length of each engine's stress run.
    #[arg(long, default_value_t = 10.0)]
    pub stress_minutes: f64,
    /// Internal: run one compaction measurement in this process.
    #[arg(long, hide = true, num_args = 3, value_names = ["ENGINE", "SERIES", "WARM_UP_HOURS"])]
    pub compaction_child: Option<Vec<String>>,
}

fn engines(which: &str) -> Result<Vec<EngineKind>> {
    Ok(match which {
        "both" => EngineKind::ALL.to_vec(),
        one => vec![one.parse::<EngineKind>()?],
    })
}

fn open(dir: &std::path::Path, engine: EngineKind, retention: Retention) -> Result<Store> {
    let options = Options {
        engine: Some(engine),
        retention,
    };
    Ok(Store::open_with(dir, options)?)
}

fn series_ids(prefix: &str, n: usize) -> Vec<EntityId> {
    (0..n)
        .map(|i| EntityId::new(Kind::Sensor, &format!("{prefix}-{i}")))
        .collect()
}

/// A sensor-like value: a slow wave plus noise, quantised to 0.01.
fn reading(series: usize, t: i64) -> f64 {
    let x = 40.0
        + 5.0 * ((t as f64 / 600.0) + series as f64).sin()
        + ((t * 31 + series as i64 * 7) % 23) as f64 * 0.05;
    (x * 100.0).round() * 0.01
}

/// One sample per series at second `t`.
fn round(ids: &[EntityId], offset: usize, t: i64, out: &mut Vec<Observation>) {
    out.clear();
    out.extend(ids.iter().enumerate().map(|(i, id)| {
        Observation::number(
            *id,
            SimTime::secs(t),
            Measurand::Temperature,
            reading(i + offset, t),
        )
    }));
}

pub fn run(b: StoreBench, progress: impl Fn(&str)) -> Result<Json> {
    if let Some(args) = &b.compaction_child {
        let f = compaction_child(args[0].parse()?, args[1].parse()?, args[2].parse()?)?;
        return Ok(f);
    }
    let engines = engines(&b.engine)?;
    let mut out = Map::new();
    let mut ingest: Vec<(EngineKind, Vec<f64>, Vec<f64>)> = engines
        .iter()
        .map(|e| (*e, Vec::new(), Vec::new()))
        .collect();
    for r in 0..b.runs.max(1) {
        for (e, rates, reads) in &mut ingest {
            progress(&format!("ingest {e}, run {} of {}", r + 1, b.runs));
            let (rate, p99) = ingest_run(*e, b.series)?;
            rates.push(rate);
            reads.push(p99);
        }
    }
    for (e, rates, reads) in &ingest {
        out.insert(format!("{e}_ingest_obs_per_s"), json!(median(rates)));
        out.insert(format!("{e}_ingest_obs_per_s_runs"), json!(rates));
        out.insert(format!("{e}_history_read_p99_ms"), json!(median(reads)));
    }
    let large = 4 * b.series;
    for (size, series) in [("small", b.series), ("large", large)] {
        for e in &engines {
            let mut runs = Vec::new();
            for r in 0..b.runs.max(1) {
                progress(&format!(
                    "compaction {e}, {size} hour ({series} series), run {} of {}",
                    r + 1,
                    b.runs
                ));
                runs.push(compaction_in_child(*e, series, large / series)?);
            }
            for key in ["samples_per_s", "peak_rss_mb"] {
                let xs: Vec<f64> = runs.iter().filter_map(|f| f[key].as_f64()).collect();
                out.insert(format!("{e}_compaction_{key}_{size}"), json!(median(&xs)));
                out.insert(format!("{e}_compaction_{key}_{size}_runs"), json!(xs));
            }
            if size == "large" {
                for key in ["bytes_per_obs", "stored_bytes_per_obs"] {
                    out.insert(format!("{e}_{key}"), runs[0][key].clone());
                }
            }
        }
    }
    for e in &engines {
        progress(&format!("stress {e}, {} min", b.stress_minutes));
        let (stalls, writes) = stress(*e, b.stress_minutes)?;
        out.insert(format!("{e}_stress_stalls"), json!(stalls));
        out.insert(format!("{e}_stress_batches"), json!(writes));
    }
    let score = |e: &EngineKind| {
        let stalls = out[&format!("{e}_stress_stalls")]
            .as_u64()
            .unwrap_or(u64::MAX);
        let rate = out[&format!("{e}_ingest_obs_per_s")]
            .as_f64()
            .unwrap_or(0.0);
        (stalls == 0, rate)
    };
    let chosen = engines
        .iter()
        .max_by(|a, b| score(a).partial_cmp(&score(b)).expect("finite rates"))
        .expect("at least one engine");
    out.insert("chosen_engine".into(), json!(chosen.name()));
    out.insert("series".into(), json!(b.series));
    Ok(Json::Object(out))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One ingest run: returns (samples per second in the measured window,
/// p99 of the 24-hour reads in ms).
fn ingest_run(engine: EngineKind, series: usize) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let retention = Retention {
        raw: SimTime::hours(2),
        ..Retention::default()
    };
    let store = open(dir.path(), engine, retention)?;
    // A day of one-minute history for the series the reader queries.
    let readable = series_ids("read", 100);
    let mut batch = Vec::new();
    for m in 0..24 * 60 {
        round(&readable, 0, m * 60, &mut batch);
        store.write_history(&batch)?;
    }
    store.compact(SimTime::hours(24))?;
    let start = 24 * 3600;
    let (warm, window) = (3600, 3 * 3600);
    let end = start + warm + window;
    let ids = series_ids("ingest", series);
    let halves: Vec<Vec<EntityId>> = ids.chunks(series.div_ceil(2)).map(<[_]>::to_vec).collect();
    let progress: Vec<Arc<AtomicI64>> = halves
        .iter()
        .map(|_| Arc::new(AtomicI64::new(start)))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let measured = Arc::new(AtomicU64::new(0));
    let window_start = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let now = {
        let progress = progress.clone();
        move || {
            progress
                .iter()
                .map(|p| p.load(Ordering::Relaxed))
                .min()
                .unwrap_or(start)
        }
    };
    std::thread::scope(|s| -> Result<(f64, f64)> {
        let mut writers = Vec::new();
        for (w, half) in halves.iter().enumerate() {
            let (store, at, measured, window_start) = (
                store.clone(),
                progress[w].clone(),
                measured.clone(),
                window_start.clone(),
            );
            let offset = w * series.div_ceil(2);
            writers.push(s.spawn(move || -> twin_core::store::Result<()> {
                let mut batch = Vec::with_capacity(half.len());
                for t in start..end {
                    if t == start + warm {
                        window_start
                            .lock()
                            .expect("lock")
                            .get_or_insert_with(Instant::now);
                    }
                    round(half, offset, t, &mut batch);
                    store.write_history(&batch)?;
                    if t >= start + warm {
                        measured.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                    at.store(t, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        let upkeep = {
            let (store, done, now) = (store.clone(), done.clone(), now.clone());
            s.spawn(move || -> twin_core::store::Result<u32> {
                let (mut hour, mut compactions) = (now() / 3600, 0);
                let mut flushed = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    if flushed.elapsed() >= Duration::from_millis(500) {
                        store.flush()?;
                        flushed = Instant::now();
                    }
                    let h = now() / 3600;
                    if h > hour {
                        hour = h;
                        store.compact(SimTime::hours(h))?;
                        compactions += 1;
                    }
                }
                Ok(compactions)
            })
        };
        let reader = {
            let (store, done, now, window_start) = (
                store.clone(),
                done.clone(),
                now.clone(),
                window_start.clone(),
            );
            let readable = readable.clone();
            s.spawn(move || -> twin_core::store::Result<Vec<f64>> {
                let mut lat = Vec::new();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    if window_start.lock().expect("lock").is_none() {
                        continue;
                    }
                    let to = SimTime::secs(now());
                    let t0 = Instant::now();
                    let buckets = store.rollup_history(
                        readable[i % readable.len()],
                        Measurand::Temperature,
                        to - SimTime::hours(24),
                        to,
                        Resolution::FiveMinutes,
                    )?;
                    lat.push(t0.elapsed().as_secs_f64() * 1e3);
                    std::hint::black_box(buckets);
                    i += 1;
                }
                Ok(lat)
            })
        };
        for w in writers {
            w.join().expect("writer")?;
        }
        let secs = window_start
            .lock()
            .expect("lock")
            .map_or(1.0, |t| t.elapsed().as_secs_f64());
        done.store(true, Ordering::Relaxed);
        let compactions = upkeep.join().expect("upkeep")?;
        let mut lat = reader.join().expect("reader")?;
        if compactions < 3 {
            return Err(format!("{engine}: only {compactions} compactions ran").into());
        }
        lat.sort_by(f64::total_cmp);
        let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or(f64::NAN);
        Ok((measured.load(Ordering::Relaxed) as f64 / secs, p99))
    })
}

/// Runs [`compaction_child`] in a fresh process, so that its peak resident
/// size is its own.
fn compaction_in_child(engine: EngineKind, series: usize, warm_up: usize) -> Result<Json> {
    let (series, warm_up) = (series.to_string(), warm_up.to_string());
    let args = [
        "bench",
        "store",
        "--compaction-child",
        engine.name(),
        &series,
        &warm_up,
    ];
    let out = crate::bench::run_self(&args, "compaction child")?;
    Ok(serde_json::from_slice(&out)?)
}

/// Writes and compacts `warm_up` hours of `series` 1 Hz series (warm-up:
/// the engine's memtables, block cache and the allocator reach the size
/// they keep in a long run; the caller gives both hour sizes the same
/// volume, so a small hour does not measure a block cache still filling),
/// then writes and compacts one more hour, measured: samples per second,
/// the rise of the peak resident size in MB over that compaction, and
/// bytes on disk per sample after.
fn compaction_child(engine: EngineKind, series: usize, warm_up: usize) -> Result<Json> {
    let dir = tempfile::tempdir()?;
    let store = open(dir.path(), engine, Retention::default())?;
    let ids = series_ids("c", series);
    let mut batch = Vec::new();
    let mut write_hour = |hour: i64| -> Result<()> {
        for t in hour * 3600..(hour + 1) * 3600 {
            round(&ids, 0, t, &mut batch);
            store.write_history(&batch)?;
        }
        Ok(store.flush()?)
    };
    let warm_up = warm_up.max(1) as i64;
    for h in 0..warm_up {
        write_hour(h)?;
        store.compact(SimTime::hours(h + 1))?;
    }
    write_hour(warm_up)?;
    // The engine at rest: what its memtables held from the writes is on
    // disk, so the rise below is the compaction's own.
    store.settle()?;
    reset_peak_rss();
    let before = rss_bytes();
    let t0 = Instant::now();
    let report = store.compact(SimTime::hours(warm_up + 1))?;
    let secs = t0.elapsed().as_secs_f64();
    let rise = peak_rss_bytes().saturating_sub(before);
    store.settle()?;
    let samples = (series * (warm_up as usize + 1) * 3600) as f64;
    Ok(json!({
        "samples_per_s": report.samples_rolled_up as f64 / secs,
        "peak_rss_mb": rise as f64 / 1e6,
        "bytes_per_obs": store.size_on_disk() as f64 / samples,
        "stored_bytes_per_obs": store.stored_bytes()? as f64 / samples,
    }))
}

/// Four writers, each batch made durable, compaction at every simulated
/// hour; returns (stalls seen, batches written).
fn stress(engine: EngineKind, minutes: f64) -> Result<(u64, u64)> {
    let dir = tempfile::tempdir()?;
    let retention = Retention {
        raw: SimTime::hours(6),
        ..Retention::default()
    };
    let store = open(dir.path(), engine, retention)?;
    let stop_at = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let latest = Arc::new(AtomicI64::new(0));
    let batches = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| -> Result<u64> {
        let mut writers = Vec::new();
        for w in 0..4 {
            let (store, latest, batches) = (store.clone(), latest.clone(), batches.clone());
            writers.push(s.spawn(move || -> twin_core::store::Result<()> {
                let ids = series_ids(&format!("stress-{w}"), 1000);
                let mut batch = Vec::new();
                let mut t = 0;
                while Instant::now() < stop_at {
                    round(&ids, 0, t, &mut batch);
                    store.write_history(&batch)?;
                    store.flush()?;
                    latest.fetch_max(t, Ordering::Relaxed);
                    batches.fetch_add(1, Ordering::Relaxed);
                    t += 1;
                }
                Ok(())
            }));
        }
        let watchdog = {
            let (store, done) = (store.clone(), done.clone());
            s.spawn(move || {
                let (mut stalls, mut stalled) = (0, false);
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    let now = store.write_stall(STALL_AFTER).is_some();
                    if now && !stalled {
                        stalls += 1;
                    }
                    stalled = now;
                }
                stalls
            })
        };
        let mut hour = 0;
        while Instant::now() < stop_at {
            std::thread::sleep(Duration::from_millis(50));
            let h = latest.load(Ordering::Relaxed) / 3600;
            if h > hour {
                hour = h;
                store.compact(SimTime::hours(h))?;
            }
        }
        for w in writers {
            w.join().expect("writer")?;
        }
        done.store(true, Ordering::Relaxed);
        Ok(watchdog.join().expect("watchdog"))
    })
    .map(|stalls| (stalls, batches.load(Ordering::Relaxed)))
}
