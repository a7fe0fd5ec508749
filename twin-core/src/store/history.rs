//! Time-series history: a write-ahead log of whole batches, per-series head
//! chunks in memory, sealed chunks on disk, and roll-ups.
//!
//! Why this shape: sled takes about 100k single-key inserts per second but
//! millions of samples per second when they arrive as one value. So a batch of
//! observations is written as **one** WAL value (that is what makes an ingest
//! durable), and each sample is appended to its series' in-memory head. A head
//! is sealed into one chunk value when it fills, when its hour ends, when the
//! WAL must move past it, or at compaction — one insert per many samples.
//! The WAL is trimmed as writes go (see [`History::trim_wal`]).
//!
//! Chunk keys are (hour, entity, measurand, first time, wal seq): hour first, so
//! a series query reads one short prefix per hour, roll-ups read one hour in one
//! scan, and retention drops whole hours. A chunk never spans two hours.
//!
//! After a crash, the WAL blocks not yet trimmed are replayed into the heads.
//! A sample may then exist twice (in a chunk sealed just before the crash and
//! again from the WAL); every reader de-duplicates by (time, seq), which is the
//! sample's identity anyway.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::keys;
use super::rollup::{Bucket, Resolution, Rollup};
use super::{Result, Sample, corrupt};
use crate::id::{EntityId, IdBuildHasher};
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::time::SimTime;
use crate::value::Value;

/// The mean size a head reaches before it is sealed (see [`seal_at`]).
const CHUNK_BYTES: usize = 1024;
/// Every this many writes, sled's log buffer is written out.
///
/// Why: sled 0.34 writes its log buffer when it is full (16 MiB here), at its
/// 500 ms flush, or when a batch begins. A page read back from disk must wait
/// until its log buffer is written, and under sustained load that wait can
/// hang for good (sled issue #1412; seen here with buffers left to fill).
/// Writing the buffer out every few batches keeps what is not yet on disk to
/// a few milliseconds of writes, as a batch per write did, at a fraction of
/// that cost (one small file write and a wake-up of sled's I/O threads each).
const ROLL_EVERY: u64 = 8;
/// Every this many writes, the WAL is trimmed (see [`History::trim_wal`]).
const TRIM_EVERY: u64 = 1024;
/// WAL blocks kept behind the newest, on average (see [`wal_keep`]): a head
/// still holding samples of an older block is sealed early, however small,
/// so that the log is not held back by a series that has gone quiet.
const WAL_KEEP: u64 = 32_768;
/// Lock stripes over the heads, so shards rarely wait for each other.
const STRIPES: usize = 32;

type Series = (EntityId, Measurand);

/// The unsealed samples of one series, all in one hour, encoded back to back.
struct Head {
    hour: i32,
    first: SimTime,
    /// Oldest WAL block holding one of these samples: the WAL may be
    /// truncated only below the oldest such block over all heads.
    wal_min: u64,
    bytes: Vec<u8>,
}

/// A WAL record: the samples of one written batch.
#[derive(Serialize, Deserialize)]
struct WalSample {
    entity: EntityId,
    measurand: Measurand,
    time: SimTime,
    seq: u64,
    value: Value,
    quality: Quality,
}

#[derive(Serialize)]
struct Encoded<'a> {
    time: SimTime,
    seq: u64,
    value: &'a Value,
    quality: Quality,
}

#[derive(Serialize, Deserialize)]
struct Decoded {
    time: SimTime,
    seq: u64,
    value: Value,
    quality: Quality,
}

type HeadMap = hashbrown::HashMap<Series, Head, IdBuildHasher>;

/// Chunks sealed while the heads were locked, to be written after.
type Sealed = Vec<([u8; 30], Vec<u8>)>;

pub(super) struct History {
    wal: sled::Tree,
    chunks: sled::Tree,
    r5m: sled::Tree,
    r1h: sled::Tree,
    dirty: sled::Tree,
    meta: sled::Tree,
    heads: Vec<Mutex<HeadMap>>,
    /// The next WAL block's number, and the blocks being written now: a
    /// block's samples reach the heads after its WAL insert, so the WAL may
    /// be trimmed only below the oldest block still in flight.
    wal_seqs: Mutex<WalSeqs>,
    /// Held while trimming, so that one writer trims at a time.
    trimming: Mutex<()>,
}

struct WalSeqs {
    next: u64,
    in_flight: Vec<u64>,
}

impl WalSeqs {
    /// Blocks below this one are all in the heads (or sealed).
    fn settled(&self) -> u64 {
        self.in_flight.iter().copied().min().unwrap_or(self.next)
    }
}

const WATERMARK: &str = "rollup_watermark";
/// Roll-ups before this time (a day boundary) have been dropped.
const ROLLUP_CUT: &str = "rollup_cut";

fn series_hash(series: &Series) -> u64 {
    series.0.raw() ^ (series.1 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn stripe(series: &Series) -> usize {
    ((series_hash(series) >> 17) % STRIPES as u64) as usize
}

/// The size at which this series' head is sealed: fixed per series, spread
/// over half to one and a half [`CHUNK_BYTES`].
///
/// Why not one size for all: a fleet of sensors created together at the same
/// period would fill their heads in step and all seal in the same batch, one
/// burst of writes (series × a chunk) every few dozen samples that stalls
/// ingest. Spread sizes spread the seals over time at the same mean size.
fn seal_at(series: &Series) -> usize {
    spread(series, CHUNK_BYTES as u64) as usize
}

/// How many WAL blocks this series' head may hold before a trim seals it:
/// spread around [`WAL_KEEP`] like [`seal_at`], and for the same reason, as
/// heads restarted together (at the start, or when an hour closes) would
/// otherwise all be sealed by the same trim.
fn wal_keep(series: &Series) -> u64 {
    spread(series, WAL_KEEP)
}

/// A value fixed per series, spread evenly over `[mean / 2, mean * 3 / 2)`.
fn spread(series: &Series, mean: u64) -> u64 {
    let h = series_hash(series).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 40;
    mean / 2 + h % mean
}

fn chunk_key(series: &Series, hour: i32, first: SimTime, wal: u64) -> [u8; 30] {
    let mut k = [0u8; 30];
    k[..4].copy_from_slice(&keys::hour_key(hour));
    k[4..14].copy_from_slice(&keys::series(series.0, series.1));
    k[14..22].copy_from_slice(&keys::i64_key(first.as_ms()));
    k[22..].copy_from_slice(&wal.to_be_bytes());
    k
}

fn decode_chunk(bytes: &[u8], out: &mut Vec<Sample>) -> std::result::Result<(), postcard::Error> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (d, r): (Decoded, _) = postcard::take_from_bytes(rest)?;
        out.push(Sample {
            time: d.time,
            seq: d.seq,
            value: d.value,
            quality: d.quality,
        });
        rest = r;
    }
    Ok(())
}

/// Sorts by (time, seq) and drops repeated identities.
fn normalise(samples: &mut Vec<Sample>) {
    samples.sort_by_key(|s| (s.time, s.seq));
    samples.dedup_by_key(|s| (s.time, s.seq));
}

impl History {
    pub(super) fn open(db: &sled::Db, meta: sled::Tree) -> Result<History> {
        let wal = db.open_tree("wal")?;
        let next_wal = match wal.last()? {
            Some((k, _)) => keys::u64_from(&k) + 1,
            None => 0,
        };
        let h = History {
            chunks: db.open_tree("chunks")?,
            r5m: db.open_tree("r5m")?,
            r1h: db.open_tree("r1h")?,
            dirty: db.open_tree("dirty")?,
            heads: (0..STRIPES)
                .map(|_| Mutex::new(HeadMap::default()))
                .collect(),
            wal_seqs: Mutex::new(WalSeqs {
                next: next_wal,
                in_flight: Vec::new(),
            }),
            trimming: Mutex::new(()),
            wal,
            meta,
        };
        h.recover()?;
        Ok(h)
    }

    /// Replays WAL blocks not yet trimmed into the heads.
    fn recover(&self) -> Result<()> {
        let mut sealed = Sealed::new();
        for item in self.wal.iter() {
            let (k, v) = item?;
            let seq = keys::u64_from(&k);
            let samples: Vec<WalSample> =
                postcard::from_bytes(&v).map_err(corrupt(|| format!("wal block {seq}")))?;
            for s in &samples {
                let series = (s.entity, s.measurand);
                let mut heads = self.heads[stripe(&series)]
                    .lock()
                    .expect("head lock poisoned");
                append(
                    &mut heads,
                    series,
                    s.time,
                    s.seq,
                    &s.value,
                    s.quality,
                    seq,
                    &mut sealed,
                );
            }
        }
        self.put_chunks(sealed)?;
        Ok(())
    }

    pub(super) fn watermark(&self) -> Result<i32> {
        Ok(self
            .meta
            .get(WATERMARK)?
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
        let wal_seq = {
            let mut seqs = self.wal_seqs.lock().expect("wal lock poisoned");
            let seq = seqs.next;
            seqs.next += 1;
            seqs.in_flight.push(seq);
            seq
        };
        let written = self.write_block(wal_seq, &observations);
        {
            let mut seqs = self.wal_seqs.lock().expect("wal lock poisoned");
            seqs.in_flight.retain(|s| *s != wal_seq);
        }
        written?;
        if wal_seq % TRIM_EVERY == TRIM_EVERY - 1
            && let Ok(one) = self.trimming.try_lock()
        {
            self.trim_wal(&one, true)?;
        }
        Ok(())
    }

    /// Writes block `wal_seq`: its WAL value, then each sample into its head.
    fn write_block(&self, wal_seq: u64, observations: &[&Observation]) -> Result<()> {
        let block: Vec<WalRecord> = observations.iter().map(|o| WalRecord(o)).collect();
        let bytes = postcard::to_stdvec(&block).expect("observations serialise");
        self.wal.insert(wal_seq.to_be_bytes(), bytes)?;
        let watermark = self.watermark()?;
        let mut sealed = Sealed::new();
        let mut late = Vec::new();
        for o in observations {
            let h = keys::hour_of(o.time);
            if h < watermark && !late.contains(&h) {
                late.push(h);
            }
        }
        for (stripe, run) in by_stripe(observations) {
            let mut heads = self.heads[stripe].lock().expect("head lock poisoned");
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
                append(
                    &mut heads,
                    (o.entity, o.measurand),
                    o.time,
                    o.seq,
                    &o.value,
                    o.quality,
                    wal_seq,
                    &mut sealed,
                );
            }
        }
        self.put_chunks(sealed)?;
        if wal_seq % ROLL_EVERY == ROLL_EVERY - 1 {
            // An empty batch: sled starts each batch by writing out its log
            // buffer (see `put_chunks`).
            self.chunks.apply_batch(sled::Batch::default())?;
        }
        for h in late {
            // A sample for an hour already rolled up: redo it at next compaction.
            self.dirty.insert(keys::hour_key(h), &[])?;
        }
        Ok(())
    }

    /// Raw samples of a series with `from <= time < to`, in time order.
    pub(super) fn raw(
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
        for h in keys::hour_of(from)..=keys::hour_of(to - SimTime(1)) {
            let mut prefix = [0u8; 14];
            prefix[..4].copy_from_slice(&keys::hour_key(h));
            prefix[4..].copy_from_slice(&prefix_series);
            for item in self.chunks.scan_prefix(prefix) {
                let (k, v) = item?;
                decode_chunk(&v, &mut out).map_err(corrupt(|| format!("chunk {:?}", &k[..])))?;
            }
        }
        {
            let heads = self.heads[stripe(&series)]
                .lock()
                .expect("head lock poisoned");
            if let Some(head) = heads.get(&series) {
                decode_chunk(&head.bytes, &mut out)
                    .map_err(corrupt(|| format!("head of {id} {m}")))?;
            }
        }
        out.retain(|s| s.time >= from && s.time < to);
        normalise(&mut out);
        Ok(out)
    }

    /// Roll-ups of a series: stored for compacted hours, computed from raw
    /// samples for the rest.
    pub(super) fn rolled_up(
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
            &self.r1h
        } else {
            &self.r5m
        };
        let from = from.floor(width);
        let compacted_until = SimTime::hours(i64::from(self.watermark()?));
        let mut out = Vec::new();
        let stored_to = to.min(compacted_until);
        if from < stored_to {
            for item in tree.range(keys::rollup(id, m, from)..keys::rollup(id, m, stored_to)) {
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

    /// Seals heads of closed hours, truncates the WAL, rolls up closed hours,
    /// and applies retention. Idempotent.
    pub(super) fn compact(
        &self,
        now: SimTime,
        raw_keep: SimTime,
        rollup_keep: SimTime,
    ) -> Result<super::CompactReport> {
        let mut report = super::CompactReport::default();
        let current = keys::hour_of(now);
        // 1. Seal heads whose hour has closed (this also frees idle series).
        let mut sealed = Sealed::new();
        for stripe in &self.heads {
            let mut heads = stripe.lock().expect("head lock poisoned");
            heads.retain(|series, head| {
                if head.hour >= current {
                    return true;
                }
                if !head.bytes.is_empty() {
                    seal(series, head, &mut sealed);
                    report.heads_sealed += 1;
                }
                false
            });
        }
        self.put_chunks(sealed)?;
        // 2. WAL blocks below every head's oldest block are fully sealed.
        {
            let one = self.trimming.lock().expect("trim lock poisoned");
            report.wal_blocks_removed += self.trim_wal(&one, false)?;
        }
        // 3. Roll up closed hours not yet rolled up, and hours with late data.
        let mut hours: Vec<i32> = Vec::new();
        for item in self.dirty.iter() {
            hours.push(keys::hour_from(&item?.0));
        }
        let mut cursor = self.watermark()?;
        while cursor < current {
            let next = self
                .chunks
                .range(keys::hour_key(cursor)..keys::hour_key(current))
                .next();
            let Some(item) = next else { break };
            let h = keys::hour_from(&item?.0);
            hours.push(h);
            cursor = h + 1;
        }
        hours.sort_unstable();
        hours.dedup();
        for h in hours.into_iter().filter(|h| *h < current) {
            report.samples_rolled_up += self.roll_up_hour(h)?;
            report.hours_rolled_up += 1;
            self.dirty.remove(keys::hour_key(h))?;
        }
        if current > self.watermark()? {
            self.meta.insert(WATERMARK, &keys::hour_key(current))?;
        }
        // 4. Retention.
        let raw_cut = keys::hour_of(now - raw_keep);
        let mut batch = sled::Batch::default();
        for item in self.chunks.range(..keys::hour_key(raw_cut)) {
            batch.remove(item?.0);
            report.raw_chunks_removed += 1;
        }
        self.chunks.apply_batch(batch)?;
        // Roll-ups are keyed by series, so dropping old ones scans them all:
        // do it when the cut-off enters a new day, not at every compaction.
        let cut = (now - rollup_keep).floor(SimTime::days(1));
        let done = self
            .meta
            .get(ROLLUP_CUT)?
            .map_or(i64::MIN, |b| keys::i64_from(&b));
        if cut.as_ms() <= done {
            return Ok(report);
        }
        for tree in [&self.r5m, &self.r1h] {
            let mut batch = sled::Batch::default();
            for item in tree.iter() {
                let (k, _) = item?;
                if SimTime(keys::i64_from(&k[10..])) < cut {
                    batch.remove(k);
                    report.rollups_removed += 1;
                }
            }
            tree.apply_batch(batch)?;
        }
        self.meta.insert(ROLLUP_CUT, &keys::i64_key(cut.as_ms()))?;
        Ok(report)
    }

    fn roll_up_hour(&self, h: i32) -> Result<u64> {
        let mut per_series: BTreeMap<[u8; 10], Vec<Sample>> = BTreeMap::new();
        for item in self.chunks.scan_prefix(keys::hour_key(h)) {
            let (k, v) = item?;
            let series: [u8; 10] = k[4..14].try_into().expect("10 bytes");
            decode_chunk(&v, per_series.entry(series).or_default())
                .map_err(corrupt(|| format!("chunk {:?}", &k[..])))?;
        }
        let mut n = 0;
        let (mut b5, mut b1) = (sled::Batch::default(), sled::Batch::default());
        for (series, mut samples) in per_series {
            normalise(&mut samples);
            for (batch, width) in [(&mut b5, SimTime::minutes(5)), (&mut b1, SimTime::hours(1))] {
                for (start, r) in aggregate(&samples, width) {
                    let mut key = [0u8; 18];
                    key[..10].copy_from_slice(&series);
                    key[10..].copy_from_slice(&keys::i64_key(start.as_ms()));
                    batch.insert(&key, &r.to_bytes());
                }
            }
            n += samples.len() as u64;
        }
        self.r5m.apply_batch(b5)?;
        self.r1h.apply_batch(b1)?;
        Ok(n)
    }

    /// Removes the WAL blocks whose samples are all in sealed chunks; returns
    /// how many. With `seal_stale`, first seals every head that holds a block
    /// more than its [`wal_keep`] behind the newest. Takes the `trimming`
    /// guard, so that one trim runs at a time.
    ///
    /// Why not only at compaction: at a million samples a second the WAL
    /// grows by some 30 MB/s, and an hour of it would fill a disk before the
    /// hour closes; and a series gone quiet would hold it all back.
    fn trim_wal(&self, _one: &MutexGuard<'_, ()>, seal_stale: bool) -> Result<u64> {
        let settled = self.wal_seqs.lock().expect("wal lock poisoned").settled();
        let stale = |series: &Series, head: &Head| {
            seal_stale && head.wal_min < settled.saturating_sub(wal_keep(series))
        };
        let mut below = settled;
        let mut sealed = Sealed::new();
        for stripe in &self.heads {
            let mut heads = stripe.lock().expect("head lock poisoned");
            for (series, head) in heads.iter_mut() {
                if head.bytes.is_empty() {
                    continue;
                }
                if stale(series, head) {
                    seal(series, head, &mut sealed);
                } else {
                    below = below.min(head.wal_min);
                }
            }
        }
        self.put_chunks(sealed)?;
        let mut removed = 0;
        for item in self.wal.range(..below.to_be_bytes()) {
            self.wal.remove(item?.0)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Writes sealed chunks one insert each.
    ///
    /// Not as a `sled::Batch`: sled starts every batch by sealing and
    /// writing out its current log buffer, so a batch per ingest would turn a
    /// stream of batches into one small file write (and a wake-up of every
    /// sled I/O thread) each. Chunks need no atomicity: each stands alone,
    /// and until the WAL is trimmed the samples are also there.
    fn put_chunks(&self, sealed: Sealed) -> Result<()> {
        for (key, bytes) in sealed {
            self.chunks.insert(key, bytes)?;
        }
        Ok(())
    }

    /// Series with unsealed samples in memory.
    pub(super) fn open_heads(&self) -> usize {
        self.heads
            .iter()
            .map(|s| {
                let heads = s.lock().expect("head lock poisoned");
                heads.values().filter(|h| !h.bytes.is_empty()).count()
            })
            .sum()
    }
}

/// Serialises an observation as a WAL sample without cloning its value.
struct WalRecord<'a>(&'a Observation);

impl Serialize for WalRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let o = self.0;
        (o.entity, o.measurand, o.time, o.seq, &o.value, o.quality).serialize(s)
    }
}

/// Appends one sample to its series' head in a locked stripe, sealing the
/// head when its hour changes or it reaches its size.
#[allow(clippy::too_many_arguments)]
fn append(
    heads: &mut HeadMap,
    series: Series,
    time: SimTime,
    seq: u64,
    value: &Value,
    quality: Quality,
    wal_seq: u64,
    sealed: &mut Sealed,
) {
    let hour = keys::hour_of(time);
    let head = heads.entry(series).or_insert_with(|| Head {
        hour,
        first: time,
        wal_min: wal_seq,
        bytes: Vec::new(),
    });
    if head.hour != hour && !head.bytes.is_empty() {
        seal(&series, head, sealed);
    }
    let seal_size = seal_at(&series);
    if head.bytes.is_empty() {
        head.hour = hour;
        head.first = time;
        head.wal_min = wal_seq;
    }
    head.wal_min = head.wal_min.min(wal_seq);
    let sample = Encoded {
        time,
        seq,
        value,
        quality,
    };
    head.bytes =
        postcard::to_extend(&sample, std::mem::take(&mut head.bytes)).expect("samples serialise");
    if head.bytes.len() >= seal_size {
        seal(&series, head, sealed);
    }
}

/// The observations of a batch grouped by head stripe, each group in batch
/// order (so a series' samples keep their order).
fn by_stripe<'a>(observations: &[&'a Observation]) -> Vec<(usize, Vec<&'a Observation>)> {
    let mut groups: Vec<Vec<&Observation>> = vec![Vec::new(); STRIPES];
    for o in observations {
        groups[stripe(&(o.entity, o.measurand))].push(o);
    }
    groups
        .into_iter()
        .enumerate()
        .filter(|(_, g)| !g.is_empty())
        .collect()
}

fn seal(series: &Series, head: &mut Head, sealed: &mut Sealed) {
    let key = chunk_key(series, head.hour, head.first, head.wal_min);
    sealed.push((key, std::mem::take(&mut head.bytes)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use crate::store::{Retention, Store};

    #[test]
    fn seal_sizes_are_spread_around_the_mean_chunk() {
        let sizes: Vec<usize> = (0..10_000)
            .map(|i| {
                let id = EntityId::new(Kind::Sensor, &format!("s{i}"));
                seal_at(&(id, Measurand::Temperature))
            })
            .collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        assert!(
            *min >= CHUNK_BYTES / 2 && *min < CHUNK_BYTES * 6 / 10,
            "min {min}"
        );
        assert!(
            *max < CHUNK_BYTES * 3 / 2 && *max > CHUNK_BYTES * 14 / 10,
            "max {max}"
        );
        assert!((mean - CHUNK_BYTES as f64).abs() < 20.0, "mean {mean}");
        // Sizes in each tenth of the range: no lump where many series would
        // still seal together.
        let mut tenths = [0usize; 10];
        for s in &sizes {
            tenths[(s - CHUNK_BYTES / 2) * 10 / CHUNK_BYTES] += 1;
        }
        assert!(
            tenths.iter().all(|&n| (800..1200).contains(&n)),
            "{tenths:?}"
        );
    }

    /// A fast series keeps the WAL moving while a slow one went quiet after
    /// a few samples: the log is trimmed as it goes, without a compaction,
    /// and nothing is lost across a reopen.
    #[test]
    fn wal_is_trimmed_while_writing_and_quiet_series_are_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let fast = EntityId::new(Kind::Sensor, "fast");
        let slow = EntityId::new(Kind::Sensor, "slow");
        let writes = WAL_KEEP * 3 / 2 + 3 * TRIM_EVERY;
        let at = |i: u64| SimTime::ms(i as i64);
        {
            let store = Store::open(dir.path(), Retention::default()).unwrap();
            for i in 0..3 {
                let o = Observation::number(slow, at(i), Measurand::Temperature, i as f64);
                store.write_history([&o]).unwrap();
            }
            for i in 0..writes {
                let o = Observation::number(fast, at(i), Measurand::Temperature, i as f64);
                store.write_history([&o]).unwrap();
            }
            let left = store.history.wal.len() as u64;
            assert!(
                left < TRIM_EVERY,
                "{left} of {} WAL blocks left",
                writes + 3
            );
            // The slow series' head was sealed to let the log go.
            let stripe = store.history.heads[stripe(&(slow, Measurand::Temperature))]
                .lock()
                .unwrap();
            assert!(stripe[&(slow, Measurand::Temperature)].bytes.is_empty());
            drop(stripe);
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), Retention::default()).unwrap();
        let all = |id| {
            store
                .raw_history(id, Measurand::Temperature, at(0), at(writes))
                .unwrap()
        };
        let slow_samples = all(slow);
        assert_eq!(slow_samples.len(), 3);
        let fast_samples = all(fast);
        assert_eq!(fast_samples.len() as u64, writes);
        assert!(
            fast_samples
                .iter()
                .enumerate()
                .all(|(i, s)| s.value.as_f64() == Some(i as f64))
        );
    }
}
