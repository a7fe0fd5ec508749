//! Compaction: sealing closed hours, rolling them up, repacking their
//! chunks, and retention.
//!
//! Guarantees:
//! - memory is bounded by one series-hour of samples and a batch of
//!   [`UPKEEP_BATCH`](crate::store::UPKEEP_BATCH) writes, whatever the
//!   hour's volume: chunk keys put a series' chunks of an hour next to each
//!   other, so an hour is read as a stream and finished series by series;
//! - idempotent: a crash at any point leaves data a later compaction
//!   completes (a repacked chunk is written with the removal of its parts in
//!   one batch of one tree, which both engines apply atomically);
//! - a sample that arrives for an hour being or already rolled up marks the
//!   hour dirty (the `rolling` mark is set before rolling starts, and a mark
//!   is cleared before its hour is rolled), so it is rolled up again.

use std::sync::atomic::Ordering;

use super::History;
use super::heads::{PACKED, Sealed, normalise};
use super::query::{aggregate, decode_chunk};
use super::{codec, heads};
use crate::store::engine::{Batch, Tree, prefix_end};
use crate::store::{CompactReport, Result, Sample, UPKEEP_BATCH, delete_range, delete_where, keys};
use crate::time::SimTime;

/// Meta key: hours before it have stored roll-ups.
pub(super) const WATERMARK: &str = "rollup_watermark";
/// Meta key: hours before it are being or have been rolled up.
pub(super) const ROLLING: &str = "rollup_rolling";
/// Meta key: roll-ups before this time (a day boundary) have been dropped.
const ROLLUP_CUT: &str = "rollup_cut";
/// Sealed chunks held before they are written, when closing an hour.
const SEAL_FLUSH: usize = 1024;

impl History {
    pub(super) fn watermark(&self) -> Result<i32> {
        self.meta_hour(WATERMARK)
    }

    /// Seals heads of closed hours, trims the WAL, rolls up closed hours,
    /// and applies retention to raw chunks and roll-ups.
    pub(in crate::store) fn compact(
        &self,
        now: SimTime,
        raw_keep: SimTime,
        rollup_keep: SimTime,
    ) -> Result<CompactReport> {
        let mut report = CompactReport::default();
        let current = keys::hour_of(now);
        // 1. Seal heads whose hour has closed (this also frees idle series).
        let mut sealed = Sealed::new(&self.wal);
        for i in 0..self.heads.0.len() {
            {
                let mut heads = self.heads.lock(i);
                heads.retain(|series, head| {
                    if head.hour >= current {
                        return true;
                    }
                    if !head.bytes.is_empty() {
                        sealed.seal(series, head);
                        report.heads_sealed += 1;
                    }
                    false
                });
            }
            if sealed.len() >= SEAL_FLUSH {
                self.put_chunks(std::mem::replace(&mut sealed, Sealed::new(&self.wal)))?;
            }
        }
        self.put_chunks(sealed)?;
        // 2. WAL blocks below every head's oldest block are fully sealed.
        report.wal_blocks_removed += self.trim_wal(false)?;
        // 3. Roll up closed hours not yet rolled up, and hours with late data.
        if current > self.rolling_from.load(Ordering::Relaxed) {
            self.db
                .insert(Tree::Meta, ROLLING.as_bytes(), &keys::hour_key(current))?;
            self.rolling_from.store(current, Ordering::Relaxed);
        }
        let mut hours: Vec<i32> = Vec::new();
        for item in self.db.range(Tree::Dirty, &[], None, false) {
            let h = keys::hour_from(&item?.0);
            if h < current {
                hours.push(h);
            }
        }
        let mut cursor = self.watermark()?;
        while cursor < current {
            let next = self
                .db
                .range(
                    Tree::Chunks,
                    &keys::hour_key(cursor),
                    Some(&keys::hour_key(current)),
                    false,
                )
                .next();
            let Some(item) = next else { break };
            let h = keys::hour_from(&item?.0);
            hours.push(h);
            cursor = h + 1;
        }
        hours.sort_unstable();
        hours.dedup();
        for h in hours {
            self.db.remove(Tree::Dirty, &keys::hour_key(h))?;
            self.roll_up_hour(h, &mut report)?;
            report.hours_rolled_up += 1;
        }
        if current > self.watermark()? {
            self.db
                .insert(Tree::Meta, WATERMARK.as_bytes(), &keys::hour_key(current))?;
        }
        // 4. Retention: raw chunks by whole hours.
        let raw_cut = keys::hour_of(now.saturating_sub(raw_keep));
        report.raw_chunks_removed +=
            delete_range(&*self.db, Tree::Chunks, &[], &keys::hour_key(raw_cut))?;
        // Roll-ups are keyed by series, so dropping old ones scans them all:
        // do it when the cut-off enters a new day, not at every compaction.
        let cut = now.saturating_sub(rollup_keep).floor(SimTime::days(1));
        let done = self
            .db
            .get(Tree::Meta, ROLLUP_CUT.as_bytes())?
            .map_or(i64::MIN, |b| keys::i64_from(&b));
        if cut.as_ms() > done {
            for tree in [Tree::R5m, Tree::R1h] {
                report.rollups_removed += delete_where(&*self.db, tree, &[], None, |k| {
                    SimTime(keys::i64_from(&k[10..])) < cut
                })?;
            }
            self.db.insert(
                Tree::Meta,
                ROLLUP_CUT.as_bytes(),
                &keys::i64_key(cut.as_ms()),
            )?;
        }
        Ok(report)
    }

    /// Rolls up hour `h` series by series, and repacks each series' chunks
    /// of the hour into one.
    ///
    /// Each series is read by its own scan: an LSM scan pins every memtable
    /// written while it is open, so one scan over the whole hour would keep
    /// the hour's repacked chunks in memory until it ends.
    fn roll_up_hour(&self, h: i32, report: &mut CompactReport) -> Result<()> {
        let hour = keys::hour_key(h);
        let end = prefix_end(&hour);
        let mut series = SeriesHour::default();
        let mut rollups = Batch::default();
        let mut cursor = Some(hour.to_vec());
        while let Some(from) = cursor.take() {
            for item in self.db.range(Tree::Chunks, &from, end.as_deref(), false) {
                let (k, v) = item?;
                if series.parts.first().is_some_and(|p| p[4..14] != k[4..14]) {
                    cursor = Some(k.to_vec());
                    break;
                }
                decode_chunk(&k, &v, &mut series.samples)?;
                series.parts.push(k.to_vec());
            }
            if !series.parts.is_empty() {
                self.finish_series(h, &mut series, &mut rollups, report)?;
            }
        }
        self.db.apply(rollups)
    }

    fn finish_series(
        &self,
        h: i32,
        s: &mut SeriesHour,
        rollups: &mut Batch,
        report: &mut CompactReport,
    ) -> Result<()> {
        normalise(&mut s.samples);
        let id: [u8; 10] = s.parts[0][4..14].try_into().expect("10 bytes");
        for (tree, width) in [
            (Tree::R5m, SimTime::minutes(5)),
            (Tree::R1h, SimTime::hours(1)),
        ] {
            for (start, r) in aggregate(&s.samples, width) {
                let mut key = [0u8; 18];
                key[..10].copy_from_slice(&id);
                key[10..].copy_from_slice(&keys::i64_key(start.as_ms()));
                rollups.insert(tree, &key, &r.to_bytes());
            }
        }
        if rollups.len() >= UPKEEP_BATCH {
            self.db.apply(std::mem::take(rollups))?;
        }
        report.samples_rolled_up += s.samples.len() as u64;
        let packed = s.parts.len() == 1 && s.parts[0][22..] == PACKED.to_be_bytes();
        if let (false, Some(first)) = (packed, s.samples.first()) {
            let key = heads::chunk_key_raw(h, &id, first.time, PACKED);
            let mut batch = Batch::default();
            for p in s.parts.iter().filter(|p| p[..] != key[..]) {
                batch.remove(Tree::Chunks, p);
            }
            batch.insert(Tree::Chunks, &key, &codec::encode(&s.samples));
            self.db.apply(batch)?;
            report.chunks_repacked += s.parts.len() as u64;
        }
        s.samples.clear();
        s.parts.clear();
        self.db.catch_up();
        Ok(())
    }
}

/// The chunks of one series in the hour being rolled up.
#[derive(Default)]
struct SeriesHour {
    samples: Vec<Sample>,
    parts: Vec<Vec<u8>>,
}
