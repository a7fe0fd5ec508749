//! Irrigation: when and how much to water each parcel or garden bed, sent
//! as valve and pump commands, each decision a [`Plan`] with its reasons.
//!
//! Policy `twin`, decided every hour for each parcel whose probe reports:
//! - the soil moisture now is the mean of its readings over the last two
//!   hours; the crop's demand (points of moisture an hour) is the probe's
//!   own drying rate since the last wetting (least squares over up to two
//!   days of hourly means), blended with a prior from the reference
//!   evapotranspiration and a crop coefficient from NDVI (or from the
//!   growth stage when no NDVI is known);
//! - nothing is needed while the soil stays above the stress level (the
//!   depletion fraction of the available water used) plus `lead_h` hours
//!   of demand;
//! - below that, the plan **waits** when the rain forecast (its effective
//!   share) before the soil would reach stress covers at least half the
//!   deficit, and is cancelled if the rain brings the soil back;
//! - otherwise it **waters** the deficit up to the refill level, less the
//!   rain forecast within the window: the parcel's valve opens, its pump
//!   starts, and both close when the depth is delivered at the pump's rate.
//!
//! Policy `fixed-schedule` waters every parcel `depth_mm` every `every_d`
//! days, whatever the soil and the sky: the baseline.
//!
//! Valves and pumps are reconciled with what they report: a valve open
//! without a plan is closed (the world's valves start open), a command not
//! reflected in a report is sent again after half an hour. With `remind`,
//! each watering and each plan held back for rain is also an informational
//! alert on the bed (GrowWise's notifications), cleared when it closes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::plan::{Plan, PlanKind, PlanState};
use twin_core::{Action, Command, EntityId, EventBody, EventType, Kind, Measurand, SimTime, Value};

use crate::schedule::Solve;
use crate::{Error, Planner, Seen, Spec, Wants};

mod params;
#[cfg(test)]
mod tests;

use params::Params;
pub use params::Policy;

/// How often a bed is looked at.
const DECIDE_EVERY: SimTime = SimTime::hours(1);
/// Closed plans kept for the API, newest last.
const KEEP_CLOSED: usize = 5_000;
const HOUR_MS: i64 = 3_600_000;
/// Hours of soil readings kept for the drying rate.
const KEEP_HOURS: i64 = 48;
/// Hours after a wetting before the drying rate is read again.
const SETTLE_HOURS: i64 = 3;
/// Hourly means the drying rate needs before it counts.
const MIN_HOURS: usize = 12;
/// A valve or pump command not reflected in a report is sent again after
/// this long.
const RESEND: SimTime = SimTime::minutes(30);

/// What the planner knows of a parcel or bed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Bed {
    pump: Option<EntityId>,
    area_m2: f64,
    /// Hourly sums of the soil readings: (hour, sum, count), oldest first.
    hours: VecDeque<(i64, f64, u32)>,
    red: Option<(SimTime, f64)>,
    nir: Option<(SimTime, f64)>,
    ndvi: Option<f64>,
    /// BBCH code, when reported.
    stage: Option<f64>,
    /// The valve as reported (open or not), and the last command sent.
    valve: Option<bool>,
    sent: Option<(bool, SimTime)>,
    /// The plan waiting or under way.
    plan: Option<u64>,
    /// When water last reached it (the end of a watering).
    wetted: Option<SimTime>,
    next_fixed: Option<SimTime>,
    /// When the policy last looked at it (with readings to go on).
    decided: Option<SimTime>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Pump {
    on: Option<bool>,
    sent: Option<(bool, SimTime)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    next_id: u64,
    /// Oldest first; ids increase.
    plans: Vec<Plan>,
    beds: BTreeMap<EntityId, Bed>,
    pumps: BTreeMap<EntityId, Pump>,
    /// The latest rain forecast: when it was issued, mm in each hour after.
    forecast: Option<(SimTime, Vec<f64>)>,
    /// When the rain gauge last saw rain.
    last_rain: Option<SimTime>,
    revision: u64,
}

pub struct Irrigation {
    p: Params,
    s: State,
    name: String,
}

pub fn build(spec: &Spec) -> Result<Box<dyn Planner>, Error> {
    Ok(Box::new(Irrigation {
        p: Params::of(spec)?,
        s: State::default(),
        name: spec.key().to_string(),
    }))
}

fn set(entity: EntityId, now: SimTime, measurand: Measurand, value: Value) -> Command {
    Command {
        entity,
        time: now,
        action: Action::SetDesired { measurand, value },
    }
}

/// Crop coefficient from NDVI (a linear fit of the kind used with
/// Sentinel-2), or from the BBCH growth stage.
fn crop_coefficient(ndvi: Option<f64>, stage: Option<f64>) -> f64 {
    match (ndvi, stage) {
        (Some(n), _) => (1.25 * n + 0.2).clamp(0.3, 1.2),
        (None, Some(b)) if b < 10.0 => 0.4,
        (None, Some(b)) if b < 60.0 => 0.8,
        (None, Some(b)) if b < 80.0 => 1.05,
        (None, Some(_)) => 0.8,
        (None, None) => 1.0,
    }
}

impl Bed {
    /// Mean soil moisture over the last two hours of readings, if recent.
    fn moisture(&self, now: SimTime) -> Option<f64> {
        let hour = now.as_ms().div_euclid(HOUR_MS);
        let (sum, n) = self
            .hours
            .iter()
            .rev()
            .take_while(|(h, _, _)| *h >= hour - 1)
            .fold((0.0, 0), |(s, n), (_, x, k)| (s + x, n + k));
        (n > 0).then(|| sum / n as f64)
    }

    /// Drying rate, points of moisture an hour, from the hourly means
    /// since the last wetting; `None` when too few.
    fn drying(&self, since: Option<SimTime>, ceiling: f64) -> Option<f64> {
        let from = since.map_or(i64::MIN, |t| t.as_ms().div_euclid(HOUR_MS) + SETTLE_HOURS);
        let pts: Vec<(f64, f64)> = self
            .hours
            .iter()
            .filter(|(h, _, n)| *h >= from && *n > 0)
            .map(|(h, s, n)| (*h as f64, s / *n as f64))
            .filter(|(_, m)| *m < ceiling)
            .collect();
        if pts.len() < MIN_HOURS {
            return None;
        }
        let n = pts.len() as f64;
        let (mx, my) = pts
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
        let (sxy, sxx) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
            (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
        });
        (sxx > 0.0).then(|| (-sxy / sxx).max(0.0))
    }
}

/// A reminder about a bed's watering (`None` clears it).
fn remind(entity: EntityId, now: SimTime, message: Option<String>) -> Command {
    Command {
        entity,
        time: now,
        action: Action::Remind {
            measurand: Measurand::Irrigation,
            message: message.map(Arc::from),
        },
    }
}

impl Irrigation {
    /// The plan a bed is waiting on or running, if any.
    fn plan_of(&self, bed: &Bed) -> Option<&Plan> {
        let i = self
            .s
            .plans
            .binary_search_by_key(&bed.plan?, |p| p.id)
            .ok()?;
        Some(&self.s.plans[i])
    }

    fn plan_mut(&mut self, id: u64) -> Option<&mut Plan> {
        let i = self.s.plans.binary_search_by_key(&id, |p| p.id).ok()?;
        Some(&mut self.s.plans[i])
    }

    /// Rain forecast to enter the soil within `hours` from `now`, mm.
    fn rain_within(&self, now: SimTime, hours: f64) -> f64 {
        let Some((issued, mm)) = &self.s.forecast else {
            return 0.0;
        };
        let from = (now - *issued).as_secs_f64() / 3600.0;
        let to = from + hours;
        let total: f64 = mm
            .iter()
            .enumerate()
            .map(|(h, x)| {
                let overlap = (to.min(h as f64 + 1.0) - from.max(h as f64)).clamp(0.0, 1.0);
                x * overlap
            })
            .sum();
        total * self.p.rain_efficiency
    }

    /// Hours until the forecast brings `mm` into the soil, if it does
    /// within the window.
    fn rain_arrives(&self, now: SimTime, mm: f64) -> Option<f64> {
        (1..=self.p.rain_window_h.ceil() as usize)
            .map(|h| h as f64)
            .find(|&h| self.rain_within(now, h) >= mm)
    }

    /// Points of moisture the crop takes an hour.
    fn demand(&self, bed: &Bed) -> f64 {
        let prior =
            self.p.et_mm_day * crop_coefficient(bed.ndvi, bed.stage) / 24.0 / self.p.mm_per_pct();
        let since = match (bed.wetted, self.s.last_rain) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match bed.drying(since, self.p.field_capacity - 1.0) {
            Some(measured) => {
                let n = bed.hours.len() as f64;
                (measured * n + prior * 24.0) / (n + 24.0)
            }
            None => prior,
        }
    }

    fn open_plan(&mut self, entity: EntityId, now: SimTime) -> u64 {
        let id = self.s.next_id;
        self.s.next_id += 1;
        self.s.plans.push(Plan {
            id,
            kind: PlanKind::Irrigation,
            entity,
            created: now,
            state: PlanState::Waiting,
            start: now,
            end: now,
            water_mm: 0.0,
            water_m3: 0.0,
            reason: String::new(),
            commands: Vec::new(),
        });
        if let Some(b) = self.s.beds.get_mut(&entity) {
            b.plan = Some(id);
        }
        id
    }

    /// Holds the bed's plan back for the rain.
    fn wait(&mut self, entity: EntityId, now: SimTime, reason: String, out: &mut Vec<Command>) {
        let id = match self.s.beds[&entity].plan {
            Some(id) => id,
            None => self.open_plan(entity, now),
        };
        let reminding = self.p.remind;
        let plan = self.plan_mut(id).expect("the bed's plan is kept");
        if plan.reason == reason {
            return;
        }
        let first = plan.reason.is_empty();
        plan.reason = reason;
        if reminding && first {
            let c = remind(
                entity,
                now,
                Some(format!("{entity}: watering held back: {}", plan.reason)),
            );
            plan.commands.push(c.clone());
            out.push(c);
        }
        self.s.revision += 1;
    }

    /// Starts watering the bed: `depth` mm at the pump's rate.
    fn water(
        &mut self,
        entity: EntityId,
        now: SimTime,
        depth: f64,
        reason: String,
        out: &mut Vec<Command>,
    ) {
        let id = match self.s.beds[&entity].plan {
            Some(id) => id,
            None => self.open_plan(entity, now),
        };
        let bed = self.s.beds.get_mut(&entity).expect("known bed");
        let pump = bed.pump;
        let area = bed.area_m2;
        bed.sent = Some((true, now));
        let mut commands = vec![
            set(entity, now, Measurand::Irrigation, Value::Number(depth)),
            set(entity, now, Measurand::ValveOpening, Value::Number(100.0)),
        ];
        if let Some(pump) = pump {
            let p = self.s.pumps.entry(pump).or_default();
            if p.on.or(p.sent.map(|s| s.0)) != Some(true) {
                p.sent = Some((true, now));
                commands.push(set(pump, now, Measurand::PumpOn, Value::Flag(true)));
            }
        }
        let hours = depth / self.p.mm_per_hour;
        if self.p.remind {
            commands.push(remind(
                entity,
                now,
                Some(format!(
                    "{entity}: water {depth:.1} mm (about {:.0} L) now: {reason}",
                    depth * area
                )),
            ));
        }
        let plan = self.plan_mut(id).expect("the bed's plan is kept");
        plan.state = PlanState::Running;
        plan.start = now;
        plan.end = now + SimTime::from_secs_f64(hours * 3600.0);
        plan.water_mm = depth;
        plan.water_m3 = depth * area / 1000.0;
        plan.reason = reason;
        plan.commands.extend(commands.iter().cloned());
        out.extend(commands);
        self.s.revision += 1;
    }

    /// Closes the bed's plan in `state`.
    fn close(
        &mut self,
        entity: EntityId,
        now: SimTime,
        state: PlanState,
        why: Option<String>,
        out: &mut Vec<Command>,
    ) {
        let Some(id) = self.s.beds.get_mut(&entity).and_then(|b| b.plan.take()) else {
            return;
        };
        let reminding = self.p.remind;
        let Some(plan) = self.plan_mut(id) else {
            return;
        };
        let was_running = plan.state == PlanState::Running;
        plan.state = state;
        plan.end = now;
        if let Some(why) = why {
            plan.reason = format!("{} — {why}", plan.reason);
        }
        let mut commands = Vec::new();
        if was_running {
            commands.push(set(
                entity,
                now,
                Measurand::ValveOpening,
                Value::Number(0.0),
            ));
        }
        if reminding {
            commands.push(remind(entity, now, None));
        }
        plan.commands.extend(commands.iter().cloned());
        out.extend(commands);
        if was_running && let Some(b) = self.s.beds.get_mut(&entity) {
            b.sent = Some((false, now));
            b.wetted = Some(now);
        }
        self.s.revision += 1;
    }

    /// Policy `twin` for one bed; false when it has no recent reading.
    fn decide(&mut self, entity: EntityId, now: SimTime, out: &mut Vec<Command>) -> bool {
        let bed = &self.s.beds[&entity];
        let Some(m) = bed.moisture(now) else {
            return false;
        };
        let state = self.plan_of(bed).map(|p| p.state);
        if state == Some(PlanState::Running) {
            return true;
        }
        let demand = self.demand(bed).max(1e-6);
        let stress = self.p.stress_level();
        let trigger = stress + demand * self.p.lead_h;
        if m > trigger {
            if state == Some(PlanState::Waiting) {
                let why = format!("soil back at {m:.1} % — no water needed");
                self.close(entity, now, PlanState::Cancelled, Some(why), out);
            }
            return true;
        }
        let deficit = (self.p.target() - m).max(0.0) * self.p.mm_per_pct();
        let to_stress = ((m - stress) / demand).clamp(0.0, self.p.rain_window_h);
        let rain_before = self.rain_within(now, to_stress);
        let rain_window = self.rain_within(now, self.p.rain_window_h);
        let soil = format!(
            "soil {m:.1} % (stress below {stress:.1} %, demand {:.2} mm/d)",
            demand * self.p.mm_per_pct() * 24.0
        );
        if m > stress && rain_before >= 0.5 * deficit {
            let reason = format!(
                "{soil}; {rain_before:.0} mm of rain expected within {to_stress:.0} h covers the {deficit:.0} mm deficit"
            );
            self.wait(entity, now, reason, out);
            return true;
        }
        // Less the rain forecast, but never less than what keeps the crop
        // above the trigger level until that rain has come.
        let until_rain = self
            .rain_arrives(now, 0.5 * deficit)
            .unwrap_or(self.p.rain_window_h);
        let bridge = ((trigger - m).max(0.0) + demand * until_rain) * self.p.mm_per_pct();
        let depth = (deficit - rain_window).max(bridge).min(deficit);
        if depth < self.p.min_mm {
            return true;
        }
        let reason = if rain_window > 0.05 {
            format!(
                "{soil}; {deficit:.0} mm to refill, less {rain_window:.0} mm of rain expected within {:.0} h",
                self.p.rain_window_h
            )
        } else {
            format!("{soil}; {deficit:.0} mm to refill, no rain expected")
        };
        self.water(entity, now, depth, reason, out);
        true
    }

    /// Policy `fixed-schedule` for one bed.
    fn fixed(&mut self, entity: EntityId, now: SimTime, out: &mut Vec<Command>) -> bool {
        let every = SimTime::from_secs_f64(self.p.every_d * 86_400.0);
        let bed = self.s.beds.get_mut(&entity).expect("known bed");
        let due = *bed.next_fixed.get_or_insert(now);
        if now < due || bed.plan.is_some() {
            return true;
        }
        bed.next_fixed = Some(due + every);
        let depth = self.p.fixed_depth();
        let reason = format!(
            "fixed schedule: {depth:.0} mm every {} days",
            self.p.every_d
        );
        self.water(entity, now, depth, reason, out);
        true
    }

    /// Sends valve and pump commands where what they report is not what
    /// the plans want.
    fn reconcile(&mut self, now: SimTime, out: &mut Vec<Command>) {
        let mut pumps_wanted: BTreeMap<EntityId, bool> = BTreeMap::new();
        let running: Vec<bool> = self
            .s
            .beds
            .values()
            .map(|b| {
                self.plan_of(b)
                    .is_some_and(|p| p.state == PlanState::Running)
            })
            .collect();
        for ((id, bed), want) in self.s.beds.iter_mut().zip(running) {
            if let Some(p) = bed.pump {
                *pumps_wanted.entry(p).or_default() |= want;
            }
            let Some(reported) = bed.valve else {
                continue;
            };
            let recently = bed
                .sent
                .is_some_and(|(w, at)| w == want && now - at < RESEND);
            if reported != want && !recently {
                bed.sent = Some((want, now));
                let pct = if want { 100.0 } else { 0.0 };
                out.push(set(*id, now, Measurand::ValveOpening, Value::Number(pct)));
            }
        }
        for (id, want) in pumps_wanted {
            let p = self.s.pumps.entry(id).or_default();
            let mismatch = match p.on {
                Some(on) => on != want,
                None => p.sent.is_some_and(|s| s.0 != want),
            };
            let recently = p.sent.is_some_and(|(w, at)| w == want && now - at < RESEND);
            if mismatch && !recently {
                p.sent = Some((want, now));
                out.push(set(id, now, Measurand::PumpOn, Value::Flag(want)));
            }
        }
    }

    /// Drops the oldest closed plans beyond what is kept.
    fn trim(&mut self) {
        if self.s.plans.len() <= KEEP_CLOSED {
            return;
        }
        let closed = self.s.plans.iter().filter(|p| p.state.is_closed()).count();
        let mut drop = closed.saturating_sub(KEEP_CLOSED);
        if drop > 0 {
            self.s.plans.retain(|p| {
                if drop > 0 && p.state.is_closed() {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}

impl Planner for Irrigation {
    fn wants(&self) -> Wants {
        Wants {
            kinds: vec![Kind::Parcel, Kind::Zone, Kind::Machine],
            types: vec![EventType::StateChanged],
        }
    }

    fn observe(&mut self, seen: &Seen<'_>) {
        let e = seen.event;
        let EventBody::StateChanged { measurand, value } = &e.body else {
            return;
        };
        let t = e.time;
        match e.entity.kind() {
            Kind::Parcel => {
                let bed = self.s.beds.entry(e.entity).or_default();
                if seen.fed_by.is_some() {
                    bed.pump = seen.fed_by;
                }
                if let Some(a) = seen.area_m2 {
                    bed.area_m2 = a;
                }
                match (measurand, value) {
                    (Measurand::SoilMoisture, Value::Number(x)) => {
                        let hour = t.as_ms().div_euclid(HOUR_MS);
                        match bed.hours.back_mut() {
                            Some((h, s, n)) if *h == hour => {
                                *s += x;
                                *n += 1;
                            }
                            Some((h, _, _)) if *h > hour => {}
                            _ => bed.hours.push_back((hour, *x, 1)),
                        }
                        while bed
                            .hours
                            .front()
                            .is_some_and(|(h, _, _)| *h <= hour - KEEP_HOURS)
                        {
                            bed.hours.pop_front();
                        }
                    }
                    (Measurand::Red, Value::Number(x)) => bed.red = Some((t, *x)),
                    (Measurand::Nir, Value::Number(x)) => bed.nir = Some((t, *x)),
                    (Measurand::Ndvi, Value::Number(x)) => bed.ndvi = Some(*x),
                    (Measurand::GrowthStage, Value::Number(x)) => bed.stage = Some(*x),
                    (Measurand::ValveOpening, Value::Number(x)) => bed.valve = Some(*x > 0.0),
                    (Measurand::Irrigation, Value::Number(_)) => bed.wetted = Some(t),
                    _ => {}
                }
                if matches!(measurand, Measurand::Red | Measurand::Nir)
                    && let (Some((tr, r)), Some((tn, n))) = (bed.red, bed.nir)
                    && (tr - tn).as_ms().abs() < HOUR_MS
                    && let Some(ndvi) = twin_core::state::ndvi(r, n)
                {
                    bed.ndvi = Some(ndvi);
                }
            }
            Kind::Machine => {
                if let (Measurand::PumpOn, Value::Flag(on)) = (measurand, value) {
                    self.s.pumps.entry(e.entity).or_default().on = Some(*on);
                }
            }
            Kind::Zone => match (measurand, value) {
                (Measurand::RainfallForecast, Value::Forecast(path)) if path.step_ms == HOUR_MS => {
                    self.s.forecast = Some((t, path.points.iter().map(|p| p.value).collect()));
                }
                (Measurand::Rainfall, Value::Number(x)) if *x > 0.1 => {
                    self.s.last_rain = Some(self.s.last_rain.map_or(t, |l| l.max(t)));
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn step(&mut self, now: SimTime, _solve: &mut dyn Solve, out: &mut Vec<Command>) {
        let done: Vec<EntityId> = self
            .s
            .beds
            .iter()
            .filter(|(_, b)| {
                self.plan_of(b)
                    .is_some_and(|p| p.state == PlanState::Running && p.end <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.close(id, now, PlanState::Done, None, out);
        }
        // Each bed is looked at hourly, and as soon as it first reports.
        let due: Vec<EntityId> = self
            .s
            .beds
            .iter()
            .filter(|(_, b)| b.decided.is_none_or(|d| now - d >= DECIDE_EVERY))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let looked = match self.p.policy {
                Policy::Twin => self.decide(id, now, out),
                Policy::FixedSchedule => self.fixed(id, now, out),
            };
            if looked && let Some(b) = self.s.beds.get_mut(&id) {
                b.decided = Some(now);
            }
        }
        self.trim();
        self.reconcile(now, out);
    }

    fn plans(&self) -> &[Plan] {
        &self.s.plans
    }

    fn revision(&self) -> u64 {
        self.s.revision
    }

    fn save(&self) -> Vec<u8> {
        crate::save(&self.s)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.s = crate::restore(&self.name, bytes)?;
        Ok(())
    }
}
