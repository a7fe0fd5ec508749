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

/// Cuts time-ordered `items` to at most `limit`, at a change of time (so
/// that the next page, starting at the returned time, repeats nothing),
/// unless one time alone holds more than `limit`.
fn cut<T>(items: &mut Vec<T>, limit: usize, time: impl Fn(&T) -> SimTime) -> Option<SimTime> {
    if items.len() <= limit {
        return None;
    }
    let next = time(&items[limit]);
    let keep = items[..limit].partition_point(|x| time(x) < next);
    if keep == 0 {
        // One time holds more than a page: the page ends after it.
        let end = items.partition_point(|x| time(x) <= next);
        let after = items.get(end).map(&time);
        items.truncate(end);
        return after;
    }
    items.truncate(keep);
    Some(next)
}

impl History {
    /// Raw samples of a series with `from <= time < to`, in time order, at
    /// most about `limit` of them, and the time the rest starts at when
    /// some are left out. Chunks are read hour by hour and the reading
    /// stops once over `limit`: a page costs about its own size.
    pub(in crate::store) fn raw(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        limit: usize,
    ) -> Result<(Vec<Sample>, Option<SimTime>)> {
        let mut out = Vec::new();
        if to <= from || limit == 0 {
            return Ok((out, None));
        }
        let series = (id, m);
        let prefix_series = keys::series(id, m);
        // Only hours that hold chunks are looked at: a range of any length
        // costs what retention keeps, not one lookup per hour asked for.
        let (first, last) = self.chunk_hours()?;
        let hours = keys::hour_of(from).max(first)..=keys::hour_of(to - SimTime(1)).min(last);
        let mut in_range = 0;
        for h in hours {
            let mut prefix = [0u8; 14];
            prefix[..4].copy_from_slice(&keys::hour_key(h));
            prefix[4..].copy_from_slice(&prefix_series);
            let before = out.len();
            for item in self.db.prefix(Tree::Chunks, &prefix) {
                let (k, v) = item?;
                decode_chunk(&k, &v, &mut out)?;
            }
            in_range += out[before..]
                .iter()
                .filter(|s| s.time >= from && s.time < to)
                .count();
            // Later hours hold only later samples: what the cut below keeps
            // is all read (the head is read whatever happens, for samples
            // that arrived late).
            if in_range > limit {
                break;
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
        let next = cut(&mut out, limit, |s| s.time);
        Ok((out, next))
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
    /// samples for the rest; at most `limit` buckets, and the time the rest
    /// starts at when some are left out.
    pub(in crate::store) fn rolled_up(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        resolution: Resolution,
        limit: usize,
    ) -> Result<(Vec<Bucket>, Option<SimTime>)> {
        let Some(width) = resolution.width() else {
            return Ok((Vec::new(), None));
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
                if out.len() > limit {
                    break;
                }
            }
        }
        let live_from = from.max(compacted_until);
        if live_from < to && out.len() <= limit {
            // Hours not compacted yet: a few, whatever the range.
            let (samples, _) = self.raw(id, m, live_from, to, usize::MAX)?;
            out.extend(
                aggregate(&samples, width)
                    .into_iter()
                    .map(|(t, r)| Bucket::new(t, r)),
            );
        }
        let next = cut(&mut out, limit, |b| b.start);
        Ok((out, next))
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
