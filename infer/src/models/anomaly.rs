//! `model = "anomaly"`: the streaming detector ([`crate::anomaly`]) on every
//! numeric reading the selector admits, one detector per measurand of the
//! entity.
//!
//! Each observation updates its measurand's detector. The entity's derived
//! `anomaly_score` is the highest of its measurands' latest scores, so one
//! reading says how unusual the entity looks; a score at or above
//! `threshold` is a finding that names the measurand. Memory per entity:
//! one detector per measurand followed (see the detector's bound).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::{Measurand, Observation, Source, Value};

use super::{Error, Follower, Model, Outputs, Selector, Spec};
use crate::anomaly::{Config, Detector};

/// What `params` may set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Observations of a series to learn from before scoring.
    probation: usize,
    /// Score from which a reading is an anomaly, in (0.5, 1].
    threshold: f64,
    vigilance: f64,
    window: usize,
}

impl Default for Params {
    fn default() -> Params {
        let c = Config::for_probation(600);
        Params {
            probation: c.probation,
            threshold: 0.6,
            vigilance: c.vigilance,
            window: c.window,
        }
    }
}

struct Anomaly {
    provenance: String,
    select: Selector,
    config: Config,
    threshold: f64,
}

pub fn build(spec: &Spec, _base: &Path) -> Result<Arc<dyn Model>, Error> {
    let p: Params = spec.params()?;
    let bad = |what: String| Error::Params {
        model: spec.model.clone(),
        what,
    };
    if !(1..=Config::MAX_PROBATION).contains(&p.probation) {
        return Err(bad(format!(
            "probation {} is outside [1, {}]",
            p.probation,
            Config::MAX_PROBATION
        )));
    }
    if !(p.threshold > 0.5 && p.threshold <= 1.0) {
        return Err(bad(format!(
            "threshold {} is outside (0.5, 1]",
            p.threshold
        )));
    }
    if !(0.5..=1.0).contains(&p.vigilance) || !(1..=64).contains(&p.window) {
        return Err(bad(format!(
            "vigilance {} must be in [0.5, 1] and window {} in [1, 64]",
            p.vigilance, p.window
        )));
    }
    let mut config = Config::for_probation(p.probation);
    config.vigilance = p.vigilance;
    config.window = p.window;
    Ok(Arc::new(Anomaly {
        provenance: concat!("anomaly/", env!("CARGO_PKG_VERSION")).into(),
        select: spec.select.clone(),
        config,
        threshold: p.threshold,
    }))
}

#[derive(Serialize, Deserialize)]
struct State {
    /// Per measurand: its detector and its latest score.
    series: Vec<(Measurand, Detector, f64)>,
    threshold: f64,
}

struct Follow {
    config: Config,
    state: State,
}

impl Model for Anomaly {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn follow(&self) -> Box<dyn Follower> {
        Box::new(Follow {
            config: self.config.clone(),
            state: State {
                series: Vec::new(),
                threshold: self.threshold,
            },
        })
    }

    fn restore(&self, saved: &[u8]) -> Result<Box<dyn Follower>, Error> {
        let state: State = postcard::from_bytes(saved).map_err(|e| Error::State {
            model: "anomaly".into(),
            what: e.to_string(),
        })?;
        Ok(Box::new(Follow {
            config: self.config.clone(),
            state,
        }))
    }
}

impl Follower for Follow {
    fn step(&mut self, obs: &Observation, out: &mut Outputs) {
        let Value::Number(x) = obs.value else {
            return;
        };
        let series = &mut self.state.series;
        let i = match series.iter().position(|(m, _, _)| *m == obs.measurand) {
            Some(i) => i,
            None => {
                series.push((obs.measurand, Detector::new(self.config.clone()), 0.0));
                series.len() - 1
            }
        };
        let score = series[i].1.update(x);
        series[i].2 = score;
        let entity_score = series.iter().map(|s| s.2).fold(0.0, f64::max);
        out.readings.push(Observation {
            entity: obs.entity,
            time: obs.time,
            measurand: Measurand::AnomalyScore,
            value: Value::Number(entity_score),
            quality: obs.quality,
            source: Source::Inference,
            seq: obs.seq,
        });
        if score >= self.state.threshold {
            out.findings.push(super::Finding::Anomaly {
                measurand: obs.measurand,
                score,
            });
        }
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.state).expect("a detector serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Finding;
    use twin_core::{EntityId, Kind, SimTime};

    fn spec() -> Spec {
        toml::from_str("model = \"anomaly\"\nparams = { probation = 200 }").unwrap()
    }

    fn obs(t: i64, m: Measurand, x: f64) -> Observation {
        Observation::number(
            EntityId::new(Kind::Machine, "pump-1"),
            SimTime::secs(t),
            m,
            x,
        )
    }

    /// A daily-looking cycle with small wobble; a jump of 8 after `shift`.
    fn value(t: i64, shift: Option<i64>) -> f64 {
        let cycle = (t as f64 * std::f64::consts::TAU / 50.0).sin();
        let wobble = ((t * 7919) % 13) as f64 / 13.0 - 0.5;
        10.0 + cycle
            + 0.2 * wobble
            + if shift.is_some_and(|s| t >= s) {
                8.0
            } else {
                0.0
            }
    }

    #[test]
    fn flags_a_shift_on_its_measurand_and_stays_quiet_before() {
        let model = build(&spec(), Path::new(".")).unwrap();
        let mut f = model.follow();
        let mut out = Outputs::default();
        let mut first = None;
        for t in 0..1500 {
            out.clear();
            f.step(&obs(t, Measurand::Current, value(t, None)), &mut out);
            f.step(
                &obs(t, Measurand::VibrationRms, value(t, Some(1000))),
                &mut out,
            );
            assert_eq!(out.readings.len(), 2);
            assert!(
                out.readings.iter().all(
                    |r| r.source == Source::Inference && r.measurand == Measurand::AnomalyScore
                )
            );
            for finding in &out.findings {
                let Finding::Anomaly { measurand, .. } = finding else {
                    panic!("{finding:?}")
                };
                assert_eq!(*measurand, Measurand::VibrationRms, "at {t}");
                first.get_or_insert(t);
            }
        }
        let first = first.expect("the shift is flagged");
        assert!((1000..1060).contains(&first), "flagged at {first}");
    }

    #[test]
    fn a_restored_follower_scores_as_the_one_it_was_saved_from() {
        let model = build(&spec(), Path::new(".")).unwrap();
        let mut a = model.follow();
        let mut out = Outputs::default();
        for t in 0..700 {
            a.step(&obs(t, Measurand::Current, value(t, None)), &mut out);
        }
        let mut b = model.restore(&a.save()).unwrap();
        let (mut oa, mut ob) = (Outputs::default(), Outputs::default());
        for t in 700..1200 {
            let o = obs(t, Measurand::Current, value(t, Some(1000)));
            a.step(&o, &mut oa);
            b.step(&o, &mut ob);
        }
        assert_eq!(oa.readings, ob.readings);
        assert_eq!(oa.findings, ob.findings);
        assert!(model.restore(&[1, 2, 3]).is_err());
    }
}
