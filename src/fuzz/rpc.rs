//! Every method of `twin.v1.Twin`, called with bodies from [`wire`] over a
//! real connection: the bytes go out as they are (a raw codec), so the
//! server's own decoding, guard and handler all see them.

use bytes::{Buf, BufMut};
use prost::Message;
use rand_chacha::ChaCha8Rng;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use twin_proto::v1 as pb;

use super::wire;

/// How a method is called.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Unary,
    ServerStream,
    BidiStream,
}

/// A method: its path, shape, and a valid request to mutate.
pub struct Method {
    pub path: &'static str,
    pub shape: Shape,
    pub valid: Vec<u8>,
}

fn m(name: &'static str, shape: Shape, valid: impl Message) -> Method {
    Method {
        path: name,
        shape,
        valid: valid.encode_to_vec(),
    }
}

/// The contract's methods, each with a request that would succeed.
pub fn methods() -> Vec<Method> {
    use Shape::*;
    let id = || "sensor/probe-0-0".to_string();
    vec![
        m(
            "/twin.v1.Twin/GetEntity",
            Unary,
            pb::GetEntityRequest { id: id() },
        ),
        m(
            "/twin.v1.Twin/ListEntities",
            Unary,
            pb::ListEntitiesRequest {
                page_size: 10,
                ..Default::default()
            },
        ),
        m(
            "/twin.v1.Twin/GetRelations",
            Unary,
            pb::GetRelationsRequest { id: id() },
        ),
        m("/twin.v1.Twin/GetMeasurands", Unary, pb::Empty {}),
        m(
            "/twin.v1.Twin/WatchEntities",
            ServerStream,
            pb::WatchRequest::default(),
        ),
        m(
            "/twin.v1.Twin/GetHistory",
            Unary,
            pb::GetHistoryRequest {
                id: id(),
                measurand: "soil_moisture".into(),
                from_ms: 0,
                to_ms: 86_400_000,
                resolution: pb::Resolution::FiveMinutes as i32,
                ..Default::default()
            },
        ),
        m(
            "/twin.v1.Twin/ListEvents",
            Unary,
            pb::ListEventsRequest {
                limit: 10,
                ..Default::default()
            },
        ),
        m(
            "/twin.v1.Twin/Ingest",
            BidiStream,
            pb::IngestRequest {
                batch_id: 1,
                observations: vec![pb::Observation {
                    entity: id(),
                    time_ms: 1_000,
                    measurand: "soil_moisture".into(),
                    value: Some(pb::Value {
                        kind: Some(pb::value::Kind::Number(25.0)),
                    }),
                    ..Default::default()
                }],
                durable: false,
            },
        ),
        m(
            "/twin.v1.Twin/SendCommands",
            Unary,
            pb::SendCommandsRequest::default(),
        ),
        m(
            "/twin.v1.Twin/ListAlerts",
            Unary,
            pb::ListAlertsRequest::default(),
        ),
        m(
            "/twin.v1.Twin/WatchAlerts",
            ServerStream,
            pb::WatchAlertsRequest::default(),
        ),
        m(
            "/twin.v1.Twin/ListWorkOrders",
            Unary,
            pb::ListWorkOrdersRequest::default(),
        ),
        m(
            "/twin.v1.Twin/GetWorkOrder",
            Unary,
            pb::GetWorkOrderRequest::default(),
        ),
        m(
            "/twin.v1.Twin/ListPlans",
            Unary,
            pb::ListPlansRequest::default(),
        ),
        m(
            "/twin.v1.Twin/GetPlan",
            Unary,
            pb::GetPlanRequest::default(),
        ),
        m("/twin.v1.Twin/GetSimulation", Unary, pb::Empty {}),
        m("/twin.v1.Twin/Pause", Unary, pb::Empty {}),
        m("/twin.v1.Twin/Resume", Unary, pb::Empty {}),
        m(
            "/twin.v1.Twin/SetSpeed",
            Unary,
            pb::SetSpeedRequest {
                clock: "x100".into(),
            },
        ),
        m(
            "/twin.v1.Twin/Step",
            Unary,
            pb::StepRequest { duration_ms: 1_000 },
        ),
        m("/twin.v1.Twin/ListScenarios", Unary, pb::Empty {}),
        m("/twin.v1.Twin/ListFeeds", Unary, pb::Empty {}),
        m(
            "/twin.v1.Twin/LoadScenario",
            Unary,
            pb::LoadScenarioRequest {
                name: "farm".into(),
                seed: 1,
                scale: 0.2,
            },
        ),
    ]
}

/// Sends and receives bytes untouched.
#[derive(Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// Calls `method` with a hostile body under `token`; the answer (`Ok` for
/// a success).
pub async fn call(
    channel: Channel,
    method: &Method,
    token: &str,
    rng: &mut ChaCha8Rng,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return Err(Status::from_error(e.into()));
    }
    let path = http::uri::PathAndQuery::from_static(method.path);
    let auth: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("an ASCII header");
    match method.shape {
        Shape::Unary => {
            let mut req = tonic::Request::new(wire::body(rng, &method.valid));
            req.metadata_mut().insert("authorization", auth);
            grpc.unary(req, path, Raw).await.map(|_| ())
        }
        Shape::ServerStream => {
            let mut req = tonic::Request::new(wire::body(rng, &method.valid));
            req.metadata_mut().insert("authorization", auth);
            // The stream began: that is an answer; nothing more to wait for.
            grpc.server_streaming(req, path, Raw).await.map(|_| ())
        }
        Shape::BidiStream => {
            let batches: Vec<Vec<u8>> = (0..3).map(|_| wire::body(rng, &method.valid)).collect();
            let mut req = tonic::Request::new(tokio_stream::iter(batches));
            req.metadata_mut().insert("authorization", auth);
            match grpc.streaming(req, path, Raw).await {
                // Every acknowledgement, up to the stream's end or error.
                Ok(acks) => {
                    let mut acks = acks.into_inner();
                    loop {
                        match acks.message().await {
                            Ok(Some(_)) => continue,
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    }
                }
                Err(e) => Err(e),
            }
        }
    }
}
