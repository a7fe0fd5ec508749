//! The twin's forecasts in `twin eval world`, scored as `twin eval
//! forecast` scores an offline series: every point of every forecast
//! reading against the mean of the readings the twin then took in that
//! hour, and the weekly seasonal-naive forecast (the same hour's mean a
//! week before) against the same, both over the targets where both are
//! known. The truth is what the twin saw (the same noisy sensors the
//! naive forecast reads), not the world's hidden state.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use twin_core::{EntityId, Measurand, SimTime, Value};

use super::round;

const HOUR: i64 = 3_600_000;
const WEEK_H: i64 = 168;

/// One forecast reading: the hour of its first point and the points.
struct Made {
    hour: i64,
    points: Vec<(f64, f64, f64)>,
}

/// Per forecast measurand: the sums of absolute errors per horizon, of
/// the forecasts and of the naive ones, and their counts.
type Errors = (Measurand, Vec<f64>, Vec<f64>, Vec<usize>);

#[derive(Default)]
pub struct ForecastTally {
    /// Per series (entity, forecast measurand), hourly (sum, count).
    hours: HashMap<(EntityId, Measurand), HashMap<i64, (f64, u32)>>,
    made: HashMap<(EntityId, Measurand), Vec<Made>>,
}

impl ForecastTally {
    /// Takes one reading the twin applied as current.
    pub fn see(&mut self, entity: EntityId, time: SimTime, measurand: Measurand, value: &Value) {
        match value {
            Value::Number(x) if measurand.forecast().is_some() => {
                let bin = self
                    .hours
                    .entry((entity, measurand))
                    .or_default()
                    .entry(time.as_ms().div_euclid(HOUR))
                    .or_default();
                bin.0 += x;
                bin.1 += 1;
            }
            Value::Forecast(p) if p.step_ms == HOUR => {
                if let Some(of) = measurand.forecast_of() {
                    self.made.entry((entity, of)).or_default().push(Made {
                        hour: time.as_ms().div_euclid(HOUR),
                        points: p.points.iter().map(|e| (e.value, e.low, e.high)).collect(),
                    });
                }
            }
            _ => {}
        }
    }

    /// Whether any forecast was seen.
    pub fn is_empty(&self) -> bool {
        self.made.is_empty()
    }

    /// Adds the scores: per forecast measurand `<m>_forecast_mae_ratio`
    /// (traffic for `traffic_flow`), and overall the interval coverage
    /// and the number of points scored. Hours from `end`'s on are not
    /// complete and are left out.
    pub fn scores(&self, end: SimTime, out: &mut Map<String, Json>) {
        let last = end.as_ms().div_euclid(HOUR); // the incomplete hour
        let mean = |series: &HashMap<i64, (f64, u32)>, h: i64| {
            series
                .get(&h)
                .filter(|(_, n)| *n > 0 && h < last)
                .map(|(s, n)| s / f64::from(*n))
        };
        let (mut covered, mut total) = (0usize, 0usize);
        let mut by: Vec<Errors> = Vec::new();
        let mut keys: Vec<_> = self.made.keys().copied().collect();
        keys.sort_by_key(|(e, m)| (*m as u16, e.raw()));
        for key in keys {
            let Some(series) = self.hours.get(&key) else {
                continue;
            };
            let i = match by.iter().position(|b| b.0 == key.1) {
                Some(i) => i,
                None => {
                    by.push((key.1, vec![0.0; 24], vec![0.0; 24], vec![0; 24]));
                    by.len() - 1
                }
            };
            let (_, err, naive, n) = &mut by[i];
            for made in &self.made[&key] {
                for (k, (p, lo, hi)) in made.points.iter().enumerate().take(24) {
                    let t = made.hour + k as i64;
                    let (Some(truth), Some(seasonal)) = (mean(series, t), mean(series, t - WEEK_H))
                    else {
                        continue;
                    };
                    err[k] += (p - truth).abs();
                    naive[k] += (seasonal - truth).abs();
                    n[k] += 1;
                    total += 1;
                    covered += usize::from(*lo <= truth && truth <= *hi);
                }
            }
        }
        for (m, err, naive, n) in by {
            if n.iter().all(|n| *n == 0) {
                continue;
            }
            let avg = |v: &[f64]| {
                let per: Vec<f64> = v
                    .iter()
                    .zip(&n)
                    .filter(|(_, n)| **n > 0)
                    .map(|(e, n)| e / *n as f64)
                    .collect();
                per.iter().sum::<f64>() / per.len() as f64
            };
            let name = match m {
                Measurand::TrafficFlow => "traffic".to_string(),
                m => m.name().to_string(),
            };
            out.insert(
                format!("{name}_forecast_mae_ratio"),
                json!(round(avg(&err) / avg(&naive))),
            );
            out.insert(format!("{name}_forecast_mae"), json!(round(avg(&err))));
            out.insert(format!("{name}_naive_mae"), json!(round(avg(&naive))));
        }
        out.insert("forecast_points_scored".into(), json!(total));
        out.insert(
            "forecast_interval_coverage".into(),
            json!(round(covered as f64 / total.max(1) as f64)),
        );
    }
}
