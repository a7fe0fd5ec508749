//! Per-series heads: the samples of a series not yet sealed into a chunk.
//!
//! Guarantees:
//! - a head holds samples of one hour only, so a chunk never spans two;
//! - a head knows the oldest WAL block among its samples (`wal_min`); the
//!   WAL is never trimmed past it while the head holds them;
//! - a sealed head's chunk is registered with the WAL state *while the
//!   stripe is still locked* (see [`Sealed`]), so between the moment the
//!   head is emptied and the moment its chunk is on disk, the WAL blocks it
//!   covers stay pinned. A trim in that window used to delete them: a crash
//!   then lost acknowledged samples.

use std::sync::Mutex;

use serde::Serialize;

use super::codec;
use super::wal::WalState;
use crate::id::{EntityId, IdBuildHasher};
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::store::{Sample, keys};
use crate::time::SimTime;
use crate::value::Value;

/// The mean size a head reaches before it is sealed (see [`seal_at`]).
pub(super) const CHUNK_BYTES: usize = 1024;
/// WAL blocks kept behind the newest, on average (see [`wal_keep`]): a head
/// still holding samples of an older block is sealed early, however small,
/// so that the log is not held back by a series that has gone quiet.
pub(super) const WAL_KEEP: u64 = 32_768;
/// Lock stripes over the heads, so shards rarely wait for each other.
pub(super) const STRIPES: usize = 32;

pub(super) type Series = (EntityId, Measurand);

/// The unsealed samples of one series, all in one hour, encoded back to back
/// (postcard: cheap to append; compressed only when sealed).
pub(super) struct Head {
    pub hour: i32,
    pub first: SimTime,
    /// Oldest WAL block holding one of these samples.
    pub wal_min: u64,
    pub bytes: Vec<u8>,
}

pub(super) type HeadMap = hashbrown::HashMap<Series, Head, IdBuildHasher>;

pub(super) struct Stripes(pub Vec<Mutex<HeadMap>>);

impl Stripes {
    pub fn new() -> Stripes {
        Stripes(
            (0..STRIPES)
                .map(|_| Mutex::new(HeadMap::default()))
                .collect(),
        )
    }
    pub fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, HeadMap> {
        self.0[i].lock().expect("head lock poisoned")
    }
}

#[derive(Serialize)]
struct Encoded<'a> {
    time: SimTime,
    seq: u64,
    value: &'a Value,
    quality: Quality,
}

#[derive(serde::Deserialize)]
struct Decoded {
    time: SimTime,
    seq: u64,
    value: Value,
    quality: Quality,
}

fn series_hash(series: &Series) -> u64 {
    series.0.raw() ^ (series.1 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

pub(super) fn stripe(series: &Series) -> usize {
    ((series_hash(series) >> 17) % STRIPES as u64) as usize
}

/// The size at which this series' head is sealed: fixed per series, spread
/// over half to one and a half [`CHUNK_BYTES`].
///
/// Why not one size for all: a fleet of sensors created together at the same
/// period would fill their heads in step and all seal in the same batch, one
/// burst of writes (series × a chunk) every few dozen samples that stalls
/// ingest. Spread sizes spread the seals over time at the same mean size.
pub(super) fn seal_at(series: &Series) -> usize {
    spread(series, CHUNK_BYTES as u64) as usize
}

/// How many WAL blocks this series' head may hold before a trim seals it:
/// spread around [`WAL_KEEP`] like [`seal_at`], and for the same reason, as
/// heads restarted together (at the start, or when an hour closes) would
/// otherwise all be sealed by the same trim.
pub(super) fn wal_keep(series: &Series) -> u64 {
    spread(series, WAL_KEEP)
}

/// A value fixed per series, spread evenly over `[mean / 2, mean * 3 / 2)`.
fn spread(series: &Series, mean: u64) -> u64 {
    let h = series_hash(series).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 40;
    mean / 2 + h % mean
}

/// A chunk's key: hour | series | first time | WAL block (or [`PACKED`]).
pub(super) type ChunkKey = [u8; 30];

/// The block number in the key of a chunk repacked by compaction.
pub(super) const PACKED: u64 = u64::MAX;

pub(super) fn chunk_key(series: &Series, hour: i32, first: SimTime, wal: u64) -> ChunkKey {
    chunk_key_raw(hour, &keys::series(series.0, series.1), first, wal)
}

/// [`chunk_key`] of a series given as its key bytes.
pub(super) fn chunk_key_raw(hour: i32, series: &[u8; 10], first: SimTime, wal: u64) -> ChunkKey {
    let mut k = [0u8; 30];
    k[..4].copy_from_slice(&keys::hour_key(hour));
    k[4..14].copy_from_slice(series);
    k[14..22].copy_from_slice(&keys::i64_key(first.as_ms()));
    k[22..].copy_from_slice(&wal.to_be_bytes());
    k
}

/// Decodes a head's samples, appending them to `out`.
pub(super) fn decode_head(
    bytes: &[u8],
    out: &mut Vec<Sample>,
) -> std::result::Result<(), postcard::Error> {
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
pub(super) fn normalise(samples: &mut Vec<Sample>) {
    samples.sort_by_key(|s| (s.time, s.seq));
    samples.dedup_by_key(|s| (s.time, s.seq));
}

/// Chunks sealed while heads were locked, to be written after; the WAL
/// blocks they cover stay pinned until this is dropped (after the write).
pub(super) struct Sealed<'a> {
    wal: &'a Mutex<WalState>,
    pub chunks: Vec<(ChunkKey, Vec<u8>)>,
    pinned: Option<u64>,
}

impl<'a> Sealed<'a> {
    pub fn new(wal: &'a Mutex<WalState>) -> Sealed<'a> {
        Sealed {
            wal,
            chunks: Vec::new(),
            pinned: None,
        }
    }

    /// Seals `head` (emptying it) into a compressed chunk. Call with the
    /// head's stripe locked: the pin is taken before the lock is let go.
    pub fn seal(&mut self, series: &Series, head: &mut Head) {
        let key = chunk_key(series, head.hour, head.first, head.wal_min);
        let bytes = std::mem::take(&mut head.bytes);
        let mut samples = Vec::new();
        decode_head(&bytes, &mut samples).expect("a head decodes: this process encoded it");
        normalise(&mut samples);
        self.pin(head.wal_min);
        self.chunks.push((key, codec::encode(&samples)));
    }

    fn pin(&mut self, wal_min: u64) {
        if self.pinned.is_some_and(|p| p <= wal_min) {
            return;
        }
        let mut wal = self.wal.lock().expect("wal lock poisoned");
        if let Some(old) = self.pinned {
            wal.unpin(old);
        }
        wal.pin(wal_min);
        self.pinned = Some(wal_min);
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }
}

impl Drop for Sealed<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pinned {
            self.wal.lock().expect("wal lock poisoned").unpin(p);
        }
    }
}

/// Appends one sample to its series' head in a locked stripe, sealing the
/// head when its hour changes or it reaches its size.
pub(super) fn append(heads: &mut HeadMap, o: SampleRef<'_>, wal_seq: u64, sealed: &mut Sealed<'_>) {
    let series = (o.entity, o.measurand);
    let hour = keys::hour_of(o.time);
    let head = heads.entry(series).or_insert_with(|| Head {
        hour,
        first: o.time,
        wal_min: wal_seq,
        bytes: Vec::new(),
    });
    if head.hour != hour && !head.bytes.is_empty() {
        sealed.seal(&series, head);
    }
    if head.bytes.is_empty() {
        head.hour = hour;
        head.first = o.time;
        head.wal_min = wal_seq;
    }
    head.wal_min = head.wal_min.min(wal_seq);
    let sample = Encoded {
        time: o.time,
        seq: o.seq,
        value: o.value,
        quality: o.quality,
    };
    head.bytes =
        postcard::to_extend(&sample, std::mem::take(&mut head.bytes)).expect("samples serialise");
    if head.bytes.len() >= seal_at(&series) {
        sealed.seal(&series, head);
    }
}

/// One sample to append, borrowed from an observation or a WAL record.
#[derive(Clone, Copy)]
pub(super) struct SampleRef<'a> {
    pub entity: EntityId,
    pub measurand: Measurand,
    pub time: SimTime,
    pub seq: u64,
    pub value: &'a Value,
    pub quality: Quality,
}

impl<'a> From<&'a Observation> for SampleRef<'a> {
    fn from(o: &'a Observation) -> Self {
        SampleRef {
            entity: o.entity,
            measurand: o.measurand,
            time: o.time,
            seq: o.seq,
            value: &o.value,
            quality: o.quality,
        }
    }
}

/// The observations of a batch grouped by head stripe, each group in batch
/// order (so a series' samples keep their order).
pub(super) fn by_stripe<'a>(
    observations: &[&'a Observation],
) -> Vec<(usize, Vec<&'a Observation>)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

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
}
