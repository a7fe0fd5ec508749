//! A write acknowledged as durable survives `kill -9`, on each engine, while
//! other writers ingest, the WAL is trimmed and hours are compacted.
//!
//! The test runs its own binary again as a child process (selected by an
//! environment variable). The child runs two writers, each writing small
//! batches of history (so the WAL passes its trimming interval many times),
//! flushing, and printing `ack W N` once its batches up to N are durable;
//! a third thread compacts the store every few milliseconds up to the
//! latest time written, so hours close, roll up and repack under the
//! writers. The parent kills the child with SIGKILL mid-stream, reopens the
//! store and checks that every acknowledged sample and state is there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use twin_core::store::{EngineKind, Options, Retention, Store};
use twin_core::{EntityId, EntityRecord, Kind, Measurand, Observation, SimTime};

const CHILD_DIR: &str = "TWIN_DURABILITY_CHILD_DIR";
const CHILD_ENGINE: &str = "TWIN_DURABILITY_CHILD_ENGINE";
const WRITERS: i64 = 2;
const PER_BATCH: i64 = 12;
const SENSORS: i64 = 6;
/// Batches between flushes (and acknowledgements).
const FLUSH_EVERY: i64 = 8;
/// Acknowledged batches per writer before the kill: well past the WAL's
/// trimming interval (1,024 writes) in all.
const ACKED: i64 = 1600;

fn sensor(w: i64, i: i64) -> EntityId {
    EntityId::new(Kind::Sensor, &format!("dur-{w}-{i}"))
}

/// Writer `w`'s batch `b`: `PER_BATCH` samples spread over its sensors, one
/// simulated second apart, plus one state record whose name encodes it.
fn batch(w: i64, b: i64) -> (Vec<Observation>, EntityRecord) {
    let obs = (0..PER_BATCH)
        .map(|k| {
            let n = b * PER_BATCH + k;
            Observation::number(
                sensor(w, n % SENSORS),
                SimTime::secs(n),
                Measurand::Temperature,
                n as f64,
            )
        })
        .collect();
    (
        obs,
        EntityRecord::new(Kind::Machine, &format!("dur-{w}-batch-{b}"), "press"),
    )
}

fn open(dir: &std::path::Path, engine: EngineKind) -> Store {
    let options = Options {
        engine: Some(engine),
        retention: Retention::default(),
    };
    Store::open_with(dir, options).expect("the store opens")
}

fn child(dir: &str, engine: EngineKind) -> ! {
    let store = open(dir.as_ref(), engine);
    let latest = Arc::new(AtomicI64::new(0));
    for w in 0..WRITERS {
        let (store, latest) = (store.clone(), latest.clone());
        std::thread::spawn(move || {
            for b in 0.. {
                let (obs, rec) = batch(w, b);
                store.write_history(&obs).unwrap();
                store.put_states([&rec]).unwrap();
                latest.fetch_max(obs[PER_BATCH as usize - 1].time.as_ms(), Ordering::Relaxed);
                if b % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    store.flush().unwrap();
                    println!("ack {w} {b}");
                }
            }
        });
    }
    loop {
        let now = SimTime(latest.load(Ordering::Relaxed));
        store.compact(now).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Kills the child if the test fails before it does.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_under_ingest_trimming_and_compaction() {
    if let (Ok(dir), Ok(engine)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ENGINE)) {
        child(&dir, engine.parse().unwrap());
    }
    for engine in EngineKind::ALL {
        survives_sigkill(engine);
    }
}

fn survives_sigkill(engine: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_sigkill_under_ingest_trimming_and_compaction",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_ENGINE, engine.name())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut acked = [-1i64; WRITERS as usize];
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let (w, b) = rest.split_once(' ').unwrap();
            acked[w.parse::<usize>().unwrap()] = b.parse().unwrap();
            if acked.iter().all(|a| *a >= ACKED) {
                break;
            }
        }
    }
    assert!(
        acked.iter().all(|a| *a >= ACKED),
        "{engine}: the child acknowledged {acked:?} batches before exiting"
    );
    guard.0.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush
    guard.0.wait().unwrap();

    let store = open(dir.path(), engine);
    for w in 0..WRITERS {
        let last = acked[w as usize];
        for b in 0..=last {
            let (_, rec) = batch(w, b);
            assert!(
                store.get_state(rec.id()).unwrap().is_some(),
                "{engine}: state of writer {w} batch {b} lost"
            );
        }
        for i in 0..SENSORS {
            let samples = store
                .raw_history(
                    sensor(w, i),
                    Measurand::Temperature,
                    SimTime::ZERO,
                    SimTime::days(30),
                )
                .unwrap();
            let expected = ((last + 1) * PER_BATCH - i + SENSORS - 1) / SENSORS;
            let have: Vec<i64> = samples.iter().map(|s| s.time.as_ms() / 1000).collect();
            let missing = (0..expected)
                .map(|k| k * SENSORS + i)
                .find(|n| have.binary_search(n).is_err());
            assert_eq!(
                missing,
                None,
                "{engine}: writer {w} sensor {i}: sample at {missing:?} s lost ({} kept)",
                have.len()
            );
        }
    }
}
