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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlarmLimits {
    pub warning: f64,
    pub critical: f64,
    pub falling: bool,
}

macro_rules! measurands {
    ($( $variant:ident => $name:literal, $unit:literal, $ty:ident, $min:expr, $max:expr, $alarm:expr, $cmd:literal; )*) => {
        /// An observable or commandable quantity. See the module doc.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u16)]
        pub enum Measurand { $($variant,)* }

        impl Measurand {
            pub const ALL: &'static [Measurand] = &[$(Measurand::$variant,)*];

            /// The wire name, e.g. `pm25`.
            pub fn name(self) -> &'static str {
                match self { $(Measurand::$variant => $name,)* }
            }
            /// The unit every value of this measurand is expressed in ("" when none).
            pub fn unit(self) -> &'static str {
                match self { $(Measurand::$variant => $unit,)* }
            }
            pub fn value_type(self) -> ValueType {
                match self { $(Measurand::$variant => ValueType::$ty,)* }
            }
            /// The physically valid range of a numeric value, inclusive.
            pub fn valid_range(self) -> (f64, f64) {
                match self { $(Measurand::$variant => ($min, $max),)* }
            }
            /// Default alarm limits, when the quantity has well-known ones.
            pub fn alarm(self) -> Option<AlarmLimits> {
                match self { $(Measurand::$variant => $alarm,)* }
            }
            /// Whether a command may set a desired value for it.
            pub fn commandable(self) -> bool {
                match self { $(Measurand::$variant => $cmd,)* }
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

/// A set of measurands in one word (there are fewer than 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeasurandSet(u64);

const _: () = assert!(Measurand::ALL.len() <= 64);

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
        Measurand::ALL
            .iter()
            .copied()
            .filter(move |m| self.contains(*m))
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
        Measurand::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMeasurand(s.to_string()))
    }
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
    fn only_control_properties_are_commandable() {
        assert!(Measurand::PumpOn.commandable());
        assert!(Measurand::Headway.commandable());
        assert!(!Measurand::Pm25.commandable());
    }
}
