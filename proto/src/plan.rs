//! Plans on the wire.

use twin_core::plan::{Plan, PlanState};

use crate::convert::command_to_pb;
use crate::v1 as pb;

pub fn state_to_pb(s: PlanState) -> pb::PlanState {
    match s {
        PlanState::Waiting => pb::PlanState::Waiting,
        PlanState::Running => pb::PlanState::Running,
        PlanState::Done => pb::PlanState::Done,
        PlanState::Cancelled => pb::PlanState::Cancelled,
    }
}

pub fn state_from_pb(s: pb::PlanState) -> Option<PlanState> {
    Some(match s {
        pb::PlanState::Unspecified => return None,
        pb::PlanState::Waiting => PlanState::Waiting,
        pb::PlanState::Running => PlanState::Running,
        pb::PlanState::Done => PlanState::Done,
        pb::PlanState::Cancelled => PlanState::Cancelled,
    })
}

pub fn to_pb(p: &Plan) -> pb::Plan {
    pb::Plan {
        id: p.label(),
        r#type: p.kind.name().to_string(),
        created_ms: p.created.as_ms(),
        commands: p.commands.iter().map(command_to_pb).collect(),
        reason: p.reason.clone(),
        entity: p.entity.to_string(),
        state: state_to_pb(p.state) as i32,
        start_ms: p.start.as_ms(),
        end_ms: p.end.as_ms(),
        water_mm: p.water_mm,
        water_m3: p.water_m3,
    }
}
