//! A machine's stream of observations as the cycles a RUL model reads.
//!
//! A twin's machine reports readings one at a time, at their own periods;
//! a RUL model reads one row per cycle. A cycle here is a fixed span of
//! time (an hour in the factory): the row is the mean of each column's
//! values seen while the machine was running. A cycle with too few values
//! of some column (the machine stopped, a sensor dropped out) yields no
//! row. A machine that goes into maintenance, or runs again after it went
//! down, starts a new life. Service
//! (the hosted model) and training (`twin train rul --scenario`) build
//! their rows through this same type, so a model sees in service exactly
//! the rows it learned from.

use serde::{Deserialize, Serialize};
use twin_core::{Measurand, Observation, SimTime, Value};

/// Which measurands make a row, and how long a cycle is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    /// Operating conditions (the machine's load): they pick the regime.
    pub settings: Vec<Measurand>,
    pub sensors: Vec<Measurand>,
    /// Length of a cycle, ms.
    pub cycle_ms: i64,
    /// Values each column needs in a cycle for the cycle to count.
    pub min_values: u32,
}

impl Columns {
    fn index(&self, m: Measurand) -> Option<usize> {
        self.settings
            .iter()
            .chain(&self.sensors)
            .position(|x| *x == m)
    }
    fn width(&self) -> usize {
        self.settings.len() + self.sensors.len()
    }
    pub fn check(&self) -> Result<(), String> {
        if self.sensors.is_empty() {
            return Err("no sensor column".into());
        }
        if self.cycle_ms < 1_000 {
            return Err(format!("a cycle of {} ms is too short", self.cycle_ms));
        }
        Ok(())
    }
}

/// What an observation completed.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A cycle's row, and when the cycle ended.
    Row {
        settings: Vec<f64>,
        sensors: Vec<f64>,
        end: SimTime,
    },
    /// The machine went into maintenance: what follows is a new life.
    Renewed,
    /// The machine went down: its life ended with the cycle before.
    Failed,
}

/// One machine's cycle being summed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cycles {
    /// The cycle being summed (time / cycle length).
    current: Option<i64>,
    running: bool,
    sums: Vec<(f64, u32)>,
    /// The status last seen.
    status: Option<String>,
}

impl Cycles {
    /// Takes one observation of the machine; returns what it completed
    /// (at most one cycle's row, or a change of life).
    pub fn observe(&mut self, cols: &Columns, obs: &Observation) -> Option<Step> {
        if self.sums.len() != cols.width() {
            self.sums = vec![(0.0, 0); cols.width()];
        }
        let k = obs.time.as_ms().div_euclid(cols.cycle_ms);
        let mut done = None;
        match self.current {
            Some(c) if k > c => {
                done = self.close(cols, SimTime((c + 1) * cols.cycle_ms));
                self.current = Some(k);
            }
            None => self.current = Some(k),
            _ => {}
        }
        if obs.measurand == Measurand::Status {
            if let Value::Text(t) = &obs.value {
                let was = self.status.replace(t.to_string());
                self.running = &**t == "running";
                if was.as_deref() != Some(&**t) {
                    match &**t {
                        // A repair, or a machine running again after it
                        // failed (repaired on the spot): a new life.
                        "maintenance" => {
                            self.reset();
                            return Some(Step::Renewed);
                        }
                        "running" if was.as_deref() == Some("down") => {
                            self.reset();
                            return Some(Step::Renewed);
                        }
                        "down" => {
                            // The failing cycle counts: its row, then the end.
                            let row = self.close(cols, obs.time);
                            return row.or(Some(Step::Failed));
                        }
                        _ => {}
                    }
                }
            }
            return done;
        }
        if self.running
            && let (Some(i), Some(x)) = (cols.index(obs.measurand), obs.value.as_f64())
        {
            self.sums[i].0 += x;
            self.sums[i].1 += 1;
        }
        done
    }

    /// The row of the cycle being summed, if every column had enough
    /// values; the sums start again either way.
    fn close(&mut self, cols: &Columns, end: SimTime) -> Option<Step> {
        let full = self.sums.iter().all(|(_, n)| *n >= cols.min_values.max(1));
        let means: Vec<f64> = self
            .sums
            .iter()
            .map(|(s, n)| s / (*n).max(1) as f64)
            .collect();
        self.sums.iter_mut().for_each(|s| *s = (0.0, 0));
        full.then(|| {
            let (settings, sensors) = means.split_at(cols.settings.len());
            Step::Row {
                settings: settings.to_vec(),
                sensors: sensors.to_vec(),
                end,
            }
        })
    }

    fn reset(&mut self) {
        self.sums.iter_mut().for_each(|s| *s = (0.0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{EntityId, Kind};

    fn cols() -> Columns {
        Columns {
            settings: vec![Measurand::Load],
            sensors: vec![Measurand::VibrationRms],
            cycle_ms: 60_000,
            min_values: 3,
        }
    }

    fn obs(s: i64, m: Measurand, v: Value) -> Observation {
        Observation::number(EntityId::new(Kind::Machine, "c"), SimTime::secs(s), m, 0.0)
            .with_value(v)
    }

    #[test]
    fn a_cycle_is_the_mean_of_what_ran_and_a_maintenance_starts_a_life() {
        let c = cols();
        let mut cy = Cycles::default();
        let status = |s, t: &str| obs(s, Measurand::Status, Value::text(t));
        let num = |s, m, x| obs(s, m, Value::Number(x));
        assert_eq!(cy.observe(&c, &status(0, "running")), None);
        for s in 0..60 {
            assert_eq!(
                cy.observe(&c, &num(s, Measurand::VibrationRms, s as f64)),
                None
            );
        }
        cy.observe(&c, &num(10, Measurand::Load, 80.0));
        // Load seen once only: the first cycle does not count.
        assert_eq!(cy.observe(&c, &num(60, Measurand::Load, 80.0)), None);
        for s in 61..120 {
            if s == 100 {
                // Stopped: what follows is not counted.
                cy.observe(&c, &status(s, "idle"));
            }
            cy.observe(&c, &num(s, Measurand::Load, 60.0));
            cy.observe(
                &c,
                &num(s, Measurand::VibrationRms, if s < 100 { 2.0 } else { 7.0 }),
            );
        }
        let Some(Step::Row {
            settings,
            sensors,
            end,
        }) = cy.observe(&c, &num(120, Measurand::VibrationRms, 9.0))
        else {
            panic!("the second cycle closes");
        };
        assert_eq!(end, SimTime::secs(120));
        assert!(
            (settings[0] - (80.0 + 39.0 * 60.0) / 40.0).abs() < 1e-9,
            "{settings:?}"
        );
        assert_eq!(sensors, vec![2.0]);
        assert_eq!(
            cy.observe(&c, &status(130, "maintenance")),
            Some(Step::Renewed)
        );
        assert_eq!(cy.observe(&c, &status(131, "maintenance")), None);
        assert_eq!(cy.observe(&c, &status(140, "down")), Some(Step::Failed));
        assert_eq!(cy.observe(&c, &status(150, "running")), Some(Step::Renewed));
    }
}
