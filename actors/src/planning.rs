//! Planners ([`twin_plan`]) hosted by the runtime.
//!
//! Like the area models' host, it listens on the bus for the events its
//! planners asked for and, at each upkeep tick, hands them over in the
//! order they were published (with the entity's subtype, place and what it
//! is attached to), steps each planner and applies the commands it decided
//! through the runtime like any other command. Their work orders and plans
//! are copied to a board the API reads without waiting for a step. States are saved
//! to the store's metadata at each checkpoint and restored at start.
//!
//! The schedules a planner gets from the solver are returned with what it
//! decided, for a recording; a replay hands the recorded ones back
//! ([`PlanHost::replaying`]) rather than solving again, so that the same
//! events give the same orders.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, RwLock};

use twin_core::plan::Plan;
use twin_core::store::Store;
use twin_core::workorder::WorkOrder;
use twin_core::{Command, EntityId, SimTime};
use twin_plan::schedule::{Live, Recorded, Schedule};
use twin_plan::{Planner, Planners, Seen, Wants};

use crate::areas::{Known, known, restore};
use crate::bus::{Bus, Delivery, Filter, Subscription};
use crate::runtime::{Runtime, RuntimeError, blocking};

/// The planners' work orders and plans as of their last step, oldest
/// first.
#[derive(Clone, Default)]
pub struct Board {
    pub work_orders: Arc<Vec<WorkOrder>>,
    pub plans: Arc<Vec<Plan>>,
    /// Whether any planner runs at all.
    pub planning: bool,
}

pub(crate) struct PlanHost {
    planners: Vec<(String, Box<dyn Planner>)>,
    /// What each planner asked for, in the same order.
    wants: Vec<Wants>,
    revisions: Vec<u64>,
    sub: Subscription,
    known: HashMap<EntityId, Known>,
    board: Arc<RwLock<Board>>,
    missed: u64,
    /// Replaying: the recorded schedules of the coming step, by planner.
    recorded: Option<HashMap<String, Recorded>>,
}

/// What the planners did at one step.
#[derive(Default)]
pub struct Stepped {
    /// The commands they decided, in order.
    pub decided: Vec<Command>,
    /// What the twin then issued to the world.
    pub issued: Vec<Command>,
    /// The schedules they solved, by planner key, in order.
    pub schedules: Vec<(String, Schedule)>,
}

fn meta_key(key: &str) -> String {
    format!("plan/{key}")
}

impl PlanHost {
    /// `None` when no planner is configured.
    pub fn new(
        planners: &Planners,
        bus: &Bus,
        store: Option<&Store>,
        board: Arc<RwLock<Board>>,
    ) -> Option<PlanHost> {
        if planners.is_empty() {
            return None;
        }
        let mut planners = planners.instances();
        if let Some(store) = store {
            for (key, p) in &mut planners {
                restore(store, &meta_key(key), "planner", |b| {
                    p.restore(b).map_err(|e| e.to_string())
                });
            }
        }
        let wants: Vec<Wants> = planners.iter().map(|(_, p)| p.wants()).collect();
        let mut filter = Filter::default();
        for w in &wants {
            filter.kinds.extend(w.kinds.iter().copied());
            filter.types.extend(w.types.iter().copied());
        }
        filter.kinds.sort();
        filter.kinds.dedup();
        filter.types.sort_by_key(|t| *t as u8);
        filter.types.dedup();
        let sub = bus.subscribe(filter);
        let mut host = PlanHost {
            revisions: vec![u64::MAX; planners.len()],
            planners,
            wants,
            sub,
            known: HashMap::new(),
            board,
            missed: 0,
            recorded: None,
        };
        host.publish();
        Some(host)
    }

    /// Copies the work orders and plans to the board when some planner's
    /// changed.
    fn publish(&mut self) {
        let now: Vec<u64> = self.planners.iter().map(|(_, p)| p.revision()).collect();
        if now == self.revisions {
            return;
        }
        self.revisions = now;
        let mut orders: Vec<WorkOrder> = self
            .planners
            .iter()
            .flat_map(|(_, p)| p.work_orders().iter().cloned())
            .collect();
        orders.sort_by_key(|o| (o.created, o.id));
        let mut plans: Vec<Plan> = self
            .planners
            .iter()
            .flat_map(|(_, p)| p.plans().iter().cloned())
            .collect();
        plans.sort_by_key(|p| (p.created, p.id));
        *self.board.write().expect("board lock poisoned") = Board {
            work_orders: Arc::new(orders),
            plans: Arc::new(plans),
            planning: true,
        };
    }

    /// From now on the planners schedule only from what [`Self::replaying`]
    /// hands over.
    pub fn replaying(&mut self, schedules: Vec<(String, Schedule)>) {
        let queues = self.recorded.get_or_insert_with(HashMap::new);
        for (key, s) in schedules {
            queues
                .entry(key)
                .or_insert_with(|| Recorded(Default::default()))
                .0
                .push_back(s);
        }
    }

    /// Feeds the planners what was published since the last step, lets
    /// them decide at `now` and applies their commands.
    pub async fn step(&mut self, rt: &Runtime, now: SimTime) -> Result<Stepped, RuntimeError> {
        let mut events = Vec::new();
        while let Some(d) = self.sub.try_recv() {
            match d {
                Delivery::Events(batch) => events.extend(batch.iter().cloned()),
                Delivery::Lagged { missed } => {
                    self.missed += missed;
                    tracing::warn!(
                        "planners fell behind the bus: {missed} events not seen ({} in all)",
                        self.missed
                    );
                }
                Delivery::Closed => break,
            }
        }
        for e in &events {
            let k = match self.known.entry(e.entity) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let Some(r) = rt.get(e.entity).await? else {
                        continue;
                    };
                    v.insert(known(&r))
                }
            };
            let seen = Seen {
                event: e,
                subtype: &k.subtype,
                place: k.place.map(|p| (p.lon, p.lat)),
                attached_to: k.attached,
                fed_by: k.fed_by,
                area_m2: k.area_m2,
            };
            for ((_, p), w) in self.planners.iter_mut().zip(&self.wants) {
                if (w.kinds.is_empty() || w.kinds.contains(&e.entity.kind()))
                    && w.types.contains(&e.body.event_type())
                {
                    p.observe(&seen);
                }
            }
        }
        // A step may solve a schedule for seconds: on the blocking pool,
        // not on an async worker that answers calls.
        let mut planners = std::mem::take(&mut self.planners);
        let mut recorded = self.recorded.take();
        let (planners, recorded, mut out) = blocking(move || {
            let mut out = Stepped::default();
            for (key, p) in &mut planners {
                match &mut recorded {
                    Some(queues) => {
                        let mut none = Recorded(Default::default());
                        let solve = queues.get_mut(key.as_str()).unwrap_or(&mut none);
                        p.step(now, solve, &mut out.decided);
                    }
                    None => {
                        let mut live = Live::default();
                        p.step(now, &mut live, &mut out.decided);
                        out.schedules
                            .extend(live.made.into_iter().map(|s| (key.clone(), s)));
                    }
                }
            }
            Ok((planners, recorded, out))
        })
        .await?;
        self.planners = planners;
        self.recorded = recorded;
        self.publish();
        if out.decided.is_empty() {
            return Ok(out);
        }
        let report = rt.command(out.decided.clone()).await?;
        for (i, e) in &report.errors {
            tracing::debug!("planner command {:?} refused: {e}", out.decided[*i].action);
        }
        out.issued = report.commands;
        Ok(out)
    }

    /// Every planner's state, under the store metadata key it is kept by.
    pub fn saved(&self) -> Vec<(String, Vec<u8>)> {
        self.planners
            .iter()
            .map(|(key, p)| (meta_key(key), p.save()))
            .collect()
    }
}
