//! What can be observed or commanded, with its unit, its physically valid range
//! and its default alarm limits.
//!
//! One table drives validation (a PM2.5 of −3 µg/m³ is refused), units on the
//! wire (an ingest that says "°F" for a temperature is refused), thresholds and
//! which properties are commandable. Keeping it in one place is what lets every
//! kind, feed and API agree on what a value means.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::value::ValueType;

/// Default alarm limits: crossing `warning` or `critical` (upwards, or downwards
/// when `falling`) raises an alert of that severity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmLimits {
    pub warning: f64,
    pub critical: f64,
    #[serde(default)]
    pub falling: bool,
}

macro_rules! measurands {
    ($( $variant:ident => $name:literal, $unit:literal, $ty:ident, $min:expr, $max:expr, $alarm:expr, $cmd:literal; )*) => {
        /// An observable or commandable quantity. See the module doc.
        ///
        /// The `Site*` variants are slots for measurands a site or scenario
        /// declares at run time ([`crate::measurand::define`]); what they
        /// are comes from the process-wide table of definitions.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u16)]
        pub enum Measurand {
            $($variant,)*
            Site0, Site1, Site2, Site3, Site4, Site5, Site6, Site7,
            Site8, Site9, Site10, Site11, Site12, Site13, Site14, Site15,
        }

        impl Measurand {
            /// The built-in measurands, in table order.
            pub const ALL: &'static [Measurand] = &[$(Measurand::$variant,)*];
            /// The slots for declared measurands.
            pub const SLOTS: [Measurand; CUSTOM_SLOTS] = [
                Measurand::Site0, Measurand::Site1, Measurand::Site2, Measurand::Site3,
                Measurand::Site4, Measurand::Site5, Measurand::Site6, Measurand::Site7,
                Measurand::Site8, Measurand::Site9, Measurand::Site10, Measurand::Site11,
                Measurand::Site12, Measurand::Site13, Measurand::Site14, Measurand::Site15,
            ];

            /// The wire name, e.g. `pm25`.
            #[inline]
            pub fn name(self) -> &'static str {
                match self { $(Measurand::$variant => $name,)* _ => declared_name(self) }
            }
            /// The unit every value of this measurand is expressed in ("" when none).
            #[inline]
            pub fn unit(self) -> &'static str {
                match self { $(Measurand::$variant => $unit,)* _ => declared_unit(self) }
            }
            #[inline]
            pub fn value_type(self) -> ValueType {
                match self { $(Measurand::$variant => ValueType::$ty,)* _ => declared_type(self) }
            }
            /// The physically valid range of a numeric value, inclusive.
            #[inline]
            pub fn valid_range(self) -> (f64, f64) {
                match self { $(Measurand::$variant => ($min, $max),)* _ => declared_range(self) }
            }
            /// Default alarm limits, when the quantity has well-known ones.
            #[inline]
            pub fn alarm(self) -> Option<AlarmLimits> {
                match self { $(Measurand::$variant => $alarm,)* _ => declared_alarm(self) }
            }
            /// Whether a command may set a desired value for it.
            #[inline]
            pub fn commandable(self) -> bool {
                match self { $(Measurand::$variant => $cmd,)* _ => declared_commandable(self) }
            }
        }
    };
}

const fn up(warning: f64, critical: f64) -> Option<AlarmLimits> {
    Some(AlarmLimits {
        warning,
        critical,
        falling: false,
    })
}
const fn down(warning: f64, critical: f64) -> Option<AlarmLimits> {
    Some(AlarmLimits {
        warning,
        critical,
        falling: true,
    })
}
const NO: Option<AlarmLimits> = None;
const INF: f64 = f64::INFINITY;

measurands! {
    // Environment and weather.
    Temperature => "temperature", "°C", Number, -60.0, 200.0, up(80.0, 95.0), false;
    Humidity => "humidity", "%", Number, 0.0, 100.0, NO, false;
    Rainfall => "rainfall", "mm", Number, 0.0, 500.0, NO, false;
    WindSpeed => "wind_speed", "m/s", Number, 0.0, 100.0, up(17.0, 25.0), false;
    // Air quality (alarm limits after WHO 2021 daily guidelines and EU limits).
    Pm25 => "pm25", "µg/m³", Number, 0.0, 2000.0, up(25.0, 50.0), false;
    Pm10 => "pm10", "µg/m³", Number, 0.0, 2000.0, up(50.0, 100.0), false;
    No2 => "no2", "µg/m³", Number, 0.0, 2000.0, up(200.0, 400.0), false;
    Co2 => "co2", "ppm", Number, 0.0, 40000.0, up(1500.0, 5000.0), false;
    Aqi => "aqi", "", Number, 0.0, 500.0, up(100.0, 150.0), false;
    // Factory (vibration limits after ISO 10816 class II zones C and D).
    VibrationRms => "vibration_rms", "mm/s", Number, 0.0, 500.0, up(7.1, 11.2), false;
    Pressure => "pressure", "bar", Number, 0.0, 1000.0, NO, false;
    Current => "current", "A", Number, 0.0, 10000.0, NO, false;
    HealthIndex => "health_index", "", Number, 0.0, 1.0, down(0.4, 0.2), false;
    OperatingHours => "operating_hours", "h", Number, 0.0, 1.0e7, NO, false;
    Rul => "rul", "h", Interval, 0.0, 1.0e7, NO, false;
    Running => "running", "", Flag, 0.0, 1.0, NO, true;
    Status => "status", "", Text, -INF, INF, NO, false;
    // Agriculture.
    Red => "red", "", Number, 0.0, 1.0, NO, false;
    Nir => "nir", "", Number, 0.0, 1.0, NO, false;
    Ndvi => "ndvi", "", Number, -1.0, 1.0, NO, false;
    SoilMoisture => "soil_moisture", "%", Number, 0.0, 100.0, down(20.0, 12.0), false;
    GrowthStage => "growth_stage", "BBCH", Number, 0.0, 99.0, NO, false;
    PredictedYield => "predicted_yield", "t/ha", Number, 0.0, 100.0, NO, false;
    PumpOn => "pump_on", "", Flag, 0.0, 1.0, NO, true;
    ValveOpening => "valve_opening", "%", Number, 0.0, 100.0, NO, true;
    // Mobility.
    Position => "position", "deg", Point, -INF, INF, NO, false;
    Heading => "heading", "deg", Number, 0.0, 360.0, NO, false;
    Speed => "speed", "km/h", Number, 0.0, 400.0, NO, false;
    TrafficFlow => "traffic_flow", "veh/h", Number, 0.0, 20000.0, NO, false;
    Occupancy => "occupancy", "%", Number, 0.0, 100.0, up(90.0, 98.0), false;
    Load => "load", "%", Number, 0.0, 200.0, NO, false;
    Headway => "headway", "s", Number, 0.0, 86400.0, NO, true;
    Severity => "severity", "", Number, 0.0, 1.0, up(0.5, 0.8), false;
    // Device.
    Battery => "battery", "%", Number, 0.0, 100.0, down(15.0, 5.0), false;
    // Appended after the first release of the table: postcard stores a
    // measurand by its position, so new ones go last to keep stores readable.
    Throughput => "throughput", "units/h", Number, 0.0, 1.0e6, NO, false;
    Yield => "yield", "t/ha", Number, 0.0, 100.0, NO, false;
    Treatment => "treatment", "", Flag, 0.0, 1.0, NO, true;
    Destination => "destination", "deg", Point, -INF, INF, NO, true;
    AnomalyScore => "anomaly_score", "", Number, 0.0, 1.0, NO, false;
    PositionEstimate => "position_estimate", "deg", Point, -INF, INF, NO, false;
    PositionSigma => "position_sigma", "m", Number, 0.0, 1.0e7, NO, false;
    // A zone's extent and life (disease zones grow, move and close).
    Radius => "radius", "m", Number, 0.0, 1.0e7, NO, false;
    Active => "active", "", Flag, 0.0, 1.0, NO, false;
    // What a disease zone is suspected to be ("black-pod", "swollen-shoot"),
    Suspected => "suspected", "", Text, -INF, INF, NO, false;
    // and how its severity changes per day.
    Trend => "trend", "/d", Number, -100.0, 100.0, NO, false;
    // District aggregates: 1 − mean speed over free-flow speed, and the
    // mean occupancy of parking zones.
    Congestion => "congestion", "", Number, 0.0, 1.0, up(0.6, 0.8), false;
    ParkingOccupancy => "parking_occupancy", "%", Number, 0.0, 100.0, up(90.0, 98.0), false;
    // Forecasts of the next hours of a series, each the forecast of the
    // measurand named in `FORECASTS`, in its unit and range.
    TrafficFlowForecast => "traffic_flow_forecast", "veh/h", Forecast, 0.0, 20000.0, NO, false;
    OccupancyForecast => "occupancy_forecast", "%", Forecast, 0.0, 100.0, NO, false;
    Pm25Forecast => "pm25_forecast", "µg/m³", Forecast, 0.0, 2000.0, NO, false;
    No2Forecast => "no2_forecast", "µg/m³", Forecast, 0.0, 2000.0, NO, false;
    AqiForecast => "aqi_forecast", "", Forecast, 0.0, 500.0, NO, false;
    // A weather service's rain forecast, mm in each hour ahead.
    RainfallForecast => "rainfall_forecast", "mm", Forecast, 0.0, 500.0, NO, false;
    // Water put on a parcel or bed: desired, the depth an irrigation plan
    // asks for; reported, the depth its last watering delivered.
    Irrigation => "irrigation", "mm", Number, 0.0, 500.0, NO, true;
}

/// Each forecast measurand and the measurand it forecasts.
const FORECASTS: &[(Measurand, Measurand)] = &[
    (Measurand::TrafficFlowForecast, Measurand::TrafficFlow),
    (Measurand::OccupancyForecast, Measurand::Occupancy),
    (Measurand::Pm25Forecast, Measurand::Pm25),
    (Measurand::No2Forecast, Measurand::No2),
    (Measurand::AqiForecast, Measurand::Aqi),
    (Measurand::RainfallForecast, Measurand::Rainfall),
];

impl Measurand {
    /// Decimals worth showing: what the quantity's sensors resolve (a
    /// temperature to a tenth of a degree, a flow to a vehicle an hour,
    /// NDVI to a thousandth). Values are stored as measured; only their
    /// display is rounded.
    pub fn decimals(self) -> usize {
        use Measurand as M;
        match self.forecast_of().unwrap_or(self) {
            M::Humidity
            | M::No2
            | M::Co2
            | M::Aqi
            | M::GrowthStage
            | M::ValveOpening
            | M::Heading
            | M::TrafficFlow
            | M::Occupancy
            | M::Load
            | M::Headway
            | M::Battery
            | M::Throughput
            | M::Rul
            | M::Radius
            | M::ParkingOccupancy => 0,
            M::Temperature
            | M::Rainfall
            | M::WindSpeed
            | M::Pm25
            | M::Pm10
            | M::Current
            | M::OperatingHours
            | M::SoilMoisture
            | M::Speed
            | M::PositionSigma
            | M::Irrigation => 1,
            M::Red | M::Nir | M::Ndvi | M::HealthIndex | M::Trend => 3,
            M::Position | M::PositionEstimate | M::Destination => 5,
            m if m.is_declared() => custom(m).map_or(2, |c| c.declared.decimals.unwrap_or(2)),
            _ => 2,
        }
    }

    /// `v` as people read it: numbers at this measurand's resolution
    /// ([`Measurand::decimals`]), with the unit.
    pub fn format(self, v: &crate::Value) -> String {
        use crate::Value as V;
        let d = self.decimals();
        let n = |x: f64| format!("{x:.d$}");
        let text = match v {
            V::Number(x) => n(*x),
            V::Interval(e) => format!("{} [{}, {}]", n(e.value), n(e.low), n(e.high)),
            V::Forecast(p) => match (p.points.first(), p.points.last()) {
                (Some(a), Some(b)) => format!(
                    "{} next, {} in {} h",
                    n(a.value),
                    n(b.value),
                    (p.points.len() as i64).saturating_mul(p.step_ms) / 3_600_000
                ),
                _ => "no forecast".into(),
            },
            other => return other.to_string(),
        };
        match self.unit() {
            "" => text,
            u => format!("{text} {u}"),
        }
    }

    /// The measurand that carries forecasts of this one, if any.
    pub fn forecast(self) -> Option<Measurand> {
        FORECASTS
            .iter()
            .find(|(_, of)| *of == self)
            .map(|(f, _)| *f)
    }
    /// The measurand this one forecasts, if it is a forecast.
    pub fn forecast_of(self) -> Option<Measurand> {
        FORECASTS
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, of)| *of)
    }
}

impl fmt::Display for Measurand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of measurands in one word (there are fewer than 128, slots
/// included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeasurandSet(u128);

const _: () = assert!(Measurand::ALL.len() + CUSTOM_SLOTS <= 128);

impl MeasurandSet {
    pub fn of(ms: &[Measurand]) -> MeasurandSet {
        MeasurandSet(ms.iter().fold(0, |bits, m| bits | 1 << *m as u16))
    }
    pub fn contains(self, m: Measurand) -> bool {
        self.0 & (1 << m as u16) != 0
    }
    pub fn insert(&mut self, m: Measurand) {
        self.0 |= 1 << m as u16;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Measurand> {
        Measurand::every().filter(move |m| self.contains(*m))
    }
}

/// Serialised as a list of names, so stored and displayed sets stay readable
/// and survive the measurand list growing.
impl Serialize for MeasurandSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.iter().collect::<Vec<_>>().serialize(s)
    }
}

impl<'de> Deserialize<'de> for MeasurandSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Measurand>::deserialize(d)?;
        Ok(MeasurandSet::of(&list))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown measurand `{0}`")]
pub struct UnknownMeasurand(pub String);

impl FromStr for Measurand {
    type Err = UnknownMeasurand;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Measurand::every()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMeasurand(s.to_string()))
    }
}

impl Measurand {
    /// The built-in measurands, then those declared so far.
    pub fn every() -> impl Iterator<Item = Measurand> {
        Measurand::ALL.iter().copied().chain(
            Measurand::SLOTS
                .into_iter()
                .filter(|m| custom(*m).is_some()),
        )
    }

    /// The measurand stored under `code` (its position), if it is one.
    pub fn from_code(code: u16) -> Option<Measurand> {
        let i = code as usize;
        Measurand::ALL.get(i).copied().or_else(|| {
            Measurand::SLOTS
                .get(i.checked_sub(Measurand::ALL.len())?)
                .copied()
        })
    }

    /// Whether a site or scenario declared it (not built in).
    pub fn is_declared(self) -> bool {
        (self as usize) >= Measurand::ALL.len()
    }
}

/// How many measurands a site or scenario may declare.
pub const CUSTOM_SLOTS: usize = 16;

/// A measurand declared by a site or scenario file: what the compiled-in
/// table says of a built-in one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Declared {
    pub name: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default = "number")]
    pub value_type: ValueType,
    pub range: (f64, f64),
    #[serde(default)]
    pub alarm: Option<AlarmLimits>,
    #[serde(default)]
    pub commandable: bool,
    /// Decimals shown (default 2).
    #[serde(default)]
    pub decimals: Option<usize>,
}

fn number() -> ValueType {
    ValueType::Number
}

/// A declared measurand as the table keeps it (names leaked once: a
/// process declares at most [`CUSTOM_SLOTS`]).
#[derive(Debug)]
pub struct Custom {
    pub name: &'static str,
    pub unit: &'static str,
    pub value_type: ValueType,
    pub range: (f64, f64),
    pub alarm: Option<AlarmLimits>,
    pub commandable: bool,
    declared: Declared,
}

static CUSTOM: [std::sync::OnceLock<Custom>; CUSTOM_SLOTS] =
    [const { std::sync::OnceLock::new() }; CUSTOM_SLOTS];

/// The definition behind a `Site*` slot, once declared.
fn custom(m: Measurand) -> Option<&'static Custom> {
    let i = (m as usize).checked_sub(Measurand::ALL.len())?;
    CUSTOM.get(i)?.get()
}

// The table's methods for a declared measurand: out of line and cold, so
// that a built-in one stays a lookup the compiler inlines.
#[cold]
#[inline(never)]
fn declared_name(m: Measurand) -> &'static str {
    custom(m).map_or("undeclared", |c| c.name)
}
#[cold]
#[inline(never)]
fn declared_unit(m: Measurand) -> &'static str {
    custom(m).map_or("", |c| c.unit)
}
#[cold]
#[inline(never)]
fn declared_type(m: Measurand) -> ValueType {
    custom(m).map_or(ValueType::Number, |c| c.value_type)
}
#[cold]
#[inline(never)]
fn declared_range(m: Measurand) -> (f64, f64) {
    custom(m).map_or((0.0, 0.0), |c| c.range)
}
#[cold]
#[inline(never)]
fn declared_alarm(m: Measurand) -> Option<AlarmLimits> {
    custom(m).and_then(|c| c.alarm)
}
#[cold]
#[inline(never)]
fn declared_commandable(m: Measurand) -> bool {
    custom(m).is_some_and(|c| c.commandable)
}

/// Why a declaration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("measurand `{name}`: {reason}")]
pub struct DeclareError {
    pub name: String,
    pub reason: String,
}

/// Declares a measurand for this process, checked as the built-in table
/// is: a new name (1 to 32 of `a-z`, `0-9`, `_`), a unit of at most 16
/// bytes, a number, flag or text value, a finite range, limits inside it
/// in the right order. Declaring the same definition again returns its
/// slot; another definition under a known name is refused.
pub fn define(d: &Declared) -> Result<Measurand, DeclareError> {
    let err = |reason: String| DeclareError {
        name: crate::id::quoted(&d.name),
        reason,
    };
    let name_ok = !d.name.is_empty()
        && d.name.len() <= 32
        && d.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(err("a name is 1 to 32 of a-z, 0-9 and _".into()));
    }
    if Measurand::ALL.iter().any(|m| m.name() == d.name) {
        return Err(err("is built in".into()));
    }
    if d.unit.len() > 16 {
        return Err(err("a unit is at most 16 bytes".into()));
    }
    if !matches!(
        d.value_type,
        ValueType::Number | ValueType::Flag | ValueType::Text
    ) {
        return Err(err(format!(
            "a declared measurand is a number, flag or text, not a {}",
            d.value_type
        )));
    }
    let (lo, hi) = d.range;
    if d.value_type == ValueType::Number && !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(err(format!(
            "range [{lo}, {hi}] must be finite and increasing"
        )));
    }
    if let Some(a) = d.alarm {
        check_limits(&a, d.range).map_err(err)?;
    }
    for slot in &CUSTOM {
        if let Some(c) = slot.get()
            && c.name == d.name
        {
            return if c.declared == *d {
                Ok(Measurand::SLOTS[CUSTOM
                    .iter()
                    .position(|s| std::ptr::eq(s, slot))
                    .unwrap_or(0)])
            } else {
                Err(err("already declared with another definition".into()))
            };
        }
    }
    for (i, slot) in CUSTOM.iter().enumerate() {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        let c = Custom {
            name: leak(&d.name),
            unit: leak(&d.unit),
            value_type: d.value_type,
            range: if d.value_type == ValueType::Number {
                d.range
            } else {
                (f64::NEG_INFINITY, f64::INFINITY)
            },
            alarm: d.alarm,
            commandable: d.commandable,
            declared: d.clone(),
        };
        if slot.set(c).is_ok() {
            return Ok(Measurand::SLOTS[i]);
        }
        // Taken meanwhile by another name, or by this one on another thread.
        if slot.get().is_some_and(|c| c.name == d.name) {
            return define(d);
        }
    }
    Err(err(format!(
        "no room: at most {CUSTOM_SLOTS} declared measurands"
    )))
}

/// Every measurand declared so far, in slot order (what a store keeps).
pub fn declared() -> Vec<Declared> {
    CUSTOM
        .iter()
        .filter_map(|s| s.get().map(|c| c.declared.clone()))
        .collect()
}

/// Checks alarm limits against a valid range: inside it, and warning
/// before critical in the direction of the alarm.
pub fn check_limits(a: &AlarmLimits, range: (f64, f64)) -> Result<(), String> {
    let (lo, hi) = range;
    let inside = |x: f64| x.is_finite() && x >= lo && x <= hi;
    if !(inside(a.warning) && inside(a.critical)) {
        return Err(format!(
            "limits {} and {} must lie in [{lo}, {hi}]",
            a.warning, a.critical
        ));
    }
    let ordered = if a.falling {
        a.critical <= a.warning
    } else {
        a.warning <= a.critical
    };
    if !ordered {
        return Err(format!(
            "warning {} must come before critical {} ({})",
            a.warning,
            a.critical,
            if a.falling { "falling" } else { "rising" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for m in Measurand::ALL {
            assert_eq!(m.name().parse::<Measurand>().unwrap(), *m);
            let (lo, hi) = m.valid_range();
            assert!(lo < hi, "{m}");
        }
        assert!("pm2.5".parse::<Measurand>().is_err());
    }

    #[test]
    fn values_read_at_their_measurands_resolution() {
        use crate::Value;
        assert_eq!(
            Measurand::SoilMoisture.format(&Value::Number(26.900662110060548)),
            "26.9 %"
        );
        assert_eq!(
            Measurand::Pm10.format(&Value::Number(58.01361994997773)),
            "58.0 µg/m³"
        );
        assert_eq!(
            Measurand::TrafficFlow.format(&Value::Number(1234.56)),
            "1235 veh/h"
        );
        assert_eq!(Measurand::Ndvi.format(&Value::Number(0.71234)), "0.712");
        assert_eq!(Measurand::Aqi.format(&Value::Number(87.4)), "87");
        assert_eq!(Measurand::PumpOn.format(&Value::Flag(true)), "on");
        assert_eq!(
            Measurand::Pm25Forecast.decimals(),
            Measurand::Pm25.decimals()
        );
    }

    #[test]
    fn only_control_properties_are_commandable() {
        assert!(Measurand::PumpOn.commandable());
        assert!(Measurand::Headway.commandable());
        assert!(!Measurand::Pm25.commandable());
    }
}
