//! Readings into the runtime: times checked against the twin's clock,
//! duplicates dropped, unknown entities created where the map says so, the
//! rest refused by reason — and every outcome counted on the feed's board.
//!
//! [`Applier::apply`] returns an error only when the runtime could not take
//! the batch at all (the store failing): the caller keeps the messages
//! unacknowledged and tries again, so nothing is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;
use twin_actors::feeds::FeedStats;
use twin_actors::{Runtime, RuntimeError};
use twin_core::{EntityRecord, InputError, Observation, Quality, SimTime, Source};

use crate::dedup::Seen;
use crate::reading::{Malformed, Reading, Target};

/// Readings remembered for duplicate detection.
const SEEN: usize = 1 << 18;

/// Most entities one feed creates from its map's templates: a publisher
/// inventing names must not grow the twin without bound.
pub const MAX_CREATED: u64 = 1_000_000;

/// How a feed writes into a runtime.
pub struct Applier {
    runtime: Arc<Runtime>,
    stats: Arc<FeedStats>,
    seen: Seen,
    /// Readings timed later than the clock plus this are refused
    /// (`too_far_ahead`): one would otherwise become current and put every
    /// real reading after it out of order.
    pub max_skew: Option<SimTime>,
    /// Batches are journaled and synced before [`Applier::apply`] returns.
    pub durable: bool,
    source: Source,
    log: Throttle,
}

impl Applier {
    pub fn new(runtime: Arc<Runtime>, stats: Arc<FeedStats>, source: Source) -> Applier {
        Applier {
            runtime,
            stats,
            seen: Seen::new(SEEN),
            max_skew: None,
            durable: true,
            source,
            log: Throttle::default(),
        }
    }

    pub fn stats(&self) -> &Arc<FeedStats> {
        &self.stats
    }

    /// Counts and logs a message (or a part of one) that did not decode.
    pub fn malformed(&mut self, topic: &str, e: &Malformed) {
        FeedStats::add(&self.stats.malformed, 1);
        self.stats.reason(e.reason, 1);
        let text = format!("`{}`: {e}", crate::reading::q(topic));
        if self.log.ready() {
            warn!(feed = %self.stats.source, "malformed message on {text}");
        }
        self.stats.set_error(text);
    }

    /// Applies `readings` (counted as decoded by the caller, once however
    /// often it retries), untimed ones at `now`.
    pub async fn apply(&mut self, readings: &[Reading], now: SimTime) -> Result<(), RuntimeError> {
        let mut batch = Vec::with_capacity(readings.len());
        let mut targets = Vec::with_capacity(readings.len());
        let mut keys = Vec::with_capacity(readings.len());
        let mut stamps = Vec::new();
        for r in readings {
            let time = r.time.unwrap_or(now);
            if let Some(skew) = self.max_skew
                && time > now.saturating_add(skew)
            {
                self.refuse(
                    "too_far_ahead",
                    format!(
                        "{}/{} {}: {time} is ahead of the twin's clock {now}",
                        r.target.kind, r.target.name, r.measurand
                    ),
                );
                continue;
            }
            let id = r.target.id();
            let key = Seen::key(id, r.measurand, time, r.seq);
            if !self.seen.insert(key) {
                FeedStats::add(&self.stats.duplicates, 1);
                continue;
            }
            keys.push(key);
            stamps.extend(r.sent_us);
            batch.push(Observation {
                entity: id,
                time,
                measurand: r.measurand,
                value: r.value.clone(),
                quality: Quality::Ok,
                source: self.source,
                seq: r.seq,
            });
            targets.push(r.target.clone());
        }
        if batch.is_empty() {
            return Ok(());
        }
        // Kept only when an unknown entity may be created and retried.
        let retry = targets
            .iter()
            .any(|t| t.create.is_some())
            .then(|| batch.clone());
        let report = match self.runtime.ingest(batch, self.durable).await {
            Ok(r) => r,
            Err(e) => {
                for k in keys {
                    self.seen.forget(k);
                }
                return Err(e);
            }
        };
        let mut applied = report.applied + report.history_only;
        let mut create = Vec::new();
        let mut again = Vec::new();
        for (i, e) in report.errors {
            match (&e, &retry, &targets[i].create) {
                (InputError::UnknownEntity(_), Some(batch), Some(_))
                    if FeedStats::get(&self.stats.created) + (create.len() as u64)
                        < MAX_CREATED =>
                {
                    create.push(targets[i].clone());
                    again.push(batch[i].clone());
                }
                (InputError::UnknownEntity(id), _, Some(_)) => self.refuse(
                    "too_many_created",
                    format!("{id}: this feed has created {MAX_CREATED} entities, its most"),
                ),
                _ => self.refused(&e),
            }
        }
        if !create.is_empty() {
            applied += self.create_and_retry(create, again, now).await?;
        }
        FeedStats::add(&self.stats.applied, applied as u64);
        if !stamps.is_empty() {
            let now = unix_us();
            self.stats
                .latencies(stamps.iter().map(|s| now.saturating_sub(*s).max(0) as u64));
        }
        Ok(())
    }

    /// Creates the entities `targets` name (once each) and applies `again`.
    async fn create_and_retry(
        &mut self,
        mut targets: Vec<Arc<Target>>,
        again: Vec<Observation>,
        now: SimTime,
    ) -> Result<usize, RuntimeError> {
        targets.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        targets.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
        let records: Vec<EntityRecord> = targets
            .iter()
            .filter_map(|t| {
                let c = t.create.as_ref()?;
                let mut r = EntityRecord::new(t.kind, &t.name, &c.subtype);
                if let Some(rel) = c.relation {
                    if let Some(name) = &c.related {
                        // Named now, so that the relation prints readably.
                        twin_core::EntityId::new(rel.target().kind(), name);
                    }
                    r = r.with_relation(rel);
                }
                Some(r)
            })
            .collect();
        let n = records.len();
        let report = self.runtime.create(records, now).await?;
        let made = n - report.errors.len();
        FeedStats::add(&self.stats.created, made as u64);
        for (_, e) in &report.errors {
            if !matches!(e, InputError::AlreadyExists(_)) {
                self.refused(e);
            }
        }
        let report = self.runtime.ingest(again, self.durable).await?;
        for (_, e) in &report.errors {
            self.refused(e);
        }
        Ok(report.applied + report.history_only)
    }

    fn refused(&mut self, e: &InputError) {
        self.refuse(e.code(), e.to_string());
    }

    fn refuse(&mut self, reason: &str, text: String) {
        FeedStats::add(&self.stats.refused, 1);
        self.stats.reason(reason, 1);
        if self.log.ready() {
            warn!(feed = %self.stats.source, "refused: {text}");
        }
        self.stats.set_error(text);
    }
}

/// Unix time now, µs.
fn unix_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// At most one warning a second per feed: a flood of bad messages must not
/// become a flood of log lines.
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        if self.0.is_some_and(|t| now - t < Duration::from_secs(1)) {
            return false;
        }
        self.0 = Some(now);
        true
    }
}
