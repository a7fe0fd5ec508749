//! Reads of what was: a series' history and the event log, each a page at
//! a time, read on the blocking pool.

use tonic::{Request, Response, Status};
use twin_core::store::Resolution;
use twin_core::{SimTime, Value};
use twin_proto::convert;
use twin_proto::v1 as pb;

use super::paging::{bounded, event_token, events_from, history_from, time_token};
use super::service::{TwinService, blocking, event_types, internal, invalid};

/// Events one `ListEvents` call looks at, at most: a selective filter over
/// a long log pages on rather than scanning it whole.
const EVENT_BUDGET: usize = 100_000;

pub(super) async fn get_history(
    svc: &TwinService,
    req: Request<pb::GetHistoryRequest>,
) -> Result<Response<pb::GetHistoryResponse>, Status> {
    let req = req.into_inner();
    let id = convert::entity_id(&req.id, "id").map_err(invalid)?;
    let m = convert::measurand(&req.measurand, "measurand").map_err(invalid)?;
    if req.to_ms <= req.from_ms {
        return Err(Status::invalid_argument("to_ms: must be after from_ms"));
    }
    let to = SimTime(req.to_ms);
    let from = history_from(&req.page_token, SimTime(req.from_ms), to)?;
    let limit = bounded(req.max_points, 10_000, 100_000, "max_points")?;
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
    let store = svc.store()?.clone();
    let max_bytes = svc.limits.config.max_response_bytes;
    blocking(move || {
        let mut out = pb::GetHistoryResponse::default();
        let next = match resolution {
            None => {
                let (samples, next) = store
                    .raw_history_page(id, m, from, to, limit)
                    .map_err(internal)?;
                let (samples, cut) = within_bytes(samples, max_bytes);
                out.samples = samples;
                cut.or(next)
            }
            Some(r) => {
                let (buckets, next) = store
                    .rollup_history_page(id, m, from, to, r, limit)
                    .map_err(internal)?;
                out.buckets = buckets
                    .into_iter()
                    .map(|b| pb::Bucket {
                        start_ms: b.start.as_ms(),
                        count: b.count,
                        min: b.min,
                        max: b.max,
                        mean: b.mean,
                    })
                    .collect();
                next
            }
        };
        out.next_page_token = time_token(next);
        Ok(Response::new(out))
    })
    .await
}

/// The samples as the wire carries them, stopping short of `max_bytes`
/// (typed values such as forecasts are far larger than a number): the
/// samples kept, and where the rest starts when some are left out. A page
/// never ends inside one time, so the next, starting at that time, repeats
/// nothing; a time too large for a page on its own is sent whole.
fn within_bytes(
    samples: Vec<twin_core::store::Sample>,
    max_bytes: usize,
) -> (Vec<pb::Sample>, Option<SimTime>) {
    let mut out: Vec<pb::Sample> = Vec::with_capacity(samples.len());
    let mut bytes = 0;
    for s in samples {
        let p = pb::Sample {
            time_ms: s.time.as_ms(),
            value: s.value.as_f64().unwrap_or(f64::NAN),
            typed: match s.value {
                Value::Number(_) | Value::Flag(_) => None,
                ref v => Some(convert::value_to_pb(v)),
            },
        };
        bytes += prost::Message::encoded_len(&p) + 4;
        if bytes > max_bytes && out.iter().any(|k| k.time_ms != p.time_ms) {
            while out.last().is_some_and(|k| k.time_ms == p.time_ms) {
                out.pop();
            }
            return (out, Some(s.time));
        }
        out.push(p);
    }
    (out, None)
}

pub(super) async fn list_events(
    svc: &TwinService,
    req: Request<pb::ListEventsRequest>,
) -> Result<Response<pb::ListEventsResponse>, Status> {
    let req = req.into_inner();
    let limit = bounded(req.limit, 1_000, 10_000, "limit")?;
    let entity = match req.entity.as_str() {
        "" => None,
        e => Some(convert::entity_id(e, "entity").map_err(invalid)?),
    };
    let types = event_types(&req.types)?;
    let to = if req.to_ms == 0 {
        SimTime(i64::MAX)
    } else {
        SimTime(req.to_ms)
    };
    let from = events_from(&req.page_token, SimTime(req.from_ms))?;
    let store = svc.store()?.clone();
    blocking(move || {
        let (events, next) = store
            .events_page(from, to, limit, EVENT_BUDGET, |e| {
                entity.is_none_or(|id| e.entity == id)
                    && (types.is_empty() || types.contains(&e.body.event_type()))
            })
            .map_err(internal)?;
        Ok(Response::new(pb::ListEventsResponse {
            events: events.iter().map(convert::event_to_pb).collect(),
            next_page_token: event_token(next),
        }))
    })
    .await
}
