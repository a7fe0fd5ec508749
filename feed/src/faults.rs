//! Faults the load generator injects between the world and the sink, each
//! with a rate, so that the system under test meets what real devices and
//! networks do: messages dropped, duplicated, delayed, reordered or
//! corrupted, and sensors stuck on one value or dead.
//!
//! Stuck and dead sensors are chosen per entity (a fixed fraction of them,
//! by a hash of the id); the other faults per message. Every draw comes
//! from one seeded generator: the same seed injects the same faults.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp};
use twin_core::{EntityId, Measurand, Value};

use crate::sink::Message;

/// The rate of each fault, each in [0, 1].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultRates {
    pub drop: f64,
    pub duplicate: f64,
    /// Messages swapped with the next one.
    pub reorder: f64,
    pub corrupt: f64,
    /// Messages held back, each for an exponential time of mean `delay_mean`.
    pub delay: f64,
    pub delay_mean: Duration,
    /// Sensors (entities) that repeat their first value for ever.
    pub stuck: f64,
    /// Sensors that send nothing.
    pub dead: f64,
}

impl FaultRates {
    pub fn check(&self) -> Result<(), String> {
        for (name, r) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
            ("delay", self.delay),
            ("stuck", self.stuck),
            ("dead", self.dead),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("--{name} {r}: a rate in [0, 1]"));
            }
        }
        if self.stuck + self.dead > 1.0 {
            return Err("--stuck and --dead add up to more than 1".into());
        }
        Ok(())
    }

    pub fn any(&self) -> bool {
        *self
            != FaultRates {
                delay_mean: self.delay_mean,
                ..FaultRates::default()
            }
    }
}

/// How many messages each fault touched.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FaultCounts {
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    pub delayed: u64,
    pub stuck: u64,
    pub dead: u64,
}

pub struct Faults {
    rates: FaultRates,
    rng: rand_pcg::Pcg64Mcg,
    delay: Option<Exp<f64>>,
    held: BinaryHeap<Reverse<(Instant, u64)>>,
    held_messages: HashMap<u64, Message>,
    held_seq: u64,
    first: HashMap<(EntityId, Measurand), Value>,
    pub counts: FaultCounts,
    /// Whether any fault is asked for (else messages pass as they are).
    any: bool,
}

impl Faults {
    pub fn new(rates: FaultRates, seed: u64) -> Faults {
        let mean = rates.delay_mean.as_secs_f64();
        Faults {
            delay: (mean > 0.0).then(|| Exp::new(1.0 / mean).expect("a positive rate")),
            any: rates.any(),
            rates,
            rng: rand_pcg::Pcg64Mcg::seed_from_u64(seed),
            held: BinaryHeap::new(),
            held_messages: HashMap::new(),
            held_seq: 0,
            first: HashMap::new(),
            counts: FaultCounts::default(),
        }
    }

    /// Where `entity` falls in [0, 1), fixed for the run.
    fn place(entity: EntityId) -> f64 {
        let h = xxhash_rust::xxh3::xxh3_64(&entity.raw().to_le_bytes());
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Passes `batch` through the faults into `out`, with the delayed
    /// messages now due.
    pub fn apply(
        &mut self,
        batch: impl IntoIterator<Item = Message>,
        now: Instant,
        out: &mut Vec<Message>,
    ) {
        if !self.any {
            out.extend(batch);
            return;
        }
        let r = self.rates.clone();
        let start = out.len();
        for mut m in batch {
            let place = Self::place(m.entity);
            if place < r.dead {
                self.counts.dead += 1;
                continue;
            }
            if place < r.dead + r.stuck {
                self.counts.stuck += 1;
                m.value = self
                    .first
                    .entry((m.entity, m.measurand))
                    .or_insert_with(|| m.value.clone())
                    .clone();
            }
            if r.drop > 0.0 && self.rng.random_bool(r.drop) {
                self.counts.dropped += 1;
                continue;
            }
            if r.corrupt > 0.0 && self.rng.random_bool(r.corrupt) {
                self.counts.corrupted += 1;
                m.corrupt = true;
            }
            let copies = if r.duplicate > 0.0 && self.rng.random_bool(r.duplicate) {
                self.counts.duplicated += 1;
                2
            } else {
                1
            };
            for _ in 0..copies {
                match &self.delay {
                    Some(exp) if r.delay > 0.0 && self.rng.random_bool(r.delay) => {
                        self.counts.delayed += 1;
                        let wait = Duration::from_secs_f64(exp.sample(&mut self.rng).min(3600.0));
                        self.held_seq += 1;
                        self.held.push(Reverse((now + wait, self.held_seq)));
                        self.held_messages.insert(self.held_seq, m.clone());
                    }
                    _ => out.push(m.clone()),
                }
            }
        }
        if r.reorder > 0.0 {
            let mut i = start;
            while i + 1 < out.len() {
                if self.rng.random_bool(r.reorder) {
                    out.swap(i, i + 1);
                    self.counts.reordered += 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
        }
        self.release(now, out);
    }

    /// Moves the delayed messages due by `now` to `out`.
    pub fn release(&mut self, now: Instant, out: &mut Vec<Message>) {
        while let Some(Reverse((due, k))) = self.held.peek().copied() {
            if due > now {
                break;
            }
            self.held.pop();
            if let Some(m) = self.held_messages.remove(&k) {
                out.push(m);
            }
        }
    }

    /// Messages still held back.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// When the next held message falls due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.peek().map(|Reverse((due, _))| *due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{Kind, SimTime};

    fn messages(n: u64, entities: u64) -> Vec<Message> {
        (0..n)
            .map(|i| Message {
                entity: EntityId::of(Kind::Sensor, &format!("s-{}", i % entities)),
                measurand: Measurand::Temperature,
                time: SimTime(i as i64),
                value: Value::Number(i as f64),
                seq: i,
                corrupt: false,
            })
            .collect()
    }

    #[test]
    fn rates_hold_over_many_messages() {
        let rates = FaultRates {
            drop: 0.1,
            duplicate: 0.05,
            corrupt: 0.02,
            ..FaultRates::default()
        };
        let mut f = Faults::new(rates, 7);
        let mut out = Vec::new();
        f.apply(messages(100_000, 100), Instant::now(), &mut out);
        let near = |x: u64, want: f64| (x as f64 - want).abs() < want * 0.1;
        assert!(near(f.counts.dropped, 10_000.0), "{:?}", f.counts);
        assert!(near(f.counts.duplicated, 4_500.0), "{:?}", f.counts);
        assert_eq!(
            out.len() as u64,
            100_000 - f.counts.dropped + f.counts.duplicated
        );
        let corrupted = out.iter().filter(|m| m.corrupt).count() as f64;
        assert!(
            (corrupted - 0.02 * out.len() as f64).abs() < 0.004 * out.len() as f64,
            "{corrupted}"
        );
        // The same seed, the same faults.
        let mut g = Faults::new(f.rates.clone(), 7);
        let mut again = Vec::new();
        g.apply(messages(100_000, 100), Instant::now(), &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn stuck_and_dead_sensors_are_whole_entities() {
        let rates = FaultRates {
            stuck: 0.2,
            dead: 0.2,
            ..FaultRates::default()
        };
        let mut f = Faults::new(rates, 1);
        let mut out = Vec::new();
        f.apply(messages(10_000, 200), Instant::now(), &mut out);
        let mut by_entity: HashMap<EntityId, Vec<f64>> = HashMap::new();
        for m in &out {
            if let Value::Number(x) = m.value {
                by_entity.entry(m.entity).or_default().push(x);
            }
        }
        let silent = 200 - by_entity.len();
        let frozen = by_entity
            .values()
            .filter(|v| v.windows(2).all(|w| w[0] == w[1]))
            .count();
        assert!((20..=60).contains(&silent), "{silent} dead of 200");
        assert!((20..=60).contains(&frozen), "{frozen} stuck of 200");
    }

    #[test]
    fn delayed_messages_come_out_when_due_and_bad_rates_are_refused() {
        let rates = FaultRates {
            delay: 1.0,
            delay_mean: Duration::from_millis(10),
            ..FaultRates::default()
        };
        let mut f = Faults::new(rates, 3);
        let now = Instant::now();
        let mut out = Vec::new();
        f.apply(messages(100, 10), now, &mut out);
        assert!(out.len() < 100 && f.held() > 0);
        f.release(now + Duration::from_secs(3601), &mut out);
        assert_eq!((out.len(), f.held()), (100, 0));
        let bad = FaultRates {
            drop: 1.5,
            ..FaultRates::default()
        };
        assert!(bad.check().unwrap_err().contains("--drop"));
    }
}
