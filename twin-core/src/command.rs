//! Commands: what planners and operators ask of entities.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::time::SimTime;
use crate::value::Value;
use crate::workorder::OrderState;

/// A request addressed to one entity. The entity actor records it (desired
/// state, status) and forwards it to the world or a live sink, which acts on it
/// with its own delay; the entity learns the effect only from observations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub entity: EntityId,
    pub time: SimTime,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Set the desired value of a commandable property (pump on, valve 40%,
    /// bus headway 600 s).
    SetDesired { measurand: Measurand, value: Value },
    /// Take a machine out of service for maintenance.
    BeginMaintenance,
    /// Return a machine to service after maintenance.
    EndMaintenance,
    /// A planner's work order on a machine changed (see
    /// [`crate::workorder`]); `InProgress` sends the technician.
    WorkOrder {
        order: u64,
        state: OrderState,
        technician: Option<EntityId>,
    },
    /// Remind whoever looks after the entity (water this bed, treat that
    /// parcel): raises an informational alert about `measurand` with the
    /// message, or clears it (`None`). Watched like any alert; nothing is
    /// passed on to the world.
    Remind {
        measurand: Measurand,
        message: Option<Arc<str>>,
    },
    /// Set this entity's alarm limits for a measurand (`None`: back to the
    /// measurand's defaults). Applied from the next reading on.
    SetLimits {
        measurand: Measurand,
        limits: Option<crate::measurand::AlarmLimits>,
    },
}

impl Action {
    /// Longest reminder a command may carry, bytes.
    pub const MAX_MESSAGE: usize = 1_000;
}
