//! Work orders: maintenance jobs a planner opens on a machine and schedules
//! onto a technician.
//!
//! A planner owns its orders (it keeps them in its own saved state); the
//! twin learns of each change through an [`Action::WorkOrder`] command to
//! the machine, which publishes a `WorkOrderChanged` event and passes the
//! command on to whoever acts on machines (the world, or a live sink), so
//! that the orders are watched and logged like any other change.
//!
//! [`Action::WorkOrder`]: crate::Action::WorkOrder

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::id::EntityId;
use crate::time::SimTime;

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Opened, not yet placed on any technician's day.
    Open,
    /// Placed on a technician at a start time; may still move when the
    /// planner re-plans.
    Scheduled,
    /// The technician has been sent; the machine stops when they arrive.
    InProgress,
    Done,
    /// The evidence went away before the work began, or the order was
    /// withdrawn.
    Cancelled,
}

impl OrderState {
    pub const ALL: [OrderState; 5] = [
        OrderState::Open,
        OrderState::Scheduled,
        OrderState::InProgress,
        OrderState::Done,
        OrderState::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Scheduled => "scheduled",
            OrderState::InProgress => "in_progress",
            OrderState::Done => "done",
            OrderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|o| o.name() == s)
    }

    /// Done or cancelled: nothing more happens to it.
    pub fn is_closed(self) -> bool {
        matches!(self, OrderState::Done | OrderState::Cancelled)
    }
}

/// What made a planner open an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The estimated remaining life fell below the planner's horizon.
    Rul,
    /// An anomaly alert on the machine or a sensor attached to it.
    Anomaly,
    /// The machine went down.
    Breakdown,
    /// A service due after so many operating hours.
    Interval,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Rul => "rul",
            Trigger::Anomaly => "anomaly",
            Trigger::Breakdown => "breakdown",
            Trigger::Interval => "interval",
        }
    }
}

/// The figures an order was opened on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Remaining useful life, hours, with its interval (low, high).
    pub rul_h: Option<[f64; 3]>,
    /// The highest anomaly score seen.
    pub anomaly_score: Option<f64>,
    /// Operating hours since the last service.
    pub operating_h: Option<f64>,
}

/// One change of state, with who made it and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub state: OrderState,
    pub at: SimTime,
    /// `planner`, or the technician's name.
    pub by: CompactString,
}

/// A maintenance job on one machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    /// Unique within the planner that opened it.
    pub id: u64,
    pub machine: EntityId,
    pub trigger: Trigger,
    /// For people, e.g. "RUL 31 h (18–44 h) below the 72 h horizon".
    pub reason: String,
    pub evidence: Evidence,
    /// 1 (most urgent) to 3.
    pub priority: u8,
    pub created: SimTime,
    /// When the work should be done by.
    pub due: SimTime,
    /// The skill a technician needs for it.
    pub skill: CompactString,
    /// Estimated time at the machine.
    pub duration: SimTime,
    pub parts: Vec<CompactString>,
    pub state: OrderState,
    /// Once scheduled.
    pub technician: Option<EntityId>,
    /// Planned start at the machine, once scheduled.
    pub start: Option<SimTime>,
    pub history: Vec<Transition>,
}

impl WorkOrder {
    /// Moves the order to `state` at `at`, recording who did it.
    pub fn move_to(&mut self, state: OrderState, at: SimTime, by: &str) {
        self.state = state;
        self.history.push(Transition {
            state,
            at,
            by: by.into(),
        });
    }

    /// The name people read it by: `WO-<id>`.
    pub fn label(&self) -> String {
        format!("WO-{}", self.id)
    }

    /// Parses `WO-<id>` or a bare id.
    pub fn parse_label(s: &str) -> Option<u64> {
        s.strip_prefix("WO-").unwrap_or(s).parse().ok()
    }
}
