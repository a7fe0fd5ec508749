//! Group commit: many callers that each need their writes durable share one
//! sync of the engine.
//!
//! A sync makes durable every write completed before it started. A caller
//! therefore needs a sync that starts after its call: if one is running, it
//! waits for it to end and for the next one, which it either runs itself
//! (the leader) or shares with every caller that came meanwhile. Under
//! concurrent durable ingests this turns one sync per batch into one sync
//! per round of batches, and a lone caller still pays exactly one sync.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::{Result, StoreError};

#[derive(Default)]
pub(super) struct GroupCommit {
    state: Mutex<State>,
    ended: Condvar,
}

#[derive(Default)]
struct State {
    /// Syncs started so far; the running one, if any, is number `started`.
    started: u64,
    /// Syncs ended so far.
    ended: u64,
    /// The error of the last ended sync, if it failed.
    failed: Option<String>,
}

impl GroupCommit {
    /// Returns once a sync that started after this call has ended; runs it
    /// with `sync` unless another caller does.
    pub(super) fn sync(&self, sync: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.lock();
        let need = s.started + 1;
        loop {
            if s.ended >= need {
                return match &s.failed {
                    Some(e) => Err(StoreError::Io(format!("sync failed: {e}"))),
                    None => Ok(()),
                };
            }
            if s.started == s.ended {
                // Nothing running: lead the next sync.
                s.started += 1;
                drop(s);
                let result = sync();
                let mut s = self.lock();
                s.ended = s.started;
                s.failed = result.as_ref().err().map(ToString::to_string);
                drop(s);
                self.ended.notify_all();
                return result;
            }
            s = self.ended.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_lone_caller_runs_one_sync_per_call() {
        let g = GroupCommit::default();
        let runs = AtomicU64::new(0);
        for _ in 0..3 {
            g.sync(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    /// Callers arriving while a sync runs share the next one; none returns
    /// before a sync that started after its call has ended.
    #[test]
    fn concurrent_callers_share_syncs_that_start_after_them() {
        let g = Arc::new(GroupCommit::default());
        let started = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (g, started, ended) = (g.clone(), started.clone(), ended.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        // Syncs started before the call cannot cover it.
                        let before = started.load(Ordering::SeqCst);
                        g.sync(|| {
                            started.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            ended.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                        assert!(ended.load(Ordering::SeqCst) > before);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let syncs = started.load(Ordering::SeqCst);
        assert!(syncs < 16 * 20, "{syncs} syncs for 320 calls: none shared");
    }

    #[test]
    fn a_failed_sync_is_an_error_for_its_callers() {
        let g = Arc::new(GroupCommit::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let leader = {
            let g = g.clone();
            std::thread::spawn(move || {
                g.sync(|| {
                    rx.recv().unwrap();
                    Ok(())
                })
            })
        };
        while g.lock().started == 0 {
            std::thread::yield_now();
        }
        let follower = {
            let g = g.clone();
            std::thread::spawn(move || g.sync(|| Err(StoreError::Io("disk full".into()))))
        };
        tx.send(()).unwrap();
        assert!(leader.join().unwrap().is_ok());
        let err = follower.join().unwrap().unwrap_err().to_string();
        assert!(err.contains("disk full"), "{err}");
    }
}
