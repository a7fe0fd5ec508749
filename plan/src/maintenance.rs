//! Maintenance: work orders from what the twin knows of its machines,
//! scheduled onto technicians, sent, and closed when the machine runs again.
//!
//! What opens an order depends on the policy:
//! - `twin`: the machine's RUL below `horizon_h` (priority 1 when even the
//!   interval's low end is within a day), or anomaly alerts on at least
//!   `anomaly_corroboration` of its series within a day while its RUL is
//!   unknown or within 1.5 × the horizon, and breakdowns;
//! - `fixed-interval`: a service every `every_h` operating hours (time the
//!   machine reported running), and breakdowns;
//! - `run-to-failure`: breakdowns only.
//!
//! A breakdown escalates the machine's waiting order or opens one. An order
//! not yet begun is cancelled when its evidence goes away (the RUL back
//! above 1.5 × the horizon). Open and scheduled orders are placed on the
//! technicians' shifts ([`crate::schedule`]) whenever orders or the crew
//! change, and at least hourly; a technician with nothing in hand is sent
//! to the first order of their day once it is time to leave for it. The
//! order is in progress until the machine has been in maintenance and runs
//! again (done); one whose technician never reached it within a day is
//! opened again.
//!
//! Every change of an order goes to the machine as an
//! [`Action::WorkOrder`] command: the twin publishes it, and the world
//! acts on the `in_progress` one by sending that technician.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use twin_core::workorder::{Evidence, OrderState, Trigger, WorkOrder};
use twin_core::{Action, Command, EntityId, EventBody, EventType, Kind, Measurand, SimTime, Value};

use crate::schedule::{self, Effort, Job, Member, Solve};
use crate::{Error, Planner, Seen, Spec, Wants};

/// Closed orders kept for the API, newest last.
const KEEP_CLOSED: usize = 2_000;
/// An order sent whose machine never went into maintenance is opened again
/// after this long.
const LOST_AFTER: SimTime = SimTime::hours(24);
const DAY_MS: i64 = 86_400_000;
/// Above this many horizons the RUL says a machine is far from its end: a
/// waiting order is cancelled, and anomalies alone open none.
const RECOVERED: f64 = 1.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Twin,
    FixedInterval,
    RunToFailure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "twin")]
    policy: Policy,
    /// Twin: an order when the RUL falls below this many hours.
    #[serde(default = "d72")]
    horizon_h: f64,
    /// Twin: distinct series of a machine with an anomaly within a day
    /// before an order is opened; 0 leaves anomalies out.
    #[serde(default = "d2")]
    anomaly_corroboration: usize,
    /// Fixed interval: operating hours between services.
    #[serde(default = "d500")]
    every_h: f64,
    /// Estimated time at the machine for a service, and for a repair after
    /// a breakdown.
    #[serde(default = "d3")]
    repair_h: f64,
    #[serde(default = "d12")]
    breakdown_repair_h: f64,
    /// Technicians' walking speed.
    #[serde(default = "d4_5")]
    speed_kmh: f64,
    /// The working day, hours from midnight, every day.
    #[serde(default = "day")]
    shift: [f64; 2],
    /// Shifts a schedule fills: the current (or next) one and as many
    /// after it; what does not fit waits for a later schedule.
    #[serde(default = "d1u")]
    shifts_ahead: usize,
    /// The skill each machine subtype needs (`mechanical` otherwise).
    #[serde(default)]
    skills: BTreeMap<String, String>,
    /// Parts an order on each machine subtype takes.
    #[serde(default)]
    parts: BTreeMap<String, Vec<String>>,
    /// Skills of technicians by name; one not listed has every skill
    /// named in `skills` (and `mechanical`). Technicians are the twin's
    /// vehicles of subtype `technician`.
    #[serde(default)]
    crew: BTreeMap<String, Vec<String>>,
    /// Generations of the scheduling metaheuristic.
    #[serde(default = "d20u")]
    generations: usize,
}

fn twin() -> Policy {
    Policy::Twin
}
fn d72() -> f64 {
    72.0
}
fn d2() -> usize {
    2
}
fn d500() -> f64 {
    500.0
}
fn d3() -> f64 {
    3.0
}
fn d12() -> f64 {
    12.0
}
fn d4_5() -> f64 {
    4.5
}
fn day() -> [f64; 2] {
    [6.0, 22.0]
}
fn d1u() -> usize {
    1
}
fn d20u() -> usize {
    20
}

/// What the planner knows of a machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Machine {
    subtype: CompactString,
    at: Option<(f64, f64)>,
    status: CompactString,
    /// Whether it went into maintenance since its order was sent.
    serviced: bool,
    rul: Option<[f64; 3]>,
    running_since: Option<SimTime>,
    /// Operating hours since the last service, up to `running_since`.
    operating_h: f64,
    /// (time, series, score) of recent anomalies.
    anomalies: Vec<(SimTime, EntityId, f64)>,
}

impl Machine {
    fn operating_at(&self, now: SimTime) -> f64 {
        self.operating_h
            + self
                .running_since
                .map_or(0.0, |s| (now - s).as_secs_f64() / 3600.0)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Technician {
    at: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    next_id: u64,
    orders: Vec<WorkOrder>,
    /// When each scheduled order's technician should leave for it, and
    /// when each order in progress was sent.
    leave: BTreeMap<u64, SimTime>,
    machines: BTreeMap<EntityId, Machine>,
    technicians: BTreeMap<EntityId, Technician>,
    /// Orders or crew changed since the last schedule.
    dirty: bool,
    last_plan: Option<SimTime>,
    revision: u64,
    /// The first place seen: the origin of the local plane.
    origin: Option<(f64, f64)>,
    /// Changes sent per order whose event has not come back yet: the
    /// events of this planner's own changes are not news to it.
    echoes: BTreeMap<u64, u32>,
}

pub struct Maintenance {
    p: Params,
    s: State,
    name: String,
}

pub fn build(spec: &Spec) -> Result<Box<dyn Planner>, Error> {
    let p: Params = spec.params()?;
    let bad = |what: String| Error::Params {
        planner: spec.planner.clone(),
        what,
    };
    if !(p.horizon_h > 0.0 && p.every_h > 0.0 && p.repair_h > 0.0 && p.breakdown_repair_h > 0.0) {
        return Err(bad(
            "horizon_h, every_h and the repair times must be positive".into(),
        ));
    }
    if !(p.speed_kmh > 0.0 && p.speed_kmh.is_finite()) {
        return Err(bad(format!("speed_kmh {} is not a speed", p.speed_kmh)));
    }
    let [a, b] = p.shift;
    if !(0.0..=24.0).contains(&a) || !(0.0..=24.0).contains(&b) || a >= b {
        return Err(bad(format!(
            "shift [{a}, {b}] is not a span of hours within a day"
        )));
    }
    if !(1..=30).contains(&p.shifts_ahead) || !(1..=1000).contains(&p.generations) {
        return Err(bad(
            "shifts_ahead is 1 to 30 and generations 1 to 1000".into()
        ));
    }
    Ok(Box::new(Maintenance {
        p,
        s: State::default(),
        name: spec.key().to_string(),
    }))
}

impl Maintenance {
    fn skill(&self, subtype: &str) -> CompactString {
        self.p
            .skills
            .get(subtype)
            .map_or_else(|| "mechanical".into(), |s| s.as_str().into())
    }

    fn skills_of(&self, tech: EntityId) -> Vec<String> {
        let name = tech.to_string();
        let local = name.split_once('/').map_or(name.as_str(), |(_, n)| n);
        match self.p.crew.get(local) {
            Some(s) => s.clone(),
            None => {
                let mut all: Vec<String> = self.p.skills.values().cloned().collect();
                all.push("mechanical".into());
                all.sort();
                all.dedup();
                all
            }
        }
    }

    /// Metres east and north of the origin.
    fn plane(&self, (lon, lat): (f64, f64)) -> (f64, f64) {
        let (lon0, lat0) = self.s.origin.unwrap_or((lon, lat));
        (
            (lon - lon0) * 111_320.0 * lat0.to_radians().cos(),
            (lat - lat0) * 110_540.0,
        )
    }

    fn active(&self, machine: EntityId) -> Option<usize> {
        self.s
            .orders
            .iter()
            .rposition(|o| o.machine == machine && !o.state.is_closed())
    }

    fn changed(
        &mut self,
        i: usize,
        state: OrderState,
        now: SimTime,
        by: &str,
        out: &mut Vec<Command>,
    ) {
        let o = &mut self.s.orders[i];
        o.move_to(state, now, by);
        if matches!(
            state,
            OrderState::Open | OrderState::Cancelled | OrderState::Done
        ) {
            if state == OrderState::Open {
                o.technician = None;
            }
            o.start = None;
            self.s.leave.remove(&o.id);
        }
        *self.s.echoes.entry(o.id).or_default() += 1;
        out.push(Command {
            entity: o.machine,
            time: now,
            action: Action::WorkOrder {
                order: o.id,
                state,
                technician: o.technician,
            },
        });
        self.s.revision += 1;
        self.s.dirty = true;
    }

    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        machine: EntityId,
        trigger: Trigger,
        reason: String,
        evidence: Evidence,
        priority: u8,
        due: SimTime,
        now: SimTime,
        out: &mut Vec<Command>,
    ) {
        let subtype = self.s.machines[&machine].subtype.clone();
        let hours = if trigger == Trigger::Breakdown {
            self.p.breakdown_repair_h
        } else {
            self.p.repair_h
        };
        self.s.next_id += 1;
        let order = WorkOrder {
            id: self.s.next_id,
            machine,
            trigger,
            reason,
            evidence,
            priority,
            created: now,
            due,
            skill: self.skill(&subtype),
            duration: SimTime::from_secs_f64(hours * 3600.0),
            parts: self
                .p
                .parts
                .get(subtype.as_str())
                .map(|p| p.iter().map(|s| s.as_str().into()).collect())
                .unwrap_or_default(),
            state: OrderState::Open,
            technician: None,
            start: None,
            history: Vec::new(),
        };
        self.s.orders.push(order);
        let i = self.s.orders.len() - 1;
        self.changed(i, OrderState::Open, now, "planner", out);
    }

    /// Opens, escalates and cancels orders from what each machine shows.
    fn triggers(&mut self, now: SimTime, out: &mut Vec<Command>) {
        let ids: Vec<EntityId> = self.s.machines.keys().copied().collect();
        for id in ids {
            let m = &self.s.machines[&id];
            let active = self.active(id);
            let down = m.status == "down";
            if down {
                match active {
                    Some(i) if self.s.orders[i].state != OrderState::InProgress => {
                        let o = &mut self.s.orders[i];
                        if o.trigger != Trigger::Breakdown {
                            o.trigger = Trigger::Breakdown;
                            o.priority = 1;
                            o.due = now;
                            o.duration = SimTime::from_secs_f64(self.p.breakdown_repair_h * 3600.0);
                            o.reason = format!("{}; broke down", o.reason);
                            self.s.revision += 1;
                            self.s.dirty = true;
                        }
                    }
                    Some(_) => {}
                    None => self.open(
                        id,
                        Trigger::Breakdown,
                        "broke down".into(),
                        Evidence::default(),
                        1,
                        now,
                        now,
                        out,
                    ),
                }
                continue;
            }
            if m.status == "maintenance" {
                continue;
            }
            match (self.p.policy, active) {
                (Policy::Twin, None) => {
                    let m = &self.s.machines[&id];
                    if let Some([rul, low, high]) = m.rul.filter(|r| r[0] < self.p.horizon_h) {
                        let priority = if low < 24.0 { 1 } else { 2 };
                        let due = now + SimTime::from_secs_f64(low.max(4.0) * 3600.0);
                        self.open(
                            id,
                            Trigger::Rul,
                            format!(
                                "RUL {rul:.0} h ({low:.0}-{high:.0} h) below the {:.0} h horizon",
                                self.p.horizon_h
                            ),
                            Evidence {
                                rul_h: Some([rul, low, high]),
                                ..Evidence::default()
                            },
                            priority,
                            due,
                            now,
                            out,
                        );
                        continue;
                    }
                    let recent: Vec<&(SimTime, EntityId, f64)> = m
                        .anomalies
                        .iter()
                        .filter(|(t, _, _)| now - *t <= SimTime::hours(24))
                        .collect();
                    let mut series: Vec<EntityId> = recent.iter().map(|a| a.1).collect();
                    series.sort();
                    series.dedup();
                    let need = self.p.anomaly_corroboration;
                    // A machine whose RUL estimate says it is far from its
                    // end (as far as an order is cancelled at) is not sent
                    // a technician on anomalies alone.
                    let plausible = m.rul.is_none_or(|r| r[0] <= RECOVERED * self.p.horizon_h);
                    if need > 0 && series.len() >= need && plausible {
                        let score = recent.iter().map(|a| a.2).fold(0.0, f64::max);
                        self.open(
                            id,
                            Trigger::Anomaly,
                            format!(
                                "anomalies on {} series within a day (score {score:.2})",
                                series.len()
                            ),
                            Evidence {
                                anomaly_score: Some(score),
                                ..Evidence::default()
                            },
                            3,
                            now + SimTime::hours(48),
                            now,
                            out,
                        );
                    }
                }
                (Policy::Twin, Some(i)) => {
                    let o = &self.s.orders[i];
                    let recovered = o.trigger == Trigger::Rul
                        && matches!(o.state, OrderState::Open | OrderState::Scheduled)
                        && self.s.machines[&id]
                            .rul
                            .is_some_and(|r| r[0] > RECOVERED * self.p.horizon_h);
                    if recovered {
                        self.changed(i, OrderState::Cancelled, now, "planner", out);
                    }
                }
                (Policy::FixedInterval, None) => {
                    let h = self.s.machines[&id].operating_at(now);
                    if h >= self.p.every_h {
                        self.open(
                            id,
                            Trigger::Interval,
                            format!("{h:.0} operating hours since the last service"),
                            Evidence {
                                operating_h: Some(h),
                                ..Evidence::default()
                            },
                            2,
                            now + SimTime::hours(24),
                            now,
                            out,
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// Orders sent: done once the machine was in maintenance and runs
    /// again; opened again when it never was.
    fn progress(&mut self, now: SimTime, out: &mut Vec<Command>) {
        for i in 0..self.s.orders.len() {
            let o = &self.s.orders[i];
            if o.state != OrderState::InProgress {
                continue;
            }
            let (id, tech) = (o.id, o.technician);
            let m = &self.s.machines[&o.machine];
            if m.serviced && m.status != "maintenance" {
                let by = tech.map_or_else(|| "planner".to_string(), |t| t.to_string());
                let machine = self.s.orders[i].machine;
                if let Some(m) = self.s.machines.get_mut(&machine) {
                    m.serviced = false;
                    m.operating_h = 0.0;
                    m.running_since = m.running_since.map(|_| now);
                    m.anomalies.clear();
                    m.rul = None;
                }
                self.changed(i, OrderState::Done, now, &by, out);
            } else if !m.serviced
                && self
                    .s
                    .leave
                    .get(&id)
                    .is_some_and(|sent| now - *sent > LOST_AFTER)
            {
                self.changed(i, OrderState::Open, now, "planner", out);
            }
        }
        let closed = self.s.orders.iter().filter(|o| o.state.is_closed()).count();
        if closed > KEEP_CLOSED {
            let mut drop = closed - KEEP_CLOSED;
            self.s.orders.retain(|o| {
                if drop > 0 && o.state.is_closed() {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
            self.s.revision += 1;
        }
    }

    /// The shifts of the next days, seconds from `now`, starting no
    /// earlier than `free`.
    fn shifts(&self, now: SimTime, free: SimTime) -> Vec<(f64, f64)> {
        let [a, b] = self.p.shift;
        let first = now.as_ms().div_euclid(DAY_MS);
        (0..=self.p.shifts_ahead as i64 + 1)
            .filter_map(|d| {
                let day = (first + d) * DAY_MS;
                let from = SimTime(day + (a * 3_600_000.0) as i64).max(free).max(now);
                let to = SimTime(day + (b * 3_600_000.0) as i64);
                (to > from).then(|| ((from - now).as_secs_f64(), (to - now).as_secs_f64()))
            })
            .take(self.p.shifts_ahead)
            .collect()
    }

    /// Places the waiting orders on the crew.
    fn plan(&mut self, now: SimTime, solve: &mut dyn Solve, out: &mut Vec<Command>) {
        self.s.dirty = false;
        self.s.last_plan = Some(now);
        let waiting: Vec<usize> = (0..self.s.orders.len())
            .filter(|&i| {
                matches!(
                    self.s.orders[i].state,
                    OrderState::Open | OrderState::Scheduled
                )
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        let techs: Vec<EntityId> = self.s.technicians.keys().copied().collect();
        let mut crew = Vec::with_capacity(techs.len());
        for &t in &techs {
            // Busy with an order in hand: free once it should be done, at
            // its machine.
            let busy = self
                .s
                .orders
                .iter()
                .find(|o| o.state == OrderState::InProgress && o.technician == Some(t));
            let (free, at) = match busy {
                Some(o) => {
                    let sent = self.s.leave.get(&o.id).copied().unwrap_or(now);
                    (
                        (sent + o.duration + SimTime::hours(1)).max(now),
                        self.s.machines[&o.machine].at,
                    )
                }
                None => (now, self.s.technicians[&t].at),
            };
            crew.push(Member {
                at: at.map_or((0.0, 0.0), |p| self.plane(p)),
                skills: self.skills_of(t),
                shifts: self.shifts(now, free),
            });
        }
        let jobs: Vec<Job> = waiting
            .iter()
            .map(|&i| {
                let o = &self.s.orders[i];
                Job {
                    id: o.id,
                    at: self.s.machines[&o.machine]
                        .at
                        .map_or((0.0, 0.0), |p| self.plane(p)),
                    duration_s: o.duration.as_secs_f64(),
                    skill: o.skill.to_string(),
                    priority: o.priority,
                }
            })
            .collect();
        let speed = self.p.speed_kmh / 3.6;
        let schedule = if crew.is_empty() {
            Ok(schedule::Schedule {
                placed: Vec::new(),
                unplaced: jobs.iter().map(|j| j.id).collect(),
            })
        } else {
            solve.solve(
                &jobs,
                &crew,
                speed,
                Effort {
                    generations: self.p.generations,
                },
            )
        };
        let schedule = match schedule {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("planner {}: no schedule: {e}", self.name);
                return;
            }
        };
        let at = |s: f64| now + SimTime::from_secs_f64(s.max(0.0));
        for p in &schedule.placed {
            let Some(i) = self.s.orders.iter().position(|o| o.id == p.job) else {
                continue;
            };
            let tech = techs[p.member];
            let o = &mut self.s.orders[i];
            o.start = Some(at(p.start_s));
            self.s.leave.insert(p.job, at(p.leave_s));
            if o.state != OrderState::Scheduled || o.technician != Some(tech) {
                o.technician = Some(tech);
                self.changed(i, OrderState::Scheduled, now, "planner", out);
            }
        }
        for id in &schedule.unplaced {
            if let Some(i) = self.s.orders.iter().position(|o| o.id == *id)
                && self.s.orders[i].state == OrderState::Scheduled
            {
                self.changed(i, OrderState::Open, now, "planner", out);
            }
        }
        self.s.revision += 1;
        // The schedule itself is not news: only a new state or technician.
        self.s.dirty = false;
    }

    /// Sends each technician with nothing in hand to their first order,
    /// once it is time to leave for it.
    fn dispatch(&mut self, now: SimTime, out: &mut Vec<Command>) {
        let techs: Vec<EntityId> = self.s.technicians.keys().copied().collect();
        for t in techs {
            let busy = self
                .s
                .orders
                .iter()
                .any(|o| o.state == OrderState::InProgress && o.technician == Some(t));
            if busy {
                continue;
            }
            let next = (0..self.s.orders.len())
                .filter(|&i| {
                    let o = &self.s.orders[i];
                    o.state == OrderState::Scheduled && o.technician == Some(t)
                })
                .min_by_key(|&i| self.s.orders[i].start);
            if let Some(i) = next {
                let id = self.s.orders[i].id;
                if self.s.leave.get(&id).is_some_and(|l| *l <= now) {
                    self.s.leave.insert(id, now);
                    if let Some(m) = self.s.machines.get_mut(&self.s.orders[i].machine) {
                        m.serviced = false;
                    }
                    self.changed(i, OrderState::InProgress, now, "planner", out);
                }
            }
        }
    }
}

impl Planner for Maintenance {
    fn wants(&self) -> Wants {
        Wants {
            kinds: vec![Kind::Machine, Kind::Sensor, Kind::Vehicle],
            types: vec![
                EventType::Created,
                EventType::StateChanged,
                EventType::AnomalyDetected,
                EventType::WorkOrderChanged,
            ],
        }
    }

    fn observe(&mut self, seen: &Seen<'_>) {
        let e = seen.event;
        if self.s.origin.is_none() {
            self.s.origin = seen.place;
        }
        match (e.entity.kind(), &e.body) {
            (Kind::Vehicle, EventBody::Created) if seen.subtype == "technician" => {
                self.s.technicians.entry(e.entity).or_insert_with(|| {
                    self.s.dirty = true;
                    Technician::default()
                });
            }
            (Kind::Vehicle, EventBody::StateChanged { measurand, value }) => {
                if seen.subtype != "technician" {
                    return;
                }
                let t = self.s.technicians.entry(e.entity).or_insert_with(|| {
                    self.s.dirty = true;
                    Technician::default()
                });
                if let (Measurand::Position, Value::Point { lon, lat }) = (measurand, value) {
                    t.at = Some((*lon, *lat));
                }
            }
            (Kind::Machine, EventBody::StateChanged { measurand, value }) => {
                let m = self.s.machines.entry(e.entity).or_default();
                m.subtype = seen.subtype.into();
                if seen.place.is_some() {
                    m.at = seen.place;
                }
                match (measurand, value) {
                    (Measurand::Status, Value::Text(s)) => {
                        let s: &str = s;
                        if m.status == "running" && s != "running" {
                            if let Some(since) = m.running_since.take() {
                                m.operating_h += (e.time - since).as_secs_f64() / 3600.0;
                            }
                        } else if s == "running" && m.status != "running" {
                            m.running_since = Some(e.time);
                        }
                        if s == "maintenance" {
                            m.serviced = true;
                        }
                        m.status = s.into();
                    }
                    (Measurand::Rul, Value::Interval(r)) => m.rul = Some([r.value, r.low, r.high]),
                    _ => {}
                }
            }
            (_, EventBody::AnomalyDetected { score, .. }) => {
                let machine = match e.entity.kind() {
                    Kind::Machine => Some(e.entity),
                    _ => seen.attached_to.filter(|m| m.kind() == Kind::Machine),
                };
                if let Some(id) = machine {
                    let m = self.s.machines.entry(id).or_default();
                    m.anomalies
                        .retain(|(t, _, _)| e.time - *t <= SimTime::hours(24));
                    m.anomalies.push((e.time, e.entity, *score));
                }
            }
            (
                Kind::Machine,
                EventBody::WorkOrderChanged {
                    order,
                    state,
                    technician,
                },
            ) => {
                if let Some(n) = self.s.echoes.get_mut(order) {
                    *n -= 1;
                    if *n == 0 {
                        self.s.echoes.remove(order);
                    }
                    return;
                }
                // A change this planner did not make: an operator's.
                let Some(i) = self.s.orders.iter().position(|o| o.id == *order) else {
                    return;
                };
                let o = &mut self.s.orders[i];
                if o.state == *state && o.technician == *technician {
                    return;
                }
                if o.machine != e.entity || o.state.is_closed() {
                    return;
                }
                if *technician != o.technician && technician.is_some() {
                    o.technician = *technician;
                }
                o.move_to(*state, e.time, "operator");
                if state.is_closed() {
                    o.start = None;
                    self.s.leave.remove(order);
                }
                self.s.revision += 1;
                self.s.dirty = true;
            }
            _ => {}
        }
    }

    fn step(&mut self, now: SimTime, solve: &mut dyn Solve, out: &mut Vec<Command>) {
        self.progress(now, out);
        self.triggers(now, out);
        let hourly = self
            .s
            .last_plan
            .is_none_or(|t| now - t >= SimTime::hours(1));
        if self.s.dirty || hourly {
            self.plan(now, solve, out);
        }
        self.dispatch(now, out);
    }

    fn work_orders(&self) -> &[WorkOrder] {
        &self.s.orders
    }

    fn revision(&self) -> u64 {
        self.s.revision
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.s).expect("planner state serialises")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.s = postcard::from_bytes(bytes).map_err(|e| Error::State {
            planner: self.name.clone(),
            what: e.to_string(),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use twin_core::Event;

    use super::*;
    use crate::schedule::Recorded;

    fn planner() -> Box<dyn Planner> {
        let spec: Spec = toml::from_str("planner = \"maintenance\"").unwrap();
        build(&spec).unwrap()
    }

    fn see(
        p: &mut dyn Planner,
        entity: EntityId,
        attached: Option<EntityId>,
        t: SimTime,
        body: EventBody,
    ) {
        let event = Event {
            time: t,
            entity,
            body,
        };
        p.observe(&Seen {
            event: &event,
            subtype: if entity.kind() == Kind::Machine {
                "pump"
            } else {
                "accelerometer"
            },
            place: Some((4.85, 45.75)),
            attached_to: attached,
        });
    }

    fn anomaly(score: f64) -> EventBody {
        EventBody::AnomalyDetected {
            measurand: Measurand::VibrationRms,
            score,
            model: Arc::from("anomaly/1"),
        }
    }

    /// Anomalies on two of a machine's series within a day: an order only
    /// when its RUL does not say it is far from its end.
    #[test]
    fn corroborated_anomalies_open_an_order_unless_the_rul_is_far() {
        for (rul, expected) in [(None, 1), (Some(120.0), 0), (Some(100.0), 1)] {
            let mut p = planner();
            let m = EntityId::new(Kind::Machine, "pump-1");
            let (a, b) = (
                EntityId::new(Kind::Sensor, "a"),
                EntityId::new(Kind::Sensor, "b"),
            );
            let t = SimTime::hours(10);
            see(
                &mut *p,
                m,
                None,
                t,
                EventBody::StateChanged {
                    measurand: Measurand::Status,
                    value: Value::text("running"),
                },
            );
            if let Some(h) = rul {
                see(
                    &mut *p,
                    m,
                    None,
                    t,
                    EventBody::StateChanged {
                        measurand: Measurand::Rul,
                        value: Value::interval(h, h * 0.6, h * 1.4),
                    },
                );
            }
            see(&mut *p, a, Some(m), t, anomaly(0.8));
            let mut out = Vec::new();
            p.step(t, &mut Recorded(Default::default()), &mut out);
            assert!(p.work_orders().is_empty(), "one series is not enough");
            see(&mut *p, b, Some(m), t + SimTime::hours(2), anomaly(0.9));
            p.step(
                t + SimTime::hours(2),
                &mut Recorded(Default::default()),
                &mut out,
            );
            let orders = p.work_orders();
            assert_eq!(orders.len(), expected, "RUL {rul:?}: {orders:?}");
            if let Some(o) = orders.first() {
                assert_eq!((o.trigger, o.priority), (Trigger::Anomaly, 3));
                assert_eq!(o.evidence.anomaly_score, Some(0.9));
            }
        }
    }
}
