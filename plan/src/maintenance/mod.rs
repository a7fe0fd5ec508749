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

use crate::schedule::Solve;
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

mod crew;
mod params;
#[cfg(test)]
mod tests;

use params::Params;
pub use params::Policy;

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
    Ok(Box::new(Maintenance {
        p: Params::of(spec)?,
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
        crate::save(&self.s)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.s = crate::restore(&self.name, bytes)?;
        Ok(())
    }
}
