//! The embedded store: entity state, the event log, history and roll-ups,
//! on one of two engines behind [`engine::Engine`].
//!
//! Trees ([`Tree`]):
//! - `state`: latest [`EntityRecord`] per entity (written at passivation,
//!   checkpoints and durable ingests), counted as they are created;
//! - `events`: the append-only event log keyed by (time, seq), so a time
//!   range is one scan and retention drops a prefix;
//! - `wal`, `chunks`: raw history, written as whole batches and sealed into
//!   compressed per-series chunks (see [`history`](self::history)); the WAL
//!   is trimmed as chunks are sealed, the chunks are kept for the raw
//!   retention (30 days by default);
//! - `r5m`, `r1h`: 5-minute and hourly roll-ups (count, min, max, mean) keyed
//!   by (entity, measurand, bucket), kept for the roll-up retention (12 months);
//! - `rel_fwd`, `rel_rev`: relationships indexed both ways;
//! - `names`: readable names, so ids print the same after a restart;
//! - `meta`: run metadata, counters and the roll-up watermark.
//!
//! Roll-ups are computed by [`Store::compact`] for closed hours, not on every
//! write, so an hour of data is read once. Buckets not yet compacted are
//! aggregated from raw data at query time, so a query never misses recent
//! data. A write is durable once [`Store::flush`] has returned. Every write
//! goes through a [`watch::Tracked`] engine, so a write that stops completing
//! is seen ([`Store::write_stall`]).

mod alerting;
pub mod engine;
mod group_commit;
mod history;
mod journal;
pub mod keys;
mod record;
pub mod rollup;
pub mod watch;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use engine::{Batch, EngineKind, Tree};
pub use history::aggregate;
pub use journal::Journaled;
pub use rollup::{Bucket, Resolution, Rollup};

use crate::event::Event;
use crate::id::{EntityId, Kind};
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::state::{EntityRecord, Relation};
use crate::time::SimTime;
use crate::value::Value;
use engine::Engine;
pub(crate) use record::corrupt;
use record::{decode_record, encode_record};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("store (sled): {0}")]
    Sled(#[from] sled::Error),
    #[error("store (fjall): {0}")]
    Fjall(#[from] fjall::Error),
    #[error("store: {0}")]
    Io(String),
    #[error("store: corrupt record under key {key}: {source}")]
    Decode {
        key: String,
        source: postcard::Error,
    },
    #[error("store: corrupt chunk {key}: {reason}")]
    Chunk { key: String, reason: String },
    #[error("store: metadata `{key}`: {source}")]
    Meta {
        key: String,
        source: serde_json::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How long history and events are kept.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub raw: SimTime,
    pub rollups: SimTime,
    pub events: SimTime,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: SimTime::days(30),
            rollups: SimTime::days(365),
            events: SimTime::days(30),
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// The engine; `None`: the store's own, or the default for a new store.
    pub engine: Option<EngineKind>,
    pub retention: Retention,
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

/// A position in the event log (time, then order of arrival): where a page
/// of events starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPos {
    pub time: SimTime,
    pub seq: u64,
}

impl EventPos {
    /// The first position at `time`.
    pub fn at(time: SimTime) -> EventPos {
        EventPos { time, seq: 0 }
    }

    fn of_key(k: &[u8]) -> Option<EventPos> {
        (k.len() == 16).then(|| EventPos {
            time: SimTime(keys::i64_from(&k[..8])),
            seq: u64::from_be_bytes(k[8..16].try_into().expect("8 bytes")),
        })
    }
}

/// The store handle: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<watch::Tracked>,
    history: history::History,
    retention: Retention,
    event_seq: AtomicU64,
    entities: AtomicI64,
    events: AtomicI64,
    commits: group_commit::GroupCommit,
}

/// Meta key of the measurands a site or scenario declared.
const DECLARED: &str = "declared_measurands";
/// Meta keys of the counters, written at a clean close; `OPEN` is present
/// while a process has the store open, so a crash is seen at the next open
/// and the counters are recounted.
const OPEN: &str = "open";
const ENTITIES: &str = "entity_count";
const EVENTS: &str = "event_count";
const EVENT_SEQ: &str = "event_seq";

impl Store {
    /// Opens (or creates) the store in directory `path` on its own engine
    /// (or the default one, for a new store).
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<Store> {
        Self::open_with(
            path,
            Options {
                engine: None,
                retention,
            },
        )
    }

    /// Opens the store at `path`; the measurands it was given (see
    /// [`Store::keep_declared`]) are declared in this process, so that its
    /// records and history read by name.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let store = Self::on(
            engine::open(path.as_ref(), options.engine)?,
            options.retention,
        )?;
        for d in store
            .get_meta::<Vec<crate::measurand::Declared>>(DECLARED)?
            .unwrap_or_default()
        {
            if let Err(e) = crate::measurand::define(&d) {
                eprintln!("warning: the store's {e}");
            }
        }
        Ok(store)
    }

    /// Records every measurand declared in this process, for the next
    /// opening of the store.
    pub fn keep_declared(&self) -> Result<()> {
        self.put_meta(DECLARED, &crate::measurand::declared())
    }

    /// A store in a temporary directory, removed on drop (for `--ephemeral`).
    ///
    /// (Declared measurands live in the process; a temporary store starts
    /// with none of its own.)
    pub fn temporary(retention: Retention) -> Result<Store> {
        Self::temporary_on(EngineKind::DEFAULT, retention)
    }

    pub fn temporary_on(kind: EngineKind, retention: Retention) -> Result<Store> {
        Self::on(engine::temporary(kind)?, retention)
    }

    /// A store on an engine opened by the caller (a wrapped one, in tests).
    pub fn on(engine: Arc<dyn Engine>, retention: Retention) -> Result<Store> {
        let engine = Arc::new(watch::Tracked::new(engine));
        let db: &dyn Engine = &*engine;
        let meta_u64 = |key: &str| -> Result<Option<u64>> {
            Ok(db
                .get(Tree::Meta, key.as_bytes())?
                .map(|b| keys::u64_from(&b)))
        };
        let last_event = match db.last(Tree::Events)? {
            Some((k, _)) => keys::u64_from(&k[8..]) + 1,
            None => 0,
        };
        let event_seq = last_event.max(meta_u64(EVENT_SEQ)?.unwrap_or(0));
        let crashed = db.contains(Tree::Meta, OPEN.as_bytes())?;
        let (entities, events) = match (crashed, meta_u64(ENTITIES)?, meta_u64(EVENTS)?) {
            (false, Some(n), Some(e)) => (n, e),
            _ => {
                let count = |t| -> Result<u64> {
                    let mut n = 0;
                    for item in db.range(t, &[], None, false) {
                        item?;
                        n += 1;
                    }
                    Ok(n)
                };
                (count(Tree::State)?, count(Tree::Events)?)
            }
        };
        alerting::index_once(db)?;
        db.insert(Tree::Meta, OPEN.as_bytes(), &[])?;
        db.flush()?;
        let history = history::History::open(engine.clone())?;
        Ok(Store {
            inner: Arc::new(Inner {
                history,
                engine,
                retention,
                event_seq: AtomicU64::new(event_seq),
                entities: AtomicI64::new(entities as i64),
                events: AtomicI64::new(events as i64),
                commits: Default::default(),
            }),
        })
    }

    fn db(&self) -> &dyn Engine {
        &*self.inner.engine
    }

    pub fn engine_kind(&self) -> EngineKind {
        self.db().kind()
    }

    pub fn retention(&self) -> Retention {
        self.inner.retention
    }

    /// Makes every write so far durable (survives `kill -9` and power loss).
    /// Concurrent callers share one sync of the engine ([`group_commit`]).
    pub fn flush(&self) -> Result<()> {
        self.inner.commits.sync(|| self.db().flush())
    }

    /// How long writes have been pending without one completing, if that is
    /// `after` or more: a store that stops writing (a full disk, an engine
    /// deadlock) is seen here rather than as a silent hang.
    /// [`watch::STALL_AFTER`] is the threshold the run loop and health use.
    pub fn write_stall(&self, after: Duration) -> Option<Duration> {
        self.inner
            .engine
            .stalled_for()
            .filter(|waited| *waited >= after)
    }

    // ----- entity state -----

    /// Writes the latest state of each record, and its name and relationships.
    pub fn put_states<'a>(
        &self,
        records: impl IntoIterator<Item = &'a EntityRecord>,
    ) -> Result<()> {
        let mut batch = Batch::default();
        let mut buf = Vec::new();
        let mut created = 0;
        for r in records {
            let key = r.id().raw().to_be_bytes();
            if !self.db().contains(Tree::State, &key)? {
                created += 1;
            }
            buf = encode_record(r, std::mem::take(&mut buf));
            batch.insert(Tree::State, &key, &buf);
            buf.clear();
            batch.insert(Tree::Names, &key, r.name.as_bytes());
            alerting::follow(self.db(), &mut batch, &key, r)?;
        }
        self.db().apply(batch)?;
        self.inner.entities.fetch_add(created, Ordering::Relaxed);
        Ok(())
    }

    pub fn get_state(&self, id: EntityId) -> Result<Option<EntityRecord>> {
        match self.db().get(Tree::State, &id.raw().to_be_bytes())? {
            Some(bytes) => {
                let rec = decode_record(&bytes, id)?;
                EntityId::new(id.kind(), &rec.name);
                Ok(Some(rec))
            }
            None => Ok(None),
        }
    }

    pub fn contains_state(&self, id: EntityId) -> Result<bool> {
        self.db().contains(Tree::State, &id.raw().to_be_bytes())
    }

    /// Every stored entity, optionally of one kind, in id order.
    pub fn states(&self, kind: Option<Kind>) -> impl Iterator<Item = Result<EntityRecord>> + '_ {
        self.db()
            .range(Tree::State, &[], None, false)
            .filter_map(move |item| {
                let (k, v) = match item {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                let id = keys::id_from(&k)?;
                if kind.is_some_and(|kd| id.kind() != kd) {
                    return None;
                }
                Some(decode_record(&v, id).inspect(|r| {
                    EntityId::new(id.kind(), &r.name);
                }))
            })
    }

    /// Entities in the store: a counter, not a scan.
    pub fn state_count(&self) -> usize {
        self.inner.entities.load(Ordering::Relaxed).max(0) as usize
    }

    /// The readable name of `id`, recording it in the process name table.
    pub fn name_of(&self, id: EntityId) -> Result<Option<String>> {
        Ok(self
            .db()
            .get(Tree::Names, &id.raw().to_be_bytes())?
            .map(|b| {
                let name = String::from_utf8_lossy(&b).into_owned();
                EntityId::new(id.kind(), &name);
                name
            }))
    }

    // ----- relationships -----

    /// Records `from`'s relationships in both directions.
    pub fn put_relations(&self, from: EntityId, relations: &[Relation]) -> Result<()> {
        self.replace_relations(from, &[], relations)
    }

    /// Drops `removed` from the relationship indexes of `from` and adds
    /// `added`, in one batch: a zone whose extent changed now affects
    /// other parcels.
    pub fn replace_relations(
        &self,
        from: EntityId,
        removed: &[Relation],
        added: &[Relation],
    ) -> Result<()> {
        let mut batch = Batch::default();
        for r in removed {
            batch.remove(Tree::RelFwd, &keys::relation(from, r.code(), r.target()));
            batch.remove(Tree::RelRev, &keys::relation(r.target(), r.code(), from));
        }
        for r in added {
            batch.insert(
                Tree::RelFwd,
                &keys::relation(from, r.code(), r.target()),
                &[],
            );
            batch.insert(
                Tree::RelRev,
                &keys::relation(r.target(), r.code(), from),
                &[],
            );
        }
        self.db().apply(batch)
    }

    /// What `id` relates to.
    pub fn relations_from(&self, id: EntityId) -> Result<Vec<Relation>> {
        self.scan_relations(Tree::RelFwd, id)
    }

    /// What relates to `id`, as (source, relation) pairs: the sensors attached
    /// to a machine, the parcels lying in a zone.
    pub fn relations_to(&self, id: EntityId) -> Result<Vec<(EntityId, Relation)>> {
        Ok(self
            .scan_relations(Tree::RelRev, id)?
            .into_iter()
            .map(|r| {
                // In the reverse index the "target" is the source entity.
                let src = r.target();
                let rel = Relation::from_code(r.code(), id).expect("known code");
                (src, rel)
            })
            .collect())
    }

    fn scan_relations(&self, tree: Tree, id: EntityId) -> Result<Vec<Relation>> {
        self.db()
            .prefix(tree, &id.raw().to_be_bytes())
            .filter_map(|item| match item {
                Ok((k, _)) => {
                    let other = keys::id_from(&k[9..])?;
                    Relation::from_code(k[8], other).map(Ok)
                }
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    // ----- events -----

    /// Appends events to the log in the given order, numbering them.
    pub fn append_events(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let first = self
            .inner
            .event_seq
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        let mut batch = Batch::default();
        for (i, e) in events.iter().enumerate() {
            let bytes = postcard::to_stdvec(e).expect("events serialise");
            batch.insert(Tree::Events, &keys::event(e.time, first + i as u64), &bytes);
        }
        self.db().apply(batch)?;
        self.inner
            .events
            .fetch_add(events.len() as i64, Ordering::Relaxed);
        Ok(())
    }

    /// Logged events with `from <= time < to`, in log order, at most `limit`:
    /// one range scan that stops at `limit`, whatever the log's length.
    pub fn events(&self, from: SimTime, to: SimTime, limit: usize) -> Result<Vec<Event>> {
        self.events_where(from, to, limit, |_| true)
    }

    /// Like [`events`](Self::events), keeping only the events `keep`
    /// accepts: the scan stops once `limit` are kept.
    pub fn events_where(
        &self,
        from: SimTime,
        to: SimTime,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>> {
        let page = self.events_page(EventPos::at(from), to, limit, usize::MAX, keep)?;
        Ok(page.0)
    }

    /// Logged events from `from` (a position in the log) to before `to`
    /// that `keep` accepts, at most `limit`, looking at no more than
    /// `budget` events: the page, and where the next one starts when the
    /// range may hold more. A selective `keep` over a long log thus costs
    /// `budget` per call, and the caller pages on.
    pub fn events_page(
        &self,
        from: EventPos,
        to: SimTime,
        limit: usize,
        budget: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<(Vec<Event>, Option<EventPos>)> {
        let mut out = Vec::new();
        let lo = keys::event(from.time, from.seq);
        let hi = keys::event(to, 0);
        if lo >= hi || limit == 0 {
            return Ok((out, None));
        }
        let scan = self.db().range(Tree::Events, &lo, Some(&hi), false);
        for (looked, item) in scan.enumerate() {
            let (k, v) = item?;
            let at = EventPos::of_key(&k);
            if looked >= budget {
                return Ok((out, at));
            }
            let e: Event =
                postcard::from_bytes(&v).map_err(corrupt(|| format!("event {:?}", &k[..])))?;
            if keep(&e) {
                if out.len() == limit {
                    // One more than the page: the next page starts here.
                    return Ok((out, at));
                }
                out.push(e);
            }
        }
        Ok((out, None))
    }

    /// Stored entities after `after` (from the first when `None`), in id
    /// order: a scan that starts where a previous page stopped.
    pub fn states_after(
        &self,
        after: Option<EntityId>,
    ) -> impl Iterator<Item = Result<EntityRecord>> + '_ {
        let from = after.map_or(0, |id| id.raw().saturating_add(1));
        self.db()
            .range(Tree::State, &from.to_be_bytes(), None, false)
            .filter_map(|item| {
                let (k, v) = match item {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                let id = keys::id_from(&k)?;
                // As `states` does: the record's name is learnt on the way.
                Some(decode_record(&v, id).inspect(|r| {
                    EntityId::new(id.kind(), &r.name);
                }))
            })
    }

    /// Events in the log: a counter, not a scan.
    pub fn event_count(&self) -> usize {
        self.inner.events.load(Ordering::Relaxed).max(0) as usize
    }

    /// Drops events older than `cut`, in batches of bounded size; returns how
    /// many.
    fn drop_events_before(&self, cut: SimTime) -> Result<u64> {
        let end = keys::event(cut, 0);
        let removed = delete_range(self.db(), Tree::Events, &[], &end)?;
        self.inner
            .events
            .fetch_sub(removed as i64, Ordering::Relaxed);
        Ok(removed)
    }

    // ----- history -----

    /// Appends observations to the raw history. A duplicate (same entity,
    /// measurand, time and seq) is one sample, not two.
    pub fn write_history<'a>(
        &self,
        observations: impl IntoIterator<Item = &'a Observation>,
    ) -> Result<()> {
        self.inner.history.write(observations)
    }

    /// Raw samples of a series with `from <= time < to`, in time order.
    pub fn raw_history(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
    ) -> Result<Vec<Sample>> {
        Ok(self.inner.history.raw(id, m, from, to, usize::MAX)?.0)
    }

    /// Like [`raw_history`](Self::raw_history), at most `limit` samples
    /// (more only when one time holds more), read up to about that many:
    /// the page and, when the range holds more, the time the rest starts.
    pub fn raw_history_page(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        limit: usize,
    ) -> Result<(Vec<Sample>, Option<SimTime>)> {
        self.inner.history.raw(id, m, from, to, limit)
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
        Ok(self
            .inner
            .history
            .rolled_up(id, m, from, to, resolution, usize::MAX)?
            .0)
    }

    /// Like [`rollup_history`](Self::rollup_history), at most `limit`
    /// buckets: the page and, when the range holds more, where the rest
    /// starts.
    pub fn rollup_history_page(
        &self,
        id: EntityId,
        m: Measurand,
        from: SimTime,
        to: SimTime,
        resolution: Resolution,
        limit: usize,
    ) -> Result<(Vec<Bucket>, Option<SimTime>)> {
        self.inner
            .history
            .rolled_up(id, m, from, to, resolution, limit)
    }

    /// Seals the history of every closed hour (before the hour of `now`),
    /// trims the write-ahead log (which writes also trim as they go), rolls
    /// closed hours up one series at a time, then drops raw samples,
    /// roll-ups and events past their retention in bounded batches.
    /// Idempotent: after a crash it simply redoes the work.
    pub fn compact(&self, now: SimTime) -> Result<CompactReport> {
        let r = self.inner.retention;
        let mut report = self.inner.history.compact(now, r.raw, r.rollups)?;
        report.events_removed = self.drop_events_before(now.saturating_sub(r.events))?;
        Ok(report)
    }

    /// Series with samples not yet sealed into chunks.
    pub fn open_series(&self) -> usize {
        self.inner.history.open_heads()
    }

    // ----- run metadata -----

    pub fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Meta {
            key: key.to_string(),
            source,
        })?;
        self.db()
            .insert(Tree::Meta, format!("run:{key}").as_bytes(), &bytes)
    }

    pub fn get_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.db().get(Tree::Meta, format!("run:{key}").as_bytes())? {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Meta {
                    key: key.to_string(),
                    source,
                }),
            None => Ok(None),
        }
    }

    /// Bytes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db().size_on_disk().unwrap_or(0)
    }

    /// Bytes of every key and value the store holds: what it keeps, before
    /// the engine's own overhead (logs, pre-allocated files, garbage not
    /// yet reclaimed). A full scan: for measurements.
    pub fn stored_bytes(&self) -> Result<u64> {
        let mut bytes = 0;
        for t in Tree::ALL {
            for item in self.db().range(t, &[], None, false) {
                let (k, v) = item?;
                bytes += (k.len() + v.len()) as u64;
            }
        }
        Ok(bytes)
    }

    /// Does now the space reclaiming the engine does in the background, so
    /// that [`size_on_disk`](Self::size_on_disk) reads the steady state.
    pub fn settle(&self) -> Result<()> {
        self.db().settle()
    }
}

impl Drop for Inner {
    /// A clean close: the counters are saved and the open mark removed, so
    /// the next open need not recount.
    fn drop(&mut self) {
        let db: &dyn Engine = &*self.engine;
        let put = |key: &str, v: u64| db.insert(Tree::Meta, key.as_bytes(), &v.to_be_bytes());
        let closed = put(
            ENTITIES,
            self.entities.load(Ordering::Relaxed).max(0) as u64,
        )
        .and_then(|_| put(EVENTS, self.events.load(Ordering::Relaxed).max(0) as u64))
        .and_then(|_| put(EVENT_SEQ, self.event_seq.load(Ordering::Relaxed)))
        .and_then(|_| db.remove(Tree::Meta, OPEN.as_bytes()))
        .and_then(|_| db.flush());
        if let Err(e) = closed {
            tracing_free_warning(&e);
        }
    }
}

/// twin-core has no logger: a failed clean close is printed, and the next
/// open recounts.
fn tracing_free_warning(e: &StoreError) {
    eprintln!("warning: the store did not close cleanly ({e}); it will recount at next open");
}

/// What a compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    pub heads_sealed: u64,
    pub wal_blocks_removed: u64,
    pub hours_rolled_up: u64,
    pub samples_rolled_up: u64,
    pub chunks_repacked: u64,
    pub raw_chunks_removed: u64,
    pub rollups_removed: u64,
    pub events_removed: u64,
}

/// Most writes one batch of upkeep holds, so that deleting a month of data
/// needs no more memory than deleting a minute of it.
pub(crate) const UPKEEP_BATCH: usize = 4096;

/// Removes the keys of `tree` in `[from, to)` in batches of at most
/// [`UPKEEP_BATCH`]; returns how many.
pub(crate) fn delete_range(db: &dyn Engine, tree: Tree, from: &[u8], to: &[u8]) -> Result<u64> {
    delete_where(db, tree, from, Some(to), |_| true)
}

/// Removes the keys of `tree` in `[from, to)` that `pick` selects, in
/// batches of at most [`UPKEEP_BATCH`]; returns how many.
pub(crate) fn delete_where(
    db: &dyn Engine,
    tree: Tree,
    from: &[u8],
    to: Option<&[u8]>,
    pick: impl Fn(&[u8]) -> bool,
) -> Result<u64> {
    let mut removed = 0;
    let mut start = from.to_vec();
    loop {
        let mut batch = Batch::default();
        let mut last = None;
        for item in db.range(tree, &start, to, false) {
            let (k, _) = item?;
            if pick(&k) {
                batch.remove(tree, &k);
            }
            last = Some(k.to_vec());
            if batch.len() >= UPKEEP_BATCH {
                break;
            }
        }
        let n = batch.len() as u64;
        db.apply(batch)?;
        removed += n;
        match last {
            Some(mut k) if n as usize >= UPKEEP_BATCH => {
                k.push(0); // the next key after `k`
                start = k;
            }
            _ => return Ok(removed),
        }
    }
}
