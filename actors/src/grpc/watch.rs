//! Watch streams: bus events for a set of entities, paced per connection.

use tonic::{Request, Response, Status};
use twin_core::{EntityId, EntityRecord, EventType, IdMap};
use twin_proto::convert;
use twin_proto::v1 as pb;

use super::service::{Stream_, TwinService, blocking, event_types, internal};
use crate::bus::{Delivery, EntityDelivery, EntitySubscription, Filter, Subscription};

impl TwinService {
    /// The entity ids a watch is restricted to: `None` for all. Spatial,
    /// subtype, tag and zone filters are resolved once, at subscription.
    pub(super) async fn watch_set(
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
            let runtime = self.runtime.clone();
            blocking(move || {
                let mut ids = Vec::new();
                let mut after = None;
                loop {
                    let page = runtime
                        .entities_page(after, 10_000, &|r| filter.matches(r))
                        .map_err(internal)?;
                    ids.extend(page.records.iter().map(EntityRecord::id));
                    if ids.len() > MAX_WATCHED {
                        return Err(Status::invalid_argument(format!(
                            "filter: it matches more than {MAX_WATCHED} entities; \
                             watch by kind, or by ids, instead"
                        )));
                    }
                    match page.next {
                        Some(n) => after = Some(n),
                        None => break Ok(ids),
                    }
                }
            })
            .await?
        };
        Ok(Some(ids))
    }

    /// A watch stream: bus events of `types` for `entities` (all when
    /// `None`), and `Lagged` when the watcher fell behind. The bus never
    /// waits for a watcher: a slow one holds up only its own task, its
    /// backlog is bounded, and what it loses is counted and reported.
    pub(super) fn watch(
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

pub(super) async fn watch_entities(
    svc: &TwinService,
    req: Request<pb::WatchRequest>,
) -> Result<Response<Stream_<pb::WatchResponse>>, Status> {
    let req = req.into_inner();
    let types = event_types(&req.types)?;
    let entities = svc.watch_set(req.filter.as_ref()).await?;
    Ok(Response::new(svc.watch(types, entities, None)))
}

pub(super) async fn watch_alerts(
    svc: &TwinService,
    req: Request<pb::WatchAlertsRequest>,
) -> Result<Response<Stream_<pb::WatchResponse>>, Status> {
    let req = req.into_inner();
    let entities = svc.watch_set(req.filter.as_ref()).await?;
    let min = pb::Severity::try_from(req.min_severity).unwrap_or(pb::Severity::Info);
    Ok(Response::new(svc.watch(
        vec![EventType::AlertRaised, EventType::AlertCleared],
        entities,
        Some(min),
    )))
}

/// Entities a watch by subtype, tag, region or zone may cover: each is
/// routed to the watcher by the bus's index.
const MAX_WATCHED: usize = 100_000;

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
