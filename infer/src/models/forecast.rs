//! `model = "forecast"`: the next 24 hours of each followed series, with an
//! interval, by the online seasonal method ([`crate::forecast::seasonal`]).
//!
//! Each admitted reading (traffic flow, occupancy, PM2.5, NO2, AQI; the
//! selector must name them) adds to its hour's mean. When the first
//! reading of a later hour comes, the hour is closed (hours with nothing
//! are carried as missing; after three weeks without a value the series
//! starts over) and, once the method is warm (about two days), a reading
//! of the measurand's forecast twin (`traffic_flow_forecast`, …) is
//! written, stamped at the start of the current hour: 24 hourly points
//! from there, each the expected mean of its hour with a `coverage`
//! interval, clamped to the measurand's valid range. Readings of an hour
//! already closed (late ones) are left out. Memory per series: the
//! method's bounded state (about 22 KB).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::value::{Estimate, Path};
use twin_core::{Measurand, Observation, Quality, SimTime, Source, Value};

use super::{Error, Files, Follower, Model, Outputs, Selector, Spec};
use crate::forecast::{Seasonal, WEEK};

/// What `params` may set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// The share of outcomes the interval should hold, in [0.5, 0.99].
    coverage: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params { coverage: 0.9 }
    }
}

struct Forecasting {
    provenance: String,
    select: Selector,
    coverage: f64,
}

pub fn build(spec: &Spec, _files: Files) -> Result<Arc<dyn Model>, Error> {
    let p: Params = spec.params()?;
    let bad = |what: String| Error::Params {
        model: spec.model.clone(),
        what,
    };
    if !(0.5..=0.99).contains(&p.coverage) {
        return Err(bad(format!(
            "coverage {} is outside [0.5, 0.99]",
            p.coverage
        )));
    }
    if spec.select.measurands.is_empty() {
        return Err(bad(
            "select.measurands: name the series to forecast (traffic_flow, occupancy, pm25, no2, aqi)"
                .into(),
        ));
    }
    if let Some(m) = spec
        .select
        .measurands
        .iter()
        .find(|m| m.forecast().is_none())
    {
        return Err(bad(format!(
            "select.measurands: {m} has no forecast measurand (forecastable: traffic_flow, occupancy, pm25, no2, aqi)"
        )));
    }
    Ok(Arc::new(Forecasting {
        provenance: concat!("forecast/", env!("CARGO_PKG_VERSION")).into(),
        select: spec.select.clone(),
        coverage: p.coverage,
    }))
}

const HOUR: i64 = 3_600_000;

/// One followed series.
#[derive(Serialize, Deserialize)]
struct Series {
    measurand: Measurand,
    /// The hour being summed (ms since the epoch / 1 h).
    hour: i64,
    sum: f64,
    count: u32,
    method: Seasonal,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    series: Vec<Series>,
}

struct Follow {
    model: Arc<Forecasting>,
    state: State,
}

impl Model for Forecasting {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn follow(self: Arc<Self>) -> Box<dyn Follower> {
        Box::new(Follow {
            model: self,
            state: State::default(),
        })
    }

    fn restore(self: Arc<Self>, saved: &[u8]) -> Result<Box<dyn Follower>, Error> {
        let state: State = super::saved("forecast", saved)?;
        Ok(Box::new(Follow { model: self, state }))
    }
}

impl Follower for Follow {
    fn step(&mut self, obs: &Observation, out: &mut Outputs) {
        let (Value::Number(x), Some(target)) = (&obs.value, obs.measurand.forecast()) else {
            return;
        };
        if !matches!(obs.quality, Quality::Ok | Quality::Uncertain) {
            return;
        }
        let hour = obs.time.as_ms().div_euclid(HOUR);
        let series = &mut self.state.series;
        let i = match series.iter().position(|s| s.measurand == obs.measurand) {
            Some(i) => i,
            None => {
                series.push(Series {
                    measurand: obs.measurand,
                    hour,
                    sum: 0.0,
                    count: 0,
                    method: Seasonal::default(),
                });
                series.len() - 1
            }
        };
        let s = &mut series[i];
        if hour < s.hour {
            return;
        }
        if hour > s.hour {
            let gap = hour - s.hour - 1;
            if gap > 3 * WEEK as i64 {
                s.method = Seasonal::default();
            } else {
                s.method.push(if s.count == 0 {
                    f64::NAN
                } else {
                    s.sum / f64::from(s.count)
                });
                for _ in 0..gap {
                    s.method.push(f64::NAN);
                }
            }
            (s.hour, s.sum, s.count) = (hour, 0.0, 0);
            if let Some(fs) = s.method.forecast(self.model.coverage) {
                let (min, max) = target.valid_range();
                let clamp = |v: f64| v.clamp(min, max);
                out.readings.push(Observation {
                    entity: obs.entity,
                    time: SimTime(hour * HOUR),
                    measurand: target,
                    value: Value::Forecast(Box::new(Path {
                        step_ms: HOUR,
                        points: fs
                            .iter()
                            .map(|f| Estimate {
                                value: clamp(f.predicted),
                                low: clamp(f.low),
                                high: clamp(f.high),
                            })
                            .collect(),
                    })),
                    quality: Quality::Ok,
                    source: Source::Inference,
                    seq: obs.seq,
                });
            }
        }
        s.sum += x;
        s.count += 1;
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.state).expect("a forecaster serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{EntityId, Kind};

    fn spec(select: &str) -> Spec {
        toml::from_str(&format!("model = \"forecast\"\nselect = {select}")).unwrap()
    }

    /// A loop's flow at minute `m`: a daily cycle.
    fn flow(m: i64) -> f64 {
        let day = (m % 1440) as f64 / 1440.0;
        600.0 + 400.0 * (day * std::f64::consts::TAU).sin()
    }

    #[test]
    fn it_refuses_series_it_cannot_forecast() {
        let e = build(&spec("{}"), &super::super::no_files)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("name the series"), "{e}");
        let e = build(
            &spec("{ measurands = [\"speed\"] }"),
            &super::super::no_files,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("speed has no forecast"), "{e}");
    }

    #[test]
    fn hourly_forecasts_of_a_minute_series_come_after_two_days_and_resume_after_a_restore() {
        let model = build(
            &spec("{ measurands = [\"traffic_flow\"] }"),
            &super::super::no_files,
        )
        .unwrap();
        let id = EntityId::new(Kind::Sensor, "loop-1");
        let mut f = model.clone().follow();
        let mut out = Outputs::default();
        let mut written = Vec::new();
        let minute = |m: i64| {
            Observation::number(id, SimTime::secs(60 * m), Measurand::TrafficFlow, flow(m))
        };
        for m in 0..1440 * 4 {
            f.step(&minute(m), &mut out);
            written.append(&mut out.readings);
        }
        // One per hour once warm, none in the first two days.
        let first = written.first().expect("forecasts by day four").time;
        assert!(
            first >= SimTime::hours(48) && first <= SimTime::hours(60),
            "{first}"
        );
        assert!(
            written
                .windows(2)
                .all(|w| w[1].time - w[0].time == SimTime::hours(1))
        );
        let last = written.last().unwrap();
        assert_eq!(last.measurand, Measurand::TrafficFlowForecast);
        let Value::Forecast(p) = &last.value else {
            panic!("{:?}", last.value)
        };
        assert_eq!((p.points.len(), p.step_ms), (24, HOUR));
        // The cycle repeats daily, so the next hour's mean is known well.
        let hour = last.time.as_ms() / 60_000;
        let truth = (hour..hour + 60).map(flow).sum::<f64>() / 60.0;
        assert!(
            (p.points[0].value - truth).abs() < 20.0,
            "{:?} vs {truth}",
            p.points[0]
        );
        assert!(
            p.points
                .iter()
                .all(|e| e.low <= e.value && e.value <= e.high && e.low >= 0.0)
        );
        // Saved and restored, it writes what it would have.
        let mut back = model.restore(&f.save()).unwrap();
        let (mut a, mut b) = (Outputs::default(), Outputs::default());
        for m in 1440 * 4..1440 * 5 {
            f.step(&minute(m), &mut a);
            back.step(&minute(m), &mut b);
        }
        assert_eq!(a.readings.len(), 24);
        assert_eq!(a.readings, b.readings);
    }
}
