//! Simulation control: status, pause, resume, speed, step and scenarios.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use twin_core::SimTime;
use twin_proto::v1 as pb;

use super::service::TwinService;
use super::sim::{LoadError, SimControl};

impl TwinService {
    pub(super) fn sim(&self) -> Result<&Arc<dyn SimControl>, Status> {
        self.sim.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "this twin runs on a live feed: there is no simulation to control",
            )
        })
    }

    pub(super) async fn status(&self) -> pb::SimulationStatus {
        let entities = self.runtime.store().map_or(0, |s| s.state_count() as u64);
        let events = self.runtime.bus().published();
        match &self.sim {
            Some(s) => {
                let st = s.status();
                let (clock, speed) = match st.clock {
                    twin_core::ClockMode::RealTime => ("real".to_string(), 1.0),
                    twin_core::ClockMode::Accelerated(f) => (format!("x{f}"), f),
                    twin_core::ClockMode::AsFastAsPossible => ("max".to_string(), 0.0),
                    twin_core::ClockMode::Stepped => ("step".to_string(), 0.0),
                };
                pb::SimulationStatus {
                    time_ms: st.time.as_ms(),
                    clock,
                    speed,
                    paused: st.paused,
                    scenario: st.scenario,
                    epoch_unix_ms: st.epoch_unix_ms,
                    simulated: true,
                    entities,
                    events,
                }
            }
            // A live site runs on the wall clock, its time zero the Unix epoch.
            None => pb::SimulationStatus {
                time_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
                clock: "real".into(),
                speed: 1.0,
                entities,
                events,
                ..Default::default()
            },
        }
    }
}

pub(super) async fn get_simulation(
    svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    Ok(Response::new(svc.status().await))
}

pub(super) async fn pause(
    svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    svc.sim()?.pause();
    Ok(Response::new(svc.status().await))
}

pub(super) async fn resume(
    svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    svc.sim()?.resume();
    Ok(Response::new(svc.status().await))
}

pub(super) async fn set_speed(
    svc: &TwinService,
    req: Request<pb::SetSpeedRequest>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    let mode = twin_core::ClockMode::parse(&req.get_ref().clock)
        .map_err(|e| Status::invalid_argument(format!("clock: {e}")))?;
    svc.sim()?
        .set_clock(mode)
        .map_err(Status::failed_precondition)?;
    Ok(Response::new(svc.status().await))
}

pub(super) async fn step(
    svc: &TwinService,
    req: Request<pb::StepRequest>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    let dt = req.get_ref().duration_ms;
    if dt <= 0 || dt > MAX_STEP.as_ms() {
        return Err(Status::invalid_argument(format!(
            "duration_ms: {dt} is not between 1 and {} ({MAX_STEP})",
            MAX_STEP.as_ms()
        )));
    }
    svc.sim()?
        .step(SimTime(dt))
        .await
        .map_err(Status::failed_precondition)?;
    Ok(Response::new(svc.status().await))
}

pub(super) async fn list_scenarios(
    svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::ListScenariosResponse>, Status> {
    Ok(Response::new(pb::ListScenariosResponse {
        names: svc.sim.as_ref().map(|s| s.scenarios()).unwrap_or_default(),
    }))
}

pub(super) async fn load_scenario(
    svc: &TwinService,
    req: Request<pb::LoadScenarioRequest>,
) -> Result<Response<pb::SimulationStatus>, Status> {
    let r = req.into_inner();
    svc.sim()?
        .load(
            &r.name,
            (r.seed != 0).then_some(r.seed),
            (r.scale != 0.0).then_some(r.scale),
        )
        .await
        .map_err(|e| match e {
            LoadError::Invalid { .. } => Status::invalid_argument(e.to_string()),
            LoadError::Failed(m) => Status::failed_precondition(m),
        })?;
    Ok(Response::new(svc.status().await))
}

/// The longest `Step`: a week of simulated time, so that one call cannot
/// hold the run loop for an unbounded time.
const MAX_STEP: SimTime = SimTime::days(7);
