//! The history write-ahead log: one value per written batch, replayed into
//! the heads after a crash, trimmed as heads are sealed.
//!
//! Guarantees:
//! - a batch is in the WAL before any of its samples reaches a head, so a
//!   batch acknowledged after [`Store::flush`](crate::store::Store::flush) is
//!   recovered whole;
//! - a block is removed only when every sample in it is in a chunk on disk:
//!   below every block still being written (`in_flight`), every head's
//!   oldest block, and every block pinned by chunks sealed but not yet
//!   written (`pinned`, see [`Sealed`](super::heads::Sealed));
//! - recovery streams: it holds the heads (bounded by the series count) and
//!   a bounded list of sealed chunks, never the whole log.

use serde::{Deserialize, Serialize};

use super::History;
use super::heads::{Head, SampleRef, Sealed, Series, append, stripe, wal_keep};
use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::store::engine::Tree;
use crate::store::{Result, corrupt, delete_range, keys};
use crate::time::SimTime;
use crate::value::Value;

/// Sealed chunks recovery holds before writing them out.
const RECOVERY_FLUSH: usize = 1024;

/// The WAL's numbering and what pins it.
#[derive(Default)]
pub(in crate::store) struct WalState {
    pub next: u64,
    /// Blocks being written now: a block's samples reach the heads after its
    /// WAL insert.
    in_flight: Vec<u64>,
    /// The oldest block of each set of sealed chunks not yet on disk.
    pinned: Vec<u64>,
}

impl WalState {
    /// Takes the next block number and marks it in flight.
    pub fn begin(&mut self) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.in_flight.push(seq);
        seq
    }
    pub fn end(&mut self, seq: u64) {
        remove_one(&mut self.in_flight, seq);
    }
    pub fn pin(&mut self, block: u64) {
        self.pinned.push(block);
    }
    pub fn unpin(&mut self, block: u64) {
        remove_one(&mut self.pinned, block);
    }
    /// Blocks below this one are all in the heads or on disk.
    fn settled(&self) -> u64 {
        self.in_flight
            .iter()
            .chain(&self.pinned)
            .copied()
            .min()
            .unwrap_or(self.next)
    }
}

fn remove_one(v: &mut Vec<u64>, x: u64) {
    if let Some(i) = v.iter().position(|y| *y == x) {
        v.swap_remove(i);
    }
}

/// A WAL record: one sample of a written batch.
#[derive(Deserialize)]
struct WalSample {
    entity: EntityId,
    measurand: Measurand,
    time: SimTime,
    seq: u64,
    value: Value,
    quality: Quality,
}

/// Serialises an observation as a WAL sample without cloning its value.
pub(super) struct WalRecord<'a>(pub &'a Observation);

impl Serialize for WalRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let o = self.0;
        (o.entity, o.measurand, o.time, o.seq, &o.value, o.quality).serialize(s)
    }
}

impl History {
    /// The block after the last one in the log.
    pub(super) fn next_block(&self) -> Result<u64> {
        Ok(match self.db.last(Tree::Wal)? {
            Some((k, _)) => keys::u64_from(&k) + 1,
            None => 0,
        })
    }

    /// Replays WAL blocks not yet trimmed into the heads, one block at a
    /// time, writing sealed chunks as they accumulate.
    pub(super) fn recover(&self) -> Result<()> {
        let mut sealed = Sealed::new(&self.wal);
        for item in self.db.range(Tree::Wal, &[], None, false) {
            let (k, v) = item?;
            let block = keys::u64_from(&k);
            let samples: Vec<WalSample> =
                postcard::from_bytes(&v).map_err(corrupt(|| format!("wal block {block}")))?;
            for s in &samples {
                let series = (s.entity, s.measurand);
                let mut heads = self.heads.lock(stripe(&series));
                let sample = SampleRef {
                    entity: s.entity,
                    measurand: s.measurand,
                    time: s.time,
                    seq: s.seq,
                    value: &s.value,
                    quality: s.quality,
                };
                append(&mut heads, sample, block, &mut sealed);
            }
            if sealed.len() >= RECOVERY_FLUSH {
                self.put_chunks(std::mem::replace(&mut sealed, Sealed::new(&self.wal)))?;
            }
        }
        self.put_chunks(sealed)
    }

    /// Removes the WAL blocks whose samples are all in chunks on disk;
    /// returns how many. With `seal_stale`, first seals every head that
    /// holds a block more than its [`wal_keep`] behind the newest. One trim
    /// runs at a time (the `trimming` lock); a writer that finds it taken
    /// leaves the trim to the one running.
    ///
    /// Why not only at compaction: at a million samples a second the WAL
    /// grows by some 30 MB/s, and an hour of it would fill a disk before the
    /// hour closes; and a series gone quiet would hold it all back.
    pub(super) fn trim_wal(&self, seal_stale: bool) -> Result<u64> {
        let _one = self.trimming.lock().expect("trim lock poisoned");
        self.trim_wal_locked(seal_stale)
    }

    pub(super) fn try_trim_wal(&self) -> Result<()> {
        if let Ok(_one) = self.trimming.try_lock() {
            self.trim_wal_locked(true)?;
        }
        Ok(())
    }

    fn trim_wal_locked(&self, seal_stale: bool) -> Result<u64> {
        let settled = self.wal.lock().expect("wal lock poisoned").settled();
        let stale = |series: &Series, head: &Head| {
            seal_stale && head.wal_min < settled.saturating_sub(wal_keep(series))
        };
        let mut below = settled;
        let mut sealed = Sealed::new(&self.wal);
        for i in 0..self.heads.0.len() {
            let mut heads = self.heads.lock(i);
            for (series, head) in heads.iter_mut() {
                if head.bytes.is_empty() {
                    continue;
                }
                if stale(series, head) {
                    sealed.seal(series, head);
                } else {
                    below = below.min(head.wal_min);
                }
            }
        }
        self.put_chunks(sealed)?;
        // Chunks sealed by writers while the stripes were read: their heads
        // looked empty above, their pins say which blocks they still need.
        below = below.min(self.wal.lock().expect("wal lock poisoned").settled());
        delete_range(&*self.db, Tree::Wal, &[], &below.to_be_bytes())
    }
}
