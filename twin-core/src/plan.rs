//! Plans: what a planner decided to do to one entity, and why — an
//! irrigation of a parcel or a garden bed today; treatments later.
//!
//! Like work orders, a planner owns its plans (in its own saved state) and
//! acts through the commands each plan lists; the API reads the plans from
//! the planners' board.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::id::EntityId;
use crate::time::SimTime;

/// Where a plan is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Needed, but held back: rain is forecast to do the work.
    Waiting,
    /// Its commands went out; the work is under way.
    Running,
    Done,
    /// No longer needed (the rain came), or replaced.
    Cancelled,
}

impl PlanState {
    pub const ALL: [PlanState; 4] = [
        PlanState::Waiting,
        PlanState::Running,
        PlanState::Done,
        PlanState::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PlanState::Waiting => "waiting",
            PlanState::Running => "running",
            PlanState::Done => "done",
            PlanState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PlanState> {
        PlanState::ALL.into_iter().find(|p| p.name() == s)
    }

    pub fn is_closed(self) -> bool {
        matches!(self, PlanState::Done | PlanState::Cancelled)
    }
}

/// What a plan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Irrigation,
}

impl PlanKind {
    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Irrigation => "irrigation",
        }
    }
}

/// One plan for one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Unique within the planner that made it.
    pub id: u64,
    pub kind: PlanKind,
    /// The parcel or bed it is for.
    pub entity: EntityId,
    pub created: SimTime,
    pub state: PlanState,
    /// When the work starts and ends (planned, then as it went).
    pub start: SimTime,
    pub end: SimTime,
    /// Water to put on, mm over the parcel, and the volume it makes.
    pub water_mm: f64,
    pub water_m3: f64,
    /// For people: the readings and forecast it was decided on.
    pub reason: String,
    /// The commands it sent, in order.
    pub commands: Vec<Command>,
}

impl Plan {
    /// The name people read it by: `PL-<id>`.
    pub fn label(&self) -> String {
        format!("PL-{}", self.id)
    }

    /// Parses `PL-<id>` or a bare id.
    pub fn parse_label(s: &str) -> Option<u64> {
        s.strip_prefix("PL-").unwrap_or(s).parse().ok()
    }
}
