//! Writes: ingest streams of observations and batches of commands.

use futures::StreamExt;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};
use twin_core::SimTime;
use twin_proto::convert;
use twin_proto::v1 as pb;

use super::limits::Limits;
use super::service::{Stream_, TwinService, internal};
use crate::runtime::Runtime;

/// Durable batches of one stream waiting for their sync at most: the
/// stream's next batches are applied meanwhile.
const SYNCING: usize = 16;

pub(super) async fn ingest(
    svc: &TwinService,
    req: Request<Streaming<pb::IngestRequest>>,
) -> Result<Response<Stream_<pb::IngestAck>>, Status> {
    let client = req
        .extensions()
        .get::<super::auth::Client>()
        .map_or(usize::MAX, |c| c.token);
    let mut input = req.into_inner();
    let runtime = svc.runtime.clone();
    let limits = svc.limits.clone();
    let (sim, skew) = (svc.sim.clone(), svc.max_skew);
    let (tx, rx) = mpsc::channel::<Result<pb::IngestAck, Status>>(16);
    svc.bulk.spawn(async move {
        // Acks in the order of the batches; a durable batch's once a sync
        // that started after it was applied has ended. The next batches are
        // applied meanwhile, up to `SYNCING` of them waiting.
        let mut waiting = futures::stream::FuturesOrdered::new();
        let mut open = true;
        while open || !waiting.is_empty() {
            tokio::select! {
                biased;
                Some(ack) = waiting.next(), if !waiting.is_empty() => {
                    let ack: Result<pb::IngestAck, Status> = ack;
                    let stop = ack.is_err();
                    if tx.send(ack).await.is_err() || stop {
                        break;
                    }
                }
                next = input.message(), if open && waiting.len() < SYNCING => {
                    let batch = match next.transpose() {
                        Some(Ok(b)) => b,
                        Some(Err(e)) => {
                            waiting.push_back(futures::future::Either::Left(std::future::ready(Err(e))));
                            open = false;
                            continue;
                        }
                        None => {
                            open = false;
                            continue;
                        }
                    };
                    // Read per batch: the clock moves while a stream is open.
                    let latest = sim.as_ref().map(|s| s.status().time + skew);
                    let ack = ingest_batch(&runtime, &limits, client, batch, latest).await;
                    let runtime = runtime.clone();
                    waiting.push_back(futures::future::Either::Right(async move {
                        let ack = ack?;
                        if ack.durable {
                            runtime.sync().await.map_err(internal)?;
                        }
                        Ok(ack)
                    }));
                }
            }
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

pub(super) async fn send_commands(
    svc: &TwinService,
    req: Request<pb::SendCommandsRequest>,
) -> Result<Response<pb::SendCommandsResponse>, Status> {
    svc.check_size(req.get_ref())?;
    let req = req.into_inner();
    svc.limits.check_batch(req.commands.len(), "commands")?;
    let now = svc.now();
    let mut errors = Vec::new();
    let mut commands = Vec::new();
    let mut index = Vec::new();
    for (i, c) in req.commands.iter().enumerate() {
        match convert::command_from_pb(c, &format!("commands[{i}]"), now) {
            Ok(c) => {
                commands.push(c);
                index.push(i);
            }
            Err(e) => errors.push(refused_item(i, e)),
        }
    }
    let n = commands.len();
    let report = match &svc.sim {
        // A simulated world must see the twin's commands: the run loop applies them.
        Some(sim) => sim.command(commands).await.map_err(internal)?,
        None => {
            svc.runtime
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

/// An item refused before reaching the runtime, by its index.
fn refused_item(index: usize, e: convert::FieldError) -> pb::ItemError {
    pb::ItemError {
        index: index as u32,
        code: e.code.into(),
        field: e.field,
        message: e.message,
    }
}

fn item_error(index: usize, e: &twin_core::InputError, field: String) -> pb::ItemError {
    pb::ItemError {
        index: index as u32,
        code: e.code().into(),
        field,
        message: e.to_string(),
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
    client: usize,
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
            Err(e) => errors.push(refused_item(i, e)),
        }
    }
    let report = runtime
        .ingest_unsynced(good, batch.durable)
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
