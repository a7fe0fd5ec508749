//! The `twin.v1.Twin` service: a thin mapping of each method onto the
//! runtime, the store and the simulation control. The methods live by
//! concern: `queries` (entities, history, events, alerts), `watch`
//! (streams of events), `ingest` (observations and commands) and
//! `control` (the simulation); this file holds what they share.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status, Streaming};
use twin_core::store::Store;
use twin_core::{EntityId, EntityRecord, EventType, SimTime};
use twin_proto::convert::{self, FieldError};
use twin_proto::v1 as pb;
use twin_proto::v1::twin_server::Twin;

use super::filter::{EntityFilter, zone_region};
use super::limits::Limits;
use super::pace::WatchPace;
use super::sim::SimControl;
use super::{control, history, ingest, queries, watch};
use crate::runtime::Runtime;

/// What the service needs: the runtime, its store, the simulation (absent
/// for a live feed) and the limits.
pub struct TwinService {
    pub runtime: Arc<Runtime>,
    pub sim: Option<Arc<dyn SimControl>>,
    pub limits: Arc<Limits>,
    pub pace: WatchPace,
    /// How far ahead of the simulation's clock an ingested observation may be.
    pub max_skew: SimTime,
    /// Where ingest streams are decoded, checked and routed: threads at
    /// the bulk priority, so that a client writing at full rate does not
    /// queue every other client's calls behind its batches.
    pub(super) bulk: Arc<crate::priority::Pool>,
}

pub(super) type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

pub(super) fn invalid(e: FieldError) -> Status {
    Status::invalid_argument(e.to_string())
}

pub(super) fn not_in_twin(id: &str) -> Status {
    Status::not_found(format!("{id} is not in the twin"))
}

pub(super) fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Event types from a request, each checked.
pub(super) fn event_types(types: &[i32]) -> Result<Vec<EventType>, Status> {
    let mut out = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        let t = pb::EventType::try_from(*t)
            .ok()
            .and_then(convert::event_type_from_pb)
            .ok_or_else(|| {
                Status::invalid_argument(format!("types[{i}]: {t} is not an event type"))
            })?;
        out.push(t);
    }
    Ok(out)
}

/// Runs blocking work (store reads, listings) on the blocking pool: a slow
/// disk then holds a thread of that pool, never one of the few async
/// workers every call shares.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

impl TwinService {
    pub(super) fn store(&self) -> Result<&Store, Status> {
        self.runtime
            .store()
            .ok_or_else(|| Status::failed_precondition("this runtime keeps no store"))
    }

    pub(super) fn now(&self) -> SimTime {
        self.sim.as_ref().map_or(SimTime::ZERO, |s| s.status().time)
    }

    pub(super) async fn record(&self, id: EntityId) -> Result<Option<EntityRecord>, Status> {
        self.runtime.get(id).await.map_err(internal)
    }

    pub(super) async fn filter(
        &self,
        f: Option<&pb::EntityFilter>,
    ) -> Result<EntityFilter, Status> {
        // Look the zone up first: the filter checks synchronously.
        let zone = match f.map(|f| f.zone.as_str()).filter(|z| !z.is_empty()) {
            Some(z) => {
                let id = convert::entity_id(z, "filter.zone").map_err(invalid)?;
                self.record(id).await?.and_then(|r| zone_region(&r))
            }
            None => None,
        };
        EntityFilter::from_pb(f, |_| zone.clone()).map_err(invalid)
    }

    pub(super) fn check_size<M: prost::Message>(&self, m: &M) -> Result<(), Status> {
        self.limits.check_message(m.encoded_len())
    }
}

#[tonic::async_trait]
impl Twin for TwinService {
    async fn get_entity(
        &self,
        req: Request<pb::GetEntityRequest>,
    ) -> Result<Response<pb::Entity>, Status> {
        queries::get_entity(self, req).await
    }

    async fn list_entities(
        &self,
        req: Request<pb::ListEntitiesRequest>,
    ) -> Result<Response<pb::ListEntitiesResponse>, Status> {
        queries::list_entities(self, req).await
    }

    async fn get_relations(
        &self,
        req: Request<pb::GetRelationsRequest>,
    ) -> Result<Response<pb::GetRelationsResponse>, Status> {
        queries::get_relations(self, req).await
    }

    async fn get_measurands(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::GetMeasurandsResponse>, Status> {
        queries::get_measurands(self, req).await
    }

    async fn list_feeds(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::ListFeedsResponse>, Status> {
        queries::list_feeds(self, req).await
    }

    async fn get_history(
        &self,
        req: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        history::get_history(self, req).await
    }

    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        history::list_events(self, req).await
    }

    async fn list_alerts(
        &self,
        req: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        queries::list_alerts(self, req).await
    }

    async fn list_work_orders(
        &self,
        req: Request<pb::ListWorkOrdersRequest>,
    ) -> Result<Response<pb::ListWorkOrdersResponse>, Status> {
        queries::list_work_orders(self, req).await
    }

    async fn get_work_order(
        &self,
        req: Request<pb::GetWorkOrderRequest>,
    ) -> Result<Response<pb::WorkOrder>, Status> {
        queries::get_work_order(self, req).await
    }

    async fn list_plans(
        &self,
        req: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        queries::list_plans(self, req).await
    }

    async fn get_plan(
        &self,
        req: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        queries::get_plan(self, req).await
    }

    type WatchEntitiesStream = Stream_<pb::WatchResponse>;

    async fn watch_entities(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchEntitiesStream>, Status> {
        watch::watch_entities(self, req).await
    }

    type WatchAlertsStream = Stream_<pb::WatchResponse>;

    async fn watch_alerts(
        &self,
        req: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        watch::watch_alerts(self, req).await
    }

    type IngestStream = Stream_<pb::IngestAck>;

    async fn ingest(
        &self,
        req: Request<Streaming<pb::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        ingest::ingest(self, req).await
    }

    async fn send_commands(
        &self,
        req: Request<pb::SendCommandsRequest>,
    ) -> Result<Response<pb::SendCommandsResponse>, Status> {
        ingest::send_commands(self, req).await
    }

    async fn get_simulation(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::get_simulation(self, req).await
    }

    async fn pause(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::pause(self, req).await
    }

    async fn resume(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::resume(self, req).await
    }

    async fn set_speed(
        &self,
        req: Request<pb::SetSpeedRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::set_speed(self, req).await
    }

    async fn step(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::step(self, req).await
    }

    async fn list_scenarios(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::ListScenariosResponse>, Status> {
        control::list_scenarios(self, req).await
    }

    async fn load_scenario(
        &self,
        req: Request<pb::LoadScenarioRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        control::load_scenario(self, req).await
    }
}
