//! `model = "track"`: a Kalman filter per vehicle ([`crate::track`]) fusing
//! its GPS fixes with its speed and heading readings.
//!
//! After each fix the filter takes, the vehicle gets two derived readings:
//! `position_estimate` (where the filter believes it is) beside its raw
//! `position`, and `position_sigma` (the estimate's standard deviation,
//! metres). A speed and a heading of the same time are fused as one
//! velocity measurement. Memory per vehicle: the filter's few dozen numbers
//! and one pending speed or heading.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::{Measurand, Observation, SimTime, Source, Value};

use super::{Error, Files, Follower, Model, Outputs, Selector, Spec};
use crate::track::{Config, Track, Verdict};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Standard deviation of a GPS fix per axis, metres.
    gps_m: f64,
    /// Standard deviation of a speed reading, km/h.
    speed_kmh: f64,
    heading_deg: f64,
    /// Standard deviation of the vehicle's acceleration, m/s².
    accel_ms2: f64,
}

impl Default for Params {
    fn default() -> Params {
        let c = Config::default();
        Params {
            gps_m: c.gps_m,
            speed_kmh: c.speed_ms * 3.6,
            heading_deg: c.heading_deg,
            accel_ms2: c.accel_ms2,
        }
    }
}

struct Tracker {
    provenance: String,
    select: Selector,
    config: Config,
}

pub fn build(spec: &Spec, _files: Files) -> Result<Arc<dyn Model>, Error> {
    let p: Params = spec.params()?;
    let all = [p.gps_m, p.speed_kmh, p.heading_deg, p.accel_ms2];
    if !all.iter().all(|x| x.is_finite() && *x > 0.0) {
        return Err(Error::Params {
            model: spec.model.clone(),
            what: format!(
                "gps_m {}, speed_kmh {}, heading_deg {} and accel_ms2 {} must be positive",
                p.gps_m, p.speed_kmh, p.heading_deg, p.accel_ms2
            ),
        });
    }
    Ok(Arc::new(Tracker {
        provenance: concat!("track/", env!("CARGO_PKG_VERSION")).into(),
        select: spec.select.clone(),
        config: Config {
            gps_m: p.gps_m,
            speed_ms: p.speed_kmh / 3.6,
            heading_deg: p.heading_deg,
            accel_ms2: p.accel_ms2,
        },
    }))
}

#[derive(Serialize, Deserialize)]
struct State {
    track: Track,
    /// A speed (km/h) or heading waiting for its other half: (time,
    /// measurand, value).
    pending: Option<(SimTime, Measurand, f64)>,
    /// A fix waiting for the velocity of its time (a receiver reports them
    /// together, in any order): the velocity says where the vehicle turned
    /// before the fix is weighed.
    fix: Option<Observation>,
    /// The time of the last velocity fused.
    velocity_at: Option<SimTime>,
}

struct Follow {
    state: State,
}

impl Model for Tracker {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn follow(self: Arc<Self>) -> Box<dyn Follower> {
        Box::new(Follow {
            state: State {
                track: Track::new(self.config),
                pending: None,
                fix: None,
                velocity_at: None,
            },
        })
    }

    fn restore(self: Arc<Self>, saved: &[u8]) -> Result<Box<dyn Follower>, Error> {
        let state: State = super::saved("track", saved)?;
        Ok(Box::new(Follow { state }))
    }
}

fn seconds(t: SimTime) -> f64 {
    t.as_ms() as f64 / 1000.0
}

impl State {
    /// Weighs a fix and writes the estimate after it.
    fn take_fix(&mut self, fix: &Observation, out: &mut Outputs) {
        let Value::Point { lon, lat } = fix.value else {
            return;
        };
        let t = seconds(fix.time);
        if !matches!(
            self.track.fix(t, lon, lat),
            Verdict::Fused | Verdict::Started
        ) {
            return;
        }
        let Some(p) = self.track.at(t) else {
            return;
        };
        let derived = |measurand, value| Observation {
            measurand,
            value,
            source: Source::Inference,
            ..fix.clone()
        };
        out.readings.push(derived(
            Measurand::PositionEstimate,
            Value::Point {
                lon: p.lon,
                lat: p.lat,
            },
        ));
        out.readings
            .push(derived(Measurand::PositionSigma, Value::Number(p.sigma_m)));
    }
}

impl Follower for Follow {
    fn step(&mut self, obs: &Observation, out: &mut Outputs) {
        let s = &mut self.state;
        // A fix of an earlier time gets no velocity now: weigh it as it is.
        if let Some(fix) = s.fix.take_if(|f| f.time < obs.time) {
            s.take_fix(&fix, out);
        }
        match (obs.measurand, &obs.value) {
            (Measurand::Position, Value::Point { .. }) => {
                if s.velocity_at == Some(obs.time) {
                    s.take_fix(obs, out);
                } else if let Some(old) = s.fix.replace(obs.clone()) {
                    s.take_fix(&old, out);
                }
            }
            (m @ (Measurand::Speed | Measurand::Heading), Value::Number(x)) => {
                match s.pending.take() {
                    Some((pt, other, y)) if pt == obs.time && other != m => {
                        let (kmh, heading) = if m == Measurand::Speed {
                            (*x, y)
                        } else {
                            (y, *x)
                        };
                        s.track.velocity(seconds(obs.time), kmh / 3.6, heading);
                        s.velocity_at = Some(obs.time);
                        if let Some(fix) = s.fix.take_if(|f| f.time == obs.time) {
                            s.take_fix(&fix, out);
                        }
                    }
                    _ => s.pending = Some((obs.time, m, *x)),
                }
            }
            _ => {}
        }
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.state).expect("a track serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::distance_m;
    use twin_core::{EntityId, Kind};

    fn fix_lon_lat(o: &Observation) -> (f64, f64) {
        match o.value {
            Value::Point { lon, lat } => (lon, lat),
            _ => unreachable!("a fix"),
        }
    }

    #[test]
    fn the_estimate_beats_the_fixes_and_survives_a_restore() {
        let spec: Spec = toml::from_str(
            "model = \"track\"\nparams = { gps_m = 5.0, speed_kmh = 0.5, heading_deg = 1.0, accel_ms2 = 0.2 }",
        )
        .unwrap();
        let model = build(&spec, &crate::models::no_files).unwrap();
        let mut f = model.clone().follow();
        let id = EntityId::new(Kind::Vehicle, "bus-1");
        // A bus going east at 36 km/h; fixes every 10 s with 5 m of noise
        // from a fixed sequence; speed and heading with each fix.
        let (lon0, lat0, per_lon) = (4.85, 45.75, 111_320.0 * 45.75f64.to_radians().cos());
        let mut s = 12345u64;
        let mut uniform = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        // The sum of twelve uniforms less six: about a standard normal.
        let mut noise = move || (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
        let (mut raw, mut est, mut n, mut rejected) = (0.0, 0.0, 0, 0);
        let mut out = Outputs::default();
        for k in 0..200 {
            let t = SimTime::secs(10 * k);
            let x = 100.0 * k as f64;
            let truth = (lon0 + x / per_lon, lat0);
            let fix = (
                truth.0 + 5.0 * noise() / per_lon,
                truth.1 + 5.0 * noise() / 110_540.0,
            );
            let o = |m, v| Observation::number(id, t, m, 0.0).with_value(v);
            out.clear();
            let fix = o(
                Measurand::Position,
                Value::Point {
                    lon: fix.0,
                    lat: fix.1,
                },
            );
            // A receiver reports the three in any order: the fix waits for
            // the velocity of its time.
            if k % 2 == 1 {
                f.step(&fix, &mut out);
                assert!(out.readings.is_empty(), "the fix waits");
            }
            f.step(&o(Measurand::Speed, Value::Number(36.0)), &mut out);
            f.step(&o(Measurand::Heading, Value::Number(90.0)), &mut out);
            if k % 2 == 0 {
                f.step(&fix, &mut out);
            }
            let fix = fix_lon_lat(&fix);
            let Some(Value::Point { lon, lat }) = out.readings.first().map(|r| &r.value) else {
                // Rejected as implausible: no estimate written.
                rejected += 1;
                continue;
            };
            let (lon, lat) = (*lon, *lat);
            if k >= 20 {
                raw += distance_m(fix, truth).powi(2);
                est += distance_m((lon, lat), truth).powi(2);
                n += 1;
            }
        }
        assert!(rejected <= 4, "{rejected} of 200 fixes rejected");
        let (raw, est) = ((raw / n as f64).sqrt(), (est / n as f64).sqrt());
        assert!(
            est < 0.6 * raw,
            "estimate {est:.2} m against fixes {raw:.2} m"
        );
        let mut g = model.restore(&f.save()).unwrap();
        let o = Observation::number(id, SimTime::secs(2000), Measurand::Position, 0.0).with_value(
            Value::Point {
                lon: lon0 + 20_000.0 / per_lon,
                lat: lat0,
            },
        );
        let (mut a, mut b) = (Outputs::default(), Outputs::default());
        f.step(&o, &mut a);
        g.step(&o, &mut b);
        assert_eq!(a.readings, b.readings);
    }
}
