//! What each live feed (an MQTT subscription, a replayed file) has done:
//! counters the feed bumps as it goes and the API lists (`ListFeeds`).
//!
//! The feeds themselves live outside the runtime (`twin-feed`); the
//! runtime only keeps their board, so that whoever holds the runtime (the
//! gRPC server, `twin run`'s summary) can read it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Refusal reasons kept per feed: past this many distinct ones, the rest
/// count under `other` (a reason is chosen by the feed, not by a client,
/// but a bound costs nothing).
const MAX_REASONS: usize = 64;

/// One feed's counters. Cheap to bump from the feed's task.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// What the feed reads from, e.g. `mqtt://127.0.0.1:1883`.
    pub source: String,
    /// Messages taken from the source (each may carry many readings).
    pub messages: AtomicU64,
    /// Readings decoded from them.
    pub readings: AtomicU64,
    /// Readings the twin applied (current state or history).
    pub applied: AtomicU64,
    /// Readings seen before (same entity, measurand, time and sequence).
    pub duplicates: AtomicU64,
    /// Messages that could not be decoded at all, or readings in them
    /// that could not (counted under their reason too).
    pub malformed: AtomicU64,
    /// Readings the twin refused (counted under their reason too).
    pub refused: AtomicU64,
    /// Entities the feed created from its map's templates.
    pub created: AtomicU64,
    /// Connections made after the first.
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// Wall-clock time of the last message, ms since the Unix epoch (0: none).
    pub last_message_ms: AtomicI64,
    detail: Mutex<Detail>,
}

/// End-to-end latencies kept: the last this many stamped readings.
const LATENCIES: usize = 1 << 16;

#[derive(Debug, Default)]
struct Detail {
    last_error: String,
    reasons: BTreeMap<String, u64>,
    /// Sent-to-applied times of stamped readings, µs, a ring.
    latencies: Vec<u32>,
    next: usize,
}

fn lock(m: &Mutex<Detail>) -> std::sync::MutexGuard<'_, Detail> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FeedStats {
    pub fn new(source: impl Into<String>) -> FeedStats {
        FeedStats {
            source: source.into(),
            ..FeedStats::default()
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` readings or messages refused or malformed for `reason`.
    pub fn reason(&self, reason: &str, n: u64) {
        let mut d = lock(&self.detail);
        let key = if d.reasons.len() >= MAX_REASONS && !d.reasons.contains_key(reason) {
            "other"
        } else {
            reason
        };
        *d.reasons.entry(key.to_string()).or_default() += n;
    }

    /// The last error, for an operator (a broker down, a message refused).
    pub fn set_error(&self, error: impl Into<String>) {
        let mut e: String = error.into();
        if e.len() > 512 {
            let mut cut = 512;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
        }
        lock(&self.detail).last_error = e;
    }

    pub fn last_error(&self) -> String {
        lock(&self.detail).last_error.clone()
    }

    /// Counts by reason, e.g. `bad_json` or `unknown_entity`.
    pub fn reasons(&self) -> BTreeMap<String, u64> {
        lock(&self.detail).reasons.clone()
    }

    /// Records how long stamped readings took from their sender to being
    /// applied, µs.
    pub fn latencies(&self, us: impl Iterator<Item = u64>) {
        let mut d = lock(&self.detail);
        for x in us {
            let x = x.min(u32::MAX as u64) as u32;
            if d.latencies.len() < LATENCIES {
                d.latencies.push(x);
            } else {
                let i = d.next;
                d.latencies[i] = x;
            }
            d.next = (d.next + 1) % LATENCIES;
        }
    }

    /// The median and 99th percentile of the recent end-to-end latencies,
    /// ms; `None` before any stamped reading.
    pub fn latency_ms(&self) -> Option<(f64, f64)> {
        let mut l = lock(&self.detail).latencies.clone();
        if l.is_empty() {
            return None;
        }
        l.sort_unstable();
        let at = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        Some((at(0.5), at(0.99)))
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A feed's kind (`mqtt`) and its counters.
pub type Feed = (String, Arc<FeedStats>);

/// Every feed of a runtime, in the order they started.
#[derive(Clone, Debug, Default)]
pub struct Feeds(Arc<Mutex<Vec<Feed>>>);

impl Feeds {
    /// Registers a feed under `name` and returns its counters.
    pub fn register(&self, name: &str, source: &str) -> Arc<FeedStats> {
        let stats = Arc::new(FeedStats::new(source));
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_string(), stats.clone()));
        stats
    }

    pub fn list(&self) -> Vec<Feed> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
