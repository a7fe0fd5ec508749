//! What the viewer knows of the twin: the entities as the map draws them,
//! the active alerts, the simulation's status and the rates derived from
//! it. Only the network thread's updates change it, on the UI thread,
//! between frames.

mod item;
mod zones;

use std::collections::HashMap;

use twin_proto::v1 as pb;

pub use item::{Item, P, Shape};
pub use zones::ZoneFigures;

#[derive(Default)]
pub struct Twin {
    pub items: Vec<Item>,
    index: HashMap<String, usize>,
    /// Active alerts, newest first.
    pub alerts: Vec<pb::Alert>,
    pub sim: Option<pb::SimulationStatus>,
    /// Events per second in the runtime, from its event counter.
    pub event_rate: f64,
    last_count: Option<(u64, f64)>,
    pub work_orders: Option<pb::ListWorkOrdersResponse>,
    pub plans: Option<pb::ListPlansResponse>,
    /// Each entity's newest plan still waiting or running (the map marks
    /// parcels being watered, or held back for rain).
    pub active_plans: HashMap<String, pb::PlanState>,
    pub scenarios: Vec<String>,
    /// Events the watch stream lost (the viewer fell behind).
    pub missed: u64,
    /// District and parking figures from the sensors that lie in them.
    pub zones: ZoneFigures,
    /// Bumped on every change of the entity set (the map re-fits on the first).
    pub generation: u64,
}

impl Twin {
    /// Forgets everything (on reconnect, the listing starts again).
    pub fn clear(&mut self) {
        *self = Twin {
            generation: self.generation + 1,
            scenarios: std::mem::take(&mut self.scenarios),
            ..Twin::default()
        };
    }

    /// Takes the planners' plans (oldest first).
    pub fn set_plans(&mut self, plans: pb::ListPlansResponse) {
        self.active_plans.clear();
        for p in &plans.plans {
            match p.state() {
                pb::PlanState::Waiting | pb::PlanState::Running => {
                    self.active_plans.insert(p.entity.clone(), p.state());
                }
                _ => {
                    self.active_plans.remove(&p.entity);
                }
            }
        }
        self.plans = Some(plans);
    }

    pub fn get(&self, id: &str) -> Option<&Item> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Adds or replaces entities.
    pub fn upsert(&mut self, entities: &[pb::Entity]) {
        for e in entities {
            let item = Item::from_pb(e);
            match self.index.get(&e.id) {
                Some(&i) => self.items[i] = item,
                None => {
                    self.index.insert(e.id.clone(), self.items.len());
                    self.items.push(item);
                }
            }
        }
        self.generation += 1;
        self.zones.invalidate();
    }

    /// Applies watched events; `now` is the UI clock, for motion.
    pub fn apply(&mut self, events: &[pb::Event], now: f64) {
        use pb::EventType as T;
        for e in events {
            let Some(&i) = self.index.get(&e.entity) else {
                continue;
            };
            let item = &mut self.items[i];
            match e.r#type() {
                T::StateChanged => {
                    if let Some(v) = &e.value {
                        item.set(&e.measurand, v, Some(now));
                    }
                }
                T::StatusChanged => item.status = crate::state_text::status(e.to_status.as_ref()),
                _ => {}
            }
        }
        self.zones.touch();
    }

    /// Replaces the active alerts.
    pub fn set_alerts(&mut self, mut alerts: Vec<pb::Alert>) {
        alerts.sort_by_key(|a| std::cmp::Reverse(a.raised_ms));
        self.alerts = alerts;
        self.mark_alerts();
    }

    /// Applies alert events (raised, cleared).
    pub fn alert_events(&mut self, events: &[pb::Event]) {
        for e in events {
            match e.r#type() {
                pb::EventType::AlertRaised => {
                    self.alerts.retain(|a| a.id != e.alert_id);
                    self.alerts.insert(
                        0,
                        pb::Alert {
                            id: e.alert_id,
                            entity: e.entity.clone(),
                            measurand: e.measurand.clone(),
                            severity: e.severity,
                            raised_ms: e.time_ms,
                            message: e.message.clone(),
                        },
                    );
                }
                pb::EventType::AlertCleared => self.alerts.retain(|a| a.id != e.alert_id),
                _ => {}
            }
        }
        self.mark_alerts();
    }

    fn mark_alerts(&mut self) {
        for item in &mut self.items {
            item.alert = None;
        }
        for a in &self.alerts {
            if let Some(&i) = self.index.get(&a.entity) {
                let slot = &mut self.items[i].alert;
                *slot = Some(slot.map_or(a.severity, |s| s.max(a.severity)));
            }
        }
    }

    /// A new simulation status, polled at `wall` seconds.
    pub fn set_sim(&mut self, s: pb::SimulationStatus, wall: f64) {
        if let Some((count, at)) = self.last_count
            && wall > at
            && s.events >= count
        {
            let rate = (s.events - count) as f64 / (wall - at);
            // Smoothed: polls are not evenly spaced.
            self.event_rate = if self.event_rate == 0.0 {
                rate
            } else {
                0.7 * self.event_rate + 0.3 * rate
            };
        }
        self.last_count = Some((s.events, wall));
        self.sim = Some(s);
    }

    /// The box (in world coordinates) of everything with a place.
    pub fn bounds(&self) -> Option<(P, P)> {
        let mut it = self.items.iter().flat_map(|i| match &i.shape {
            Shape::Polygon { ring, .. } => ring.clone(),
            s => s.anchor().into_iter().collect(),
        });
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), p| {
            (
                (lo.0.min(p.0), lo.1.min(p.1)),
                (hi.0.max(p.0), hi.1.max(p.1)),
            )
        }))
    }

    /// Ids and names containing `text` (case-insensitive), at most `limit`.
    pub fn search(&self, text: &str, limit: usize) -> Vec<&Item> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| i.id.to_lowercase().contains(&needle))
            .take(limit * 4)
            .collect();
        // Exact names first, then shorter ids.
        found.sort_by_key(|i| (i.name.to_lowercase() != needle, i.id.len()));
        found.truncate(limit);
        found
    }

    /// Entities by kind and status, for the KPI panel.
    pub fn census(&self) -> Vec<(pb::Kind, Vec<(String, usize)>)> {
        let mut by: std::collections::BTreeMap<i32, std::collections::BTreeMap<String, usize>> =
            Default::default();
        for i in &self.items {
            *by.entry(i.kind as i32)
                .or_default()
                .entry(if i.status.is_empty() {
                    "—".into()
                } else {
                    i.status.clone()
                })
                .or_default() += 1;
        }
        by.into_iter()
            .map(|(k, s)| {
                (
                    pb::Kind::try_from(k).unwrap_or(pb::Kind::Unspecified),
                    s.into_iter().collect(),
                )
            })
            .collect()
    }

    /// Machines whose status is "down".
    pub fn machines_down(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.kind == pb::Kind::Machine && i.status == "down")
            .count()
    }

    /// Mean AQI over the stations that report PM2.5.
    pub fn mean_aqi(&self) -> Option<f64> {
        let (sum, n) = self
            .items
            .iter()
            .filter_map(|i| i.number("pm25"))
            .fold((0.0, 0usize), |(s, n), c| {
                (s + twin_core::aqi::from_pm25(c), n + 1)
            });
        (n > 0).then(|| sum / n as f64)
    }

    /// Recomputes the zone figures if they are due.
    pub fn refresh_zones(&mut self, now: f64) {
        let Twin {
            zones,
            items,
            index,
            ..
        } = self;
        zones.refresh(items, index, now);
    }
}
