//! Tests of the history's internals: WAL trimming and the seal/trim race.

use super::heads::{WAL_KEEP, stripe};
use super::*;
use crate::store::{EngineKind, Options, Retention, Store};
use crate::time::SimTime;
use crate::{EntityId, Kind, Measurand};

fn open(dir: &std::path::Path, engine: EngineKind) -> Store {
    Store::open_with(
        dir,
        Options {
            engine: Some(engine),
            retention: Retention::default(),
        },
    )
    .unwrap()
}

fn wal_blocks(store: &Store) -> u64 {
    store
        .inner
        .engine
        .range(Tree::Wal, &[], None, false)
        .count() as u64
}

/// A fast series keeps the WAL moving while a slow one went quiet after
/// a few samples: the log is trimmed as it goes, without a compaction,
/// and nothing is lost across a reopen.
#[test]
fn wal_is_trimmed_while_writing_and_quiet_series_are_sealed() {
    for engine in EngineKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let fast = EntityId::new(Kind::Sensor, "fast");
        let slow = EntityId::new(Kind::Sensor, "slow");
        let writes = WAL_KEEP * 3 / 2 + 3 * TRIM_EVERY;
        let at = |i: u64| SimTime::ms(i as i64);
        {
            let store = open(dir.path(), engine);
            for i in 0..3 {
                let o = Observation::number(slow, at(i), Measurand::Temperature, i as f64);
                store.write_history([&o]).unwrap();
            }
            for i in 0..writes {
                let o = Observation::number(fast, at(i), Measurand::Temperature, i as f64);
                store.write_history([&o]).unwrap();
            }
            let left = wal_blocks(&store);
            assert!(
                left < TRIM_EVERY,
                "{engine}: {left} of {} WAL blocks left",
                writes + 3
            );
            // The slow series' head was sealed to let the log go.
            let series = (slow, Measurand::Temperature);
            let heads = store.inner.history.heads.lock(stripe(&series));
            assert!(heads[&series].bytes.is_empty(), "{engine}");
            drop(heads);
            store.flush().unwrap();
        }
        let store = open(dir.path(), engine);
        let all = |id| {
            store
                .raw_history(id, Measurand::Temperature, at(0), at(writes))
                .unwrap()
        };
        assert_eq!(all(slow).len(), 3, "{engine}");
        let fast_samples = all(fast);
        assert_eq!(fast_samples.len() as u64, writes, "{engine}");
        assert!(
            fast_samples
                .iter()
                .enumerate()
                .all(|(i, s)| s.value.as_f64() == Some(i as f64))
        );
    }
}

/// The race that lost acknowledged samples: a writer seals a head (its
/// samples leave memory) and, before the chunk is on disk, a trim runs and
/// the process dies. The hook runs the trim in exactly that window, then
/// fails the write as a crash would; every sample acknowledged before must
/// come back from the WAL at the next open.
#[test]
fn a_trim_between_sealing_and_writing_a_chunk_loses_nothing() {
    for engine in EngineKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let id = EntityId::new(Kind::Sensor, "race");
        let at = |i: u64| SimTime::secs(i as i64);
        let mut acked = 0u64;
        {
            let store = open(dir.path(), engine);
            let trimmed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let seen = trimmed.clone();
            *store.inner.history.before_put.lock().unwrap() = Some(Box::new(move |h: &History| {
                let n = h.trim_wal(false).expect("trim");
                seen.store(n + 1, std::sync::atomic::Ordering::SeqCst);
                true // the process dies before the chunk is written
            }));
            // One sample per write: the head spans many WAL blocks before it
            // fills and is sealed.
            for i in 0.. {
                let o = Observation::number(id, at(i), Measurand::Temperature, i as f64);
                if store.write_history([&o]).is_err() {
                    break;
                }
                acked += 1;
            }
            assert!(
                acked > 10,
                "{engine}: the head sealed after {acked} samples"
            );
            assert!(
                trimmed.load(std::sync::atomic::Ordering::SeqCst) > 0,
                "the hook ran"
            );
            *store.inner.history.before_put.lock().unwrap() = None;
            store.flush().unwrap();
        }
        let store = open(dir.path(), engine);
        let back = store
            .raw_history(id, Measurand::Temperature, at(0), at(acked + 1))
            .unwrap();
        assert!(
            back.len() as u64 >= acked,
            "{engine}: {} of {acked} acknowledged samples after the crash",
            back.len()
        );
    }
}
