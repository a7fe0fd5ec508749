//! `model = "district_aggregates"`: what a city operator reads per district,
//! computed in the twin over windows of five minutes (seed 001's
//! dashboards): written as readings of each district zone, source
//! `Aggregate`, so they have a history, alarm limits and watchers like any
//! reading, and anomaly models can follow them.
//!
//! A reading counts for the first zone its entity lies in, in the window of
//! its own time; a window is written once `settle` has passed after its end
//! (late readings of a written window are dropped).
//! - traffic loops (sensors reporting `speed`): mean `speed`, `traffic_flow`
//!   and road `occupancy`, and `congestion`, the mean of 1 − speed over the
//!   loop's free-flow speed (the highest it has seen, eased down slowly);
//! - transit vehicles: mean `load`;
//! - parking zones: mean `parking_occupancy`;
//! - air-quality stations: mean `pm25` and `no2`, and the `aqi` of those
//!   means (US EPA, [`twin_core::aqi`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twin_core::{EntityId, Kind, Measurand, Observation, SimTime, Source};

use super::{Area, AreaOutputs, Reading};
use crate::models::{Error, Selector, Spec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    #[serde(with = "super::duration")]
    window: SimTime,
    #[serde(with = "super::duration")]
    settle: SimTime,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            window: SimTime::minutes(5),
            settle: SimTime::minutes(1),
        }
    }
}

/// The figures of a window, in this order.
const FIGURES: [Measurand; 8] = [
    Measurand::Speed,
    Measurand::TrafficFlow,
    Measurand::Occupancy,
    Measurand::Congestion,
    Measurand::Load,
    Measurand::ParkingOccupancy,
    Measurand::Pm25,
    Measurand::No2,
];

/// Windows open at once, at most: readings far in the future cannot grow
/// the state without bound.
const MAX_OPEN: usize = 4096;
/// How much a loop's free-flow speed eases down per reading.
const EASE: f64 = 1e-4;

/// (sum, count) per figure.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Window([(f64, u32); 8]);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    open: BTreeMap<(i64, EntityId), Window>,
    /// Free-flow speed per loop.
    free: BTreeMap<EntityId, f64>,
    /// Windows written up to this one.
    written_to: Option<i64>,
}

pub struct Districts {
    provenance: String,
    select: Selector,
    p: Params,
    s: State,
}

pub fn build(spec: &Spec) -> Result<Box<dyn Area>, Error> {
    let p: Params = spec.params()?;
    if p.window < SimTime::secs(1) || p.settle < SimTime::ZERO {
        return Err(Error::Params {
            model: spec.model.clone(),
            what: "window must be at least 1 s and settle not negative".into(),
        });
    }
    let select = if spec.select == Selector::default() {
        Selector {
            kinds: vec![Kind::Sensor, Kind::Vehicle, Kind::Zone],
            subtypes: vec![],
            measurands: vec![
                Measurand::Speed,
                Measurand::TrafficFlow,
                Measurand::Occupancy,
                Measurand::Load,
                Measurand::Pm25,
                Measurand::No2,
            ],
        }
    } else {
        spec.select.clone()
    };
    Ok(Box::new(Districts {
        provenance: concat!("district_aggregates/", env!("CARGO_PKG_VERSION")).into(),
        select,
        p,
        s: State::default(),
    }))
}

impl Districts {
    /// The figures a reading feeds, with its value there (at most two: a
    /// loop's speed also gives its congestion).
    fn figures(&mut self, r: &Reading, x: f64) -> [Option<(Measurand, f64)>; 2] {
        let (kind, m) = (r.entity.kind(), r.measurand);
        let one = |m| [Some((m, x)), None];
        match (kind, m) {
            (Kind::Sensor, Measurand::Speed) => {
                let free = self.s.free.entry(r.entity).or_insert(x);
                *free = (*free * (1.0 - EASE)).max(x);
                let congestion = if *free > 0.0 {
                    (1.0 - x / *free).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                [Some((m, x)), Some((Measurand::Congestion, congestion))]
            }
            (Kind::Sensor, Measurand::TrafficFlow) => one(m),
            // A sensor's occupancy is a road's when the sensor is a loop.
            (Kind::Sensor, Measurand::Occupancy) if self.s.free.contains_key(&r.entity) => one(m),
            (Kind::Sensor, Measurand::Pm25 | Measurand::No2) => one(m),
            (Kind::Vehicle, Measurand::Load) => one(m),
            (Kind::Zone, Measurand::Occupancy) => one(Measurand::ParkingOccupancy),
            _ => [None, None],
        }
    }
}

impl Area for Districts {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn observe(&mut self, r: Reading) {
        let (Some(x), Some(district)) = (r.value.as_f64(), r.zones.first()) else {
            return;
        };
        let w = r.time.as_ms().div_euclid(self.p.window.as_ms());
        if self.s.written_to.is_some_and(|done| w <= done) {
            return;
        }
        let key = (w, *district);
        if !self.s.open.contains_key(&key) && self.s.open.len() >= MAX_OPEN {
            return;
        }
        for (m, v) in self.figures(&r, x).into_iter().flatten() {
            let i = FIGURES.iter().position(|f| *f == m).expect("a figure");
            let slot = &mut self.s.open.entry(key).or_default().0[i];
            slot.0 += v;
            slot.1 += 1;
        }
    }

    fn step(&mut self, now: SimTime, out: &mut AreaOutputs) {
        let window = self.p.window.as_ms();
        let due = (now - self.p.settle).as_ms().div_euclid(window) - 1;
        let keys: Vec<(i64, EntityId)> = self
            .s
            .open
            .keys()
            .take_while(|(w, _)| *w <= due)
            .copied()
            .collect();
        for key in keys {
            let Some(win) = self.s.open.remove(&key) else {
                continue;
            };
            let (w, district) = key;
            let end = SimTime((w + 1) * window);
            let mean = |m: Measurand| {
                let i = FIGURES.iter().position(|f| *f == m)?;
                let (sum, n) = win.0[i];
                (n > 0).then(|| sum / n as f64)
            };
            let reading = |m, x| Observation {
                source: Source::Aggregate,
                ..Observation::number(district, end, m, x)
            };
            out.readings
                .extend(FIGURES.iter().filter_map(|m| Some(reading(*m, mean(*m)?))));
            if let Some(aqi) = twin_core::aqi::aqi(mean(Measurand::Pm25), mean(Measurand::No2)) {
                out.readings.push(reading(Measurand::Aqi, aqi));
            }
        }
        // Every window up to `due` is written now, with data or without.
        self.s.written_to = Some(self.s.written_to.map_or(due, |d| d.max(due)));
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.s).expect("district aggregates serialise")
    }

    fn restore(&mut self, saved: &[u8]) -> Result<(), Error> {
        self.s = crate::models::saved("district_aggregates", saved)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::Value;

    fn keeper() -> Box<dyn Area> {
        build(&toml::from_str("model = \"district_aggregates\"").unwrap()).unwrap()
    }

    #[test]
    fn five_minute_means_per_district_with_congestion_and_aqi() {
        let mut k = keeper();
        let d = EntityId::new(Kind::Zone, "district-0");
        let other = EntityId::new(Kind::Zone, "district-1");
        let loop_ = EntityId::new(Kind::Sensor, "loop-0");
        let station = EntityId::new(Kind::Sensor, "aq-0");
        let parking = EntityId::new(Kind::Zone, "parking-0");
        let feed = |k: &mut Box<dyn Area>, e, m, t: i64, x: f64, zone| {
            let v = Value::Number(x);
            let zones = [zone];
            k.observe(Reading {
                entity: e,
                subtype: "",
                place: None,
                zones: &zones,
                time: SimTime::secs(t),
                measurand: m,
                value: &v,
            });
        };
        // Free-flow 50 km/h first, then 25: congestion 0.5 in the window.
        feed(&mut k, loop_, Measurand::Speed, 0, 50.0, d);
        feed(&mut k, loop_, Measurand::Speed, 60, 25.0, d);
        feed(&mut k, loop_, Measurand::Occupancy, 60, 30.0, d);
        feed(&mut k, station, Measurand::Pm25, 100, 9.0, d);
        feed(&mut k, station, Measurand::No2, 100, 188.0, d);
        feed(&mut k, parking, Measurand::Occupancy, 200, 80.0, other);
        // The next window: not written yet.
        feed(&mut k, loop_, Measurand::Speed, 320, 40.0, d);
        let mut out = AreaOutputs::default();
        k.step(SimTime::secs(300), &mut out);
        assert!(out.readings.is_empty(), "the window has not settled");
        k.step(SimTime::secs(360), &mut out);
        let get = |e, m| {
            out.readings
                .iter()
                .find(|r| r.entity == e && r.measurand == m)
                .map(|r| (r.time, r.value.as_f64().unwrap(), r.source))
        };
        let end = SimTime::secs(300);
        assert_eq!(
            get(d, Measurand::Speed),
            Some((end, 37.5, Source::Aggregate))
        );
        let (_, c, _) = get(d, Measurand::Congestion).unwrap();
        assert!((c - 0.25).abs() < 1e-3, "congestion {c}");
        assert_eq!(get(d, Measurand::Occupancy).map(|r| r.1), Some(30.0));
        assert_eq!(get(d, Measurand::Aqi).map(|r| r.1), Some(100.0));
        assert_eq!(
            get(other, Measurand::ParkingOccupancy).map(|r| r.1),
            Some(80.0)
        );
        assert_eq!(get(other, Measurand::Speed), None);
        assert_eq!(out.readings.iter().filter(|r| r.time > end).count(), 0);
        // A late reading of the written window is dropped; restored, the
        // keeper writes the next window alone.
        feed(&mut k, loop_, Measurand::Speed, 10, 5.0, d);
        let mut again = keeper();
        again.restore(&k.save()).unwrap();
        let mut out = AreaOutputs::default();
        again.step(SimTime::secs(660), &mut out);
        let speeds: Vec<f64> = out
            .readings
            .iter()
            .filter(|r| r.measurand == Measurand::Speed)
            .map(|r| r.value.as_f64().unwrap())
            .collect();
        assert_eq!(speeds, vec![40.0]);
    }
}
