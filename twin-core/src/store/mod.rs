//! The embedded store, on sled.
//!
//! Trees:
//! - `state`: latest [`EntityRecord`] per entity (written at passivation,
//!   checkpoints and durable ingests);
//! - `events`: the append-only event log keyed by (time, seq);
//! - `wal`, `chunks`: raw history, written as whole batches and sealed into
//!   per-series chunks (see [`history`](self::history)); the WAL is trimmed
//!   as chunks are sealed, the chunks are kept for the raw retention (30 days
//!   by default);
//! - `r5m`, `r1h`: 5-minute and hourly roll-ups (count, min, max, mean) keyed
//!   by (entity, measurand, bucket), kept for the roll-up retention (12 months);
//! - `rel_fwd`, `rel_rev`: relationships indexed both ways;
//! - `names`: readable names, so ids print the same after a restart;
//! - `meta`: run metadata and the roll-up watermark.
//!
//! Roll-ups are computed by [`Store::compact`] for closed hours, not on every
//! write, so an hour of data is read once. Buckets not yet compacted are
//! aggregated from raw data at query time, so a query never misses recent
//! data. A write is durable once [`Store::flush`] has returned.

mod history;
pub mod keys;
pub mod rollup;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use history::aggregate;
pub use rollup::{Bucket, Resolution, Rollup};

use crate::event::Event;
use crate::id::{EntityId, Kind};
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::state::{EntityRecord, Relation};
use crate::time::SimTime;
use crate::value::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record under key {key}: {source}")]
    Decode {
        key: String,
        source: postcard::Error,
    },
    #[error("store: metadata `{key}`: {source}")]
    Meta {
        key: String,
        source: serde_json::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How long history is kept.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub raw: SimTime,
    pub rollups: SimTime,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: SimTime::days(30),
            rollups: SimTime::days(365),
        }
    }
}

/// A raw history sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub time: SimTime,
    /// The source's sequence number: (time, seq) identifies a sample.
    pub seq: u64,
    pub value: Value,
    pub quality: Quality,
}

/// The store handle: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    state: sled::Tree,
    events: sled::Tree,
    history: std::sync::Arc<history::History>,
    rel_fwd: sled::Tree,
    rel_rev: sled::Tree,
    names: sled::Tree,
    meta: sled::Tree,
    retention: Retention,
    event_seq: std::sync::Arc<AtomicU64>,
}

impl Store {
    /// sled settings shared by on-disk and temporary stores.
    ///
    /// Segments are the largest sled allows (16 MiB). sled 0.34 can deadlock
    /// when a thread holding its segment lock waits for a file truncation
    /// queued behind log writes that need that lock, once seven such writes
    /// are in flight (its issue #1412). Each write is one segment, so large
    /// segments need a far larger burst to get there.
    fn config() -> sled::Config {
        sled::Config::new()
            .cache_capacity(256 << 20)
            .segment_size(1 << 24)
            .flush_every_ms(Some(500))
    }

    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<Store> {
        let path = path.as_ref();
        let db = Self::config()
            .path(path)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Self::from_db(db, retention)
    }

    /// A store in a temporary directory, removed on drop (for `--ephemeral`).
    pub fn temporary(retention: Retention) -> Result<Store> {
        let db = Self::config().temporary(true).open()?;
        Self::from_db(db, retention)
    }

    fn from_db(db: sled::Db, retention: Retention) -> Result<Store> {
        let events = db.open_tree("events")?;
        let next = match events.last()? {
            Some((k, _)) => keys::u64_from(&k[8..]) + 1,
            None => 0,
        };
        let meta = db.open_tree("meta")?;
        Ok(Store {
            state: db.open_tree("state")?,
            history: std::sync::Arc::new(history::History::open(&db, meta.clone())?),
            rel_fwd: db.open_tree("rel_fwd")?,
            rel_rev: db.open_tree("rel_rev")?,
            names: db.open_tree("names")?,
            meta,
            events,
            db,
            retention,
            event_seq: std::sync::Arc::new(AtomicU64::new(next)),
        })
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Makes every write so far durable (survives `kill -9` and power loss).
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    // ----- entity state -----

    /// Writes the latest state of each record, and its name and relationships.
    pub fn put_states<'a>(
        &self,
        records: impl IntoIterator<Item = &'a EntityRecord>,
    ) -> Result<()> {
        let (mut state, mut names) = (sled::Batch::default(), sled::Batch::default());
        let mut buf = Vec::new();
        for r in records {
            let key = r.id().raw().to_be_bytes();
            buf = postcard::to_extend(r, std::mem::take(&mut buf)).expect("records serialise");
            state.insert(&key, buf.as_slice());
            buf.clear();
            names.insert(&key, r.name.as_bytes());
        }
        self.state.apply_batch(state)?;
        self.names.apply_batch(names)?;
        Ok(())
    }

    pub fn get_state(&self, id: EntityId) -> Result<Option<EntityRecord>> {
        match self.state.get(id.raw().to_be_bytes())? {
            Some(bytes) => {
                let rec: EntityRecord = decode(&bytes, id)?;
                EntityId::new(id.kind(), &rec.name);
                Ok(Some(rec))
            }
            None => Ok(None),
        }
    }

    pub fn contains_state(&self, id: EntityId) -> Result<bool> {
        Ok(self.state.contains_key(id.raw().to_be_bytes())?)
    }

    /// Every stored entity, optionally of one kind, in id order.
    pub fn states(&self, kind: Option<Kind>) -> impl Iterator<Item = Result<EntityRecord>> + '_ {
        self.state.iter().filter_map(move |item| {
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e.into())),
            };
            let id = keys::id_from(&k)?;
            if kind.is_some_and(|kd| id.kind() != kd) {
                return None;
            }
            Some(decode::<EntityRecord>(&v, id).inspect(|r| {
                EntityId::new(id.kind(), &r.name);
            }))
        })
    }

    pub fn state_count(&self) -> usize {
        self.state.len()
    }

    /// The readable name of `id`, recording it in the process name table.
    pub fn name_of(&self, id: EntityId) -> Result<Option<String>> {
        Ok(self.names.get(id.raw().to_be_bytes())?.map(|b| {
            let name = String::from_utf8_lossy(&b).into_owned();
            EntityId::new(id.kind(), &name);
            name
        }))
    }

    // ----- relationships -----

    /// Records `from`'s relationships in both directions.
    pub fn put_relations(&self, from: EntityId, relations: &[Relation]) -> Result<()> {
        let (mut fwd, mut rev) = (sled::Batch::default(), sled::Batch::default());
        for r in relations {
            fwd.insert(&keys::relation(from, r.code(), r.target()), &[]);
            rev.insert(&keys::relation(r.target(), r.code(), from), &[]);
        }
        self.rel_fwd.apply_batch(fwd)?;
        self.rel_rev.apply_batch(rev)?;
        Ok(())
    }

    /// What `id` relates to.
    pub fn relations_from(&self, id: EntityId) -> Result<Vec<Relation>> {
        scan_relations(&self.rel_fwd, id)
    }

    /// What relates to `id`, as (source, relation) pairs: the sensors attached
    /// to a machine, the parcels lying in a zone.
    pub fn relations_to(&self, id: EntityId) -> Result<Vec<(EntityId, Relation)>> {
        Ok(scan_relations(&self.rel_rev, id)?
            .into_iter()
            .map(|r| {
                // In the reverse index the "target" is the source entity.
                let src = r.target();
                let rel = Relation::from_code(r.code(), id).expect("known code");
                (src, rel)
            })
            .collect())
    }

    // ----- events -----

    /// Appends events to the log in the given order, numbering them.
    pub fn append_events(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let first = self
            .event_seq
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        let mut batch = sled::Batch::default();
        for (i, e) in events.iter().enumerate() {
            let bytes = postcard::to_stdvec(e).expect("events serialise");
            batch.insert(&keys::event(e.time, first + i as u64), bytes);
        }
        self.events.apply_batch(batch)?;
        Ok(())
    }

    /// Logged events with `from <= time < to`, in log order, at most `limit`.
    pub fn events(&self, from: SimTime, to: SimTime, limit: usize) -> Result<Vec<Event>> {
        let range = keys::event(from, 0)..keys::event(to, 0);
        self.events
            .range(range)
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                postcard::from_bytes(&v).map_err(corrupt(|| format!("event {:?}", &k[..])))
            })
            .collect()
    }

    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    // ----- history -----

    /// Appends observations to the raw history. A duplicate (same entity,
    /// measurand, time and seq) is one sample, not two.
    pub fn write_history<'a>(
        &self,
        observations: impl IntoIterator<Item = &'a Observation>,
    ) -> Result<()> {
        self.history.write(observations)
    }

    /// Raw samples of a series with `from <= time < to`, in time order.
    pub fn raw_history(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
    ) -> Result<Vec<Sample>> {
        self.history.raw(id, m, from, to)
    }

    /// Rolled-up history of a series: stored roll-ups for compacted hours,
    /// aggregated from raw samples for the rest.
    pub fn rollup_history(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        resolution: Resolution,
    ) -> Result<Vec<Bucket>> {
        self.history.rolled_up(id, m, from, to, resolution)
    }

    /// Seals the history of every closed hour (before the hour of `now`),
    /// trims the write-ahead log (which writes also trim as they go), rolls
    /// closed hours up, then drops raw samples and roll-ups past their
    /// retention. Idempotent: after a crash it simply redoes the work.
    pub fn compact(&self, now: SimTime) -> Result<CompactReport> {
        self.history
            .compact(now, self.retention.raw, self.retention.rollups)
    }

    /// Series with samples not yet sealed into chunks.
    pub fn open_series(&self) -> usize {
        self.history.open_heads()
    }

    // ----- run metadata -----

    pub fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Meta {
            key: key.to_string(),
            source,
        })?;
        self.meta.insert(format!("run:{key}"), bytes)?;
        Ok(())
    }

    pub fn get_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.meta.get(format!("run:{key}"))? {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Meta {
                    key: key.to_string(),
                    source,
                }),
            None => Ok(None),
        }
    }

    /// Bytes on disk (approximate).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// What a compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    pub heads_sealed: u64,
    pub wal_blocks_removed: u64,
    pub hours_rolled_up: u64,
    pub samples_rolled_up: u64,
    pub raw_chunks_removed: u64,
    pub rollups_removed: u64,
}

fn scan_relations(tree: &sled::Tree, id: EntityId) -> Result<Vec<Relation>> {
    tree.scan_prefix(id.raw().to_be_bytes())
        .filter_map(|item| match item {
            Ok((k, _)) => {
                let other = keys::id_from(&k[9..])?;
                Relation::from_code(k[8], other).map(Ok)
            }
            Err(e) => Some(Err(e.into())),
        })
        .collect()
}

/// The error for a record that does not decode; `key` names it, and is only
/// formatted when the error happens.
pub(crate) fn corrupt(key: impl FnOnce() -> String) -> impl FnOnce(postcard::Error) -> StoreError {
    move |source| StoreError::Decode { key: key(), source }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], id: EntityId) -> Result<T> {
    postcard::from_bytes(bytes).map_err(corrupt(|| id.to_string()))
}
