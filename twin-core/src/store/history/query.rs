//! Reads of history: raw samples from chunks and the head, roll-ups from
//! their trees or, for hours not yet compacted, from raw samples.
//!
//! Guarantees: a read sees every sample written before it started (heads
//! are read under their stripe lock), in (time, seq) order, each identity
//! once; a corrupt chunk is an error naming its key, never a panic.

use super::History;
use super::codec;
use super::heads::{decode_head, normalise, stripe};
use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::store::engine::{Bytes, Tree};
use crate::store::rollup::{Bucket, Resolution, Rollup};
use crate::store::{Result, Sample, StoreError, corrupt, keys};
use crate::time::SimTime;

/// Decodes a chunk read under `key`, appending its samples to `out`.
pub(super) fn decode_chunk(key: &Bytes, bytes: &[u8], out: &mut Vec<Sample>) -> Result<()> {
    codec::decode(bytes, out).map_err(|e| StoreError::Chunk {
        key: format!("{:?}", &key[..]),
        reason: e.0.to_string(),
    })
}

impl History {
    /// Raw samples of a series with `from <= time < to`, in time order.
    pub(in crate::store) fn raw(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
    ) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        if to <= from {
            return Ok(out);
        }
        let series = (id, m);
        let prefix_series = keys::series(id, m);
        // Only hours that hold chunks are looked at: a range of any length
        // costs what retention keeps, not one lookup per hour asked for.
        let (first, last) = self.chunk_hours()?;
        let hours = keys::hour_of(from).max(first)..=keys::hour_of(to - SimTime(1)).min(last);
        for h in hours {
            let mut prefix = [0u8; 14];
            prefix[..4].copy_from_slice(&keys::hour_key(h));
            prefix[4..].copy_from_slice(&prefix_series);
            for item in self.db.prefix(Tree::Chunks, &prefix) {
                let (k, v) = item?;
                decode_chunk(&k, &v, &mut out)?;
            }
        }
        {
            let heads = self.heads.lock(stripe(&series));
            if let Some(head) = heads.get(&series) {
                decode_head(&head.bytes, &mut out)
                    .map_err(corrupt(|| format!("head of {id} {m}")))?;
            }
        }
        out.retain(|s| s.time >= from && s.time < to);
        normalise(&mut out);
        Ok(out)
    }

    /// The first and last hours that hold chunks (an empty range if none).
    fn chunk_hours(&self) -> Result<(i32, i32)> {
        let first = self.db.first(Tree::Chunks)?;
        let last = self.db.last(Tree::Chunks)?;
        Ok(match (first, last) {
            (Some((f, _)), Some((l, _))) => (keys::hour_from(&f), keys::hour_from(&l)),
            _ => (i32::MAX, i32::MIN),
        })
    }

    /// Roll-ups of a series: stored for compacted hours, computed from raw
    /// samples for the rest.
    pub(in crate::store) fn rolled_up(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        resolution: Resolution,
    ) -> Result<Vec<Bucket>> {
        let Some(width) = resolution.width() else {
            return Ok(Vec::new());
        };
        let tree = if resolution == Resolution::Hourly {
            Tree::R1h
        } else {
            Tree::R5m
        };
        let from = from.floor(width);
        let compacted_until = SimTime::hours(i64::from(self.watermark()?));
        let mut out = Vec::new();
        let stored_to = to.min(compacted_until);
        if from < stored_to {
            let (lo, hi) = (keys::rollup(id, m, from), keys::rollup(id, m, stored_to));
            for item in self.db.range(tree, &lo, Some(&hi), false) {
                let (k, v) = item?;
                out.push(Bucket::new(
                    SimTime(keys::i64_from(&k[10..])),
                    Rollup::from_bytes(&v),
                ));
            }
        }
        let live_from = from.max(compacted_until);
        if live_from < to {
            let samples = self.raw(id, m, live_from, to)?;
            out.extend(
                aggregate(&samples, width)
                    .into_iter()
                    .map(|(t, r)| Bucket::new(t, r)),
            );
        }
        Ok(out)
    }
}

/// Aggregates time-ordered samples into buckets of `width`.
pub fn aggregate(samples: &[Sample], width: SimTime) -> Vec<(SimTime, Rollup)> {
    let mut out: Vec<(SimTime, Rollup)> = Vec::new();
    for s in samples {
        let Some(x) = s.value.as_f64() else { continue };
        let start = s.time.floor(width);
        match out.last_mut() {
            Some((t, r)) if *t == start => r.add(x),
            _ => {
                let mut r = Rollup::default();
                r.add(x);
                out.push((start, r));
            }
        }
    }
    out
}
