//! Sensors: how the true value of something becomes observations.
//!
//! A [`Channel`] is one measurand of one observed entity, read from a slot of
//! the [`Truth`] of the world entity that carries it, through a
//! [`SensorModel`]: noise, drift, dropouts, stuck values, spikes, latency and
//! duplicates. Channels live on the world entity they read, so sampling walks
//! memory in order instead of chasing references.

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryFilter;
use rand::RngExt;
use rand_distr::StandardNormal;
use twin_core::rng::Light;
use twin_core::{EntityId, Measurand, Observation, Quality, SimTime, Source, Value};

use crate::spec::SensorModelSpec;
use crate::world::SimClock;
use crate::world::lanes::{self, Lanes};

/// A sensor model, resolved from its spec.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorModel {
    pub name: String,
    pub period: SimTime,
    pub noise: f64,
    pub relative_noise: f64,
    pub drift_per_day: f64,
    pub dropout: f64,
    /// Probability per sample of entering a stuck episode, and its length.
    pub stuck: Option<(f64, SimTime)>,
    pub spikes: Option<(f64, f64)>,
    /// Mean and cap of the delivery delay, ms.
    pub latency: Option<(f64, SimTime)>,
    pub duplicates: f64,
    pub resolution: f64,
    /// `1 / resolution`: a multiplication per sample instead of a division.
    inverse_resolution: f64,
    /// The rare per-sample faults, drawn by skipping ahead.
    faults: Faults,
}

impl SensorModel {
    pub fn from_spec(name: &str, spec: &SensorModelSpec, default_period: SimTime) -> SensorModel {
        let period = spec.period.map_or(default_period, |d| d.0);
        let per_sample = |per_day: f64| per_day * period.as_secs_f64() / 86_400.0;
        SensorModel {
            name: name.to_string(),
            period,
            noise: spec.noise,
            relative_noise: spec.relative_noise,
            drift_per_day: spec.drift_per_day,
            dropout: spec.dropout,
            stuck: spec
                .stuck
                .map(|e| (per_sample(e.per_day).min(1.0), e.duration.0)),
            spikes: spec.spikes.map(|s| (s.probability, s.size)),
            latency: spec.latency.map(|l| (l.mean.0.as_ms() as f64, l.max.0)),
            duplicates: spec.duplicates,
            resolution: spec.resolution,
            inverse_resolution: if spec.resolution > 0.0 {
                1.0 / spec.resolution
            } else {
                0.0
            },
            faults: Faults::new([
                spec.dropout,
                spec.stuck.map_or(0.0, |e| per_sample(e.per_day).min(1.0)),
                spec.spikes.map_or(0.0, |s| s.probability),
                spec.duplicates,
            ]),
        }
    }

    /// A perfect sensor sampling every `period`.
    pub fn ideal(period: SimTime) -> SensorModel {
        SensorModel::from_spec("ideal", &SensorModelSpec::default(), period)
    }
}

/// The faults that strike a sample at random, independently, each with its
/// own small probability: a dropout, the start of a stuck episode, a spike,
/// a duplicate delivery.
///
/// Drawing four uniforms per sample to find that nothing happened is most of
/// a sensor's cost, so the sampler instead draws, once per faulty sample, how
/// many clean samples come before the next one (a geometric gap with the
/// probability that any fault strikes), and then which faults strike given
/// that at least one does. The stream has the same distribution as four
/// independent draws per sample.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Faults {
    /// Each fault's probability per sample, in [`Fault`] order.
    p: [f64; 4],
    /// `p[i]` given that none of `0..i` struck and at least one of `i..`
    /// does: `p[i] / P(any of i..)`.
    first: [f64; 4],
    /// `ln(1 - P(any))`, the geometric gap's parameter; 0 when no fault can
    /// strike, negative infinity when one always does.
    ln_clean: f64,
}

/// Bits of a [`Faults`] draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Struck(u8);

impl Struck {
    const DROPOUT: u8 = 1;
    const STUCK: u8 = 2;
    const SPIKE: u8 = 4;
    const DUPLICATE: u8 = 8;
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

impl Faults {
    fn new(p: [f64; 4]) -> Faults {
        let p = p.map(|x| x.clamp(0.0, 1.0));
        let mut first = [0.0; 4];
        let mut clean_from = 1.0;
        for i in (0..4).rev() {
            clean_from *= 1.0 - p[i];
            let any_from = 1.0 - clean_from;
            first[i] = if any_from > 0.0 { p[i] / any_from } else { 0.0 };
        }
        Faults {
            p,
            first,
            ln_clean: clean_from.ln(),
        }
    }

    /// Clean samples before the next faulty one.
    fn gap(&self, rng: &mut Light) -> u32 {
        if self.ln_clean == 0.0 {
            return u32::MAX;
        }
        // 1 - u is in (0, 1]: its logarithm is finite.
        let u = 1.0 - rng.random::<f64>();
        let k = (u.ln() / self.ln_clean).floor();
        if k >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            k as u32
        }
    }

    /// Which faults strike a sample known to have at least one.
    fn strike(&self, rng: &mut Light) -> Struck {
        let mut struck = 0;
        for i in 0..4 {
            let p = if struck == 0 {
                self.first[i]
            } else {
                self.p[i]
            };
            if p > 0.0 && rng.random::<f64>() < p {
                struck |= 1 << i;
            }
        }
        Struck(struck)
    }
}

/// All sensor models of a world, indexed by [`Channel::model`].
#[derive(Resource, Default)]
pub struct SensorModels(pub Vec<SensorModel>);

/// The true values a world entity exposes to its sensors, by slot. Domain
/// systems write them; the sampling system reads them.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Truth(pub [f64; 8]);

/// What a channel reports: a number in one slot, or a position in two
/// consecutive slots (longitude, latitude).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    Number(u8),
    Point(u8),
}

/// One measurand of one observed entity. Kept small (it is the world's most
/// numerous thing): the stuck value and drift are plain numbers, as only
/// numeric sensors get stuck or drift.
#[derive(Clone, Debug)]
pub struct Channel {
    pub observed: EntityId,
    pub measurand: Measurand,
    pub reading: Reading,
    pub model: u16,
    pub next_due: SimTime,
    /// Until when the sensor is stuck (at `last`); in the past when it is not.
    pub stuck_until: SimTime,
    /// The last numeric value reported.
    pub last: f64,
    /// This sensor's own drift rate, unit per day.
    pub drift_rate: f32,
    pub seq: u32,
    /// Clean samples left before the next faulty one (see [`Faults`]).
    clean: u32,
    pub rng: Light,
}

impl Channel {
    pub fn new(
        observed: EntityId,
        measurand: Measurand,
        reading: Reading,
        model_index: u16,
        model: &SensorModel,
        mut rng: Light,
    ) -> Channel {
        // Sensors do not all sample at the same instant.
        let offset = (rng.random::<f64>() * model.period.as_ms() as f64) as i64;
        let drift_rate = if model.drift_per_day > 0.0 {
            model.drift_per_day * rng.sample::<f64, _>(StandardNormal)
        } else {
            0.0
        };
        let clean = model.faults.gap(&mut rng);
        Channel {
            observed,
            measurand,
            reading,
            model: model_index,
            next_due: SimTime(offset),
            stuck_until: SimTime::MIN,
            last: f64::NAN,
            drift_rate: drift_rate as f32,
            seq: 0,
            clean,
            rng,
        }
    }
}

/// The channels carried by a world entity, inline up to four (a machine's
/// sensors and its throughput): sampling then walks the component table in order
/// instead of following a pointer per entity.
#[derive(Component, Clone, Debug, Default)]
pub struct Channels(pub smallvec::SmallVec<[Channel; 4]>);

impl From<Vec<Channel>> for Channels {
    fn from(v: Vec<Channel>) -> Channels {
        // Collected, not `from_vec`: a Vec whose capacity exceeds the inline
        // size would stay on the heap.
        Channels(v.into_iter().collect())
    }
}

/// Observations on their way. Delayed ones wait in per-tick buckets and are
/// delivered, in emission order, at the first tick at or after their
/// delivery time: no heap, and an order that does not depend on timing.
#[derive(Resource, Default)]
pub struct Outbox {
    /// Delivered now, in emission order.
    pub ready: Vec<Observation>,
    /// Delayed, by delivery time rounded up to the tick.
    delayed: std::collections::BTreeMap<SimTime, Vec<Observation>>,
    /// The tick width used for rounding (set by the first release).
    tick: SimTime,
    pub emitted: u64,
}

impl Outbox {
    #[inline]
    pub fn push(&mut self, deliver_at: SimTime, now: SimTime, obs: Observation) {
        self.emitted += 1;
        if deliver_at <= now {
            self.ready.push(obs);
        } else {
            self.delay(deliver_at, obs);
        }
    }

    #[cold]
    fn delay(&mut self, deliver_at: SimTime, obs: Observation) {
        let tick = self.tick.as_ms().max(1);
        let due = SimTime((deliver_at.as_ms() + tick - 1).div_euclid(tick) * tick);
        self.delayed.entry(due).or_default().push(obs);
    }

    /// Sets the tick that delivery times are rounded up to.
    pub fn set_tick(&mut self, tick: SimTime) {
        self.tick = tick;
    }

    /// Moves the delayed observations due by `now` to the ready list.
    pub fn release(&mut self, now: SimTime) {
        while let Some(entry) = self.delayed.first_entry() {
            if *entry.key() > now {
                break;
            }
            self.ready.append(&mut entry.remove());
        }
    }

    /// Appends another outbox's contents after this one's (parallel sampling
    /// merges its parts in a fixed order).
    pub fn absorb(&mut self, other: &mut Outbox) {
        self.ready.append(&mut other.ready);
        for (due, mut obs) in std::mem::take(&mut other.delayed) {
            self.delayed.entry(due).or_default().append(&mut obs);
        }
        self.emitted += std::mem::take(&mut other.emitted);
    }
}

/// Milliseconds to days, as a factor: a multiplication per sample, not two
/// divisions.
const DAYS_PER_MS: f64 = 1.0 / 86_400_000.0;

/// Samples `channel` if it is due at `now`, reading `truth`; pushes what the
/// sensor delivers (nothing, one observation, or two for a duplicate).
#[inline]
pub fn sample(
    channel: &mut Channel,
    truth: &Truth,
    model: &SensorModel,
    now: SimTime,
    outbox: &mut Outbox,
) {
    if channel.next_due > now {
        return;
    }
    // Catch up without bursts if the world skipped ahead.
    while channel.next_due <= now {
        channel.next_due = channel.next_due + model.period;
    }
    // NaN is how a domain says "nothing to see" (a parcel under cloud).
    if let Reading::Number(slot) = channel.reading
        && truth.0[slot as usize].is_nan()
    {
        return;
    }
    let rng = &mut channel.rng;
    let struck = if channel.clean > 0 {
        channel.clean -= 1;
        Struck::default()
    } else {
        channel.clean = model.faults.gap(rng);
        model.faults.strike(rng)
    };
    if struck.has(Struck::DROPOUT) {
        return;
    }
    let value = match channel.reading {
        Reading::Number(slot) => {
            let x = if channel.stuck_until > now {
                channel.last
            } else if struck.has(Struck::STUCK)
                && let Some((_, length)) = model.stuck
                && !channel.last.is_nan()
            {
                channel.stuck_until = now + length;
                channel.last
            } else {
                let truth = truth.0[slot as usize];
                let days = now.as_ms() as f64 * DAYS_PER_MS;
                let mut x = truth + f64::from(channel.drift_rate) * days;
                if model.noise > 0.0 {
                    x += model.noise * rng.sample::<f64, _>(StandardNormal);
                }
                if model.relative_noise > 0.0 {
                    x += truth.abs() * model.relative_noise * rng.sample::<f64, _>(StandardNormal);
                }
                if struck.has(Struck::SPIKE)
                    && let Some((_, size)) = model.spikes
                {
                    x += if rng.random::<bool>() { size } else { -size };
                }
                if model.resolution > 0.0 {
                    x = round(x * model.inverse_resolution) * model.resolution;
                }
                let (lo, hi) = channel.measurand.valid_range();
                x.clamp(lo, hi)
            };
            channel.last = x;
            Value::Number(x)
        }
        Reading::Point(slot) => {
            let (lon, lat) = (truth.0[slot as usize], truth.0[slot as usize + 1]);
            // Noise in metres, turned into degrees at this latitude.
            let (dx, dy) = if model.noise > 0.0 {
                (
                    model.noise * rng.sample::<f64, _>(StandardNormal),
                    model.noise * rng.sample::<f64, _>(StandardNormal),
                )
            } else {
                (0.0, 0.0)
            };
            Value::Point {
                lon: lon + dx / (111_320.0 * lat.to_radians().cos().max(0.01)),
                lat: lat + dy / 110_540.0,
            }
        }
    };
    channel.seq += 1;
    let deliver_at = match model.latency {
        Some((mean_ms, cap)) => {
            let e: f64 = rng.sample(rand_distr::Exp1);
            now + SimTime(((e * mean_ms) as i64).min(cap.as_ms()))
        }
        None => now,
    };
    let obs = Observation {
        entity: channel.observed,
        time: now,
        measurand: channel.measurand,
        value,
        quality: Quality::Ok,
        source: Source::World,
        seq: u64::from(channel.seq),
    };
    if struck.has(Struck::DUPLICATE) {
        outbox.push(deliver_at, now, obs.clone());
    }
    outbox.push(deliver_at, now, obs);
}

/// Rounds half away from zero without a libm call (the baseline x86-64
/// target has no rounding instruction, and this runs for every sample).
fn round(q: f64) -> f64 {
    if q.abs() >= 4.5e15 {
        q
    } else {
        (q + 0.5f64.copysign(q)) as i64 as f64
    }
}

/// Samples the due channels of the entities of one lane, then delivers what
/// that lane's delayed sensors have due.
fn sample_lane<F: QueryFilter>(
    q: &mut Query<(&Truth, &mut Channels), F>,
    models: &[SensorModel],
    clock: &SimClock,
    outbox: &mut Outbox,
) {
    let now = clock.now;
    outbox.set_tick(clock.tick);
    for (truth, mut channels) in q.iter_mut() {
        for c in &mut channels.0 {
            if c.next_due <= now {
                sample(c, truth, &models[c.model as usize], now, outbox);
            }
        }
    }
    outbox.release(now);
}

/// The system: every channel of every entity, lane by lane, in entity
/// order within a lane (see [`crate::world::lanes`]).
pub fn sample_all(
    mut first: Query<(&Truth, &mut Channels), lanes::First>,
    mut second: Query<(&Truth, &mut Channels), lanes::Second>,
    models: Res<SensorModels>,
    clock: Res<SimClock>,
    mut serial: ResMut<Outbox>,
    mut lanes: ResMut<Lanes>,
) {
    let (models, clock) = (&models.0[..], *clock);
    lanes.run(
        |o| sample_lane(&mut first, models, &clock, o),
        |o| sample_lane(&mut second, models, &clock, o),
    );
    serial.set_tick(clock.tick);
    serial.release(clock.now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Dur, Episodes, Latency};
    use twin_core::Kind;

    fn run(spec: SensorModelSpec, samples: usize) -> Vec<Observation> {
        let model = SensorModel::from_spec("t", &spec, SimTime::secs(1));
        let id = EntityId::of(Kind::Sensor, "s");
        let mut c = Channel::new(
            id,
            Measurand::Temperature,
            Reading::Number(0),
            0,
            &model,
            twin_core::rng::light(1, Some(id), "t"),
        );
        let mut out = Outbox::default();
        out.set_tick(SimTime::secs(1));
        let truth = Truth([20.0; 8]);
        for s in 1..=samples as i64 {
            sample(&mut c, &truth, &model, SimTime::secs(s), &mut out);
        }
        out.release(SimTime::days(1000));
        out.ready
    }

    fn number(o: &Observation) -> f64 {
        match o.value {
            Value::Number(x) => x,
            _ => panic!("not a number"),
        }
    }

    /// Skipping ahead gives each fault its own frequency, and pairs of faults
    /// the product of theirs, as independent draws per sample would.
    #[test]
    fn skipped_fault_draws_keep_their_probabilities() {
        let p = [0.1, 0.02, 0.005, 0.3];
        let faults = Faults::new(p);
        let mut rng = twin_core::rng::light(3, None, "faults");
        let samples = 1_000_000;
        let (mut each, mut first_and_last) = ([0u32; 4], 0u32);
        let mut clean = faults.gap(&mut rng);
        for _ in 0..samples {
            let struck = if clean > 0 {
                clean -= 1;
                Struck::default()
            } else {
                clean = faults.gap(&mut rng);
                faults.strike(&mut rng)
            };
            for (i, n) in each.iter_mut().enumerate() {
                *n += u32::from(struck.has(1 << i));
            }
            first_and_last +=
                u32::from(struck.has(Struck::DROPOUT) && struck.has(Struck::DUPLICATE));
        }
        for i in 0..4 {
            let f = f64::from(each[i]) / f64::from(samples);
            // Within five standard errors.
            let se = (p[i] * (1.0 - p[i]) / f64::from(samples)).sqrt();
            assert!((f - p[i]).abs() < 5.0 * se, "fault {i}: {f} vs {}", p[i]);
        }
        let both = f64::from(first_and_last) / f64::from(samples);
        assert!((both - 0.03).abs() < 0.002, "dropout and duplicate: {both}");
        // Nothing can strike: the gap is endless and no draw is spent.
        assert_eq!(Faults::new([0.0; 4]).gap(&mut rng), u32::MAX);
    }

    #[test]
    fn an_ideal_sensor_reports_the_truth_every_period() {
        let obs = run(SensorModelSpec::default(), 100);
        assert_eq!(obs.len(), 100);
        assert!(obs.iter().all(|o| number(o) == 20.0));
    }

    #[test]
    fn faults_show_in_the_stream() {
        let noisy = run(
            SensorModelSpec {
                noise: 0.5,
                dropout: 0.1,
                duplicates: 0.05,
                ..Default::default()
            },
            10_000,
        );
        let mean = noisy.iter().map(number).sum::<f64>() / noisy.len() as f64;
        let sd = (noisy
            .iter()
            .map(|o| (number(o) - mean).powi(2))
            .sum::<f64>()
            / noisy.len() as f64)
            .sqrt();
        assert!((mean - 20.0).abs() < 0.05, "{mean}");
        assert!((sd - 0.5).abs() < 0.05, "{sd}");
        let dups = noisy.windows(2).filter(|w| w[0] == w[1]).count();
        assert!((350..=650).contains(&dups), "{dups} duplicates");
        // 10 % dropped, 5 % of the rest doubled.
        assert!((9_000..9_900).contains(&noisy.len()), "{}", noisy.len());

        let stuck = run(
            SensorModelSpec {
                noise: 0.5,
                stuck: Some(Episodes {
                    per_day: 86_400.0 / 100.0,
                    duration: Dur(SimTime::secs(20)),
                }),
                ..Default::default()
            },
            2_000,
        );
        let repeats = stuck
            .windows(2)
            .filter(|w| w[0].value == w[1].value)
            .count();
        assert!(repeats > 100, "{repeats} repeated values");

        let late = run(
            SensorModelSpec {
                latency: Some(Latency {
                    mean: Dur(SimTime::secs(5)),
                    max: Dur(SimTime::secs(30)),
                }),
                ..Default::default()
            },
            1_000,
        );
        assert_eq!(late.len(), 1_000);
        let out_of_order = late.windows(2).filter(|w| w[1].time < w[0].time).count();
        assert!(out_of_order > 100, "{out_of_order} out of order");

        let drifting = run(
            SensorModelSpec {
                drift_per_day: 1.0,
                period: Some(Dur(SimTime::hours(1))),
                ..Default::default()
            },
            24 * 3600 * 10,
        );
        let error = (number(drifting.last().unwrap()) - 20.0).abs();
        assert!(error > 0.05, "drift after 10 days: {error}");
    }
}
