//! The scenario file: what a world holds and how it behaves, in TOML.
//!
//! Every table rejects unknown keys, so a misspelt field is an error that
//! names the line and the field instead of a silently ignored setting.
//! Durations are written as `90s`, `15m`, `2h` or `7d`; random quantities as a
//! number or a table `{ uniform = [lo, hi] }`, `{ normal = [mean, sd] }` or
//! `{ lognormal = [mu, sigma] }`. Counts are multiplied by `scale`, so one
//! scenario runs with a hundred entities or a million.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Deserializer};
use twin_core::{ClockMode, Measurand, SimTime};

use crate::calendar::Calendar;

/// A scenario file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct ScenarioError {
    pub file: PathBuf,
    pub message: String,
}

impl ScenarioError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// A duration written as text (`5d`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dur(pub SimTime);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = String::deserialize(d)?;
        SimTime::parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// A clock mode written as text (`real`, `x60`, `max`, `step`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSpec(pub ClockMode);

impl<'de> Deserialize<'de> for ClockSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClockSpec, D::Error> {
        let s = String::deserialize(d)?;
        ClockMode::parse(&s)
            .map(ClockSpec)
            .map_err(serde::de::Error::custom)
    }
}

/// A random quantity: fixed, or drawn from a distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Fixed(f64),
    Uniform(f64, f64),
    Normal(f64, f64),
    LogNormal(f64, f64),
}

impl Dist {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Fixed(x) => x,
            Dist::Uniform(lo, hi) => lo + (hi - lo) * rand::RngExt::random::<f64>(rng),
            Dist::Normal(m, sd) => Normal::new(m, sd).map_or(m, |n| n.sample(rng)),
            Dist::LogNormal(mu, s) => LogNormal::new(mu, s).map_or(mu.exp(), |n| n.sample(rng)),
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed(x) => x,
            Dist::Uniform(lo, hi) => (lo + hi) / 2.0,
            Dist::Normal(m, _) => m,
            Dist::LogNormal(mu, s) => (mu + s * s / 2.0).exp(),
        }
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dist, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Fixed(f64),
            Table(BTreeMap<String, [f64; 2]>),
        }
        const EXPECTED: &str = "expected a number or one of { uniform = [lo, hi] }, \
                                { normal = [mean, sd] }, { lognormal = [mu, sigma] }";
        let raw = Raw::deserialize(d).map_err(|_| serde::de::Error::custom(EXPECTED))?;
        let table = match raw {
            Raw::Fixed(x) => return Ok(Dist::Fixed(x)),
            Raw::Table(t) if t.len() == 1 => t,
            Raw::Table(_) => return Err(serde::de::Error::custom(EXPECTED)),
        };
        let (name, [a, b]) = table.into_iter().next().expect("one entry");
        match name.as_str() {
            "uniform" if a <= b => Ok(Dist::Uniform(a, b)),
            "uniform" => Err(serde::de::Error::custom(format!(
                "uniform = [{a}, {b}]: the low end is above the high end"
            ))),
            "normal" if b >= 0.0 => Ok(Dist::Normal(a, b)),
            "lognormal" if b >= 0.0 => Ok(Dist::LogNormal(a, b)),
            "normal" | "lognormal" => Err(serde::de::Error::custom(format!(
                "{name}: the spread {b} is negative"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "unknown distribution `{other}`: {EXPECTED}"
            ))),
        }
    }
}

/// How a sensor turns the true value into observations.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SensorModelSpec {
    /// Time between samples.
    pub period: Option<Dur>,
    /// Standard deviation of additive noise, in the measurand's unit (for a
    /// position: in metres).
    #[serde(default)]
    pub noise: f64,
    /// Standard deviation of noise proportional to the value (0.02 = 2 %).
    #[serde(default)]
    pub relative_noise: f64,
    /// Standard deviation of each sensor's drift rate, unit per day: every
    /// sensor draws its own rate and its error grows with time.
    #[serde(default)]
    pub drift_per_day: f64,
    /// Probability that a sample is lost.
    #[serde(default)]
    pub dropout: f64,
    /// Episodes during which the sensor repeats its last value.
    pub stuck: Option<Episodes>,
    /// Occasional outliers.
    pub spikes: Option<Spikes>,
    /// Delivery delay: exponential with this mean, capped at `max`.
    pub latency: Option<Latency>,
    /// Probability that a sample is delivered twice.
    #[serde(default)]
    pub duplicates: f64,
    /// Resolution: values are rounded to a multiple of it (0: no rounding).
    #[serde(default)]
    pub resolution: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Episodes {
    pub per_day: f64,
    pub duration: Dur,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spikes {
    pub probability: f64,
    /// Size of a spike, in the measurand's unit (added or subtracted).
    pub size: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub mean: Dur,
    pub max: Dur,
}

/// Which sensor model observes which measurand, e.g.
/// `{ vibration_rms = "accelerometer", temperature = "pt100" }`.
pub type SensorMap = BTreeMap<String, toml::Spanned<String>>;

/// The area the scenario covers, in degrees (WGS 84).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// `[west, south, east, north]`.
    pub bbox: [f64; 4],
}

impl RegionSpec {
    pub fn centre(&self) -> (f64, f64) {
        let [w, s, e, n] = self.bbox;
        ((w + e) / 2.0, (s + n) / 2.0)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    /// Mean air temperature, °C.
    #[serde(default = "d20")]
    pub temperature_c: f64,
    /// Peak-to-mean amplitude of the daily cycle, °C.
    #[serde(default = "d5")]
    pub daily_swing_c: f64,
    /// Amplitude of the yearly cycle, °C (warmest in July in the north).
    #[serde(default)]
    pub yearly_swing_c: f64,
    /// Days with rain in a month, on average.
    #[serde(default = "d8")]
    pub rain_days_per_month: f64,
    /// Mean rain rate in a wet hour, mm.
    #[serde(default = "d2")]
    pub rain_mm_per_wet_hour: f64,
    /// Mean wind speed, m/s.
    #[serde(default = "d3")]
    pub wind_ms: f64,
    /// Weather stations and what they measure.
    #[serde(default)]
    pub stations: usize,
    #[serde(default)]
    pub sensors: SensorMap,
}

impl Default for WeatherSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d2() -> f64 {
    2.0
}
fn d3() -> f64 {
    3.0
}
fn d5() -> f64 {
    5.0
}
fn d8() -> f64 {
    8.0
}
fn d20() -> f64 {
    20.0
}
fn one() -> f64 {
    1.0
}

/// Random processes that perturb the world.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// Sudden machine failures on top of wear.
    pub failures: Option<FailureSpec>,
    /// Road incidents that cut a road's capacity.
    pub incidents: Option<IncidentSpec>,
    /// Crop disease outbreaks that spread between neighbouring parcels.
    pub outbreaks: Option<OutbreakSpec>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    pub per_machine_year: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    pub per_day: f64,
    /// How long an incident lasts, in minutes.
    pub minutes: Dist,
    /// Fraction of the road's capacity lost.
    pub capacity_loss: f64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutbreakSpec {
    /// New outbreaks per year over the whole farm.
    pub per_year: f64,
    /// Daily logistic growth rate of severity on an infected parcel.
    pub growth_per_day: f64,
    /// Daily probability that a parcel at full severity infects a neighbour.
    pub spread_per_day: f64,
    /// Parcels whose centres are closer than this are neighbours.
    #[serde(default = "d250")]
    pub neighbour_m: f64,
}

fn d250() -> f64 {
    250.0
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FactorySpec {
    /// Operating hours that make one C-MAPSS cycle.
    #[serde(default = "one")]
    pub hours_per_cycle: f64,
    pub machines: Vec<MachineGroup>,
    #[serde(default)]
    pub technicians: TechnicianSpec,
    #[serde(default)]
    pub shifts: ShiftSpec,
    /// Position model of the technicians (GPS), e.g. `gps`.
    pub gps: Option<toml::Spanned<String>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MachineGroup {
    /// `pump`, `motor`, `cnc-mill`, …
    pub subtype: String,
    pub count: f64,
    /// Fraction of its life a machine has already used at the start.
    #[serde(default = "life_used")]
    pub initial_life_used: Dist,
    /// Nominal production, units per hour at full load.
    #[serde(default = "d60")]
    pub units_per_hour: f64,
    #[serde(default)]
    pub sensors: SensorMap,
}

fn life_used() -> Dist {
    Dist::Uniform(0.0, 0.6)
}
fn d60() -> f64 {
    60.0
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TechnicianSpec {
    #[serde(default = "two")]
    pub count: f64,
    #[serde(default = "d5")]
    pub speed_kmh: f64,
    #[serde(default = "repair")]
    pub repair: Dur,
}

impl Default for TechnicianSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn two() -> f64 {
    2.0
}
fn repair() -> Dur {
    Dur(SimTime::hours(2))
}

/// Load by time of week: the operating regime of the machines.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    #[serde(default = "one")]
    pub day: f64,
    #[serde(default = "d05")]
    pub night: f64,
    #[serde(default = "d02")]
    pub weekend: f64,
}

impl Default for ShiftSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d05() -> f64 {
    0.5
}
fn d02() -> f64 {
    0.2
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgricultureSpec {
    /// Crop grown: `cocoa`, `tomato`, … (the parcels' subtype).
    pub crop: String,
    /// Generated parcels, when no `geometry` file is given.
    pub parcels: Option<ParcelGen>,
    /// A GeoJSON FeatureCollection of Polygon features, relative to the
    /// scenario file; a feature's `name` property names its parcel.
    pub geometry: Option<toml::Spanned<String>>,
    /// The seasonal NDVI curve rescaled to the crop.
    #[serde(default)]
    pub ndvi: NdviSpec,
    #[serde(default)]
    pub soil: SoilSpec,
    /// Satellite passes (red and near-infrared per parcel).
    pub satellite: Option<SatelliteSpec>,
    /// Model of the soil-moisture probe placed in each parcel.
    pub soil_probe: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub pumps: PumpSpec,
    #[serde(default)]
    pub tractors: f64,
    /// Dry-matter yield of a healthy, well-watered parcel at harvest, t/ha.
    #[serde(default = "one")]
    pub potential_yield_t_ha: f64,
    /// Day of the year (0-based) of the harvest.
    #[serde(default = "harvest")]
    pub harvest_day: f64,
    /// Position model of the vehicles (GPS), e.g. `gps`.
    pub gps: Option<toml::Spanned<String>>,
}

fn harvest() -> f64 {
    300.0
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParcelGen {
    pub count: f64,
    pub size_ha: Dist,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NdviSpec {
    /// NDVI of the crop at the low of its season.
    #[serde(default = "ndvi_low")]
    pub low: f64,
    /// NDVI of the crop at the high of its season.
    #[serde(default = "ndvi_high")]
    pub high: f64,
    /// Days by which the crop's season lags the calibration curve.
    #[serde(default)]
    pub phase_days: f64,
}

impl Default for NdviSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn ndvi_low() -> f64 {
    0.3
}
fn ndvi_high() -> f64 {
    0.8
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SoilSpec {
    /// Volumetric moisture at field capacity, %.
    #[serde(default = "fc")]
    pub field_capacity: f64,
    /// Volumetric moisture at the wilting point, %.
    #[serde(default = "wp")]
    pub wilting_point: f64,
    /// Moisture at the start, %.
    #[serde(default = "initial_moisture")]
    pub initial: Dist,
    /// Rooting depth, mm of soil: 1 mm of water changes moisture by 100/depth %.
    #[serde(default = "depth")]
    pub depth_mm: f64,
}

impl Default for SoilSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn fc() -> f64 {
    38.0
}
fn wp() -> f64 {
    12.0
}
fn initial_moisture() -> Dist {
    Dist::Uniform(22.0, 32.0)
}
fn depth() -> f64 {
    400.0
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SatelliteSpec {
    pub every: Dur,
    /// Local hour of the overpass.
    #[serde(default = "overpass")]
    pub hour: f64,
    /// Sensor model of both bands.
    pub model: toml::Spanned<String>,
}

fn overpass() -> f64 {
    10.5
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PumpSpec {
    #[serde(default)]
    pub count: f64,
    /// Water a running pump puts on each parcel it serves, mm per hour.
    #[serde(default = "d4")]
    pub mm_per_hour: f64,
}

impl Default for PumpSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d4() -> f64 {
    4.0
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CitySpec {
    /// Road grid: intersections in `columns` × `rows`, `spacing_m` apart.
    pub grid: GridSpec,
    /// Districts partition the grid in `columns` × `rows` blocks.
    pub districts: [usize; 2],
    /// Vehicles per hour one lane carries at capacity.
    #[serde(default = "capacity")]
    pub lane_capacity_veh_h: f64,
    #[serde(default = "free_speed")]
    pub free_speed_kmh: f64,
    /// Traffic loops per district and their sensor models
    /// (`traffic_flow`, `speed`, `occupancy`).
    pub loops: Option<LoopSpec>,
    pub buses: Option<BusSpec>,
    #[serde(default)]
    pub taxis: f64,
    pub bikes: Option<BikeSpec>,
    pub parking: Option<ParkingSpec>,
    pub air: Option<AirSpec>,
    pub gps: Option<toml::Spanned<String>>,
}

fn capacity() -> f64 {
    1800.0
}
fn free_speed() -> f64 {
    50.0
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    pub columns: usize,
    pub rows: usize,
    pub spacing_m: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoopSpec {
    pub per_district: f64,
    pub sensors: SensorMap,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    pub routes: f64,
    pub per_route: f64,
    #[serde(default = "dwell")]
    pub dwell: Dur,
}

fn dwell() -> Dur {
    Dur(SimTime::secs(30))
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BikeSpec {
    pub stations: f64,
    pub docks: f64,
    pub model: toml::Spanned<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParkingSpec {
    pub count: f64,
    pub capacity: Dist,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AirSpec {
    pub per_district: f64,
    pub sensors: SensorMap,
}

/// The whole file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    /// Local civil time of simulated time zero, e.g. `2026-03-02T00:00:00`.
    #[serde(default)]
    pub epoch: Option<String>,
    pub duration: Dur,
    #[serde(default = "clock")]
    pub clock: ClockSpec,
    /// The world's time step.
    pub tick: Dur,
    #[serde(default = "one")]
    pub scale: f64,
    pub region: RegionSpec,
    #[serde(default)]
    pub weather: WeatherSpec,
    #[serde(default)]
    pub sensors: BTreeMap<String, SensorModelSpec>,
    #[serde(default)]
    pub events: EventsSpec,
    pub agriculture: Option<AgricultureSpec>,
    pub city: Option<CitySpec>,
    pub factory: Option<FactorySpec>,
}

fn clock() -> ClockSpec {
    ClockSpec(ClockMode::Accelerated(60.0))
}

/// A parsed and checked scenario, with the directory its relative paths
/// (GeoJSON) are read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub spec: ScenarioSpec,
    pub file: PathBuf,
    pub calendar: Calendar,
    /// Files compiled in with a built-in scenario, by relative path.
    pub assets: &'static [(&'static str, &'static str)],
}

/// The scenarios shipped in `data/scenarios/`, compiled in so that `twin run`
/// works from any directory: (name, text, assets).
type Builtin = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);
const BUILTIN: &[Builtin] = &[
    (
        "farm-cocoa",
        include_str!("../../data/scenarios/farm-cocoa.toml"),
        &[],
    ),
    (
        "garden",
        include_str!("../../data/scenarios/garden.toml"),
        &[(
            "garden-beds.geojson",
            include_str!("../../data/scenarios/garden-beds.geojson"),
        )],
    ),
    ("city", include_str!("../../data/scenarios/city.toml"), &[]),
    (
        "factory",
        include_str!("../../data/scenarios/factory.toml"),
        &[],
    ),
];

impl Scenario {
    /// The names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|b| b.0).collect()
    }

    /// The text of every shipped file, scenarios and their assets: (file
    /// name, text).
    pub fn builtin_files() -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (name, text, assets) in BUILTIN {
            out.push((format!("{name}.toml"), *text));
            out.extend(assets.iter().map(|(n, t)| (n.to_string(), *t)));
        }
        out
    }

    /// A built-in scenario by name (`city`, `factory`, `farm-cocoa`, `garden`).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let (name, text, assets) = BUILTIN.iter().find(|b| b.0 == name)?;
        let mut s = Scenario::parse(text, format!("data/scenarios/{name}.toml"))
            .expect("built-in scenarios are valid");
        s.assets = assets;
        Some(s)
    }

    /// A scenario file at `name_or_path`, or else the built-in of that name.
    pub fn find(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let path = Path::new(name_or_path);
        if path.exists() {
            return Scenario::load(path);
        }
        Scenario::builtin(name_or_path).ok_or_else(|| {
            ScenarioError::new(
                path,
                format!(
                    "no such file, nor a built-in scenario (built-in: {})",
                    Scenario::builtin_names().join(", ")
                ),
            )
        })
    }

    /// Reads a file named in the scenario, relative to it (or compiled in).
    pub fn read_relative(&self, relative: &str) -> Result<(PathBuf, String), ScenarioError> {
        let path = self.resolve(relative);
        if let Some((_, text)) = self.assets.iter().find(|a| a.0 == relative) {
            return Ok((path, text.to_string()));
        }
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|e| ScenarioError::new(&path, format!("cannot read: {e}")))
    }

    /// Reads and checks a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::new(path, format!("cannot read: {e}")))?;
        Scenario::parse(&text, path)
    }

    /// Parses scenario text; `file` names it in errors and anchors relative paths.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let file = file.as_ref();
        let spec: ScenarioSpec =
            toml::from_str(text).map_err(|e| ScenarioError::new(file, e.to_string()))?;
        let calendar = match &spec.epoch {
            Some(e) => {
                Calendar::parse(e).map_err(|m| ScenarioError::new(file, format!("epoch: {m}")))?
            }
            None => Calendar::default(),
        };
        let scenario = Scenario {
            spec,
            file: file.to_path_buf(),
            calendar,
            assets: &[],
        };
        scenario.check(text)?;
        Ok(scenario)
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.spec.seed = seed;
        self
    }

    /// The same scenario at another scale.
    pub fn with_scale(mut self, scale: f64) -> Scenario {
        self.spec.scale = scale;
        self
    }

    /// A count from the file multiplied by the scale (at least one when the
    /// file asks for any).
    pub fn scaled(&self, count: f64) -> usize {
        if count <= 0.0 {
            0
        } else {
            ((count * self.spec.scale).round() as usize).max(1)
        }
    }

    /// Resolves a path written in the scenario relative to its file.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        self.file.parent().unwrap_or(Path::new(".")).join(relative)
    }

    fn error_at(&self, text: &str, span: std::ops::Range<usize>, message: String) -> ScenarioError {
        let line = text[..span.start.min(text.len())].lines().count().max(1);
        ScenarioError::new(&self.file, format!("line {line}: {message}"))
    }

    /// Checks what serde cannot: references to sensor models and measurands,
    /// ranges that make sense.
    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let s = &self.spec;
        let err = |m: String| ScenarioError::new(&self.file, m);
        if s.tick.0 <= SimTime::ZERO {
            return Err(err("tick: must be longer than zero".into()));
        }
        if !(s.scale > 0.0 && s.scale.is_finite()) {
            return Err(err(format!("scale: {} is not a positive number", s.scale)));
        }
        let [w, so, e, n] = s.region.bbox;
        let lon = |x: f64| (-180.0..=180.0).contains(&x);
        let lat = |y: f64| (-90.0..=90.0).contains(&y);
        if !(w < e && so < n && lon(w) && lon(e) && lat(so) && lat(n)) {
            return Err(err(format!(
                "region.bbox: [{w}, {so}, {e}, {n}] is not [west, south, east, north] in degrees"
            )));
        }
        if s.agriculture.is_none() && s.city.is_none() && s.factory.is_none() {
            return Err(err(
                "the scenario has none of [agriculture], [city] or [factory]".into(),
            ));
        }
        for (name, m) in &s.sensors {
            for (field, p) in [
                ("dropout", m.dropout),
                ("duplicates", m.duplicates),
                (
                    "spikes.probability",
                    m.spikes.map_or(0.0, |x| x.probability),
                ),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(err(format!(
                        "sensors.{name}.{field}: {p} is not a probability between 0 and 1"
                    )));
                }
            }
            if m.period.is_some_and(|p| p.0 < s.tick.0) {
                return Err(err(format!(
                    "sensors.{name}.period: shorter than the tick ({})",
                    s.tick.0
                )));
            }
        }
        let model = |where_: &str, name: &toml::Spanned<String>| -> Result<(), ScenarioError> {
            if s.sensors.contains_key(name.get_ref()) {
                Ok(())
            } else {
                let known: Vec<&str> = s.sensors.keys().map(String::as_str).collect();
                Err(self.error_at(
                    text,
                    name.span(),
                    format!(
                        "{where_}: no sensor model named `{}` under [sensors] (known: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                ))
            }
        };
        let map = |where_: &str, m: &SensorMap| -> Result<(), ScenarioError> {
            for (measurand, name) in m {
                if measurand.parse::<Measurand>().is_err() {
                    return Err(self.error_at(
                        text,
                        name.span(),
                        format!("{where_}: `{measurand}` is not a measurand"),
                    ));
                }
                model(&format!("{where_}.{measurand}"), name)?;
            }
            Ok(())
        };
        map("weather.sensors", &s.weather.sensors)?;
        if let Some(f) = &s.factory {
            for (i, g) in f.machines.iter().enumerate() {
                map(&format!("factory.machines[{i}].sensors"), &g.sensors)?;
            }
            if let Some(g) = &f.gps {
                model("factory.gps", g)?;
            }
        }
        if let Some(a) = &s.agriculture {
            if a.parcels.is_none() == a.geometry.is_none() {
                return Err(err(
                    "agriculture: give either `parcels` (generated) or `geometry` (a GeoJSON file)"
                        .into(),
                ));
            }
            if let Some(sat) = &a.satellite {
                model("agriculture.satellite.model", &sat.model)?;
            }
            for (field, m) in [("soil_probe", &a.soil_probe), ("gps", &a.gps)] {
                if let Some(m) = m {
                    model(&format!("agriculture.{field}"), m)?;
                }
            }
            if a.soil.wilting_point >= a.soil.field_capacity {
                return Err(err(
                    "agriculture.soil: wilting_point must be below field_capacity".into(),
                ));
            }
        }
        if let Some(c) = &s.city {
            if c.grid.columns < 2 || c.grid.rows < 2 {
                return Err(err("city.grid: needs at least 2 columns and 2 rows".into()));
            }
            if c.districts[0] == 0
                || c.districts[1] == 0
                || c.districts[0] > c.grid.columns
                || c.districts[1] > c.grid.rows
            {
                return Err(err(format!(
                    "city.districts: {:?} does not divide a {}×{} grid",
                    c.districts, c.grid.columns, c.grid.rows
                )));
            }
            if let Some(l) = &c.loops {
                map("city.loops.sensors", &l.sensors)?;
            }
            if let Some(a) = &c.air {
                map("city.air.sensors", &a.sensors)?;
            }
            if let Some(b) = &c.bikes {
                model("city.bikes.model", &b.model)?;
            }
            if let Some(g) = &c.gps {
                model("city.gps", g)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.spec.name, self.file.display())
    }
}
