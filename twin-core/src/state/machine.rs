//! Machines: pumps, motors, CNC mills, irrigation pumps and the like.

use serde::{Deserialize, Serialize};

use super::behaviour::{Ctx, InputError, KindBehaviour, parse_text};
use super::{Common, KindState, Status};
use crate::command::{Action, Command};
use crate::event::EventBody;
use crate::id::Kind;
use crate::measurand::Measurand;
use crate::observation::Observation;
use crate::time::SimTime;
use crate::value::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineStatus {
    Running,
    #[default]
    Idle,
    Down,
    Maintenance,
}

const STATUSES: &[(&str, MachineStatus)] = &[
    ("running", MachineStatus::Running),
    ("idle", MachineStatus::Idle),
    ("down", MachineStatus::Down),
    ("maintenance", MachineStatus::Maintenance),
];

/// Remaining useful life with its interval, as estimated at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RulEstimate {
    pub hours: f64,
    pub low: f64,
    pub high: f64,
    pub at: SimTime,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineState {
    pub status: MachineStatus,
    /// 1 = as new, 0 = failed.
    pub health_index: Option<f64>,
    pub operating_hours: f64,
    pub rul: Option<RulEstimate>,
    pub last_maintenance: Option<SimTime>,
}

impl MachineState {
    fn set_status(&mut self, s: MachineStatus, ctx: &mut Ctx) {
        if self.status != s {
            ctx.emit(EventBody::StatusChanged {
                from: Status::Machine(self.status),
                to: Status::Machine(s),
            });
            self.status = s;
        }
    }
}

impl KindBehaviour for MachineState {
    const KIND: Kind = Kind::Machine;

    fn into_state(self) -> KindState {
        KindState::Machine(self)
    }
    fn from_state(state: KindState) -> Option<Self> {
        match state {
            KindState::Machine(s) => Some(s),
            _ => None,
        }
    }

    fn accepts(&self, m: Measurand) -> bool {
        use Measurand::*;
        matches!(
            m,
            Status
                | HealthIndex
                | OperatingHours
                | Rul
                | Running
                | PumpOn
                | ValveOpening
                | Temperature
                | VibrationRms
                | Pressure
                | Current
                | Position
                | Throughput
                | Load
        )
    }

    fn check(&self, obs: &Observation) -> Result<(), InputError> {
        if obs.measurand == Measurand::Status {
            parse_text(obs, STATUSES, "running, idle, down, maintenance")?;
        }
        Ok(())
    }

    fn observe(
        &mut self,
        _common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        match (obs.measurand, &obs.value) {
            (Measurand::Status, _) => {
                let s = parse_text(obs, STATUSES, "running, idle, down, maintenance")?;
                self.set_status(s, ctx);
            }
            (Measurand::Running, Value::Flag(on)) => {
                if matches!(self.status, MachineStatus::Running | MachineStatus::Idle) {
                    let s = if *on {
                        MachineStatus::Running
                    } else {
                        MachineStatus::Idle
                    };
                    self.set_status(s, ctx);
                }
            }
            (Measurand::HealthIndex, Value::Number(h)) => self.health_index = Some(*h),
            (Measurand::OperatingHours, Value::Number(h)) => self.operating_hours = *h,
            (Measurand::Rul, Value::Interval(e)) => {
                self.rul = Some(RulEstimate {
                    hours: e.value,
                    low: e.low,
                    high: e.high,
                    at: obs.time,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn act(
        &mut self,
        _common: &mut Common,
        cmd: &Command,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        match cmd.action {
            Action::BeginMaintenance => self.set_status(MachineStatus::Maintenance, ctx),
            Action::EndMaintenance => {
                if self.status != MachineStatus::Maintenance {
                    return Err(InputError::BadAction {
                        entity: cmd.entity,
                        kind: Kind::Machine,
                        action: "end maintenance (not in maintenance)",
                    });
                }
                self.last_maintenance = Some(ctx.now());
                self.set_status(MachineStatus::Idle, ctx);
            }
            Action::WorkOrder {
                order,
                state,
                technician,
            } => {
                if technician.is_some_and(|t| t.kind() != Kind::Vehicle) {
                    return Err(InputError::BadAction {
                        entity: cmd.entity,
                        kind: Kind::Machine,
                        action: "work order (the technician is not a vehicle)",
                    });
                }
                ctx.emit(EventBody::WorkOrderChanged {
                    order,
                    state,
                    technician,
                });
            }
            Action::SetDesired { .. } | Action::Remind { .. } | Action::SetLimits { .. } => {
                unreachable!("handled by the common path")
            }
        }
        ctx.forward(cmd.clone());
        Ok(())
    }
}
