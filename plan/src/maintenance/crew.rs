//! The maintenance planner's crew work: the shifts it plans on, placing
//! the waiting orders on them, and sending technicians.

use twin_core::workorder::OrderState;
use twin_core::{Command, EntityId, SimTime};

use super::{DAY_MS, Maintenance};
use crate::schedule::{self, Effort, Job, Member, Solve};

impl Maintenance {
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
    pub(super) fn plan(&mut self, now: SimTime, solve: &mut dyn Solve, out: &mut Vec<Command>) {
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
    pub(super) fn dispatch(&mut self, now: SimTime, out: &mut Vec<Command>) {
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
