//! Reads of the present: entities, relations, measurands, alerts, work
//! orders and plans. Listings go a page at a time on the blocking pool.

use tonic::{Request, Response, Status};

use twin_core::{EntityRecord, Measurand, Value};
use twin_proto::convert;
use twin_proto::v1 as pb;

use super::paging::{after_entity, bounded, entity_token};
use super::service::{TwinService, blocking, internal, invalid, not_in_twin};

pub(super) async fn get_entity(
    svc: &TwinService,
    req: Request<pb::GetEntityRequest>,
) -> Result<Response<pb::Entity>, Status> {
    let id = convert::entity_id(&req.get_ref().id, "id").map_err(invalid)?;
    match svc.record(id).await? {
        Some(r) => Ok(Response::new(convert::entity_to_pb(&r))),
        None => Err(not_in_twin(&req.get_ref().id)),
    }
}

pub(super) async fn list_entities(
    svc: &TwinService,
    req: Request<pb::ListEntitiesRequest>,
) -> Result<Response<pb::ListEntitiesResponse>, Status> {
    let req = req.into_inner();
    let filter = svc.filter(req.filter.as_ref()).await?;
    let size = bounded(req.page_size, 500, 10_000, "page_size")?;
    let after = after_entity(&req.page_token)?;
    let runtime = svc.runtime.clone();
    let max_bytes = svc.limits.config.max_response_bytes;
    blocking(move || {
        let page = runtime
            .entities_page(after, size, &|r| filter.matches(r))
            .map_err(internal)?;
        let mut next = page.next;
        let mut entities = Vec::with_capacity(page.records.len());
        let mut bytes = 0;
        for (i, r) in page.records.iter().enumerate() {
            let e = convert::entity_to_pb(r);
            // Stop short of the largest response (one entity at least).
            bytes += prost::Message::encoded_len(&e) + 8;
            if bytes > max_bytes && i > 0 {
                next = Some(page.records[i - 1].id());
                break;
            }
            entities.push(e);
        }
        Ok(Response::new(pb::ListEntitiesResponse {
            entities,
            next_page_token: entity_token(next),
        }))
    })
    .await
}

pub(super) async fn get_relations(
    svc: &TwinService,
    req: Request<pb::GetRelationsRequest>,
) -> Result<Response<pb::GetRelationsResponse>, Status> {
    let id = convert::entity_id(&req.get_ref().id, "id").map_err(invalid)?;
    let Some(r) = svc.record(id).await? else {
        return Err(not_in_twin(&req.get_ref().id));
    };
    let incoming = match svc.runtime.store().cloned() {
        Some(store) => blocking(move || store.relations_to(id).map_err(internal))
            .await?
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

pub(super) async fn get_measurands(
    _svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::GetMeasurandsResponse>, Status> {
    Ok(Response::new(pb::GetMeasurandsResponse {
        measurands: Measurand::every().map(convert::measurand_info).collect(),
    }))
}

pub(super) async fn list_feeds(
    svc: &TwinService,
    _: Request<pb::Empty>,
) -> Result<Response<pb::ListFeedsResponse>, Status> {
    use crate::feeds::FeedStats as S;
    use std::sync::atomic::Ordering;
    let feeds = svc
        .runtime
        .feeds()
        .list()
        .into_iter()
        .map(|(name, s)| (name, s.latency_ms().unwrap_or_default(), s))
        .map(|(name, (e2e_p50_ms, e2e_p99_ms), s)| pb::Feed {
            name,
            source: s.source.clone(),
            connected: s.connected.load(Ordering::Relaxed),
            messages: S::get(&s.messages),
            readings: S::get(&s.readings),
            applied: S::get(&s.applied),
            duplicates: S::get(&s.duplicates),
            malformed: S::get(&s.malformed),
            refused: S::get(&s.refused),
            created: S::get(&s.created),
            reconnects: S::get(&s.reconnects),
            last_message_unix_ms: s.last_message_ms.load(Ordering::Relaxed),
            last_error: s.last_error(),
            reasons: s.reasons().into_iter().collect(),
            e2e_p50_ms,
            e2e_p99_ms,
        })
        .collect();
    Ok(Response::new(pb::ListFeedsResponse { feeds }))
}

pub(super) async fn list_alerts(
    svc: &TwinService,
    req: Request<pb::ListAlertsRequest>,
) -> Result<Response<pb::ListAlertsResponse>, Status> {
    let req = req.into_inner();
    let filter = svc.filter(req.filter.as_ref()).await?;
    let min = pb::Severity::try_from(req.min_severity).unwrap_or(pb::Severity::Info);
    let size = bounded(req.page_size, 500, 10_000, "page_size")?;
    let after = after_entity(&req.page_token)?;
    let runtime = svc.runtime.clone();
    blocking(move || {
        let page = runtime
            .alerts_page(after, size, &|r| {
                r.common
                    .readings
                    .iter()
                    .any(|x| severity(x.level).is_some_and(|s| s >= min))
                    && filter.matches(r)
            })
            .map_err(internal)?;
        let mut alerts: Vec<pb::Alert> = page
            .records
            .iter()
            .flat_map(|r| alerts_of(r, min))
            .collect();
        alerts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.raised_ms.cmp(&a.raised_ms))
        });
        Ok(Response::new(pb::ListAlertsResponse {
            alerts,
            next_page_token: entity_token(page.next),
        }))
    })
    .await
}

/// The severity of an alert at `level` (none while normal).
fn severity(level: twin_core::state::AlarmLevel) -> Option<pb::Severity> {
    match level {
        twin_core::state::AlarmLevel::Normal => None,
        twin_core::state::AlarmLevel::Warning => Some(pb::Severity::Warning),
        twin_core::state::AlarmLevel::Critical => Some(pb::Severity::Critical),
    }
}

/// The alerts an entity has raised, of at least `min` severity.
fn alerts_of(r: &EntityRecord, min: pb::Severity) -> Vec<pb::Alert> {
    let mut out = Vec::new();
    for x in r.common.readings.iter() {
        let Some(severity) = severity(x.level).filter(|s| *s >= min) else {
            continue;
        };
        out.push(pb::Alert {
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
    out
}

/// At most this many orders or plans in one answer, the newest.
const MAX_ORDERS: usize = 1_000;

pub(super) async fn list_work_orders(
    svc: &TwinService,
    req: Request<pb::ListWorkOrdersRequest>,
) -> Result<Response<pb::ListWorkOrdersResponse>, Status> {
    let req = req.into_inner();
    let state = match pb::WorkOrderState::try_from(req.state) {
        Ok(s) => twin_proto::workorder::state_from_pb(s),
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "state: {} is not a work order state",
                req.state
            )));
        }
    };
    let id = |s: &str, field: &str| {
        (!s.is_empty())
            .then(|| convert::entity_id(s, field))
            .transpose()
            .map_err(invalid)
    };
    let machine = id(&req.machine, "machine")?;
    let technician = id(&req.technician, "technician")?;
    let board = svc.runtime.board();
    let mut work_orders: Vec<pb::WorkOrder> = board
        .work_orders
        .iter()
        .rev()
        .filter(|o| state.is_none_or(|s| o.state == s))
        .filter(|o| machine.is_none_or(|m| o.machine == m))
        .filter(|o| technician.is_none_or(|t| o.technician == Some(t)))
        .take(MAX_ORDERS)
        .map(twin_proto::workorder::to_pb)
        .collect();
    work_orders.reverse();
    let empty_reason = match (work_orders.is_empty(), board.planning) {
        (false, _) => String::new(),
        (true, false) => "no maintenance planner is running: work orders appear once one is".into(),
        (true, true) => "the planners have opened no work order matching this".into(),
    };
    Ok(Response::new(pb::ListWorkOrdersResponse {
        work_orders,
        empty_reason,
    }))
}

pub(super) async fn get_work_order(
    svc: &TwinService,
    req: Request<pb::GetWorkOrderRequest>,
) -> Result<Response<pb::WorkOrder>, Status> {
    let label = &req.get_ref().id;
    let Some(id) = twin_core::workorder::WorkOrder::parse_label(label) else {
        return Err(Status::invalid_argument(format!(
            "id: `{}` is not a work order id such as WO-12",
            twin_core::id::quoted(label)
        )));
    };
    let board = svc.runtime.board();
    match board.work_orders.iter().find(|o| o.id == id) {
        Some(o) => Ok(Response::new(twin_proto::workorder::to_pb(o))),
        None => Err(Status::not_found(format!("no work order WO-{id}"))),
    }
}

pub(super) async fn list_plans(
    svc: &TwinService,
    req: Request<pb::ListPlansRequest>,
) -> Result<Response<pb::ListPlansResponse>, Status> {
    let req = req.into_inner();
    let state = match pb::PlanState::try_from(req.state) {
        Ok(s) => twin_proto::plan::state_from_pb(s),
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "state: {} is not a plan state",
                req.state
            )));
        }
    };
    let kind = match req.r#type.as_str() {
        "" => None,
        "irrigation" => Some(twin_core::plan::PlanKind::Irrigation),
        other => {
            return Err(Status::invalid_argument(format!(
                "type: `{}` is not a plan type (irrigation)",
                twin_core::id::quoted(other)
            )));
        }
    };
    let entity = (!req.entity.is_empty())
        .then(|| convert::entity_id(&req.entity, "entity"))
        .transpose()
        .map_err(invalid)?;
    let board = svc.runtime.board();
    let mut plans: Vec<pb::Plan> = board
        .plans
        .iter()
        .rev()
        .filter(|p| state.is_none_or(|s| p.state == s))
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .filter(|p| entity.is_none_or(|e| p.entity == e))
        .take(MAX_ORDERS)
        .map(twin_proto::plan::to_pb)
        .collect();
    plans.reverse();
    let empty_reason = match (plans.is_empty(), board.planning) {
        (false, _) => String::new(),
        (true, false) => "no planner is running: plans appear once one is".into(),
        (true, true) => "the planners have made no plan matching this".into(),
    };
    Ok(Response::new(pb::ListPlansResponse {
        plans,
        empty_reason,
    }))
}

pub(super) async fn get_plan(
    svc: &TwinService,
    req: Request<pb::GetPlanRequest>,
) -> Result<Response<pb::Plan>, Status> {
    let label = &req.get_ref().id;
    let Some(id) = twin_core::plan::Plan::parse_label(label) else {
        return Err(Status::invalid_argument(format!(
            "id: `{}` is not a plan id such as PL-12",
            twin_core::id::quoted(label)
        )));
    };
    let board = svc.runtime.board();
    match board.plans.iter().find(|p| p.id == id) {
        Some(p) => Ok(Response::new(twin_proto::plan::to_pb(p))),
        None => Err(Status::not_found(format!("no plan PL-{id}"))),
    }
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
