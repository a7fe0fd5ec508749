//! The `twin.v1.Twin` service: a thin mapping of each method onto the
//! runtime, the store and the simulation control.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};
use twin_core::store::{Resolution, Store};
use twin_core::{EntityId, EntityRecord, EventType, IdMap, Measurand, SimTime, Value};
use twin_proto::convert::{self, FieldError};
use twin_proto::v1 as pb;
use twin_proto::v1::twin_server::Twin;

use super::filter::{EntityFilter, zone_region};
use super::limits::Limits;
use super::pace::WatchPace;
use super::sim::{LoadError, SimControl};
use crate::bus::{Delivery, EntityDelivery, EntitySubscription, Filter, Subscription};
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
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn invalid(e: FieldError) -> Status {
    Status::invalid_argument(e.to_string())
}

fn not_in_twin(id: &str) -> Status {
    Status::not_found(format!("{id} is not in the twin"))
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn item_error(index: usize, e: &twin_core::InputError, field: String) -> pb::ItemError {
    use twin_core::InputError as E;
    let code = match e {
        E::UnknownEntity(_) => "unknown_entity",
        E::NotFinite { .. } => "not_finite",
        E::WrongType { .. } => "wrong_type",
        E::OutOfRange { .. } => "out_of_range",
        E::OutOfOrder { .. } => "out_of_order",
        E::StoreUnavailable { .. } => "store_unavailable",
        _ => "refused",
    };
    pb::ItemError {
        index: index as u32,
        code: code.into(),
        field,
        message: e.to_string(),
    }
}

impl TwinService {
    fn store(&self) -> Result<&Store, Status> {
        self.runtime
            .store()
            .ok_or_else(|| Status::failed_precondition("this runtime keeps no store"))
    }

    fn now(&self) -> SimTime {
        self.sim.as_ref().map_or(SimTime::ZERO, |s| s.status().time)
    }

    async fn record(&self, id: EntityId) -> Result<Option<EntityRecord>, Status> {
        self.runtime.get(id).await.map_err(internal)
    }

    /// Every entity: the resident ones, and those passivated to the store.
    async fn all_records(&self) -> Result<Vec<EntityRecord>, Status> {
        let mut records = self
            .runtime
            .resident_records(None)
            .await
            .map_err(internal)?;
        if let Some(store) = self.runtime.store() {
            let resident: HashSet<EntityId> = records.iter().map(EntityRecord::id).collect();
            for r in store.states(None) {
                let r = r.map_err(internal)?;
                if !resident.contains(&r.id()) {
                    records.push(r);
                }
            }
            records.sort_by_key(EntityRecord::id);
        }
        Ok(records)
    }

    async fn filter(&self, f: Option<&pb::EntityFilter>) -> Result<EntityFilter, Status> {
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

    fn check_size<M: prost::Message>(&self, m: &M) -> Result<(), Status> {
        self.limits.check_message(m.encoded_len())
    }
}

#[tonic::async_trait]
impl Twin for TwinService {
    async fn get_entity(
        &self,
        req: Request<pb::GetEntityRequest>,
    ) -> Result<Response<pb::Entity>, Status> {
        let id = convert::entity_id(&req.get_ref().id, "id").map_err(invalid)?;
        match self.record(id).await? {
            Some(r) => Ok(Response::new(convert::entity_to_pb(&r))),
            None => Err(not_in_twin(&req.get_ref().id)),
        }
    }

    async fn list_entities(
        &self,
        req: Request<pb::ListEntitiesRequest>,
    ) -> Result<Response<pb::ListEntitiesResponse>, Status> {
        let req = req.into_inner();
        let filter = self.filter(req.filter.as_ref()).await?;
        let size = bounded(req.page_size, 500, 10_000, "page_size")?;
        let after = match req.page_token.as_str() {
            "" => None,
            t => Some(t.parse::<u64>().map_err(|_| {
                Status::invalid_argument(format!(
                    "page_token: `{t}` is not a token this server gave"
                ))
            })?),
        };
        let mut page: Vec<pb::Entity> = Vec::new();
        let mut next = String::new();
        for r in self.all_records().await? {
            if after.is_some_and(|a| r.id().raw() <= a) || !filter.matches(&r) {
                continue;
            }
            if page.len() == size {
                next = page_token(&page);
                break;
            }
            page.push(convert::entity_to_pb(&r));
        }
        Ok(Response::new(pb::ListEntitiesResponse {
            entities: page,
            next_page_token: next,
        }))
    }

    async fn get_relations(
        &self,
        req: Request<pb::GetRelationsRequest>,
    ) -> Result<Response<pb::GetRelationsResponse>, Status> {
        let id = convert::entity_id(&req.get_ref().id, "id").map_err(invalid)?;
        let Some(r) = self.record(id).await? else {
            return Err(not_in_twin(&req.get_ref().id));
        };
        let incoming = match self.runtime.store() {
            Some(store) => store
                .relations_to(id)
                .map_err(internal)?
                .into_iter()
                .map(|(from, rel)| pb::Relation {
                    target: from.to_string(),
                    ..convert::relation_to_pb(&rel)
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Response::new(pb::GetRelationsResponse {
            outgoing: r
                .common
                .relations()
                .iter()
                .map(convert::relation_to_pb)
                .collect(),
            incoming,
        }))
    }

    async fn get_measurands(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::GetMeasurandsResponse>, Status> {
        Ok(Response::new(pb::GetMeasurandsResponse {
            measurands: Measurand::ALL
                .iter()
                .map(|m| convert::measurand_info(*m))
                .collect(),
        }))
    }

    type WatchEntitiesStream = Stream_<pb::WatchResponse>;

    async fn watch_entities(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchEntitiesStream>, Status> {
        let req = req.into_inner();
        let mut types = Vec::new();
        for (i, t) in req.types.iter().enumerate() {
            let t = pb::EventType::try_from(*t)
                .ok()
                .and_then(convert::event_type_from_pb)
                .ok_or_else(|| {
                    Status::invalid_argument(format!("types[{i}]: {t} is not an event type"))
                })?;
            types.push(t);
        }
        let entities = self.watch_set(req.filter.as_ref()).await?;
        Ok(Response::new(self.watch(types, entities, None)))
    }

    async fn get_history(
        &self,
        req: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let req = req.into_inner();
        let id = convert::entity_id(&req.id, "id").map_err(invalid)?;
        let m = convert::measurand(&req.measurand, "measurand").map_err(invalid)?;
        if req.to_ms <= req.from_ms {
            return Err(Status::invalid_argument("to_ms: must be after from_ms"));
        }
        let (from, to) = (SimTime(req.from_ms), SimTime(req.to_ms));
        let store = self.store()?;
        let resolution = match pb::Resolution::try_from(req.resolution) {
            Ok(pb::Resolution::Raw) => None,
            Ok(pb::Resolution::FiveMinutes) => Some(Resolution::FiveMinutes),
            Ok(pb::Resolution::Hour) => Some(Resolution::Hourly),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "resolution: {} is not a resolution",
                    req.resolution
                )));
            }
        };
        let mut out = pb::GetHistoryResponse::default();
        match resolution {
            None => {
                out.samples = store
                    .raw_history(id, m, from, to)
                    .map_err(internal)?
                    .into_iter()
                    .map(|s| pb::Sample {
                        time_ms: s.time.as_ms(),
                        value: match s.value {
                            Value::Number(x) => x,
                            Value::Flag(b) => f64::from(u8::from(b)),
                            _ => f64::NAN,
                        },
                    })
                    .collect();
            }
            Some(r) => {
                out.buckets = store
                    .rollup_history(id, m, from, to, r)
                    .map_err(internal)?
                    .into_iter()
                    .map(|b| pb::Bucket {
                        start_ms: b.start.as_ms(),
                        count: b.count,
                        min: b.min,
                        max: b.max,
                        mean: b.mean,
                    })
                    .collect();
            }
        }
        Ok(Response::new(out))
    }

    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let req = req.into_inner();
        let limit = bounded(req.limit, 1_000, 10_000, "limit")?;
        let entity = match req.entity.as_str() {
            "" => None,
            e => Some(convert::entity_id(e, "entity").map_err(invalid)?),
        };
        let types: Vec<EventType> = req
            .types
            .iter()
            .filter_map(|t| {
                pb::EventType::try_from(*t)
                    .ok()
                    .and_then(convert::event_type_from_pb)
            })
            .collect();
        let to = if req.to_ms == 0 {
            SimTime(i64::MAX)
        } else {
            SimTime(req.to_ms)
        };
        let events = self
            .store()?
            .events_where(SimTime(req.from_ms), to, limit, |e| {
                entity.is_none_or(|id| e.entity == id)
                    && (types.is_empty() || types.contains(&e.body.event_type()))
            })
            .map_err(internal)?
            .iter()
            .map(convert::event_to_pb)
            .collect();
        Ok(Response::new(pb::ListEventsResponse { events }))
    }

    type IngestStream = Stream_<pb::IngestAck>;

    async fn ingest(
        &self,
        req: Request<Streaming<pb::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        let client = super::auth::client_of(&req);
        let mut input = req.into_inner();
        let runtime = self.runtime.clone();
        let limits = self.limits.clone();
        let (sim, skew) = (self.sim.clone(), self.max_skew);
        let (tx, rx) = mpsc::channel::<Result<pb::IngestAck, Status>>(16);
        tokio::spawn(async move {
            while let Some(next) = input.message().await.transpose() {
                let batch = match next {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        break;
                    }
                };
                // Read per batch: the clock moves while a stream is open.
                let latest = sim.as_ref().map(|s| s.status().time + skew);
                let ack = ingest_batch(&runtime, &limits, &client, batch, latest).await;
                let stop = ack.is_err();
                if tx.send(ack).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn send_commands(
        &self,
        req: Request<pb::SendCommandsRequest>,
    ) -> Result<Response<pb::SendCommandsResponse>, Status> {
        self.check_size(req.get_ref())?;
        let req = req.into_inner();
        self.limits.check_batch(req.commands.len(), "commands")?;
        let now = self.now();
        let mut errors = Vec::new();
        let mut commands = Vec::new();
        let mut index = Vec::new();
        for (i, c) in req.commands.iter().enumerate() {
            match convert::command_from_pb(c, &format!("commands[{i}]"), now) {
                Ok(c) => {
                    commands.push(c);
                    index.push(i);
                }
                Err(e) => errors.push(pb::ItemError {
                    index: i as u32,
                    code: e.code.into(),
                    field: e.field,
                    message: e.message,
                }),
            }
        }
        let n = commands.len();
        let report = match &self.sim {
            // A simulated world must see the twin's commands: the run loop applies them.
            Some(sim) => sim.command(commands).await.map_err(internal)?,
            None => {
                self.runtime
                    .command(commands)
                    .await
                    .map_err(internal)?
                    .errors
            }
        };
        for (j, e) in &report {
            errors.push(item_error(index[*j], e, format!("commands[{}]", index[*j])));
        }
        errors.sort_by_key(|e| e.index);
        Ok(Response::new(pb::SendCommandsResponse {
            applied: (n - report.len()) as u32,
            errors,
        }))
    }

    async fn list_alerts(
        &self,
        req: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let req = req.into_inner();
        let filter = self.filter(req.filter.as_ref()).await?;
        let min = pb::Severity::try_from(req.min_severity).unwrap_or(pb::Severity::Info);
        let mut alerts = Vec::new();
        for r in self.all_records().await? {
            if !filter.matches(&r) {
                continue;
            }
            for x in r.common.readings.iter() {
                let severity = match x.level {
                    twin_core::state::AlarmLevel::Normal => continue,
                    twin_core::state::AlarmLevel::Warning => pb::Severity::Warning,
                    twin_core::state::AlarmLevel::Critical => pb::Severity::Critical,
                };
                if severity < min {
                    continue;
                }
                alerts.push(pb::Alert {
                    id: twin_core::AlertId::of(r.id(), x.measurand).0,
                    entity: r.id().to_string(),
                    measurand: x.measurand.name().into(),
                    severity: severity as i32,
                    raised_ms: x.time.as_ms(),
                    message: format!(
                        "{} {} is {}",
                        x.measurand,
                        value_text(&x.value),
                        level_text(severity)
                    ),
                });
            }
        }
        alerts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.raised_ms.cmp(&a.raised_ms))
        });
        Ok(Response::new(pb::ListAlertsResponse { alerts }))
    }

    type WatchAlertsStream = Stream_<pb::WatchResponse>;

    async fn watch_alerts(
        &self,
        req: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let req = req.into_inner();
        let entities = self.watch_set(req.filter.as_ref()).await?;
        let min = pb::Severity::try_from(req.min_severity).unwrap_or(pb::Severity::Info);
        Ok(Response::new(self.watch(
            vec![EventType::AlertRaised, EventType::AlertCleared],
            entities,
            Some(min),
        )))
    }

    async fn list_work_orders(
        &self,
        _: Request<pb::ListWorkOrdersRequest>,
    ) -> Result<Response<pb::ListWorkOrdersResponse>, Status> {
        Ok(Response::new(pb::ListWorkOrdersResponse {
            work_orders: Vec::new(),
            empty_reason: "no maintenance planner is running: work orders appear once one is"
                .into(),
        }))
    }

    async fn get_work_order(
        &self,
        req: Request<pb::GetWorkOrderRequest>,
    ) -> Result<Response<pb::WorkOrder>, Status> {
        Err(Status::not_found(format!(
            "no work order {}",
            req.get_ref().id
        )))
    }

    async fn list_plans(
        &self,
        _: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        Ok(Response::new(pb::ListPlansResponse {
            plans: Vec::new(),
            empty_reason: "no planner is running: plans appear once one is".into(),
        }))
    }

    async fn get_plan(
        &self,
        req: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(Status::not_found(format!("no plan {}", req.get_ref().id)))
    }

    async fn get_simulation(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        Ok(Response::new(self.status().await))
    }

    async fn pause(&self, _: Request<pb::Empty>) -> Result<Response<pb::SimulationStatus>, Status> {
        self.sim()?.pause();
        Ok(Response::new(self.status().await))
    }

    async fn resume(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        self.sim()?.resume();
        Ok(Response::new(self.status().await))
    }

    async fn set_speed(
        &self,
        req: Request<pb::SetSpeedRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        let mode = twin_core::ClockMode::parse(&req.get_ref().clock)
            .map_err(|e| Status::invalid_argument(format!("clock: {e}")))?;
        self.sim()?
            .set_clock(mode)
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(self.status().await))
    }

    async fn step(
        &self,
        req: Request<pb::StepRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        let dt = req.get_ref().duration_ms;
        if dt <= 0 || dt > MAX_STEP.as_ms() {
            return Err(Status::invalid_argument(format!(
                "duration_ms: {dt} is not between 1 and {} ({MAX_STEP})",
                MAX_STEP.as_ms()
            )));
        }
        self.sim()?
            .step(SimTime(dt))
            .await
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(self.status().await))
    }

    async fn list_scenarios(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ListScenariosResponse>, Status> {
        Ok(Response::new(pb::ListScenariosResponse {
            names: self.sim.as_ref().map(|s| s.scenarios()).unwrap_or_default(),
        }))
    }

    async fn load_scenario(
        &self,
        req: Request<pb::LoadScenarioRequest>,
    ) -> Result<Response<pb::SimulationStatus>, Status> {
        let r = req.into_inner();
        self.sim()?
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
        Ok(Response::new(self.status().await))
    }
}

/// The longest `Step`: a week of simulated time, so that one call cannot
/// hold the run loop for an unbounded time.
const MAX_STEP: SimTime = SimTime::days(7);

/// A count from a request: `default` when 0, refused above `max`.
fn bounded(n: u32, default: usize, max: usize, field: &str) -> Result<usize, Status> {
    match n as usize {
        0 => Ok(default),
        n if n > max => Err(Status::invalid_argument(format!(
            "{field}: {n} is over the largest allowed, {max}"
        ))),
        n => Ok(n),
    }
}

fn page_token(page: &[pb::Entity]) -> String {
    page.last()
        .and_then(|e| EntityId::parse(&e.id).ok())
        .map(|id| id.raw().to_string())
        .unwrap_or_default()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Number(x) => format!("{x:.2}"),
        other => format!("{other:?}"),
    }
}

fn level_text(s: pb::Severity) -> &'static str {
    match s {
        pb::Severity::Critical => "critical",
        pb::Severity::Warning => "above its warning limit",
        pb::Severity::Info => "notable",
    }
}

/// Applies one ingest batch: limits first, then every item converted on
/// its own (a bad one is reported, the others applied).
/// One `Ingest` batch; with `latest`, observations timed after it are
/// refused (`too_far_ahead`): one far-future reading would otherwise become
/// current and put every real one after it out of order.
async fn ingest_batch(
    runtime: &Runtime,
    limits: &Limits,
    client: &str,
    batch: pb::IngestRequest,
    latest: Option<SimTime>,
) -> Result<pb::IngestAck, Status> {
    limits.check_message(prost::Message::encoded_len(&batch))?;
    limits.check_batch(batch.observations.len(), "observations")?;
    limits.take(client, batch.observations.len())?;
    let mut errors = Vec::new();
    let mut good = Vec::with_capacity(batch.observations.len());
    let mut index = Vec::with_capacity(batch.observations.len());
    for (i, o) in batch.observations.iter().enumerate() {
        match convert::observation_from_pb(o).map_err(|e| e.within(&format!("observations[{i}]"))) {
            Ok(o) if latest.is_some_and(|l| o.time > l) => errors.push(pb::ItemError {
                index: i as u32,
                code: "too_far_ahead".into(),
                field: format!("observations[{i}].time_ms"),
                message: format!(
                    "{} is ahead of the twin's clock by more than the allowed skew \
                     (clock + skew = {}; --max-skew)",
                    o.time,
                    latest.unwrap_or_default()
                ),
            }),
            Ok(o) => {
                good.push(o);
                index.push(i);
            }
            Err(e) => errors.push(pb::ItemError {
                index: i as u32,
                code: e.code.into(),
                field: e.field,
                message: e.message,
            }),
        }
    }
    let report = runtime
        .ingest(good, batch.durable)
        .await
        .map_err(internal)?;
    for (j, e) in &report.errors {
        errors.push(item_error(
            index[*j],
            e,
            format!("observations[{}]", index[*j]),
        ));
    }
    errors.sort_by_key(|e| e.index);
    Ok(pb::IngestAck {
        batch_id: batch.batch_id,
        applied: report.applied as u32,
        history_only: report.history_only as u32,
        errors,
        durable: batch.durable && runtime.store().is_some(),
    })
}

impl TwinService {
    fn sim(&self) -> Result<&Arc<dyn SimControl>, Status> {
        self.sim.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "this twin runs on a live feed: there is no simulation to control",
            )
        })
    }

    async fn status(&self) -> pb::SimulationStatus {
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
                    simulated: true,
                    entities,
                    events,
                }
            }
            None => pb::SimulationStatus {
                entities,
                events,
                ..Default::default()
            },
        }
    }

    /// The entity ids a watch is restricted to: `None` for all. Spatial,
    /// subtype, tag and zone filters are resolved once, at subscription.
    async fn watch_set(
        &self,
        f: Option<&pb::EntityFilter>,
    ) -> Result<Option<Vec<EntityId>>, Status> {
        let filter = self.filter(f).await?;
        let only_kinds_or_ids = filter.subtypes.is_empty()
            && filter.tags.is_empty()
            && filter.regions.is_empty()
            && filter.zone.is_none();
        if only_kinds_or_ids && filter.kinds.is_empty() && filter.ids.is_empty() {
            return Ok(None);
        }
        let ids: Vec<EntityId> = if only_kinds_or_ids && !filter.ids.is_empty() {
            filter
                .ids
                .iter()
                .copied()
                .filter(|id| filter.kinds.is_empty() || filter.kinds.contains(&id.kind()))
                .collect()
        } else {
            self.all_records()
                .await?
                .iter()
                .filter(|r| filter.matches(r))
                .map(EntityRecord::id)
                .collect()
        };
        Ok(Some(ids))
    }

    /// A watch stream: bus events of `types` for `entities` (all when
    /// `None`), and `Lagged` when the watcher fell behind. The bus never
    /// waits for a watcher: a slow one holds up only its own task, its
    /// backlog is bounded, and what it loses is counted and reported.
    fn watch(
        &self,
        types: Vec<EventType>,
        entities: Option<Vec<EntityId>>,
        min_severity: Option<pb::Severity>,
    ) -> Stream_<pb::WatchResponse> {
        let keep = move |e: &pb::Event| {
            min_severity.is_none_or(|m| {
                e.r#type != pb::EventType::AlertRaised as i32 || e.severity >= m as i32
            })
        };
        let batch = move |events: Vec<pb::Event>| {
            let events: Vec<pb::Event> = events.into_iter().filter(keep).collect();
            (!events.is_empty()).then_some(pb::watch_response::Message::Events(pb::EventBatch {
                events,
            }))
        };
        let source = match entities {
            // A few entities: routed to this watcher alone by the bus's index.
            Some(ids) => WatchSource::Entities(
                self.runtime
                    .bus()
                    .subscribe_entities(&ids, types, WATCH_BACKLOG),
                IdMap::default(),
            ),
            // Everything (of some types): the broadcast ring.
            None => WatchSource::All(
                self.runtime.bus().subscribe(Filter {
                    types,
                    ..Filter::default()
                }),
                None,
            ),
        };
        // Pulled by the connection as it can send: no task or channel of its
        // own per watcher, and what a slow watcher has not taken waits in its
        // bounded bus queue, where a loss is counted and reported.
        let messages = futures::stream::unfold(
            (source, self.pace.open(), None::<tokio::time::Instant>),
            move |(mut source, open, sent)| async move {
                if let Some(sent) = sent {
                    // What arrives meanwhile waits in the bus's queue for
                    // this watcher and goes out as one message.
                    tokio::time::sleep_until(sent + open.interval()).await;
                }
                loop {
                    let msg = match source.next().await? {
                        Err(missed) => pb::watch_response::Message::Lagged(pb::Lagged { missed }),
                        Ok(events) => match batch(events) {
                            Some(m) => m,
                            None => continue,
                        },
                    };
                    let response = pb::WatchResponse { message: Some(msg) };
                    let sent = Some(tokio::time::Instant::now());
                    return Some((Ok(response), (source, open, sent)));
                }
            },
        );
        Box::pin(messages)
    }
}

/// Events an entity watcher may have waiting before the bus drops for it.
const WATCH_BACKLOG: usize = 10_000;

/// Where a watch stream's events come from.
enum WatchSource {
    /// Watched entities, and their ids as written out so far.
    Entities(EntitySubscription, IdMap<String>),
    /// The broadcast ring, and a loss found while draining it, to report.
    All(Subscription, Option<u64>),
}

impl WatchSource {
    /// All the events waiting, or the next ones to come (`Err(missed)` when
    /// some were lost); `None` once the bus is gone.
    async fn next(&mut self) -> Option<Result<Vec<pb::Event>, u64>> {
        Some(match self {
            WatchSource::Entities(sub, names) => match sub.recv().await {
                EntityDelivery::Lagged { missed } => Err(missed),
                EntityDelivery::Events(e) => Ok(e
                    .iter()
                    .map(|e| {
                        let name = names
                            .entry(e.entity)
                            .or_insert_with(|| e.entity.to_string());
                        convert::event_to_pb_named(e, name.clone())
                    })
                    .collect()),
            },
            WatchSource::All(sub, lost) => {
                if let Some(missed) = lost.take() {
                    return Some(Err(missed));
                }
                let mut events: Vec<pb::Event> = match sub.recv().await {
                    Delivery::Closed => return None,
                    Delivery::Lagged { missed } => return Some(Err(missed)),
                    Delivery::Events(f) => f.iter().map(convert::event_to_pb).collect(),
                };
                // Frames queued behind the first go out with it; a loss
                // among them is reported by the next call.
                while let Some(d) = sub.try_recv() {
                    match d {
                        Delivery::Events(f) => events.extend(f.iter().map(convert::event_to_pb)),
                        Delivery::Lagged { missed } => {
                            *lost = Some(missed);
                            break;
                        }
                        Delivery::Closed => break,
                    }
                }
                Ok(events)
            }
        })
    }
}
