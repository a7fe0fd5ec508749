//! Work orders on the wire: the typed state and the record.

use twin_core::id::quoted;
use twin_core::workorder::{OrderState, WorkOrder};
use twin_core::{Action, EntityId};

use crate::convert::{FieldError, entity_id};
use crate::v1 as pb;

pub fn state_to_pb(s: OrderState) -> pb::WorkOrderState {
    match s {
        OrderState::Open => pb::WorkOrderState::Open,
        OrderState::Scheduled => pb::WorkOrderState::Scheduled,
        OrderState::InProgress => pb::WorkOrderState::InProgress,
        OrderState::Done => pb::WorkOrderState::Done,
        OrderState::Cancelled => pb::WorkOrderState::Cancelled,
    }
}

pub fn state_from_pb(s: pb::WorkOrderState) -> Option<OrderState> {
    Some(match s {
        pb::WorkOrderState::Unspecified => return None,
        pb::WorkOrderState::Open => OrderState::Open,
        pb::WorkOrderState::Scheduled => OrderState::Scheduled,
        pb::WorkOrderState::InProgress => OrderState::InProgress,
        pb::WorkOrderState::Done => OrderState::Done,
        pb::WorkOrderState::Cancelled => OrderState::Cancelled,
    })
}

fn name(id: Option<EntityId>) -> String {
    id.map(|t| t.to_string()).unwrap_or_default()
}

pub fn change_to_pb(
    order: u64,
    state: OrderState,
    technician: Option<EntityId>,
) -> pb::WorkOrderChange {
    pb::WorkOrderChange {
        id: format!("WO-{order}"),
        state: state_to_pb(state) as i32,
        technician: name(technician),
    }
}

/// A client's change of a work order (`Command.work_order`).
pub fn change_from_pb(c: &pb::WorkOrderChange, at: &str) -> Result<Action, FieldError> {
    let order = WorkOrder::parse_label(&c.id).ok_or_else(|| {
        FieldError::new(
            format!("{at}.id"),
            "invalid_argument",
            format!("`{}` is not a work order id such as WO-12", quoted(&c.id)),
        )
    })?;
    let state = pb::WorkOrderState::try_from(c.state)
        .ok()
        .and_then(state_from_pb)
        .ok_or_else(|| {
            FieldError::new(
                format!("{at}.state"),
                "invalid_argument",
                format!("{} is not a work order state", c.state),
            )
        })?;
    let technician = if c.technician.is_empty() {
        None
    } else {
        Some(entity_id(&c.technician, &format!("{at}.technician"))?)
    };
    Ok(Action::WorkOrder {
        order,
        state,
        technician,
    })
}

pub fn to_pb(o: &WorkOrder) -> pb::WorkOrder {
    let [rul, low, high] = o.evidence.rul_h.map_or([None; 3], |r| r.map(Some));
    pb::WorkOrder {
        id: o.label(),
        machine: o.machine.to_string(),
        state: state_to_pb(o.state) as i32,
        technician: name(o.technician),
        created_ms: o.created.as_ms(),
        due_ms: o.due.as_ms(),
        reason: o.reason.clone(),
        trigger: o.trigger.name().to_string(),
        priority: o.priority.into(),
        skill: o.skill.to_string(),
        duration_ms: o.duration.as_ms(),
        parts: o.parts.iter().map(|p| p.to_string()).collect(),
        start_ms: o.start.map_or(0, |s| s.as_ms()),
        rul_h: rul,
        rul_low_h: low,
        rul_high_h: high,
        anomaly_score: o.evidence.anomaly_score,
        operating_h: o.evidence.operating_h,
        history: o
            .history
            .iter()
            .map(|t| pb::WorkOrderTransition {
                state: state_to_pb(t.state) as i32,
                time_ms: t.at.as_ms(),
                by: t.by.to_string(),
            })
            .collect(),
    }
}
