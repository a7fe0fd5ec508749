//! Agriculture: parcels whose crop follows the season, soil that wets and
//! dries, diseases that spread, pumps, tractors, satellites and a harvest.
//!
//! - **Crop**: the true NDVI follows the seasonal curve of the real Sentinel-2
//!   series, rescaled to the crop's low and high and shifted by its phase,
//!   lowered by water stress and by disease.
//! - **Soil water balance** (volumetric moisture, %): rain and irrigation add
//!   water, evapotranspiration (warmer and greener is thirstier, in daylight)
//!   takes it, and water above field capacity drains.
//! - **Diseases**: black pod (a fungus, worse when wet) and swollen shoot (a
//!   virus). An outbreak starts on one parcel, grows logistically and spreads
//!   to neighbouring parcels; treatment makes it recede.
//! - **Satellite**: every pass images each parcel in red (B04) and near
//!   infrared (B08) unless a cloud covers it; a cloudy parcel gives nothing.
//! - **Harvest**: on the harvest day each parcel reports its yield, which
//!   grows with the season's green, watered, healthy days.

use bevy_ecs::prelude::*;
use rand::RngExt;
use twin_core::rng::Light;
use twin_core::state::{
    MachineState, ParcelState, VehicleMode, VehicleState, ZoneShape, ZoneState, ZoneType,
};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Kind, KindState, Measurand, Observation, Relation,
    SimTime, Value,
};

use super::build::Builder;
use super::irrigation::{self, Pump, Valve};
use super::mobility::{self, Frame, Mover};
use super::{OutbreakTruth, ParcelTruth, SimClock, Stage, Twin, Weather};
use crate::geojson;
use crate::profiles;
use crate::sensor::{Channels, Outbox, Reading, Truth};
use crate::spec::{AgricultureSpec, OutbreakSpec, ScenarioError};

/// Truth slots of a parcel.
const RED: u8 = 0;
const NIR: u8 = 1;
const MOISTURE: u8 = 2;

/// How long a treatment keeps working.
const TREATMENT: SimTime = SimTime::days(14);
/// Severity below which an outbreak on a parcel is over.
const CURED: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiseaseKind {
    BlackPod,
    SwollenShoot,
}

impl DiseaseKind {
    pub fn name(self) -> &'static str {
        match self {
            DiseaseKind::BlackPod => "black-pod",
            DiseaseKind::SwollenShoot => "swollen-shoot",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Disease {
    pub kind: DiseaseKind,
    pub severity: f64,
    /// Which outbreak it belongs to, and when that outbreak began.
    pub outbreak: u32,
    pub onset: SimTime,
}

#[derive(Component)]
pub struct Parcel {
    pub x: f64,
    pub y: f64,
    pub moisture: f64,
    pub ndvi: f64,
    /// Water stress, 0 none to 1 wilting (smoothed over days).
    pub stress: f64,
    pub disease: Option<Disease>,
    pub treated_until: Option<SimTime>,
    /// Green, watered, healthy days accumulated this season.
    pub growth: f64,
    /// Hours its true soil moisture spent below the crop's stress threshold.
    pub stress_h: f64,
    neighbours: Vec<Entity>,
    rng: Light,
}

#[derive(Component)]
pub struct Tractor {
    target: usize,
    speed_kmh: f64,
}

#[derive(Resource)]
struct Farm {
    spec: AgricultureSpec,
    outbreaks: Option<OutbreakSpec>,
    season: (f64, f64),
    parcels: Vec<Entity>,
    parcel_xy: Vec<(f64, f64)>,
    next_outbreak: u32,
    last_harvest_year: Option<i64>,
    rng: Light,
}

/// Which truth slot the soil probe reads.
const SLOTS: &[(Measurand, u8)] = &[(Measurand::SoilMoisture, MOISTURE)];

/// The parcels' shapes: from the GeoJSON file, or generated on a jittered grid.
fn shapes(b: &mut Builder, spec: &AgricultureSpec) -> Result<Vec<geojson::Shape>, ScenarioError> {
    if let Some(file) = &spec.geometry {
        let (path, text) = b.scenario.read_relative(file.get_ref())?;
        let mut shapes = geojson::parse_polygons(&text, &path)?;
        // Scale takes a prefix, or repeats the file shifted eastwards.
        let want = b.scaled(shapes.len() as f64);
        let original = shapes.clone();
        let width = {
            let xs = original
                .iter()
                .flat_map(|s| s.polygon.exterior().coords().map(|c| c.x));
            let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                (l.min(x), h.max(x))
            });
            (hi - lo) * 1.05
        };
        shapes.truncate(want);
        let mut copy = 1;
        while shapes.len() < want {
            for s in &original {
                if shapes.len() == want {
                    break;
                }
                let mut p = s.polygon.clone();
                geo::MapCoordsInPlace::map_coords_in_place(
                    &mut p,
                    |c| geo::coord! {x: c.x + width * copy as f64, y: c.y},
                );
                shapes.push(geojson::Shape {
                    name: format!("{}-{copy}", s.name),
                    polygon: p,
                });
            }
            copy += 1;
        }
        return Ok(shapes);
    }
    let layout = spec.parcels.expect("checked: parcels or geometry");
    let n = b.scaled(layout.count);
    let columns = (n as f64).sqrt().ceil().max(1.0) as usize;
    let largest = match layout.size_ha {
        crate::spec::Dist::Uniform(_, hi) => hi,
        d => d.mean() * 2.0,
    };
    let cell = largest.max(1e-6).sqrt() * 100.0 * 1.15;
    let half = columns as f64 * cell / 2.0;
    let mut rng = b.rng(None, "parcels");
    let mut shapes = Vec::with_capacity(n);
    for i in 0..n {
        let (cx, cy) = (
            (i % columns) as f64 * cell - half + cell / 2.0,
            (i / columns) as f64 * cell - half + cell / 2.0,
        );
        let size = layout.size_ha.sample(&mut rng).clamp(1e-6, largest);
        let side = size.sqrt() * 100.0;
        let mut corner = |sx: f64, sy: f64| {
            let j = side * 0.08;
            let (dx, dy) = (rng.random_range(-j..=j), rng.random_range(-j..=j));
            b.local
                .lonlat(cx + sx * side / 2.0 + dx, cy + sy * side / 2.0 + dy)
        };
        let ring = vec![
            corner(-1.0, -1.0),
            corner(1.0, -1.0),
            corner(1.0, 1.0),
            corner(-1.0, 1.0),
        ];
        shapes.push(geojson::Shape {
            name: format!("{}-{i:04}", spec.crop),
            polygon: geo::Polygon::new(geo::LineString::from(ring), vec![]),
        });
    }
    Ok(shapes)
}

pub fn populate(b: &mut Builder) -> Result<(), ScenarioError> {
    let spec = b.scenario.spec.agriculture.clone().expect("agriculture");
    let shapes = shapes(b, &spec)?;
    let [w, s, e, n] = b.scenario.spec.region.bbox;
    let farm =
        EntityRecord::new(Kind::Zone, "farm", "farm").with_state(KindState::Zone(ZoneState::new(
            ZoneType::Site,
            ZoneShape::Polygon(geo::Rect::new((w, s), (e, n)).to_polygon()),
        )));
    let farm = b.record(farm);
    let season = profiles::ndvi_season_range();
    let ndvi0 = potential_ndvi(
        &spec.ndvi,
        season,
        b.scenario.calendar.civil(SimTime::ZERO).day_of_year,
    );
    let pumps = b.scaled(spec.pumps.count);
    let mut parcels = Vec::with_capacity(shapes.len());
    let mut parcel_xy = Vec::with_capacity(shapes.len());
    let mut parcel_ids = Vec::with_capacity(shapes.len());
    for shape in shapes {
        let centre = geo::Centroid::centroid(&shape.polygon).unwrap_or(geo::Point::new(w, s));
        let (x, y) = b.local.xy(centre.x(), centre.y());
        let state = ParcelState::new(&spec.crop, shape.polygon);
        let area_m2 = state.area_ha * 10_000.0;
        let mut record = EntityRecord::new(Kind::Parcel, &shape.name, &spec.crop)
            .with_state(KindState::Parcel(state))
            .with_relation(Relation::LiesIn(farm));
        if pumps > 0 {
            // Parcel i is served by pump i mod pumps.
            let pump = EntityId::new(Kind::Machine, &pump_name(parcels.len() % pumps));
            record = record.with_relation(Relation::FedBy(pump));
        }
        let id = b.record(record);
        let mut channels = Vec::new();
        if let Some(sat) = &spec.satellite {
            // Every parcel is imaged at the same overpass.
            let first = first_pass(b, sat.hour);
            for (m, slot) in [(Measurand::Red, RED), (Measurand::Nir, NIR)] {
                let mut c = b.channel_every(
                    id,
                    m,
                    Reading::Number(slot),
                    sat.model.get_ref(),
                    sat.every.0,
                )?;
                c.next_due = first;
                channels.push(c);
            }
        }
        if let Some(probe) = &spec.soil_probe {
            let mut map = crate::spec::SensorMap::new();
            map.insert("soil_moisture".into(), probe.clone());
            channels.extend(b.sensors(
                "agriculture.soil_probe",
                &format!("{}-probe", shape.name),
                &map,
                Relation::AttachedTo(id),
                SLOTS,
            )?);
        }
        let mut rng = b.rng(Some(id), "parcel");
        let moisture = spec.soil.initial.sample(&mut rng);
        let e = b.spawn_twin(
            id,
            (
                Parcel {
                    x,
                    y,
                    moisture,
                    ndvi: ndvi0,
                    stress: 0.0,
                    disease: None,
                    treated_until: None,
                    growth: 0.0,
                    stress_h: 0.0,
                    neighbours: Vec::new(),
                    rng,
                },
                Valve::new(area_m2),
                Truth::default(),
                Channels::from(channels),
            ),
        );
        parcels.push(e);
        parcel_xy.push((x, y));
        parcel_ids.push(id);
    }
    link_neighbours(b, &parcels, &parcel_xy);

    for k in 0..pumps {
        let served: Vec<Entity> = parcels.iter().copied().skip(k).step_by(pumps).collect();
        let record = EntityRecord::new(Kind::Machine, &pump_name(k), "irrigation-pump")
            .with_state(KindState::Machine(MachineState::default()))
            .with_relation(Relation::LiesIn(farm));
        let id = b.record(record);
        b.spawn_twin(id, Pump::new(spec.pumps.mm_per_hour, served));
    }
    let tractors = b.scaled(spec.tractors);
    for k in 0..tractors {
        let name = format!("tractor-{k:02}");
        let record = EntityRecord::new(Kind::Vehicle, &name, "tractor")
            .with_state(KindState::Vehicle(VehicleState::new(VehicleMode::Tractor)))
            .with_relation(Relation::LiesIn(farm));
        let id = b.record(record);
        let channels = match &spec.gps {
            Some(g) => mobility::gps_channels(b, id, g.get_ref())?,
            None => Vec::new(),
        };
        let (x, y) = parcel_xy[k % parcel_xy.len().max(1)];
        b.spawn_twin(
            id,
            (
                Tractor {
                    target: (k * 7 + 3) % parcel_xy.len().max(1),
                    speed_kmh: 12.0,
                },
                Mover::at(x, y),
                Truth::default(),
                Channels::from(channels),
            ),
        );
    }
    let rng = b.rng(None, "outbreaks");
    b.ecs.insert_resource(Farm {
        spec,
        outbreaks: b.scenario.spec.events.outbreaks,
        season,
        parcels,
        parcel_xy,
        next_outbreak: 0,
        last_harvest_year: None,
        rng,
    });
    Ok(())
}

fn pump_name(k: usize) -> String {
    format!("pump-{k:02}")
}

/// NDVI of a healthy, unstressed crop on a day of the year: the calibration
/// curve rescaled to the crop's range and shifted by its phase.
fn potential_ndvi(spec: &crate::spec::NdviSpec, (lo, hi): (f64, f64), day_of_year: f64) -> f64 {
    let season = (profiles::ndvi_season(day_of_year - spec.phase_days) - lo) / (hi - lo);
    spec.low + (spec.high - spec.low) * season
}

/// The first simulated instant at the local hour of the overpass.
fn first_pass(b: &Builder, hour: f64) -> SimTime {
    let start = b.scenario.calendar.civil(SimTime::ZERO).hour;
    SimTime(((hour - start).rem_euclid(24.0) * 3_600_000.0) as i64)
}

/// Parcels whose centres lie within the outbreak spread distance, found
/// through a grid of cells that size so the work stays linear.
fn link_neighbours(b: &mut Builder, parcels: &[Entity], xy: &[(f64, f64)]) {
    let reach = b
        .scenario
        .spec
        .events
        .outbreaks
        .map_or(250.0, |o| o.neighbour_m)
        .max(1.0);
    let cell = |(x, y): (f64, f64)| ((x / reach).floor() as i64, (y / reach).floor() as i64);
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
    for (i, p) in xy.iter().enumerate() {
        grid.entry(cell(*p)).or_default().push(i);
    }
    for (i, p) in xy.iter().enumerate() {
        let (cx, cy) = cell(*p);
        let mut near = Vec::new();
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &j in grid.get(&(cx + dx, cy + dy)).map_or(&[][..], |v| &v[..]) {
                    let q = xy[j];
                    if j != i && (q.0 - p.0).hypot(q.1 - p.1) <= reach {
                        near.push(parcels[j]);
                    }
                }
            }
        }
        near.sort();
        if let Some(mut parcel) = b.ecs.get_mut::<Parcel>(parcels[i]) {
            parcel.neighbours = near;
        }
    }
}

pub fn add(schedule: &mut Schedule) {
    schedule.add_systems(
        (
            irrigation::pumps,
            water_and_grow,
            diseases,
            harvest,
            tractors,
        )
            .chain()
            .in_set(Stage::Agriculture),
    );
}

/// Soil water balance, water stress, the crop's NDVI and its growth.
fn water_and_grow(
    clock: Res<SimClock>,
    weather: Res<Weather>,
    farm: Res<Farm>,
    mut q: Query<(&mut Parcel, &mut Truth, Option<&Valve>)>,
) {
    let dt = clock.hours();
    let civil = clock.civil();
    let soil = farm.spec.soil;
    let ndvi_spec = farm.spec.ndvi;
    let potential = potential_ndvi(&ndvi_spec, farm.season, civil.day_of_year);
    let daylight = (6.0..18.0).contains(&civil.hour);
    // Reference evapotranspiration, mm/h, only in daylight: about 1 mm a day
    // plus 0.1 mm per °C, twice as fast over the twelve daylight hours.
    let et0 = if daylight {
        (1.0 + 0.1 * weather.temperature_c.max(0.0)) / 12.0
    } else {
        0.0
    };
    let mm_to_pct = 100.0 / soil.depth_mm;
    let available = soil.field_capacity - soil.wilting_point;
    let stressed_below = stress_threshold(&soil);
    for (mut p, mut t, valve) in &mut q {
        let p = &mut *p;
        let et = et0 * (0.4 + 0.8 * p.ndvi) * if p.stress > 0.5 { 0.6 } else { 1.0 };
        let infiltration = weather.rain_mm_h * 0.85 + valve.map_or(0.0, |v| v.mm_h);
        p.moisture += (infiltration - et) * dt * mm_to_pct;
        if p.moisture > soil.field_capacity {
            // Drainage: a fifth of the excess an hour.
            p.moisture -= (p.moisture - soil.field_capacity) * (0.2 * dt).min(1.0);
        }
        p.moisture = p.moisture.clamp(soil.wilting_point * 0.5, 60.0);
        if p.moisture < stressed_below {
            p.stress_h += dt;
        }
        let target_stress =
            (1.0 - (p.moisture - soil.wilting_point) / (0.5 * available)).clamp(0.0, 1.0);
        p.stress += (target_stress - p.stress) * (dt / 48.0).min(1.0);
        let sick = p.disease.map_or(0.0, |d| d.severity);
        let target = potential * (1.0 - 0.35 * p.stress) * (1.0 - 0.6 * sick);
        // Canopy responds over about three days.
        p.ndvi += (target - p.ndvi) * (dt / 72.0).min(1.0);
        p.growth += dt / 24.0 * p.ndvi * (1.0 - p.stress) * (1.0 - sick);
        let nir = 0.25 + 0.2 * p.ndvi;
        let red = nir * (1.0 - p.ndvi) / (1.0 + p.ndvi);
        // A parcel under cloud gives the satellite nothing (NaN: unseen).
        let cloudy = p.rng.random::<f64>() < weather.cloud * 0.9;
        t.0[RED as usize] = if cloudy { f64::NAN } else { red };
        t.0[NIR as usize] = if cloudy { f64::NAN } else { nir };
        t.0[MOISTURE as usize] = p.moisture;
    }
}

/// Soil moisture below which the crop is stressed: half the available
/// water (between wilting point and field capacity) gone.
pub fn stress_threshold(soil: &crate::spec::SoilSpec) -> f64 {
    soil.wilting_point + 0.5 * (soil.field_capacity - soil.wilting_point)
}

/// New outbreaks, growth, spread between neighbours, treatment.
fn diseases(
    clock: Res<SimClock>,
    weather: Res<Weather>,
    mut farm: ResMut<Farm>,
    mut q: Query<&mut Parcel>,
) {
    let Some(spec) = farm.outbreaks else {
        return;
    };
    let now = clock.now;
    let days = clock.hours() / 24.0;
    let farm = &mut *farm;
    if !farm.parcels.is_empty() && farm.rng.random::<f64>() < spec.per_year * days / 365.0 {
        let i = farm.rng.random_range(0..farm.parcels.len());
        let kind = if farm.rng.random::<f64>() < 0.7 {
            DiseaseKind::BlackPod
        } else {
            DiseaseKind::SwollenShoot
        };
        let outbreak = farm.next_outbreak;
        farm.next_outbreak += 1;
        if let Ok(mut p) = q.get_mut(farm.parcels[i])
            && p.disease.is_none()
        {
            p.disease = Some(Disease {
                kind,
                severity: 0.05,
                outbreak,
                onset: now,
            });
        }
    }
    let wet = weather.humidity_pct > 80.0 || weather.rain_mm_h > 0.0;
    let mut infections: Vec<(Entity, Disease)> = Vec::new();
    for &e in &farm.parcels {
        let Ok(mut p) = q.get_mut(e) else { continue };
        let treated = p.treated_until.is_some_and(|t| t > now);
        let Some(mut d) = p.disease else { continue };
        // Black pod is a fungus: it thrives in wet weather and recedes in
        // dry spells. Swollen shoot is a virus carried by mealybugs: it only
        // grows until treated (infected trees cut out).
        let rate = spec.growth_per_day
            * match d.kind {
                DiseaseKind::BlackPod if wet => 1.5,
                DiseaseKind::BlackPod => -0.4,
                DiseaseKind::SwollenShoot => 0.6,
            };
        if treated {
            d.severity -= d.severity * 0.25 * days;
        } else if rate >= 0.0 {
            d.severity += rate * d.severity * (1.0 - d.severity) * days;
        } else {
            d.severity += rate * d.severity * days;
        }
        if d.severity < CURED {
            p.disease = None;
            continue;
        }
        p.disease = Some(d);
        if !treated {
            let p_spread = spec.spread_per_day * d.severity * days;
            let neighbours = p.neighbours.clone();
            for n in neighbours {
                if p.rng.random::<f64>() < p_spread {
                    infections.push((
                        n,
                        Disease {
                            severity: 0.03,
                            ..d
                        },
                    ));
                }
            }
        }
    }
    for (e, d) in infections {
        if let Ok(mut p) = q.get_mut(e)
            && p.disease.is_none()
            && p.treated_until.is_none_or(|t| t <= now)
        {
            p.disease = Some(d);
        }
    }
}

/// On the harvest day, every parcel reports its yield and a season begins.
fn harvest(
    clock: Res<SimClock>,
    mut farm: ResMut<Farm>,
    mut outbox: ResMut<Outbox>,
    mut q: Query<(&Twin, &mut Parcel)>,
) {
    let civil = clock.civil();
    let year = clock.now.as_ms().div_euclid(SimTime::days(365).as_ms());
    let day = farm.spec.harvest_day;
    if !(day..day + clock.hours() / 24.0 + 1e-9).contains(&civil.day_of_year)
        || farm.last_harvest_year == Some(year)
    {
        return;
    }
    farm.last_harvest_year = Some(year);
    for (twin, mut p) in &mut q {
        let y = expected_yield(&farm.spec, &p);
        outbox.push(
            clock.now,
            clock.now,
            Observation::number(twin.0, clock.now, Measurand::Yield, y),
        );
        p.growth = 0.0;
    }
}

/// Yield if harvested now: the potential, scaled by a season's worth of
/// green, watered, healthy days (a full season at NDVI 0.7 gives 100 %).
fn expected_yield(spec: &AgricultureSpec, p: &Parcel) -> f64 {
    let season = 0.7 * 365.0;
    let sick = p.disease.map_or(0.0, |d| d.severity);
    (spec.potential_yield_t_ha * (p.growth / season).min(1.2) * (1.0 - 0.8 * sick))
        .clamp(0.0, 100.0)
}

/// Tractors drive from parcel to parcel.
fn tractors(
    clock: Res<SimClock>,
    frame: Res<Frame>,
    farm: Res<Farm>,
    mut q: Query<(&mut Tractor, &mut Mover, &mut Truth)>,
) {
    let n = farm.parcel_xy.len();
    for (mut t, mut m, mut truth) in &mut q {
        if n > 0 {
            let (x, y) = farm.parcel_xy[t.target];
            if m.towards(x, y, t.speed_kmh, clock.tick) {
                t.target = (t.target * 31 + 7) % n;
            }
        }
        m.write(&frame.0, &mut truth);
    }
}

/// Pumps and valves ([`irrigation::command`]); `treatment` treats a parcel; `destination`
/// sends a tractor to the parcel nearest that point.
pub fn command(world: &mut World, entity: Entity, cmd: &Command) -> bool {
    let now = world.resource::<SimClock>().now;
    match &cmd.action {
        Action::SetDesired {
            measurand: Measurand::Treatment,
            value: Value::Flag(on),
        } => match world.get_mut::<Parcel>(entity) {
            Some(mut p) => {
                p.treated_until = on.then_some(now + TREATMENT);
                true
            }
            None => false,
        },
        Action::SetDesired {
            measurand: Measurand::Destination,
            value: Value::Point { lon, lat },
        } if world.get::<Tractor>(entity).is_some() => {
            let frame = world.resource::<Frame>().0;
            let (x, y) = frame.xy(*lon, *lat);
            let nearest = world
                .resource::<Farm>()
                .parcel_xy
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let da = (a.1.0 - x).hypot(a.1.1 - y);
                    let db = (b.1.0 - x).hypot(b.1.1 - y);
                    da.total_cmp(&db)
                })
                .map(|(i, _)| i);
            if let (Some(i), Some(mut t)) = (nearest, world.get_mut::<Tractor>(entity)) {
                t.target = i;
            }
            true
        }
        _ => irrigation::command(world, entity, cmd),
    }
}

/// Parcels as they are, and each outbreak's true extent.
pub fn truth(world: &mut World) -> (Vec<ParcelTruth>, Vec<OutbreakTruth>) {
    let Some(farm) = world.get_resource::<Farm>() else {
        return (Vec::new(), Vec::new());
    };
    let spec = farm.spec.clone();
    let frame = world.resource::<Frame>().0;
    let mut q = world.query::<(&Twin, &Parcel, Option<&Valve>)>();
    let mut parcels = Vec::new();
    let mut by_outbreak: std::collections::BTreeMap<u32, Vec<(EntityId, f64, f64, Disease)>> =
        Default::default();
    for (twin, p, valve) in q.iter(world) {
        parcels.push(ParcelTruth {
            water_m3: valve.map_or(0.0, |v| v.water_m3),
            stress_h: p.stress_h,
            yield_index: expected_yield(&spec, p) / spec.potential_yield_t_ha.max(1e-9),
            id: twin.0,
            ndvi: p.ndvi,
            soil_moisture: p.moisture,
            disease: p.disease.map(|d| (d.kind.name(), d.severity)),
            expected_yield_t_ha: expected_yield(&spec, p),
        });
        if let Some(d) = p.disease {
            by_outbreak
                .entry(d.outbreak)
                .or_default()
                .push((twin.0, p.x, p.y, d));
        }
    }
    let outbreaks = by_outbreak
        .into_values()
        .map(|members| {
            let n = members.len() as f64;
            let (cx, cy) = members
                .iter()
                .fold((0.0, 0.0), |(x, y), m| (x + m.1 / n, y + m.2 / n));
            let radius = members
                .iter()
                .map(|m| (m.1 - cx).hypot(m.2 - cy))
                .fold(0.0, f64::max)
                + 50.0;
            OutbreakTruth {
                id: members[0].3.outbreak,
                onset: members[0].3.onset,
                disease: members[0].3.kind.name(),
                centre: frame.lonlat(cx, cy),
                radius_m: radius,
                severity: members.iter().map(|m| m.3.severity).sum::<f64>() / n,
                parcels: members.iter().map(|m| m.0).collect(),
            }
        })
        .collect();
    (parcels, outbreaks)
}
