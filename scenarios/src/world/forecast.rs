//! A weather service's rain forecast, when the scenario asks for one.
//!
//! For a forecast to know anything, the wet spells must exist before they
//! fall: the [`Sky`] draws them ahead (the continuous-time form of the
//! weather's two-state chain: exponential dry gaps and spells of
//! `SPELL_HOURS` on average), and the weather reads whether it rains now
//! from it. Each issue sums, hour by hour ahead, the spells the service
//! foresaw (each with probability `hit_rate`, fixed when the spell is
//! drawn, so a missed spell stays missed in every issue) at the mean wet
//! rate, plus, with probability `false_alarm`, a spell that will not come.

use std::collections::VecDeque;

use rand::RngExt;
use twin_core::rng::Light;
use twin_core::value::{Estimate, Path};
use twin_core::{EntityId, Measurand, Observation, SimTime, Value};

use crate::spec::{ForecastSpec, WeatherSpec};

#[derive(Clone, Copy, Debug)]
struct Spell {
    start: SimTime,
    end: SimTime,
    foreseen: bool,
}

/// The wet spells to come, and the service that forecasts them.
#[derive(Clone, Debug)]
pub struct Sky {
    spec: ForecastSpec,
    /// Spells starting per hour of dry weather, and their mean length.
    start_per_h: f64,
    spell_h: f64,
    wet_mm_h: f64,
    spells: VecDeque<Spell>,
    /// Spells are drawn up to here.
    until: SimTime,
    next_issue: SimTime,
    /// Where the forecast is published.
    region: EntityId,
    rng: Light,
}

fn exp_hours(rng: &mut Light, mean_h: f64) -> SimTime {
    let u: f64 = rng.random::<f64>().max(1e-12);
    SimTime::from_secs_f64(-u.ln() * mean_h * 3600.0)
}

impl Sky {
    pub fn new(weather: &WeatherSpec, spell_h: f64, region: EntityId, rng: Light) -> Option<Sky> {
        let spec = weather.forecast?;
        Some(Sky {
            spec,
            start_per_h: (weather.rain_days_per_month / 30.0 / 24.0).max(1e-9),
            spell_h,
            wet_mm_h: weather.rain_mm_per_wet_hour,
            spells: VecDeque::new(),
            until: SimTime::ZERO,
            next_issue: SimTime::ZERO,
            region,
            rng,
        })
    }

    /// Draws spells until `to` is covered.
    fn draw(&mut self, to: SimTime) {
        while self.until <= to {
            let start = self.until + exp_hours(&mut self.rng, 1.0 / self.start_per_h);
            let end = start + exp_hours(&mut self.rng, self.spell_h).max(SimTime::minutes(10));
            let foreseen = self.rng.random::<f64>() < self.spec.hit_rate;
            self.spells.push_back(Spell {
                start,
                end,
                foreseen,
            });
            self.until = end;
        }
    }

    /// Whether it rains at `now`; forgets the spells that are over.
    pub fn wet(&mut self, now: SimTime) -> bool {
        let ahead = SimTime::hours(self.spec.hours as i64 + 1);
        self.draw(now + ahead);
        while self.spells.front().is_some_and(|s| s.end <= now) {
            self.spells.pop_front();
        }
        self.spells.front().is_some_and(|s| s.start <= now)
    }

    /// The forecast issued at `now`, when one is due.
    pub fn issue(&mut self, now: SimTime) -> Option<Observation> {
        if now < self.next_issue {
            return None;
        }
        self.next_issue = now + self.spec.every.0;
        let hours = self.spec.hours;
        let mut mm = vec![0.0; hours];
        let wet_mm_h = self.wet_mm_h;
        let add = |start: SimTime, end: SimTime, mm: &mut [f64]| {
            for (h, slot) in mm.iter_mut().enumerate() {
                let from = now + SimTime::hours(h as i64);
                let to = from + SimTime::hours(1);
                let overlap = (end.min(to) - start.max(from)).as_secs_f64() / 3600.0;
                *slot += overlap.max(0.0) * wet_mm_h;
            }
        };
        for s in self.spells.iter().filter(|s| s.foreseen) {
            add(s.start, s.end, &mut mm);
        }
        if self.rng.random::<f64>() < self.spec.false_alarm {
            let start =
                now + SimTime::from_secs_f64(self.rng.random::<f64>() * hours as f64 * 3600.0);
            let end = start + exp_hours(&mut self.rng, self.spell_h);
            add(start, end, &mut mm);
        }
        let points = mm
            .into_iter()
            .map(|x| Estimate {
                value: x,
                low: 0.0,
                // Wet hours are exponential around the mean: three times it
                // covers 95 % of them.
                high: x * 3.0,
            })
            .collect();
        let value = Value::Forecast(Box::new(Path {
            step_ms: SimTime::hours(1).as_ms(),
            points,
        }));
        Some(
            Observation::number(self.region, now, Measurand::RainfallForecast, 0.0)
                .with_value(value),
        )
    }
}
