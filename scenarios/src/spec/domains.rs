//! The tables of each domain: region and weather, random events, factory,
//! agriculture and city.

use serde::Deserialize;
use twin_core::SimTime;

use super::types::*;

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
    #[serde(default = "defaults::temperature_c")]
    pub temperature_c: f64,
    /// Peak-to-mean amplitude of the daily cycle, °C.
    #[serde(default = "defaults::daily_swing_c")]
    pub daily_swing_c: f64,
    /// Amplitude of the yearly cycle, °C (warmest in July in the north).
    #[serde(default)]
    pub yearly_swing_c: f64,
    /// Days with rain in a month, on average.
    #[serde(default = "defaults::rain_days_per_month")]
    pub rain_days_per_month: f64,
    /// Mean rain rate in a wet hour, mm.
    #[serde(default = "defaults::rain_mm_per_wet_hour")]
    pub rain_mm_per_wet_hour: f64,
    /// Mean wind speed, m/s.
    #[serde(default = "defaults::wind_ms")]
    pub wind_ms: f64,
    /// Weather stations and what they measure.
    #[serde(default)]
    pub stations: usize,
    #[serde(default)]
    pub sensors: SensorMap,
    /// A weather service's rain forecast, issued on the region zone.
    pub forecast: Option<ForecastSpec>,
}

/// How a weather service forecasts rain: the wet spells ahead, some missed,
/// some announced that never come.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForecastSpec {
    /// How often a forecast is issued.
    #[serde(default = "defaults::forecast_every")]
    pub every: Dur,
    /// Hours ahead it covers (1 to 168).
    #[serde(default = "defaults::forecast_hours")]
    pub hours: usize,
    /// Share of the wet spells it foresees; the others come unannounced.
    #[serde(default = "defaults::hit_rate")]
    pub hit_rate: f64,
    /// Chance that an issue announces a spell that will not come.
    #[serde(default = "defaults::false_alarm")]
    pub false_alarm: f64,
}

impl Default for WeatherSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// The world's scale when a scenario does not set it.
pub(super) fn full_scale() -> f64 {
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
    #[serde(default = "defaults::neighbour_m")]
    pub neighbour_m: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FactorySpec {
    /// Operating hours that make one C-MAPSS cycle.
    #[serde(default = "defaults::hours_per_cycle")]
    pub hours_per_cycle: f64,
    pub machines: Vec<MachineGroup>,
    #[serde(default)]
    pub technicians: TechnicianSpec,
    #[serde(default)]
    pub shifts: ShiftSpec,
    /// Position model of the technicians (GPS), e.g. `gps`.
    pub gps: Option<toml::Spanned<String>>,
    /// The C-MAPSS FD001 engines (units, first and last, of 1 to 100) whose
    /// wear paths machines draw from; all by default. A model trained on
    /// some engines is scored honestly on worlds drawing from the others.
    pub engines: Option<[usize; 2]>,
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
    #[serde(default = "defaults::units_per_hour")]
    pub units_per_hour: f64,
    #[serde(default)]
    pub sensors: SensorMap,
}

fn life_used() -> Dist {
    Dist::Uniform(0.0, 0.6)
}
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TechnicianSpec {
    #[serde(default = "defaults::technicians")]
    pub count: f64,
    #[serde(default = "defaults::technician_speed_kmh")]
    pub speed_kmh: f64,
    #[serde(default = "defaults::repair")]
    pub repair: Dur,
    /// A repair after a breakdown (diagnosis, parts, a wrecked part);
    /// four times `repair` when not given.
    pub breakdown_repair: Option<Dur>,
}

impl Default for TechnicianSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// Load by time of week: the operating regime of the machines.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    #[serde(default = "defaults::day_load")]
    pub day: f64,
    #[serde(default = "defaults::night_load")]
    pub night: f64,
    #[serde(default = "defaults::weekend_load")]
    pub weekend: f64,
}

impl Default for ShiftSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
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
    #[serde(default = "defaults::potential_yield_t_ha")]
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
    #[serde(default = "defaults::pump_mm_per_hour")]
    pub mm_per_hour: f64,
}

impl Default for PumpSpec {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
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

/// Defaults of the settings a scenario may leave out, by what they set.
mod defaults {
    use super::Dur;
    use twin_core::SimTime;

    pub fn hours_per_cycle() -> f64 {
        1.0
    }
    pub fn technicians() -> f64 {
        2.0
    }
    pub fn repair() -> Dur {
        Dur(SimTime::hours(2))
    }
    pub fn day_load() -> f64 {
        1.0
    }
    pub fn potential_yield_t_ha() -> f64 {
        1.0
    }
    pub fn temperature_c() -> f64 {
        20.0
    }
    pub fn daily_swing_c() -> f64 {
        5.0
    }
    pub fn rain_days_per_month() -> f64 {
        8.0
    }
    pub fn rain_mm_per_wet_hour() -> f64 {
        2.0
    }
    pub fn wind_ms() -> f64 {
        3.0
    }
    pub fn neighbour_m() -> f64 {
        250.0
    }
    pub fn units_per_hour() -> f64 {
        60.0
    }
    pub fn technician_speed_kmh() -> f64 {
        5.0
    }
    /// Machine load at night and at weekends, as a share of the day's.
    pub fn night_load() -> f64 {
        0.5
    }
    pub fn weekend_load() -> f64 {
        0.2
    }
    pub fn pump_mm_per_hour() -> f64 {
        4.0
    }
    pub fn forecast_every() -> Dur {
        Dur(SimTime::hours(6))
    }
    pub fn forecast_hours() -> usize {
        48
    }
    pub fn hit_rate() -> f64 {
        0.85
    }
    pub fn false_alarm() -> f64 {
        0.1
    }
}
