//! The last reported value of each measurand of an entity, and the alarm logic
//! on it. Shared by every kind: ordering, thresholds and alerts work the same
//! for a PM2.5 station, a vibration sensor and a district aggregate.

use serde::{Deserialize, Serialize};

use super::behaviour::{Applied, Ctx};
use crate::event::{AlertId, EventBody, Severity};
use crate::measurand::{AlarmLimits, Measurand};
use crate::observation::{Observation, Quality, Source};
use crate::time::SimTime;
use crate::value::Value;

/// Where a value stands against its alarm limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmLevel {
    #[default]
    Normal,
    Warning,
    Critical,
}

/// Fraction of a limit a value must come back by before the level drops.
const DEADBAND: f64 = 0.05;
/// Consecutive observations a new level must persist for before it is
/// taken. With the deadband, this keeps a noisy value hovering at a limit
/// from raising and clearing alerts on every sample (alarm management
/// practice, as in ISA-18.2's deadbands and on/off delays).
pub const ALARM_DELAY: u8 = 3;

impl AlarmLevel {
    fn severity(self) -> Option<Severity> {
        match self {
            AlarmLevel::Normal => None,
            AlarmLevel::Warning => Some(Severity::Warning),
            AlarmLevel::Critical => Some(Severity::Critical),
        }
    }

    /// The level of `x` given the previous level (with deadband on the way back).
    fn next(self, limits: AlarmLimits, x: f64) -> AlarmLevel {
        let beyond = |limit: f64, back_off: bool| {
            let margin = if back_off {
                limit.abs() * DEADBAND
            } else {
                0.0
            };
            if limits.falling {
                x < limit + margin
            } else {
                x > limit - margin
            }
        };
        if beyond(limits.critical, self == AlarmLevel::Critical) {
            AlarmLevel::Critical
        } else if beyond(limits.warning, self >= AlarmLevel::Warning) {
            AlarmLevel::Warning
        } else {
            AlarmLevel::Normal
        }
    }

    fn limit(limits: AlarmLimits, level: AlarmLevel) -> f64 {
        match level {
            AlarmLevel::Critical => limits.critical,
            _ => limits.warning,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub measurand: Measurand,
    pub value: Value,
    pub time: SimTime,
    pub quality: Quality,
    pub level: AlarmLevel,
    /// How many consecutive observations carried exactly this value.
    pub repeats: u16,
    /// Consecutive observations that called for another alarm level.
    pub pending: u8,
}

/// The readings of an entity. Most entities report one measurand, so one
/// reading is stored inline and more spill to the heap; unlike a small vector,
/// this spends no word on a capacity (it is in every entity).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readings(Repr);

#[derive(Clone, Debug, Default, PartialEq)]
enum Repr {
    #[default]
    Empty,
    One(Reading),
    Many(Vec<Reading>),
}

impl Serialize for Readings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Readings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Vec::<Reading>::deserialize(d)?;
        Ok(Readings(match v.len() {
            0 => Repr::Empty,
            1 => Repr::One(v.pop().expect("one")),
            _ => Repr::Many(v),
        }))
    }
}

impl Readings {
    pub fn as_slice(&self) -> &[Reading] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::One(r) => std::slice::from_ref(r),
            Repr::Many(v) => v,
        }
    }
    fn as_mut_slice(&mut self) -> &mut [Reading] {
        match &mut self.0 {
            Repr::Empty => &mut [],
            Repr::One(r) => std::slice::from_mut(r),
            Repr::Many(v) => v,
        }
    }
    fn push(&mut self, r: Reading) {
        self.0 = match std::mem::take(&mut self.0) {
            Repr::Empty => Repr::One(r),
            Repr::One(a) => Repr::Many(vec![a, r]),
            Repr::Many(mut v) => {
                v.push(r);
                Repr::Many(v)
            }
        };
    }
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, m: Measurand) -> Option<&Reading> {
        self.as_slice().iter().find(|r| r.measurand == m)
    }
    pub fn value(&self, m: Measurand) -> Option<&Value> {
        self.get(m).map(|r| &r.value)
    }
    pub fn number(&self, m: Measurand) -> Option<f64> {
        self.value(m).and_then(Value::as_f64)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Reading> {
        self.as_slice().iter()
    }
    /// The highest alarm level among the readings.
    pub fn worst_level(&self) -> AlarmLevel {
        self.iter().map(|r| r.level).max().unwrap_or_default()
    }
    /// The latest time any measurand was reported.
    pub fn latest(&self) -> Option<SimTime> {
        self.iter().map(|r| r.time).max()
    }

    /// Records `obs` if it is not older than what is known, emitting the value
    /// change, threshold crossings and alert transitions. An older observation
    /// changes nothing here ([`Applied::HistoryOnly`]).
    /// `limits` are the entity's alarm limits for the measurand.
    pub fn update(
        &mut self,
        obs: &Observation,
        limits: Option<AlarmLimits>,
        ctx: &mut Ctx,
    ) -> Applied {
        let found = self.iter().position(|r| r.measurand == obs.measurand);
        let i = match found {
            Some(i) => i,
            None => {
                self.push(Reading {
                    measurand: obs.measurand,
                    value: obs.value.clone(),
                    time: SimTime::MIN,
                    quality: obs.quality,
                    level: AlarmLevel::Normal,
                    repeats: 0,
                    pending: 0,
                });
                self.len() - 1
            }
        };
        let r = &mut self.as_mut_slice()[i];
        if obs.time < r.time {
            return Applied::HistoryOnly;
        }
        let same = r.time != SimTime::MIN && r.value == obs.value;
        r.repeats = if same { r.repeats.saturating_add(1) } else { 0 };
        r.time = obs.time;
        r.quality = obs.quality;
        if !same {
            r.value = obs.value.clone();
        }
        ctx.emit(EventBody::StateChanged {
            measurand: obs.measurand,
            value: obs.value.clone(),
        });
        // A reading passed on from an attached sensor raises no alarm of its
        // own: the sensor that measured it does, once.
        if obs.source == Source::Attached {
            return Applied::Current;
        }
        if let (Some(limits), Some(x)) = (limits, obs.value.as_f64()) {
            let before = r.level;
            let after = before.next(limits, x);
            if after == before {
                r.pending = 0;
            } else {
                r.pending += 1;
                if r.pending >= ALARM_DELAY {
                    r.pending = 0;
                    r.level = after;
                    raise_or_clear(obs.measurand, limits, before, after, x, ctx);
                }
            }
        }
        Applied::Current
    }
}

impl Readings {
    /// Raises (`Some`) or clears (`None`) the alert on reading `m` for a
    /// reason other than its limits (an inference finding), emitting the
    /// transition; nothing when the reading is absent or already there.
    pub fn set_alert(&mut self, m: Measurand, raise: Option<(Severity, String)>, ctx: &mut Ctx) {
        let Some(r) = self.as_mut_slice().iter_mut().find(|r| r.measurand == m) else {
            return;
        };
        let level = match raise.as_ref().map(|(s, _)| *s) {
            None => AlarmLevel::Normal,
            Some(Severity::Critical) => AlarmLevel::Critical,
            Some(_) => AlarmLevel::Warning,
        };
        if r.level == level {
            return;
        }
        r.level = level;
        let alert = AlertId::of(ctx.entity(), m);
        match raise {
            Some((severity, message)) => ctx.emit(EventBody::AlertRaised {
                alert,
                severity,
                measurand: m,
                message: message.into(),
            }),
            None => ctx.emit(EventBody::AlertCleared { alert }),
        }
    }
}

fn raise_or_clear(
    m: Measurand,
    limits: AlarmLimits,
    before: AlarmLevel,
    after: AlarmLevel,
    x: f64,
    ctx: &mut Ctx,
) {
    let rising = after > before;
    let crossed = if rising { after } else { before };
    ctx.emit(EventBody::ThresholdCrossed {
        measurand: m,
        limit: AlarmLevel::limit(limits, crossed),
        value: x,
        rising,
    });
    let alert = AlertId::of(ctx.entity(), m);
    match after.severity() {
        Some(severity) => {
            let dir = if limits.falling { "below" } else { "above" };
            let limit = AlarmLevel::limit(limits, after);
            let d = m.decimals();
            let message = format!(
                "{m} {} {dir} {limit:.d$} {}",
                m.format(&crate::Value::Number(x)),
                m.unit()
            );
            ctx.emit(EventBody::AlertRaised {
                alert,
                severity,
                measurand: m,
                message: message.replace("  ", " ").trim().into(),
            });
        }
        None => ctx.emit(EventBody::AlertCleared { alert }),
    }
}
