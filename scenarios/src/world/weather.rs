//! The weather over the whole region: one state every domain feels.
//!
//! Temperature follows a yearly and a daily cycle plus a slow random
//! anomaly; rain comes in wet spells (a two-state Markov chain) whose
//! frequency matches `rain_days_per_month`; wind is a log-normal random walk;
//! clouds cover the sky in wet spells and drift otherwise. Humidity follows
//! the diurnal shape of the UCI air-quality record and rises with rain.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use twin_core::rng::Light;
use twin_core::state::{ZoneShape, ZoneState, ZoneType};
use twin_core::{EntityRecord, Kind, KindState, Measurand, Relation};

use super::build::Builder;
use super::forecast::Sky;
use super::{SimClock, Stage};
use crate::profiles;
use crate::sensor::Outbox;
use crate::sensor::{Channels, Truth};
use crate::spec::{ScenarioError, WeatherSpec};

/// Mean length of a wet spell.
const SPELL_HOURS: f64 = 4.0;

/// The weather now.
#[derive(Resource, Clone, Debug)]
pub struct Weather {
    pub temperature_c: f64,
    pub humidity_pct: f64,
    /// Rain rate now, mm per hour.
    pub rain_mm_h: f64,
    /// Rain over the last hour, mm (what a gauge reports).
    pub rain_last_hour_mm: f64,
    pub wind_ms: f64,
    /// Cloud cover, 0 clear to 1 overcast.
    pub cloud: f64,
    pub wet: bool,
    anomaly_c: f64,
    log_wind: f64,
    spec: WeatherSpec,
    southern: bool,
    /// The spells drawn ahead, when a forecast is issued.
    sky: Option<Sky>,
    rng: Light,
}

/// Slots of a weather station's truth.
const TEMPERATURE: u8 = 0;
const HUMIDITY: u8 = 1;
const RAINFALL: u8 = 2;
const WIND: u8 = 3;

#[derive(Component)]
pub struct WeatherStation;

/// Which truth slot each measurand of a weather station reads.
const SLOTS: &[(Measurand, u8)] = &[
    (Measurand::Temperature, TEMPERATURE),
    (Measurand::Humidity, HUMIDITY),
    (Measurand::Rainfall, RAINFALL),
    (Measurand::WindSpeed, WIND),
];

pub fn populate(b: &mut Builder) -> Result<(), ScenarioError> {
    let spec = b.scenario.spec.weather.clone();
    let southern = b.scenario.spec.region.centre().1 < 0.0;
    let rng = b.rng(None, "weather");
    let n = b.scaled(spec.stations as f64);
    let region = (n > 0 || spec.forecast.is_some()).then(|| {
        let [w, s, e, north] = b.scenario.spec.region.bbox;
        b.record(
            EntityRecord::new(Kind::Zone, "region", "region").with_state(KindState::Zone(
                ZoneState::new(
                    ZoneType::Site,
                    ZoneShape::Polygon(geo::Rect::new((w, s), (e, north)).to_polygon()),
                ),
            )),
        )
    });
    let sky = region.and_then(|r| Sky::new(&spec, SPELL_HOURS, r, b.rng(None, "sky")));
    b.ecs.insert_resource(Weather {
        temperature_c: spec.temperature_c,
        humidity_pct: 60.0,
        rain_mm_h: 0.0,
        rain_last_hour_mm: 0.0,
        wind_ms: spec.wind_ms,
        cloud: 0.3,
        wet: false,
        anomaly_c: 0.0,
        log_wind: 0.0,
        spec: spec.clone(),
        southern,
        sky,
        rng,
    });
    let Some(region) = region.filter(|_| n > 0) else {
        return Ok(());
    };
    let [w, s, e, north] = b.scenario.spec.region.bbox;
    for i in 0..n {
        let name = format!("weather-{i:02}");
        let station = EntityRecord::new(Kind::Zone, &name, "weather-station")
            .with_state(KindState::Zone(ZoneState::new(
                ZoneType::Site,
                ZoneShape::Circle {
                    centre: geo::Point::new(
                        w + (e - w) * (i as f64 + 0.5) / n as f64,
                        (s + north) / 2.0,
                    ),
                    radius_m: 50.0,
                },
            )))
            .with_relation(Relation::LiesIn(region));
        let id = b.record(station);
        let channels = b.sensors(
            "weather.sensors",
            &name,
            &spec.sensors,
            Relation::AttachedTo(id),
            SLOTS,
        )?;
        b.spawn_twin(
            id,
            (WeatherStation, Truth::default(), Channels::from(channels)),
        );
    }
    Ok(())
}

pub fn add(schedule: &mut Schedule) {
    schedule.add_systems((update, stations, forecast).chain().in_set(Stage::Weather));
}

/// AR(1) step over `dt_h` hours with time constant `tau_h` and stationary
/// standard deviation `sigma`.
fn ar1(x: f64, dt_h: f64, tau_h: f64, sigma: f64, rng: &mut Light) -> f64 {
    let phi = (-dt_h / tau_h).exp();
    x * phi + sigma * (1.0 - phi * phi).sqrt() * rng.sample::<f64, _>(StandardNormal)
}

pub fn update(clock: Res<SimClock>, mut w: ResMut<Weather>) {
    let w = &mut *w;
    let dt = clock.hours();
    let civil = clock.civil();
    let spec = &w.spec;
    // Wet spells: starting rate per hour so that about `rain_days_per_month`
    // days a month see one; each lasts SPELL_HOURS on average.
    let p_start = (spec.rain_days_per_month / 30.0 / 24.0 * dt).min(1.0);
    let p_stop = (dt / SPELL_HOURS).min(1.0);
    w.wet = match &mut w.sky {
        Some(sky) => sky.wet(clock.now),
        None => {
            let roll: f64 = w.rng.random();
            if w.wet {
                roll >= p_stop
            } else {
                roll < p_start
            }
        }
    };
    if w.wet {
        // A new rate about every hour: exponential around the mean.
        if w.rain_mm_h == 0.0 || w.rng.random::<f64>() < dt {
            let u: f64 = w.rng.random::<f64>().max(1e-12);
            w.rain_mm_h = -u.ln() * spec.rain_mm_per_wet_hour;
        }
    } else {
        w.rain_mm_h = 0.0;
    }
    // A one-hour moving accumulation, as a tipping-bucket gauge reports it.
    w.rain_last_hour_mm += (w.rain_mm_h - w.rain_last_hour_mm) * dt.min(1.0);
    let season = std::f64::consts::TAU * (civil.day_of_year - 196.0) / 365.0;
    let yearly = spec.yearly_swing_c * season.cos() * if w.southern { -1.0 } else { 1.0 };
    let daily = spec.daily_swing_c * (std::f64::consts::TAU * (civil.hour - 15.0) / 24.0).cos();
    w.anomaly_c = ar1(w.anomaly_c, dt, 36.0, 1.5, &mut w.rng);
    w.temperature_c =
        spec.temperature_c + yearly + daily + w.anomaly_c - if w.wet { 3.0 } else { 0.0 };
    let air = profiles::air_hour(civil);
    w.humidity_pct = (air.humidity_pct + 12.0 + if w.wet { 25.0 } else { 0.0 }).clamp(5.0, 100.0);
    w.log_wind = ar1(w.log_wind, dt, 6.0, 0.45, &mut w.rng);
    w.wind_ms = (spec.wind_ms * (w.log_wind - 0.1).exp()).max(0.0);
    let clear = ar1(w.cloud - 0.35, dt, 8.0, 0.2, &mut w.rng) + 0.35;
    w.cloud = if w.wet { 0.95 } else { clear.clamp(0.0, 0.9) };
}

fn stations(w: Res<Weather>, mut q: Query<&mut Truth, With<WeatherStation>>) {
    for mut t in &mut q {
        t.0[TEMPERATURE as usize] = w.temperature_c;
        t.0[HUMIDITY as usize] = w.humidity_pct;
        t.0[RAINFALL as usize] = w.rain_last_hour_mm;
        t.0[WIND as usize] = w.wind_ms;
    }
}

/// The weather service issues its forecast when one is due.
fn forecast(clock: Res<SimClock>, mut w: ResMut<Weather>, mut outbox: ResMut<Outbox>) {
    if let Some(obs) = w.sky.as_mut().and_then(|sky| sky.issue(clock.now)) {
        outbox.push(clock.now, clock.now, obs);
    }
}
