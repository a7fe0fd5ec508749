//! A batch acknowledged as durable survives `kill -9` of the runtime while
//! two writers ingest, idle entities are passivated and checkpoints let
//! the journal go under them: after the kill, a new runtime on the store
//! shows every acknowledged reading.
//!
//! The test runs its own binary again as a child process (selected by an
//! environment variable); the child prints `ack W B` once writer W's batch
//! B is acknowledged. The parent kills it with SIGKILL mid-stream.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use futures::executor::block_on;
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::state::SensorState;
use twin_core::store::{Retention, Store};
use twin_core::{EntityId, EntityRecord, Kind, KindState, Measurand, Observation, SimTime};

const CHILD_DIR: &str = "TWIN_JOURNAL_CHILD_DIR";
const WRITERS: usize = 2;
const SENSORS: usize = 100;
/// Acknowledged batches per writer before the kill.
const ACKED: i64 = 300;

fn sensor(i: usize) -> EntityId {
    EntityId::new(Kind::Sensor, &format!("journal-{i:03}"))
}

fn start(dir: &std::path::Path) -> Runtime {
    let store = Store::open(dir, Retention::default()).expect("the store opens");
    Runtime::start(
        RuntimeConfig {
            workers: 2,
            passivate_after: Some(SimTime::secs(5)),
            ..RuntimeConfig::default()
        },
        Some(store),
    )
    .expect("the runtime starts")
}

/// Writer `w`'s batch `b`: one reading at second `b + 1` for
/// each of its sensors (every other one), half of them skipped on odd
/// batches so that some go idle long enough to be passivated.
fn batch(w: usize, b: i64) -> Vec<Observation> {
    (w..SENSORS)
        .step_by(WRITERS)
        .filter(|i| b % 2 == 0 || i % 4 < 2)
        .map(|i| {
            Observation::number(
                sensor(i),
                SimTime::secs(b + 1),
                Measurand::Temperature,
                (b % 100) as f64,
            )
        })
        .collect()
}

fn child(dir: &str) -> ! {
    let rt = Arc::new(start(dir.as_ref()));
    let records: Vec<EntityRecord> = (0..SENSORS)
        .map(|i| {
            EntityRecord::new(Kind::Sensor, &format!("journal-{i:03}"), "pt100").with_state(
                KindState::Sensor(SensorState::measuring(
                    &[Measurand::Temperature],
                    SimTime::secs(1),
                )),
            )
        })
        .collect();
    block_on(rt.create(records, SimTime::ZERO)).unwrap();
    println!("created");
    let latest = Arc::new(AtomicI64::new(0));
    for w in 0..WRITERS {
        let (rt, latest) = (rt.clone(), latest.clone());
        std::thread::spawn(move || {
            for b in 0.. {
                let report = block_on(rt.ingest(batch(w, b), true)).unwrap();
                assert!(report.errors.is_empty(), "{:?}", report.errors);
                latest.fetch_max(b + 1, Ordering::Relaxed);
                println!("ack {w} {b}");
            }
        });
    }
    for round in 0.. {
        std::thread::sleep(std::time::Duration::from_millis(3));
        let now = SimTime::secs(latest.load(Ordering::Relaxed));
        block_on(rt.tick(now)).unwrap();
        if round % 10 == 9 {
            block_on(rt.checkpoint()).unwrap();
        }
    }
    unreachable!()
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
fn acknowledged_durable_batches_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_durable_batches_survive_sigkill",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut acked = [-1i64; WRITERS];
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let (w, b) = rest.split_once(' ').unwrap();
            let w: usize = w.parse().unwrap();
            acked[w] = acked[w].max(b.parse().unwrap());
            if acked.iter().all(|a| *a >= ACKED) {
                break;
            }
        }
    }
    assert!(
        acked.iter().all(|a| *a >= ACKED),
        "the child acknowledged {acked:?} batches before exiting"
    );
    guard.0.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush
    guard.0.wait().unwrap();

    let rt = start(dir.path());
    for (w, last) in acked.iter().enumerate() {
        for i in (w..SENSORS).step_by(WRITERS) {
            // The last acknowledged batch that wrote to sensor i.
            let b = (0..=*last).rev().find(|b| b % 2 == 0 || i % 4 < 2).unwrap();
            let r = block_on(rt.get(sensor(i))).unwrap().unwrap();
            let t = r.common.readings.get(Measurand::Temperature).unwrap().time;
            assert!(
                t >= SimTime::secs(b + 1),
                "sensor {i}: reading of {t}, batch {b} of writer {w} was acknowledged"
            );
        }
    }
    block_on(rt.shutdown()).unwrap();
}
