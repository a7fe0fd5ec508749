//! `model = "anomaly"`: the streaming detector ([`crate::anomaly`]) on every
//! numeric reading the selector admits, one detector per measurand of the
//! entity.
//!
//! Each observation updates its measurand's detector. The entity's derived
//! `anomaly_score` is the highest of its measurands' latest scores, so one
//! reading says how unusual the entity looks. It is written when it moves
//! by a hundredth or more above 0.5 (where the detector's "new" begins),
//! and otherwise every `report_every_s`, so a quiet series does not double
//! the history. A score at or above
//! `threshold` is a finding that names the measurand (an event and an
//! alert); the alert clears once no score has reached the threshold for
//! `clear_after_s`. Memory per entity: one detector per measurand followed
//! (see the detector's bound) and a few numbers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::{Measurand, Observation, SimTime, Source, Value};

use super::{Error, Files, Finding, Follower, Model, Outputs, Selector, Spec};
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
    /// Seconds without an anomalous score before the alert clears.
    clear_after_s: f64,
    /// Longest time between two derived readings, seconds.
    report_every_s: f64,
}

impl Default for Params {
    fn default() -> Params {
        let c = Config::for_probation(600);
        Params {
            probation: c.probation,
            threshold: 0.6,
            vigilance: c.vigilance,
            window: c.window,
            clear_after_s: 3600.0,
            report_every_s: 60.0,
        }
    }
}

struct Anomaly {
    provenance: String,
    select: Selector,
    config: Config,
    threshold: f64,
    clear_after: SimTime,
    report_every: SimTime,
}

pub fn build(spec: &Spec, _files: Files) -> Result<Arc<dyn Model>, Error> {
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
    let day = 86_400.0;
    if !(0.0..=30.0 * day).contains(&p.clear_after_s) || !(0.0..=day).contains(&p.report_every_s) {
        return Err(bad(format!(
            "clear_after_s {} must be in [0, 30 days] and report_every_s {} in [0, 1 day]",
            p.clear_after_s, p.report_every_s
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
        clear_after: SimTime((p.clear_after_s * 1000.0) as i64),
        report_every: SimTime((p.report_every_s * 1000.0) as i64),
    }))
}

/// Scores below this are the detector's "seen before" (see
/// [`crate::anomaly`]): their moves are written once a `report_every_s`.
const UNUSUAL: f64 = 0.5;

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Per measurand: its detector and its latest score.
    series: Vec<(Measurand, Detector, f64)>,
    /// The entity score last written, and when.
    written: Option<(f64, SimTime)>,
    /// The time of the latest anomalous score while the alert is open.
    open: Option<SimTime>,
}

struct Follow {
    model: Arc<Anomaly>,
    state: State,
}

impl Model for Anomaly {
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
        let state: State = super::saved("anomaly", saved)?;
        Ok(Box::new(Follow { model: self, state }))
    }
}

impl Follower for Follow {
    fn step(&mut self, obs: &Observation, out: &mut Outputs) {
        let Value::Number(x) = obs.value else {
            return;
        };
        let model = &*self.model;
        let state = &mut self.state;
        let series = &mut state.series;
        let i = match series.iter().position(|(m, _, _)| *m == obs.measurand) {
            Some(i) => i,
            None => {
                series.push((obs.measurand, Detector::new(model.config.clone()), 0.0));
                series.len() - 1
            }
        };
        let score = series[i].1.update(x);
        series[i].2 = score;
        let entity_score = series.iter().map(|s| s.2).fold(0.0, f64::max);
        let anomalous = score >= model.threshold;
        let due = match state.written {
            None => true,
            Some((last, at)) => {
                let unusual = entity_score >= UNUSUAL || last >= UNUSUAL;
                (unusual && (entity_score - last).abs() >= 0.01)
                    || obs.time - at >= model.report_every
            }
        };
        if due {
            state.written = Some((entity_score, obs.time));
            out.readings.push(Observation {
                entity: obs.entity,
                time: obs.time,
                measurand: Measurand::AnomalyScore,
                value: Value::Number(entity_score),
                quality: obs.quality,
                source: Source::Inference,
                seq: obs.seq,
            });
        }
        if anomalous {
            state.open = Some(obs.time);
            out.findings.push(Finding::Anomaly {
                measurand: obs.measurand,
                score,
            });
        } else if state
            .open
            .is_some_and(|since| obs.time - since >= model.clear_after)
        {
            state.open = None;
            out.findings.push(Finding::Cleared {
                measurand: Measurand::AnomalyScore,
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
        let model = build(&spec(), &crate::models::no_files).unwrap();
        let mut f = model.clone().follow();
        let mut out = Outputs::default();
        let (mut first, mut cleared, mut written) = (None, None, 0);
        for t in 0..6000 {
            out.clear();
            f.step(&obs(t, Measurand::Current, value(t, None)), &mut out);
            f.step(
                &obs(t, Measurand::VibrationRms, value(t, Some(1000))),
                &mut out,
            );
            assert!(
                out.readings.iter().all(
                    |r| r.source == Source::Inference && r.measurand == Measurand::AnomalyScore
                )
            );
            written += out.readings.len();
            for finding in &out.findings {
                match finding {
                    Finding::Anomaly { measurand, .. } => {
                        assert_eq!(*measurand, Measurand::VibrationRms, "at {t}");
                        first.get_or_insert(t);
                    }
                    Finding::Cleared { measurand } => {
                        assert_eq!(*measurand, Measurand::AnomalyScore);
                        assert!(cleared.replace(t).is_none(), "cleared twice");
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        let first = first.expect("the shift is flagged");
        assert!((1000..1060).contains(&first), "flagged at {first}");
        // The alert clears an hour (3,600 one-second steps) after the last
        // anomalous score, which is itself after the first.
        let cleared = cleared.expect("the alert clears");
        assert!((first + 3600..first + 4000).contains(&cleared), "{cleared}");
        // A score is written when it moves or once a minute, not per value.
        assert!(
            (100..3000).contains(&written),
            "{written} derived readings for 12,000 values"
        );
    }

    #[test]
    fn a_restored_follower_scores_as_the_one_it_was_saved_from() {
        let model = build(&spec(), &crate::models::no_files).unwrap();
        let mut a = model.clone().follow();
        let mut out = Outputs::default();
        for t in 0..700 {
            a.step(&obs(t, Measurand::Current, value(t, None)), &mut out);
        }
        let mut b = model.clone().restore(&a.save()).unwrap();
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
