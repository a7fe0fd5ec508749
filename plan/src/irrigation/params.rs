//! The irrigation planner's settings (`params` of its `[[planning]]`
//! entry): the soil and the water system it plans for, and the policy.

use serde::{Deserialize, Serialize};

use crate::{Error, Spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// From soil moisture, the crop's demand and the rain forecast.
    Twin,
    /// The same depth every `every_d` days, whatever the soil and sky.
    FixedSchedule,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "twin")]
    pub(super) policy: Policy,
    /// Soil water content at field capacity and wilting point (volumetric
    /// %), and the depth of the root zone, mm.
    pub(super) field_capacity: f64,
    pub(super) wilting_point: f64,
    pub(super) root_depth_mm: f64,
    /// Share of the available water the crop can use before it is
    /// stressed (FAO-56's depletion fraction p).
    #[serde(default = "half")]
    pub(super) depletion: f64,
    /// What a watering fills the soil back to, as a share of the
    /// available water (below 1 leaves room for rain).
    #[serde(default = "refill")]
    pub(super) refill: f64,
    /// Water a pump puts on a parcel with its valve open, mm per hour.
    pub(super) mm_per_hour: f64,
    /// Reference evapotranspiration, mm a day: the prior for the crop's
    /// demand until the probe's own drying rate is known.
    #[serde(default = "et")]
    pub(super) et_mm_day: f64,
    /// Watering starts this many hours of demand before the soil would
    /// reach stress.
    #[serde(default = "lead")]
    pub(super) lead_h: f64,
    /// Hours of rain forecast that count: rain due later is not waited for.
    #[serde(default = "window")]
    pub(super) rain_window_h: f64,
    /// Share of the rain that enters the soil.
    #[serde(default = "infiltration")]
    pub(super) rain_efficiency: f64,
    /// Fixed schedule: every so many days, so many mm.
    #[serde(default = "three")]
    pub(super) every_d: f64,
    pub(super) depth_mm: Option<f64>,
    /// Smallest watering worth starting, mm.
    #[serde(default = "two")]
    pub(super) min_mm: f64,
    /// Remind the gardener (informational alerts on the bed) of each
    /// watering and each held back for rain.
    #[serde(default)]
    pub(super) remind: bool,
}

fn twin() -> Policy {
    Policy::Twin
}
fn half() -> f64 {
    0.5
}
fn refill() -> f64 {
    0.8
}
fn et() -> f64 {
    4.0
}
fn lead() -> f64 {
    48.0
}
fn window() -> f64 {
    48.0
}
fn infiltration() -> f64 {
    0.85
}
fn three() -> f64 {
    3.0
}
fn two() -> f64 {
    2.0
}

impl Params {
    /// Reads and checks the entry's parameters.
    pub(super) fn of(spec: &Spec) -> Result<Params, Error> {
        let p: Params = spec.params()?;
        let bad = |what: String| Error::Params {
            planner: spec.planner.clone(),
            what,
        };
        if !(0.0 <= p.wilting_point
            && p.wilting_point < p.field_capacity
            && p.field_capacity <= 100.0)
        {
            return Err(bad(format!(
                "wilting_point {} and field_capacity {} are not 0 ≤ wilting < capacity ≤ 100 %",
                p.wilting_point, p.field_capacity
            )));
        }
        let positive = [
            ("root_depth_mm", p.root_depth_mm, 10_000.0),
            ("mm_per_hour", p.mm_per_hour, 1_000.0),
            ("et_mm_day", p.et_mm_day, 100.0),
            ("every_d", p.every_d, 365.0),
            ("rain_window_h", p.rain_window_h, 168.0),
        ];
        for (name, x, max) in positive {
            if !(x > 0.0 && x <= max) {
                return Err(bad(format!("{name} {x} is not within (0, {max}]")));
            }
        }
        let shares = [
            ("depletion", p.depletion),
            ("refill", p.refill),
            ("rain_efficiency", p.rain_efficiency),
        ];
        for (name, x) in shares {
            if !(0.0..=1.0).contains(&x) {
                return Err(bad(format!("{name} {x} is not a share between 0 and 1")));
            }
        }
        if p.refill <= 1.0 - p.depletion {
            return Err(bad(format!(
                "refill {} does not lift the soil above the stress level (1 - depletion = {})",
                p.refill,
                1.0 - p.depletion
            )));
        }
        for (name, x) in [
            ("lead_h", p.lead_h),
            ("min_mm", p.min_mm),
            ("depth_mm", p.depth_mm.unwrap_or(0.0)),
        ] {
            if !(0.0..=500.0).contains(&x) {
                return Err(bad(format!("{name} {x} is not within [0, 500]")));
            }
        }
        Ok(p)
    }

    /// Available water between wilting point and field capacity, %.
    pub(super) fn available(&self) -> f64 {
        self.field_capacity - self.wilting_point
    }

    /// Soil moisture below which the crop is stressed, %.
    pub(super) fn stress_level(&self) -> f64 {
        self.wilting_point + (1.0 - self.depletion) * self.available()
    }

    /// What a watering fills the soil back to, %.
    pub(super) fn target(&self) -> f64 {
        self.wilting_point + self.refill * self.available()
    }

    /// Millimetres of water per point of soil moisture.
    pub(super) fn mm_per_pct(&self) -> f64 {
        self.root_depth_mm / 100.0
    }

    /// The fixed schedule's depth: the reference demand over its period.
    pub(super) fn fixed_depth(&self) -> f64 {
        self.depth_mm.unwrap_or(self.et_mm_day * self.every_d)
    }
}
