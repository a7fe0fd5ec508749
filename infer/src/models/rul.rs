//! `model = "rul"`: remaining useful life of a machine with its 90 %
//! interval ([`crate::rul`]), from a model file trained on a twin's own
//! machines (`twin train rul --scenario`), which names the measurands it
//! reads and the length of its cycle.
//!
//! The follower sums the machine's readings into cycles ([`Cycles`]: the
//! machine's status says when it runs and when a maintenance starts a new
//! life) and, at each cycle's end, writes the derived `rul` reading (hours,
//! with its interval). An estimate below `threshold_h` is a finding (an
//! event and an alert); the alert clears above `clear_h` or at the next
//! maintenance. Memory per machine: the model's window of rows and one
//! cycle's sums.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::{Measurand, Observation, Source, Value};

use super::{Error, Files, Finding, Follower, Model, Outputs, Selector, Spec};
use crate::rul::{self, Columns, Cycles, Step, Window};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Hours of remaining life below which the machine is flagged.
    threshold_h: f64,
    /// Hours above which the flag clears (default: a quarter above the
    /// threshold).
    clear_h: Option<f64>,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            threshold_h: 48.0,
            clear_h: None,
        }
    }
}

struct Rul {
    provenance: String,
    select: Selector,
    model: rul::Model,
    columns: Columns,
    /// Hours per cycle.
    hours: f64,
    threshold: f64,
    clear: f64,
}

pub fn build(spec: &Spec, files: Files) -> Result<Arc<dyn Model>, Error> {
    let p: Params = spec.params()?;
    let bad = |what: String| Error::Params {
        model: spec.model.clone(),
        what,
    };
    let file = spec
        .file
        .as_deref()
        .ok_or_else(|| bad("needs a model `file` (twin train rul --scenario …)".into()))?;
    let text = files(file).map_err(|e| bad(format!("{file}: {e}")))?;
    let model = rul::Model::from_json(&text).map_err(|e| bad(format!("{file}: {e}")))?;
    let columns = model.columns.clone().ok_or_else(|| {
        bad(format!(
            "{file} was trained on a C-MAPSS file and names no twin measurands: train one with --scenario"
        ))
    })?;
    let clear = p.clear_h.unwrap_or(1.25 * p.threshold_h);
    if !(p.threshold_h >= 0.0 && p.threshold_h.is_finite() && clear >= p.threshold_h) {
        return Err(bad(format!(
            "threshold_h {} must be a number of hours, and clear_h {clear} at least that",
            p.threshold_h
        )));
    }
    Ok(Arc::new(Rul {
        provenance: model.name.clone(),
        select: spec.select.clone(),
        hours: columns.cycle_ms as f64 / 3_600_000.0,
        columns,
        model,
        threshold: p.threshold_h,
        clear,
    }))
}

#[derive(Serialize, Deserialize)]
struct State {
    cycles: Cycles,
    window: Window,
    /// Whether the machine is flagged.
    below: bool,
}

struct Follow {
    model: Arc<Rul>,
    state: State,
}

impl Model for Rul {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn follow(self: Arc<Self>) -> Box<dyn Follower> {
        let state = State {
            cycles: Cycles::default(),
            window: self.model.follow(),
            below: false,
        };
        Box::new(Follow { model: self, state })
    }

    fn restore(self: Arc<Self>, saved: &[u8]) -> Result<Box<dyn Follower>, Error> {
        let state: State = super::saved("rul", saved)?;
        Ok(Box::new(Follow { model: self, state }))
    }
}

impl Follower for Follow {
    fn step(&mut self, obs: &Observation, out: &mut Outputs) {
        let m = &*self.model;
        let s = &mut self.state;
        match s.cycles.observe(&m.columns, obs) {
            Some(Step::Row {
                settings, sensors, ..
            }) => {
                if m.model.observe(&mut s.window, &settings, &sensors).is_err() {
                    return;
                }
                let Some(e) = m.model.estimate(&s.window) else {
                    return;
                };
                let e = rul::Estimate {
                    value: e.value * m.hours,
                    low: e.low * m.hours,
                    high: e.high * m.hours,
                };
                out.readings.push(Observation {
                    entity: obs.entity,
                    time: obs.time,
                    measurand: Measurand::Rul,
                    value: Value::Interval(Box::new(e)),
                    quality: obs.quality,
                    source: Source::Inference,
                    seq: obs.seq,
                });
                if !s.below && e.value < m.threshold {
                    s.below = true;
                    out.findings.push(Finding::RulBelow {
                        rul: e.value,
                        threshold: m.threshold,
                    });
                } else if s.below && e.value > m.clear {
                    s.below = false;
                    out.findings.push(Finding::Cleared {
                        measurand: Measurand::Rul,
                    });
                }
            }
            Some(Step::Renewed) => {
                s.window = m.model.follow();
                if std::mem::take(&mut s.below) {
                    out.findings.push(Finding::Cleared {
                        measurand: Measurand::Rul,
                    });
                }
            }
            Some(Step::Failed) | None => {}
        }
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.state).expect("a RUL state serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rul::tests::{fleet, small};
    use twin_core::{EntityId, Kind, SimTime};

    /// A model of the synthetic fleet whose rows a twin reads as a
    /// machine's load and speed, and four sensors, one row a minute.
    fn model_file() -> String {
        let mut model = rul::Model::train(&fleet(30, 1), small(), "rul-test/1").unwrap();
        model.columns = Some(Columns {
            settings: vec![Measurand::Load, Measurand::Speed],
            sensors: vec![
                Measurand::VibrationRms,
                Measurand::Temperature,
                Measurand::Pressure,
                Measurand::Current,
            ],
            cycle_ms: 60_000,
            min_values: 3,
        });
        model.to_json()
    }

    fn spec() -> Spec {
        toml::from_str(
            r#"model = "rul"
               file = "rul.json"
               params = { threshold_h = 0.5 }"#,
        )
        .unwrap()
    }

    #[test]
    fn the_hosted_model_reads_what_training_read_and_flags_the_end() {
        let text = model_file();
        let files = |name: &str| {
            (name == "rul.json")
                .then(|| text.clone())
                .ok_or_else(|| "no such file".to_string())
        };
        let hosted = build(&spec(), &files).unwrap();
        let offline = rul::Model::from_json(&text).unwrap();
        let machine = EntityId::new(Kind::Machine, "m");
        let mut f = hosted.clone().follow();
        let mut out = Outputs::default();
        let mut window = offline.follow();
        let history = &fleet(3, 9)[0];
        let (mut below, mut readings) = (None, 0);
        let at = |c: usize, s: i64| SimTime::secs(c as i64 * 60 + s);
        let status = |t, s: &str| {
            Observation::number(machine, t, Measurand::Status, 0.0).with_value(Value::text(s))
        };
        f.step(&status(at(0, 0), "running"), &mut out);
        for (c, cycle) in history.cycles.iter().enumerate() {
            for s in 0..60 {
                let columns = [Measurand::Load, Measurand::Speed]
                    .iter()
                    .zip(&cycle.settings)
                    .chain(
                        [
                            Measurand::VibrationRms,
                            Measurand::Temperature,
                            Measurand::Pressure,
                            Measurand::Current,
                        ]
                        .iter()
                        .zip(&cycle.sensors),
                    );
                for (m, x) in columns {
                    out.clear();
                    f.step(&Observation::number(machine, at(c, s), *m, *x), &mut out);
                    // The previous cycle closes at the first value of this one.
                    for r in &out.readings {
                        let Value::Interval(e) = &r.value else {
                            panic!("{r:?}")
                        };
                        let expected = offline.estimate(&window).unwrap();
                        assert!((e.value - expected.value / 60.0).abs() < 1e-9);
                        assert!((e.low - expected.low / 60.0).abs() < 1e-9);
                        assert_eq!(r.measurand, Measurand::Rul);
                        readings += 1;
                    }
                    for finding in &out.findings {
                        assert!(matches!(finding, Finding::RulBelow { .. }), "{finding:?}");
                        assert!(below.replace(c).is_none(), "flagged once");
                    }
                }
            }
            offline
                .observe(&mut window, &cycle.settings, &cycle.sensors)
                .unwrap();
        }
        let life = history.cycles.len();
        assert_eq!(readings, life - 1, "one estimate a cycle");
        // Half an hour is 30 cycles of a minute: flagged in the last 60.
        let below = below.expect("flagged before the end");
        assert!(below + 60 >= life && below < life, "at {below} of {life}");
        // A saved follower goes on as the one it was saved from; a
        // maintenance starts a new life and clears the flag.
        let mut g = hosted.clone().restore(&f.save()).unwrap();
        for follower in [&mut f, &mut g] {
            out.clear();
            follower.step(&status(at(life, 0), "maintenance"), &mut out);
            assert_eq!(
                out.findings,
                vec![Finding::Cleared {
                    measurand: Measurand::Rul
                }]
            );
        }
        let e = build(&spec(), &crate::models::no_files).err().unwrap();
        assert!(e.to_string().contains("rul.json"), "{e}");
    }
}
