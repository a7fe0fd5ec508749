//! A write acknowledged as durable survives `kill -9`.
//!
//! The test runs its own binary again as a child process (selected by an
//! environment variable) that writes batches of history and state to a store,
//! flushes, and prints `ack N` after each flush, forever. The parent reads a
//! number of acknowledgements, kills the child with SIGKILL mid-stream, reopens
//! the store and checks that every acknowledged batch is there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use twin_core::store::{Retention, Store};
use twin_core::{EntityId, EntityRecord, Kind, Measurand, Observation, SimTime};

const CHILD_DIR: &str = "TWIN_DURABILITY_CHILD_DIR";
const PER_BATCH: i64 = 200;
const SENSORS: i64 = 10;

fn sensor(i: i64) -> EntityId {
    EntityId::new(Kind::Sensor, &format!("dur-{i}"))
}

/// Batch `b`: `PER_BATCH` samples spread over the sensors, plus one state
/// record whose name encodes the batch.
fn batch(b: i64) -> (Vec<Observation>, EntityRecord) {
    let obs = (0..PER_BATCH)
        .map(|k| {
            let n = b * PER_BATCH + k;
            Observation::number(
                sensor(n % SENSORS),
                SimTime::secs(n),
                Measurand::Temperature,
                n as f64,
            )
        })
        .collect();
    (
        obs,
        EntityRecord::new(Kind::Machine, &format!("dur-batch-{b}"), "press"),
    )
}

fn child(dir: &str) -> ! {
    let store = Store::open(dir, Retention::default()).expect("child opens the store");
    for b in 0.. {
        let (obs, rec) = batch(b);
        store.write_history(&obs).unwrap();
        store.put_states([&rec]).unwrap();
        store.flush().unwrap();
        println!("ack {b}");
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
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_sigkill",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut acked = -1;
    for line in BufReader::new(stdout).lines() {
        if let Some(n) = line.unwrap().strip_prefix("ack ") {
            acked = n.parse().unwrap();
            if acked >= 30 {
                break;
            }
        }
    }
    assert!(
        acked >= 30,
        "the child acknowledged {acked} batches before exiting"
    );
    guard.0.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush
    guard.0.wait().unwrap();

    let store = Store::open(dir.path(), Retention::default()).unwrap();
    for b in 0..=acked {
        let (obs, rec) = batch(b);
        assert!(
            store.get_state(rec.id()).unwrap().is_some(),
            "state of batch {b} lost"
        );
        for o in obs.iter().step_by(37) {
            let s = store
                .raw_history(o.entity, o.measurand, o.time, o.time + SimTime(1))
                .unwrap();
            assert_eq!(s.len(), 1, "sample at {} of batch {b} lost", o.time);
            assert_eq!(s[0].value, o.value);
        }
    }
    let total: usize = (0..SENSORS)
        .map(|i| {
            store
                .raw_history(
                    sensor(i),
                    Measurand::Temperature,
                    SimTime::ZERO,
                    SimTime::days(1),
                )
                .unwrap()
                .len()
        })
        .sum();
    assert!(
        total as i64 >= (acked + 1) * PER_BATCH,
        "{total} samples after {acked} acks"
    );
}
