//! The maintenance planner's settings (`params` of its `[[planning]]`
//! entry), their defaults and their checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Twin,
    FixedInterval,
    RunToFailure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "twin")]
    pub(super) policy: Policy,
    /// Twin: an order when the RUL falls below this many hours.
    #[serde(default = "d72")]
    pub(super) horizon_h: f64,
    /// Twin: distinct series of a machine with an anomaly within a day
    /// before an order is opened; 0 leaves anomalies out.
    #[serde(default = "d2")]
    pub(super) anomaly_corroboration: usize,
    /// Fixed interval: operating hours between services.
    #[serde(default = "d500")]
    pub(super) every_h: f64,
    /// Estimated time at the machine for a service, and for a repair after
    /// a breakdown.
    #[serde(default = "d3")]
    pub(super) repair_h: f64,
    #[serde(default = "d12")]
    pub(super) breakdown_repair_h: f64,
    /// Technicians' walking speed.
    #[serde(default = "d4_5")]
    pub(super) speed_kmh: f64,
    /// The working day, hours from midnight, every day.
    #[serde(default = "day")]
    pub(super) shift: [f64; 2],
    /// Shifts a schedule fills: the current (or next) one and as many
    /// after it; what does not fit waits for a later schedule.
    #[serde(default = "d1u")]
    pub(super) shifts_ahead: usize,
    /// The skill each machine subtype needs (`mechanical` otherwise).
    #[serde(default)]
    pub(super) skills: BTreeMap<String, String>,
    /// Parts an order on each machine subtype takes.
    #[serde(default)]
    pub(super) parts: BTreeMap<String, Vec<String>>,
    /// Skills of technicians by name; one not listed has every skill
    /// named in `skills` (and `mechanical`). Technicians are the twin's
    /// vehicles of subtype `technician`.
    #[serde(default)]
    pub(super) crew: BTreeMap<String, Vec<String>>,
    /// Generations of the scheduling metaheuristic.
    #[serde(default = "d20u")]
    pub(super) generations: usize,
}

fn twin() -> Policy {
    Policy::Twin
}
fn d72() -> f64 {
    72.0
}
fn d2() -> usize {
    2
}
fn d500() -> f64 {
    500.0
}
fn d3() -> f64 {
    3.0
}
fn d12() -> f64 {
    12.0
}
fn d4_5() -> f64 {
    4.5
}
fn day() -> [f64; 2] {
    [6.0, 22.0]
}
fn d1u() -> usize {
    1
}
fn d20u() -> usize {
    20
}

impl Params {
    /// Reads and checks the entry's parameters.
    pub(super) fn of(spec: &Spec) -> Result<Params, Error> {
        let p: Params = spec.params()?;
        let bad = |what: String| Error::Params {
            planner: spec.planner.clone(),
            what,
        };
        if !(p.horizon_h > 0.0 && p.every_h > 0.0 && p.repair_h > 0.0 && p.breakdown_repair_h > 0.0)
        {
            return Err(bad(
                "horizon_h, every_h and the repair times must be positive".into(),
            ));
        }
        if !(p.speed_kmh > 0.0 && p.speed_kmh.is_finite()) {
            return Err(bad(format!("speed_kmh {} is not a speed", p.speed_kmh)));
        }
        let [a, b] = p.shift;
        if !(0.0..=24.0).contains(&a) || !(0.0..=24.0).contains(&b) || a >= b {
            return Err(bad(format!(
                "shift [{a}, {b}] is not a span of hours within a day"
            )));
        }
        if !(1..=30).contains(&p.shifts_ahead) || !(1..=1000).contains(&p.generations) {
            return Err(bad(
                "shifts_ahead is 1 to 30 and generations 1 to 1000".into()
            ));
        }
        Ok(p)
    }
}
