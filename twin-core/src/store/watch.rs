//! Seeing a store that stops writing.
//!
//! An engine that deadlocks or a disk that stops answering shows up as a
//! write call that never returns. [`Tracked`] wraps the engine and counts the
//! write calls in progress and when one last completed; a watchdog (the run
//! loop's, the gRPC health service's) asks through
//! [`Store::write_stall`](super::Store::write_stall) and reports a store that
//! has had writes pending for [`STALL_AFTER`] without completing one. Reads
//! are passed through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Result;
use super::engine::{Batch, Bytes, Engine, EngineKind, Scan, Tree};

/// Writes pending this long with none completing make a stall.
pub const STALL_AFTER: Duration = Duration::from_secs(10);

pub struct Tracked {
    inner: Arc<dyn Engine>,
    start: Instant,
    pending: AtomicU64,
    /// Microseconds from `start` to the last completed write (or to the
    /// first pending one, when none has completed since).
    last_done_us: AtomicU64,
}

/// Counts one write in progress until dropped.
struct Pending<'a>(&'a Tracked);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let t = self.0;
        t.last_done_us.store(t.now_us(), Ordering::Relaxed);
        t.pending.fetch_sub(1, Ordering::Release);
    }
}

impl Tracked {
    pub fn new(inner: Arc<dyn Engine>) -> Tracked {
        Tracked {
            inner,
            start: Instant::now(),
            pending: AtomicU64::new(0),
            last_done_us: AtomicU64::new(0),
        }
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn begin(&self) -> Pending<'_> {
        if self.pending.fetch_add(1, Ordering::Acquire) == 0 {
            // Nothing was pending: the clock of this wait starts now.
            self.last_done_us.store(self.now_us(), Ordering::Relaxed);
        }
        Pending(self)
    }

    /// How long writes have been pending with none completing, if any is
    /// pending.
    pub fn stalled_for(&self) -> Option<Duration> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return None;
        }
        let since = self.last_done_us.load(Ordering::Relaxed);
        Some(Duration::from_micros(self.now_us().saturating_sub(since)))
    }
}

impl Engine for Tracked {
    fn kind(&self) -> EngineKind {
        self.inner.kind()
    }
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(tree, key)
    }
    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool> {
        self.inner.contains(tree, key)
    }
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<()> {
        let _p = self.begin();
        self.inner.insert(tree, key, value)
    }
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()> {
        let _p = self.begin();
        self.inner.remove(tree, key)
    }
    fn apply(&self, batch: Batch) -> Result<()> {
        let _p = self.begin();
        self.inner.apply(batch)
    }
    fn range<'a>(&'a self, tree: Tree, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Scan<'a> {
        self.inner.range(tree, from, to, reverse)
    }
    fn flush(&self) -> Result<()> {
        let _p = self.begin();
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64> {
        self.inner.size_on_disk()
    }
    fn settle(&self) -> Result<()> {
        self.inner.settle()
    }
    fn catch_up(&self) {
        self.inner.catch_up()
    }
}
