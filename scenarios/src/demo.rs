//! The built-in demo world: a little of every domain, so that `twin run`
//! exercises all five kinds before scenario files exist.
//!
//! - a factory site with motors whose hidden health degrades until they fail,
//!   each with a vibration and a temperature sensor;
//! - a farm with cocoa parcels, a soil-moisture probe each, satellite red/NIR
//!   passes twice a day, and an irrigation pump that obeys commands after a
//!   delay (so desired and reported state differ for a while);
//! - a city district with two buses on a loop and an air-quality station whose
//!   PM2.5 follows the rush hours.
//!
//! The world keeps its truth (machine health, true soil moisture) to itself and
//! emits only observations. All draws come from streams seeded by (seed, entity,
//! purpose), so the same seed gives the same observations.

use geo::{Point, Polygon, polygon};
use rand::RngExt;
use rand_distr::{Distribution, Normal};
use twin_core::ports::{CommandSink, ObservationSource};
use twin_core::rng::{self, Stream};
use twin_core::state::{
    MachineState, ParcelState, SensorState, VehicleMode, VehicleState, ZoneShape, ZoneState,
    ZoneType,
};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Kind, KindState, Measurand, Observation, Relation,
    SimTime, Value,
};

/// How often every sensor samples.
pub const SAMPLE: SimTime = SimTime::secs(10);
/// Delay between a command and its physical effect.
pub const ACTUATION_DELAY: SimTime = SimTime::secs(30);
const PASS_EVERY: SimTime = SimTime::hours(12);

const SITE: (f64, f64) = (4.85, 45.75);
const FARM: (f64, f64) = (-6.60, 5.80);
const DISTRICT: (f64, f64) = (2.35, 48.85);

struct Motor {
    id: EntityId,
    vib: EntityId,
    temp: EntityId,
    health: f64,
    wear_per_hour: f64,
    in_maintenance: bool,
    rng: Stream,
}

struct Field {
    id: EntityId,
    soil: EntityId,
    moisture: f64,
    season_phase: f64,
    rng: Stream,
}

struct Bus {
    id: EntityId,
    angle: f64,
    occupancy: f64,
    rng: Stream,
}

/// See the module doc.
pub struct DemoWorld {
    now: SimTime,
    next_pass: SimTime,
    motors: Vec<Motor>,
    fields: Vec<Field>,
    buses: Vec<Bus>,
    pump: EntityId,
    pump_on: bool,
    station: EntityId,
    district: EntityId,
    weather: Stream,
    pending: Vec<(SimTime, Command)>,
    records: Vec<EntityRecord>,
    seq: u64,
}

fn square(centre: (f64, f64), half_deg: f64) -> Polygon<f64> {
    let (x, y) = centre;
    polygon![
        (x: x - half_deg, y: y - half_deg),
        (x: x + half_deg, y: y - half_deg),
        (x: x + half_deg, y: y + half_deg),
        (x: x - half_deg, y: y + half_deg)
    ]
}

fn sensor(name: &str, subtype: &str, ms: &[Measurand], on: Relation) -> EntityRecord {
    EntityRecord::new(Kind::Sensor, name, subtype)
        .with_state(KindState::Sensor(SensorState::measuring(ms, SAMPLE)))
        .with_relation(on)
}

impl DemoWorld {
    /// A demo world; `scale` multiplies the number of motors, fields and buses.
    pub fn new(seed: u64, scale: usize) -> DemoWorld {
        let scale = scale.max(1);
        let mut records = Vec::new();
        let zone = |name: &str, t: ZoneType, shape: ZoneShape| {
            EntityRecord::new(Kind::Zone, name, name.split('-').next().unwrap_or(name))
                .with_state(KindState::Zone(ZoneState::new(t, shape)))
        };
        let site = zone(
            "site-lyon",
            ZoneType::Site,
            ZoneShape::Polygon(square(SITE, 0.004)),
        );
        let farm = zone(
            "farm-soubre",
            ZoneType::Site,
            ZoneShape::Polygon(square(FARM, 0.02)),
        );
        let district = zone(
            "district-4",
            ZoneType::District,
            ZoneShape::Circle {
                centre: Point::new(DISTRICT.0, DISTRICT.1),
                radius_m: 1500.0,
            },
        );
        let (site_id, farm_id, district_id) = (site.id(), farm.id(), district.id());
        records.extend([site, farm, district]);

        let mut motors = Vec::new();
        for i in 0..3 * scale {
            let subtype = ["motor", "pump", "cnc-mill"][i % 3];
            let m = EntityRecord::new(Kind::Machine, &format!("press-{i:02}"), subtype)
                .with_state(KindState::Machine(MachineState::default()))
                .with_relation(Relation::LiesIn(site_id));
            let vib = sensor(
                &format!("vib-{i:02}"),
                "accelerometer",
                &[Measurand::VibrationRms],
                Relation::AttachedTo(m.id()),
            );
            let temp = sensor(
                &format!("temp-{i:02}"),
                "thermocouple",
                &[Measurand::Temperature],
                Relation::AttachedTo(m.id()),
            );
            let mut rng = rng::stream(seed, Some(m.id()), "health");
            motors.push(Motor {
                id: m.id(),
                vib: vib.id(),
                temp: temp.id(),
                health: rng.random_range(0.7..1.0),
                wear_per_hour: rng.random_range(0.01..0.05),
                in_maintenance: false,
                rng,
            });
            records.extend([m, vib, temp]);
        }

        let pump = EntityRecord::new(Kind::Machine, "irrigation-pump", "pump")
            .with_state(KindState::Machine(MachineState::default()))
            .with_relation(Relation::LiesIn(farm_id));
        let pump_id = pump.id();
        records.push(pump);
        let mut fields = Vec::new();
        for i in 0..3 * scale {
            let centre = (
                FARM.0 - 0.015 + 0.01 * (i % 4) as f64,
                FARM.1 - 0.015 + 0.01 * (i / 4 % 4) as f64,
            );
            let p = EntityRecord::new(Kind::Parcel, &format!("cocoa-{i:02}"), "cocoa")
                .with_state(KindState::Parcel(ParcelState::new(
                    "cocoa",
                    square(centre, 0.0045),
                )))
                .with_relation(Relation::LiesIn(farm_id));
            let soil = sensor(
                &format!("soil-{i:02}"),
                "soil-probe",
                &[Measurand::SoilMoisture],
                Relation::AttachedTo(p.id()),
            );
            let mut rng = rng::stream(seed, Some(p.id()), "soil");
            fields.push(Field {
                id: p.id(),
                soil: soil.id(),
                moisture: rng.random_range(22.0..35.0),
                season_phase: rng.random_range(0.0..0.3),
                rng,
            });
            records.extend([p, soil]);
        }

        let mut buses = Vec::new();
        for i in 0..2 * scale {
            let b = EntityRecord::new(Kind::Vehicle, &format!("bus-{i:02}"), "bus")
                .with_state(KindState::Vehicle(VehicleState::new(VehicleMode::Bus)))
                .with_relation(Relation::LiesIn(district_id));
            let mut rng = rng::stream(seed, Some(b.id()), "route");
            buses.push(Bus {
                id: b.id(),
                angle: rng.random_range(0.0..std::f64::consts::TAU),
                occupancy: 20.0,
                rng,
            });
            records.push(b);
        }
        let station = sensor(
            "aq-station-1",
            "pm25",
            &[Measurand::Pm25, Measurand::Humidity],
            Relation::LiesIn(district_id),
        );
        let station_id = station.id();
        records.push(station);

        DemoWorld {
            now: SimTime::ZERO,
            next_pass: SimTime::ZERO,
            motors,
            fields,
            buses,
            pump: pump_id,
            pump_on: false,
            station: station_id,
            district: district_id,
            weather: rng::stream(seed, None, "weather"),
            pending: Vec::new(),
            records,
            seq: 0,
        }
    }

    /// The entities the twin should be told about before the first observation.
    pub fn records(&self) -> &[EntityRecord] {
        &self.records
    }

    /// The hidden health of each motor (1 new, 0 failed), for scoring.
    pub fn true_health(&self) -> Vec<(EntityId, f64)> {
        self.motors.iter().map(|m| (m.id, m.health)).collect()
    }

    /// A scripted operator: the commands a person at the console would send
    /// during the first day, so the demo shows desired against reported state
    /// and maintenance. Until planners exist, the run loop submits these.
    pub fn operator_commands(&self, from: SimTime, to: SimTime) -> Vec<Command> {
        let first = self.motors.first().map(|m| m.id);
        let script: Vec<(SimTime, EntityId, Action)> = [
            (
                SimTime::minutes(10),
                Some(self.pump),
                Action::SetDesired {
                    measurand: Measurand::PumpOn,
                    value: Value::Flag(true),
                },
            ),
            (
                SimTime::hours(2),
                Some(self.pump),
                Action::SetDesired {
                    measurand: Measurand::PumpOn,
                    value: Value::Flag(false),
                },
            ),
            (SimTime::hours(6), first, Action::BeginMaintenance),
            (SimTime::hours(7), first, Action::EndMaintenance),
        ]
        .into_iter()
        .filter_map(|(t, e, a)| Some((t, e?, a)))
        .collect();
        script
            .into_iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .map(|(time, entity, action)| Command {
                entity,
                time,
                action,
            })
            .collect()
    }

    fn emit(&mut self, out: &mut Vec<Observation>, entity: EntityId, m: Measurand, value: Value) {
        self.seq += 1;
        out.push(Observation {
            seq: self.seq,
            ..Observation::number(entity, self.now, m, 0.0).with_value(value)
        });
    }

    fn apply_due_commands(&mut self, out: &mut Vec<Observation>) {
        let (due, later): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|(t, _)| *t <= self.now);
        self.pending = later;
        for (_, cmd) in due {
            match cmd.action {
                Action::SetDesired {
                    measurand: Measurand::PumpOn,
                    value: Value::Flag(on),
                } if cmd.entity == self.pump => {
                    self.pump_on = on;
                    self.emit(out, self.pump, Measurand::PumpOn, Value::Flag(on));
                }
                Action::BeginMaintenance | Action::EndMaintenance => {
                    let begin = cmd.action == Action::BeginMaintenance;
                    if let Some(m) = self.motors.iter_mut().find(|m| m.id == cmd.entity) {
                        m.in_maintenance = begin;
                        if !begin {
                            m.health = 1.0;
                        }
                    }
                    let status = if begin { "maintenance" } else { "running" };
                    self.emit(out, cmd.entity, Measurand::Status, Value::text(status));
                }
                _ => {}
            }
        }
    }

    /// One sampling step at `self.now`.
    fn sample(&mut self, out: &mut Vec<Observation>) {
        let hours = SAMPLE.as_secs_f64() / 3600.0;
        let hour_of_day = (self.now.as_ms() % 86_400_000) as f64 / 3_600_000.0;
        let noise = Normal::new(0.0, 1.0).expect("unit normal");
        let mut motors = std::mem::take(&mut self.motors);
        for m in &mut motors {
            let was_up = m.health > 0.15;
            if !m.in_maintenance && was_up {
                m.health = (m.health
                    - m.wear_per_hour * hours * (1.0 + 0.3 * noise.sample(&mut m.rng)))
                .max(0.0);
            }
            let running = m.health > 0.15 && !m.in_maintenance;
            if was_up && !running && !m.in_maintenance {
                self.emit(out, m.id, Measurand::Status, Value::text("down"));
            } else if self.now == SimTime::ZERO {
                self.emit(out, m.id, Measurand::Status, Value::text("running"));
            }
            let wear = 1.0 - m.health;
            let vib = if running {
                1.2 + 11.0 * wear * wear + 0.2 * noise.sample(&mut m.rng)
            } else {
                0.05
            };
            let temp = if running {
                42.0 + 35.0 * wear + 0.5 * noise.sample(&mut m.rng)
            } else {
                25.0
            };
            self.emit(
                out,
                m.vib,
                Measurand::VibrationRms,
                Value::Number(vib.max(0.0)),
            );
            self.emit(out, m.temp, Measurand::Temperature, Value::Number(temp));
        }
        self.motors = motors;

        // A shower every two days or so.
        let showers_per_step = SAMPLE.as_secs_f64() / (2.0 * 86_400.0);
        let rain = if self.weather.random_bool(showers_per_step) {
            self.weather.random_range(2.0..15.0)
        } else {
            0.0
        };
        let pass = self.now >= self.next_pass;
        let mut fields = std::mem::take(&mut self.fields);
        for f in &mut fields {
            // Volumetric moisture, in %: evapotranspiration takes about 1.2 %
            // a day, irrigation adds 3 % an hour, each mm of rain 0.5 %.
            let irrigation = if self.pump_on { 3.0 * hours } else { 0.0 };
            f.moisture = (f.moisture - 0.05 * hours + irrigation + rain * 0.5).clamp(5.0, 60.0);
            let observed = f.moisture + 0.3 * noise.sample(&mut f.rng);
            self.emit(
                out,
                f.soil,
                Measurand::SoilMoisture,
                Value::Number(observed.clamp(0.0, 100.0)),
            );
            if pass {
                let day = self.now.as_secs_f64() / 86_400.0;
                let season = (std::f64::consts::TAU * (day / 365.0 + f.season_phase)).sin();
                let ndvi =
                    (0.62 + 0.18 * season + 0.02 * noise.sample(&mut f.rng)).clamp(0.05, 0.95);
                let nir = 0.35 + 0.1 * ndvi;
                let red = nir * (1.0 - ndvi) / (1.0 + ndvi);
                self.emit(out, f.id, Measurand::Red, Value::Number(red));
                self.emit(out, f.id, Measurand::Nir, Value::Number(nir));
            }
        }
        self.fields = fields;
        if pass {
            self.next_pass = self.next_pass + PASS_EVERY;
        }

        let rush = (-(hour_of_day - 8.5).powi(2) / 2.0).exp()
            + (-(hour_of_day - 18.0).powi(2) / 2.0).exp();
        let mut buses = std::mem::take(&mut self.buses);
        for b in &mut buses {
            let speed_kmh = 22.0 - 8.0 * rush + noise.sample(&mut b.rng);
            let radius_deg = 0.01;
            b.angle += speed_kmh / 3.6 * SAMPLE.as_secs_f64() / 111_000.0 / radius_deg;
            // Occupancy drifts towards 25 % off-peak and 85 % at rush hour.
            let target = 25.0 + 60.0 * rush.min(1.0);
            b.occupancy = (b.occupancy + 0.05 * (target - b.occupancy) + noise.sample(&mut b.rng))
                .clamp(0.0, 100.0);
            let lon = DISTRICT.0 + radius_deg * b.angle.cos() / DISTRICT.1.to_radians().cos();
            let lat = DISTRICT.1 + radius_deg * b.angle.sin();
            let heading =
                (90.0 - (b.angle + std::f64::consts::FRAC_PI_2).to_degrees()).rem_euclid(360.0);
            self.emit(out, b.id, Measurand::Position, Value::Point { lon, lat });
            self.emit(out, b.id, Measurand::Heading, Value::Number(heading));
            self.emit(
                out,
                b.id,
                Measurand::Speed,
                Value::Number(speed_kmh.max(0.0)),
            );
            self.emit(out, b.id, Measurand::Occupancy, Value::Number(b.occupancy));
        }
        self.buses = buses;

        let pm25 = (9.0 + 30.0 * rush + 2.0 * noise.sample(&mut self.weather)).max(0.0);
        let humidity =
            (65.0 + 15.0 * (std::f64::consts::TAU * hour_of_day / 24.0).cos()).clamp(0.0, 100.0);
        self.emit(out, self.station, Measurand::Pm25, Value::Number(pm25));
        self.emit(
            out,
            self.station,
            Measurand::Humidity,
            Value::Number(humidity),
        );
        // US EPA AQI over the PM2.5 breakpoints 0–12–35.4–55.4.
        let aqi = if pm25 <= 12.0 {
            pm25 / 12.0 * 50.0
        } else if pm25 <= 35.4 {
            50.0 + (pm25 - 12.0) / 23.4 * 50.0
        } else {
            100.0 + (pm25 - 35.4) / 20.0 * 50.0
        };
        self.emit(
            out,
            self.district,
            Measurand::Aqi,
            Value::Number(aqi.min(500.0)),
        );
    }
}

impl ObservationSource for DemoWorld {
    fn advance(&mut self, until: SimTime, out: &mut Vec<Observation>) -> bool {
        while self.now < until {
            self.apply_due_commands(out);
            self.sample(out);
            self.now = self.now + SAMPLE;
        }
        true
    }
}

impl CommandSink for DemoWorld {
    fn deliver(&mut self, command: Command) {
        let due = command.time.max(self.now) + ACTUATION_DELAY;
        self.pending.push((due, command));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_hash(seed: u64) -> u64 {
        let mut w = DemoWorld::new(seed, 1);
        let mut out = Vec::new();
        w.advance(SimTime::hours(1), &mut out);
        let bytes = serde_json::to_vec(&out).unwrap();
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }

    #[test]
    fn the_same_seed_gives_the_same_observations() {
        assert_eq!(stream_hash(3), stream_hash(3));
        assert_ne!(stream_hash(3), stream_hash(4));
    }

    #[test]
    fn every_kind_is_present_and_observed() {
        let mut w = DemoWorld::new(1, 1);
        let kinds: std::collections::BTreeSet<Kind> =
            w.records().iter().map(|r| r.id().kind()).collect();
        assert_eq!(kinds.len(), 5);
        let mut out = Vec::new();
        w.advance(SimTime::minutes(1), &mut out);
        let observed: std::collections::BTreeSet<Kind> =
            out.iter().map(|o| o.entity.kind()).collect();
        assert_eq!(observed.len(), 5, "{observed:?}");
    }

    #[test]
    fn the_pump_obeys_after_its_delay_and_motors_wear_out() {
        let mut w = DemoWorld::new(1, 1);
        let mut out = Vec::new();
        w.advance(SimTime::minutes(10), &mut out);
        for c in w.operator_commands(SimTime::ZERO, SimTime::minutes(11)) {
            w.deliver(c);
        }
        out.clear();
        w.advance(SimTime::minutes(10) + ACTUATION_DELAY, &mut out);
        assert!(!out.iter().any(|o| o.measurand == Measurand::PumpOn));
        w.advance(SimTime::minutes(11), &mut out);
        assert!(
            out.iter()
                .any(|o| o.measurand == Measurand::PumpOn && o.value == Value::Flag(true))
        );
        let before: f64 = w.true_health().iter().map(|(_, h)| h).sum();
        w.advance(SimTime::hours(12), &mut out);
        let after: f64 = w.true_health().iter().map(|(_, h)| h).sum();
        assert!(after < before, "{after} < {before}");
    }
}
