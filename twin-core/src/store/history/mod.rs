//! Time-series history: a write-ahead log of whole batches, per-series head
//! chunks in memory, compressed chunks on disk, and roll-ups.
//!
//! Why this shape: an engine takes about 100k single-key inserts per second
//! but millions of samples per second when they arrive as one value. So a
//! batch of observations is written as **one** WAL value (that is what makes
//! an ingest durable), and each sample is appended to its series' in-memory
//! head. A head is sealed into one compressed chunk ([`codec`]) when it
//! fills, when its hour ends, when the WAL must move past it, or at
//! compaction — one insert per many samples. The WAL is trimmed as writes go.
//!
//! Chunk keys are (hour, entity, measurand, first time, wal block): hour
//! first, so a series query reads one short prefix per hour, compaction
//! reads one hour series by series, and retention drops whole hours. A chunk
//! never spans two hours. Compaction repacks a closed hour's chunks into one
//! per series.
//!
//! After a crash, the WAL blocks not yet trimmed are replayed into the heads.
//! A sample may then exist twice (in a chunk sealed just before the crash and
//! again from the WAL); every reader de-duplicates by (time, seq), which is the
//! sample's identity anyway.
//!
//! The parts: [`wal`] (the log, its trimming and recovery), [`heads`] (the
//! in-memory heads and sealing), [`compaction`] (roll-ups, repacking,
//! retention), [`query`] (reads), [`codec`] (the chunk encoding).

mod codec;
mod compaction;
mod heads;
mod query;
mod wal;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

pub use query::aggregate;

use super::engine::{Engine, Tree};
use super::{Result, keys};
use crate::observation::Observation;
use heads::{Sealed, Stripes, append, by_stripe};
use wal::{WalRecord, WalState};

/// A test hook run after heads are sealed and before their chunks are
/// written; `true` fails the write there, as a crash would.
#[cfg(test)]
type BeforePut = Box<dyn Fn(&History) -> bool + Send>;

/// Every this many writes, the WAL is trimmed (see [`History::trim_wal`]).
const TRIM_EVERY: u64 = 1024;

pub(super) struct History {
    db: Arc<dyn Engine>,
    heads: Stripes,
    wal: Mutex<WalState>,
    /// Held while trimming, so that one writer trims at a time.
    trimming: Mutex<()>,
    /// Hours before this one are being or have been rolled up: a sample for
    /// one of them marks its hour dirty (a cache of the meta key).
    rolling_from: AtomicI32,
    #[cfg(test)]
    before_put: Mutex<Option<BeforePut>>,
}

impl History {
    pub(super) fn open(db: Arc<dyn Engine>) -> Result<History> {
        let mut h = History {
            heads: Stripes::new(),
            wal: Mutex::new(WalState::default()),
            trimming: Mutex::new(()),
            rolling_from: AtomicI32::new(i32::MIN),
            #[cfg(test)]
            before_put: Mutex::new(None),
            db,
        };
        h.wal.get_mut().expect("fresh lock").next = h.next_block()?;
        h.rolling_from
            .store(h.meta_hour(compaction::ROLLING)?, Ordering::Relaxed);
        h.recover()?;
        Ok(h)
    }

    fn meta_hour(&self, key: &str) -> Result<i32> {
        Ok(self
            .db
            .get(Tree::Meta, key.as_bytes())?
            .map_or(i32::MIN, |b| keys::hour_from(&b)))
    }

    /// Writes a batch: one WAL value, then each sample into its head.
    pub(super) fn write<'a>(
        &self,
        observations: impl IntoIterator<Item = &'a Observation>,
    ) -> Result<()> {
        let observations: Vec<&Observation> = observations.into_iter().collect();
        if observations.is_empty() {
            return Ok(());
        }
        let block = self.wal.lock().expect("wal lock poisoned").begin();
        let written = self.write_block(block, &observations);
        self.wal.lock().expect("wal lock poisoned").end(block);
        written?;
        if block % TRIM_EVERY == TRIM_EVERY - 1 {
            self.try_trim_wal()?;
        }
        Ok(())
    }

    /// Writes block `block`: its WAL value, then each sample into its head.
    fn write_block(&self, block: u64, observations: &[&Observation]) -> Result<()> {
        let records: Vec<WalRecord> = observations.iter().map(|o| WalRecord(o)).collect();
        let bytes = postcard::to_stdvec(&records).expect("observations serialise");
        self.db.insert(Tree::Wal, &block.to_be_bytes(), &bytes)?;
        let rolling_from = self.rolling_from.load(Ordering::Relaxed);
        let mut late = Vec::new();
        for o in observations {
            let h = keys::hour_of(o.time);
            if h < rolling_from && !late.contains(&h) {
                late.push(h);
            }
        }
        let mut sealed = Sealed::new(&self.wal);
        for (stripe, run) in by_stripe(observations) {
            let mut heads = self.heads.lock(stripe);
            // Fetch every head of the run before writing any: the lookups are
            // independent, so their cache misses overlap instead of queueing
            // one behind the other as they would in one loop that also writes.
            for o in &run {
                if let Some(head) = heads.get(&(o.entity, o.measurand)) {
                    // Loading the last byte brings in the line the next
                    // sample is written to.
                    std::hint::black_box(head.bytes.last().copied());
                }
            }
            for o in run {
                append(&mut heads, o.into(), block, &mut sealed);
            }
        }
        self.put_chunks(sealed)?;
        for h in late {
            // A sample for an hour already rolled up: redo it at next compaction.
            self.db.insert(Tree::Dirty, &keys::hour_key(h), &[])?;
        }
        Ok(())
    }

    /// Writes sealed chunks, one insert each, then lets go of their pin on
    /// the WAL. Chunks need no atomicity: each stands alone, and until the
    /// WAL is trimmed the samples are also there.
    fn put_chunks(&self, sealed: Sealed<'_>) -> Result<()> {
        if sealed.chunks.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        if let Some(hook) = &*self.before_put.lock().expect("hook lock")
            && hook(self)
        {
            return Err(super::StoreError::Io(
                "simulated crash before chunks were written".into(),
            ));
        }
        for (key, bytes) in &sealed.chunks {
            self.db.insert(Tree::Chunks, key, bytes)?;
        }
        Ok(())
    }

    /// Series with unsealed samples in memory.
    pub(super) fn open_heads(&self) -> usize {
        (0..self.heads.0.len())
            .map(|i| {
                let heads = self.heads.lock(i);
                heads.values().filter(|h| !h.bytes.is_empty()).count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests;
