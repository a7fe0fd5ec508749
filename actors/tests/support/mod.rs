//! What the gRPC tests share: a served runtime on a real store, and a
//! client with a bearer token.
#![allow(dead_code)]

use std::sync::Arc;

use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};
use twin_actors::grpc::{LimitConfig, Role, ServerConfig, Token, bind};
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::state::SensorState;
use twin_core::store::engine::{
    self,
    gate::{Gate, GateControl},
};
use twin_core::store::{EngineKind, Retention, Store};
use twin_core::{EntityRecord, Kind, KindState, Measurand, Relation, SimTime};
use twin_infer::models::Models;
use twin_proto::v1 as pb;
use twin_proto::v1::twin_client::TwinClient;

pub const TOKEN: &str = "s3cret";
/// A token of role `read`.
pub const READER: &str = "reader";
/// A token of role `write`.
pub const WRITER: &str = "writer";

pub struct Fixture {
    pub addr: std::net::SocketAddr,
    pub runtime: Arc<Runtime>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A zone, two machines in it, a temperature sensor on each; served.
pub async fn fixture(limits: LimitConfig) -> Fixture {
    fixture_with(limits, None).await
}

pub async fn fixture_with(limits: LimitConfig, tls: Option<(Vec<u8>, Vec<u8>)>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store"), Retention::default()).unwrap();
    fixture_on(limits, tls, store, dir, RuntimeConfig::default()).await
}

/// The same twin running `models`, on a store on disk.
pub async fn fixture_with_models(models: Models) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store"), Retention::default()).unwrap();
    let config = RuntimeConfig {
        models,
        ..RuntimeConfig::default()
    };
    fixture_on(LimitConfig::default(), None, store, dir, config).await
}

/// The same twin running `planners`, on a store on disk.
pub async fn fixture_with_planners(planners: twin_plan::Planners) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store"), Retention::default()).unwrap();
    let config = RuntimeConfig {
        planners,
        ..RuntimeConfig::default()
    };
    fixture_on(LimitConfig::default(), None, store, dir, config).await
}

pub async fn fixture_on(
    limits: LimitConfig,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    store: Store,
    dir: tempfile::TempDir,
    config: RuntimeConfig,
) -> Fixture {
    let runtime = Arc::new(
        Runtime::start(
            RuntimeConfig {
                workers: 2,
                bus_capacity: 8,
                ..config
            },
            Some(store),
        )
        .unwrap(),
    );
    let zone = EntityRecord::new(Kind::Zone, "hall", "site");
    let mut records = vec![zone.clone()];
    for i in 0..2 {
        let m = EntityRecord::new(Kind::Machine, &format!("m{i}"), "pump")
            .with_relation(Relation::LiesIn(zone.id()));
        let s = EntityRecord::new(Kind::Sensor, &format!("t{i}"), "pt100")
            .with_state(KindState::Sensor(SensorState::measuring(
                &[Measurand::Temperature],
                SimTime::secs(1),
            )))
            .with_relation(Relation::AttachedTo(m.id()));
        records.extend([m, s]);
    }
    let report = runtime.create(records, SimTime::ZERO).await.unwrap();
    assert!(report.errors.is_empty());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, serve) = bind(
        ServerConfig {
            tls,
            limits,
            stall_after: std::time::Duration::from_millis(400),
            ..ServerConfig::new(
                "127.0.0.1:0".parse().unwrap(),
                vec![
                    Token::new(TOKEN, Role::Admin),
                    Token::new("other", Role::Admin),
                    Token::new(READER, Role::Read),
                    Token::new(WRITER, Role::Write),
                ],
            )
        },
        runtime.clone(),
        None,
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    tokio::spawn(serve);
    Fixture {
        addr,
        runtime,
        _dir: dir,
        stop: Some(stop),
    }
}

/// Adds `authorization: Bearer TOKEN` when a token is given.
#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(h) = &self.0 {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    }
}

pub type Client = TwinClient<InterceptedService<Channel, Bearer>>;

pub async fn client(f: &Fixture, token: Option<&str>) -> Client {
    let channel = Channel::from_shared(format!("http://{}", f.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let header = token.map(|t| format!("Bearer {t}").parse().unwrap());
    TwinClient::with_interceptor(channel, Bearer(header))
}

pub fn number(x: f64) -> Option<pb::Value> {
    Some(pb::Value {
        kind: Some(pb::value::Kind::Number(x)),
    })
}

pub fn obs(entity: &str, t: i64, m: &str, x: f64) -> pb::Observation {
    pb::Observation {
        entity: entity.into(),
        time_ms: t,
        measurand: m.into(),
        value: number(x),
        ..Default::default()
    }
}
/// A served runtime whose store sits on a [`Gate`]: reads can be failed and
/// writes held, as a failing disk would.
pub async fn gated_fixture() -> (Fixture, GateControl) {
    gated_fixture_with(LimitConfig::default()).await
}

pub async fn gated_fixture_with(limits: LimitConfig) -> (Fixture, GateControl) {
    let (gate, control) = Gate::new(engine::temporary(EngineKind::DEFAULT).unwrap());
    let store = Store::on(Arc::new(gate), Retention::default()).unwrap();
    let f = fixture_on(
        limits,
        None,
        store,
        tempfile::tempdir().unwrap(),
        RuntimeConfig::default(),
    )
    .await;
    (f, control)
}

/// Every method of the service, called once with a default request: its
/// path's method name and what it answered (`Ok` for a stream that began).
pub async fn call_every_method(c: &Client) -> Vec<(&'static str, Result<(), Status>)> {
    let mut out = Vec::new();
    macro_rules! each {
        ($($name:literal $method:ident($req:expr)),* $(,)?) => {
            $(out.push(($name, c.clone().$method($req).await.map(|_| ())));)*
        };
    }
    each!(
        "GetEntity" get_entity(pb::GetEntityRequest::default()),
        "ListEntities" list_entities(pb::ListEntitiesRequest::default()),
        "GetRelations" get_relations(pb::GetRelationsRequest::default()),
        "GetMeasurands" get_measurands(pb::Empty {}),
        "WatchEntities" watch_entities(pb::WatchRequest::default()),
        "GetHistory" get_history(pb::GetHistoryRequest::default()),
        "ListEvents" list_events(pb::ListEventsRequest::default()),
        "Ingest" ingest(tokio_stream::iter(Vec::<pb::IngestRequest>::new())),
        "SendCommands" send_commands(pb::SendCommandsRequest::default()),
        "ListAlerts" list_alerts(pb::ListAlertsRequest::default()),
        "WatchAlerts" watch_alerts(pb::WatchAlertsRequest::default()),
        "ListWorkOrders" list_work_orders(pb::ListWorkOrdersRequest::default()),
        "GetWorkOrder" get_work_order(pb::GetWorkOrderRequest::default()),
        "ListPlans" list_plans(pb::ListPlansRequest::default()),
        "GetPlan" get_plan(pb::GetPlanRequest::default()),
        "GetSimulation" get_simulation(pb::Empty {}),
        "Pause" pause(pb::Empty {}),
        "Resume" resume(pb::Empty {}),
        "SetSpeed" set_speed(pb::SetSpeedRequest::default()),
        "Step" step(pb::StepRequest::default()),
        "ListScenarios" list_scenarios(pb::Empty {}),
        "LoadScenario" load_scenario(pb::LoadScenarioRequest::default()),
        "ListFeeds" list_feeds(pb::Empty {}),
    );
    out
}
