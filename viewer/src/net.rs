//! The viewer's only link to the twin: a thread of its own running a tokio
//! runtime and a tonic client. The UI sends [`Request`]s without waiting and
//! drains [`Update`]s at the start of each frame, so a frame never waits on
//! the network. The thread keeps a session up: it connects, lists the
//! entities, watches their events and alerts, polls the simulation's status,
//! and when anything fails it says so and reconnects with back-off.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc as tmpsc;
use tonic::Code;
use twin_proto::client::{Client, Connect};
use twin_proto::v1 as pb;

/// The state of the link, as the status bar shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    Connecting {
        url: String,
        attempt: u32,
    },
    Connected {
        url: String,
    },
    /// Lost or refused; another attempt follows after `retry_in`.
    Down {
        url: String,
        reason: String,
        retry_in: Duration,
    },
}

/// One entity's detail, for the inspector.
#[derive(Clone, Debug)]
pub struct Detail {
    pub entity: pb::Entity,
    pub relations: pb::GetRelationsResponse,
    /// Its latest events, newest first.
    pub events: Vec<pb::Event>,
}

/// A measurand's history over a window.
#[derive(Clone, Debug)]
pub struct History {
    pub id: String,
    pub measurand: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// (time ms, value); bucket means at coarse resolutions.
    pub points: Vec<(i64, f64)>,
    /// (time ms, min, max) of buckets; empty for raw samples.
    pub spread: Vec<(i64, f64, f64)>,
}

/// What the network thread tells the UI.
#[derive(Debug)]
pub enum Update {
    Link(Link),
    /// A fresh session starts: forget what the last one listed.
    Reset,
    Entities(Vec<pb::Entity>),
    Events(Vec<pb::Event>),
    Lagged(u64),
    Alerts(Vec<pb::Alert>),
    AlertEvents(Vec<pb::Event>),
    Sim(pb::SimulationStatus),
    WorkOrders(pb::ListWorkOrdersResponse),
    Plans(pb::ListPlansResponse),
    Scenarios(Vec<String>),
    Detail(Box<Detail>),
    History(History),
    /// A request failed: a message for the user.
    Error(String),
}

/// What the UI asks of the twin.
#[derive(Clone, Debug)]
pub enum Request {
    Inspect(String),
    History {
        id: String,
        measurand: String,
        from_ms: i64,
        to_ms: i64,
    },
    Pause,
    Resume,
    /// `real`, `max` or `xN`.
    Speed(String),
    Step(i64),
    Load(String),
    /// Connect elsewhere (or with another token).
    Reconnect(Connect),
}

/// The UI's handle on the network thread.
pub struct Net {
    requests: tmpsc::UnboundedSender<Request>,
    updates: mpsc::Receiver<Update>,
    repaint: Repaint,
}

/// Wakes the UI when an update arrives (it may sleep between events).
#[derive(Clone, Default)]
struct Repaint(Arc<Mutex<Option<egui::Context>>>);

impl Repaint {
    fn wake(&self) {
        if let Some(ctx) = self.0.lock().expect("repaint lock").as_ref() {
            ctx.request_repaint();
        }
    }
}

/// The sending half, held by the session tasks.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<Update>,
    repaint: Repaint,
}

impl Out {
    fn send(&self, u: Update) {
        let _ = self.tx.send(u);
        self.repaint.wake();
    }
}

impl Net {
    /// Starts the network thread for `connect`.
    pub fn start(connect: Connect) -> Net {
        let (requests, rx) = tmpsc::unbounded_channel();
        let (tx, updates) = mpsc::channel();
        let repaint = Repaint::default();
        let out = Out {
            tx,
            repaint: repaint.clone(),
        };
        std::thread::Builder::new()
            .name("twin-viewer-net".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the network thread");
                rt.block_on(supervise(connect, rx, out));
            })
            .expect("the network thread starts");
        Net {
            requests,
            updates,
            repaint,
        }
    }

    /// Lets the network thread wake this context's UI.
    pub fn attach(&self, ctx: &egui::Context) {
        let mut slot = self.repaint.0.lock().expect("repaint lock");
        if slot.is_none() {
            *slot = Some(ctx.clone());
        }
    }

    pub fn send(&self, r: Request) {
        let _ = self.requests.send(r);
    }

    /// The updates that arrived since the last call.
    pub fn drain(&self) -> impl Iterator<Item = Update> + '_ {
        self.updates.try_iter()
    }
}

/// Reconnects forever, with back-off from 0.5 s to 5 s.
async fn supervise(
    mut connect: Connect,
    mut requests: tmpsc::UnboundedReceiver<Request>,
    out: Out,
) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        out.send(Update::Link(Link::Connecting {
            url: connect.url.clone(),
            attempt,
        }));
        let ended = session(&connect, &mut requests, &out, &mut attempt).await;
        let next = match ended {
            Ended::Reconnect(c) => {
                connect = c;
                attempt = 0;
                continue;
            }
            Ended::Quit => return,
            Ended::Failed(reason) => reason,
        };
        let retry_in =
            Duration::from_millis(500 * 2u64.pow(attempt.min(4))).min(Duration::from_secs(5));
        out.send(Update::Link(Link::Down {
            url: connect.url.clone(),
            reason: next,
            retry_in,
        }));
        // Wait, but a new address is taken at once.
        let wait = tokio::time::sleep(retry_in);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                r = requests.recv() => match r {
                    None => return,
                    Some(Request::Reconnect(c)) => { connect = c; attempt = 0; break; }
                    Some(_) => out.send(Update::Error("not connected: the request was dropped".into())),
                },
            }
        }
    }
}

enum Ended {
    Failed(String),
    Reconnect(Connect),
    Quit,
}

/// A status turned into a sentence for the status bar.
fn explain(s: &tonic::Status) -> String {
    match s.code() {
        Code::Unauthenticated => format!("the token was refused ({})", s.message()),
        Code::Unavailable => format!("the twin is unreachable ({})", s.message()),
        _ => format!("{:?}: {}", s.code(), s.message()),
    }
}

/// One connected session, until it fails or the UI asks for another.
async fn session(
    connect: &Connect,
    requests: &mut tmpsc::UnboundedReceiver<Request>,
    out: &Out,
    attempt: &mut u32,
) -> Ended {
    let mut client = match connect.connect().await {
        Ok(c) => c,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    // The first call proves the token.
    let sim = match client.get_simulation(pb::Empty {}).await {
        Ok(s) => s.into_inner(),
        Err(s) => return Ended::Failed(explain(&s)),
    };
    *attempt = 0;
    out.send(Update::Reset);
    out.send(Update::Link(Link::Connected {
        url: connect.url.clone(),
    }));
    out.send(Update::Sim(sim));
    // Watch first, list after: nothing between the two is missed.
    let (failed_tx, mut failed) = tmpsc::unbounded_channel::<String>();
    let watch = tokio::spawn(watch_entities(
        client.clone(),
        out.clone(),
        failed_tx.clone(),
    ));
    let alerts = tokio::spawn(watch_alerts(client.clone(), out.clone(), failed_tx));
    let result = async {
        list_entities(&mut client, out).await?;
        let mut alerts = Vec::new();
        let mut page_token = String::new();
        loop {
            let a = client
                .list_alerts(pb::ListAlertsRequest {
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            alerts.extend(a.alerts);
            page_token = a.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        out.send(Update::Alerts(alerts));
        if let Ok(s) = client.list_scenarios(pb::Empty {}).await {
            out.send(Update::Scenarios(s.into_inner().names));
        }
        Ok::<(), tonic::Status>(())
    }
    .await;
    let ended = match result {
        Err(s) => Ended::Failed(explain(&s)),
        Ok(()) => serve_requests(&mut client, requests, out, &mut failed).await,
    };
    watch.abort();
    alerts.abort();
    ended
}

/// Answers the UI's requests and polls the status until the session fails.
async fn serve_requests(
    client: &mut Client,
    requests: &mut tmpsc::UnboundedReceiver<Request>,
    out: &Out,
    failed: &mut tmpsc::UnboundedReceiver<String>,
) -> Ended {
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let mut polls = 0u64;
    loop {
        tokio::select! {
            reason = failed.recv() => {
                return Ended::Failed(reason.unwrap_or_else(|| "the watch ended".into()));
            }
            _ = poll.tick() => {
                match client.get_simulation(pb::Empty {}).await {
                    Ok(s) => out.send(Update::Sim(s.into_inner())),
                    Err(s) => return Ended::Failed(explain(&s)),
                }
                // Work orders and plans change slowly: every 5 s.
                if polls.is_multiple_of(10)
                    && let Ok(w) = client.list_work_orders(pb::ListWorkOrdersRequest::default()).await
                {
                    out.send(Update::WorkOrders(w.into_inner()));
                }
                if polls.is_multiple_of(10)
                    && let Ok(p) = client.list_plans(pb::ListPlansRequest::default()).await
                {
                    out.send(Update::Plans(p.into_inner()));
                }
                polls += 1;
            }
            r = requests.recv() => match r {
                None => return Ended::Quit,
                Some(Request::Reconnect(c)) => return Ended::Reconnect(c),
                Some(r) => {
                    // Each request on a task of its own: a slow history
                    // does not hold a pause back.
                    let (client, out) = (client.clone(), out.clone());
                    tokio::spawn(async move {
                        if let Err(s) = answer(client, r, &out).await {
                            out.send(Update::Error(explain(&s)));
                        }
                    });
                }
            },
        }
    }
}

async fn list_entities(client: &mut Client, out: &Out) -> Result<(), tonic::Status> {
    let mut token = String::new();
    loop {
        let page = client
            .list_entities(pb::ListEntitiesRequest {
                filter: None,
                page_size: 10_000,
                page_token: token,
            })
            .await?
            .into_inner();
        out.send(Update::Entities(page.entities));
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        token = page.next_page_token;
    }
}

async fn watch_entities(mut client: Client, out: Out, failed: tmpsc::UnboundedSender<String>) {
    use pb::EventType as T;
    let request = pb::WatchRequest {
        filter: None,
        types: vec![T::StateChanged as i32, T::StatusChanged as i32],
    };
    let reason = match client.watch_entities(request).await {
        Err(s) => explain(&s),
        Ok(stream) => forward(stream.into_inner(), &out, Update::Events).await,
    };
    let _ = failed.send(reason);
}

async fn watch_alerts(mut client: Client, out: Out, failed: tmpsc::UnboundedSender<String>) {
    let reason = match client.watch_alerts(pb::WatchAlertsRequest::default()).await {
        Err(s) => explain(&s),
        Ok(stream) => forward(stream.into_inner(), &out, Update::AlertEvents).await,
    };
    let _ = failed.send(reason);
}

/// Passes a watch stream's messages on; returns why it ended.
async fn forward(
    mut stream: tonic::Streaming<pb::WatchResponse>,
    out: &Out,
    wrap: fn(Vec<pb::Event>) -> Update,
) -> String {
    use pb::watch_response::Message;
    loop {
        match stream.message().await {
            Ok(Some(m)) => match m.message {
                Some(Message::Events(b)) => out.send(wrap(b.events)),
                Some(Message::Lagged(l)) => out.send(Update::Lagged(l.missed)),
                None => {}
            },
            Ok(None) => return "the twin closed the stream".into(),
            Err(s) => return explain(&s),
        }
    }
}

/// The resolution that gives a plot of a window a few hundred points.
fn resolution_for(span_ms: i64) -> pb::Resolution {
    const HOUR: i64 = 3_600_000;
    if span_ms <= 6 * HOUR {
        pb::Resolution::Raw
    } else if span_ms <= 3 * 24 * HOUR {
        pb::Resolution::FiveMinutes
    } else {
        pb::Resolution::Hour
    }
}

async fn answer(mut client: Client, r: Request, out: &Out) -> Result<(), tonic::Status> {
    let sim = match r {
        Request::Inspect(id) => {
            let entity = client
                .get_entity(pb::GetEntityRequest { id: id.clone() })
                .await?
                .into_inner();
            let relations = client
                .get_relations(pb::GetRelationsRequest { id: id.clone() })
                .await?
                .into_inner();
            let mut events = client
                .list_events(pb::ListEventsRequest {
                    entity: id,
                    from_ms: 0,
                    to_ms: i64::MAX,
                    limit: 50,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .events;
            events.sort_by_key(|e| std::cmp::Reverse(e.time_ms));
            out.send(Update::Detail(Box::new(Detail {
                entity,
                relations,
                events,
            })));
            return Ok(());
        }
        Request::History {
            id,
            measurand,
            from_ms,
            to_ms,
        } => {
            let resolution = resolution_for(to_ms - from_ms);
            let h = client
                .get_history(pb::GetHistoryRequest {
                    id: id.clone(),
                    measurand: measurand.clone(),
                    from_ms,
                    to_ms,
                    resolution: resolution as i32,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let points = if resolution == pb::Resolution::Raw {
                h.samples.iter().map(|s| (s.time_ms, s.value)).collect()
            } else {
                h.buckets.iter().map(|b| (b.start_ms, b.mean)).collect()
            };
            let spread = h
                .buckets
                .iter()
                .map(|b| (b.start_ms, b.min, b.max))
                .collect();
            out.send(Update::History(History {
                id,
                measurand,
                from_ms,
                to_ms,
                points,
                spread,
            }));
            return Ok(());
        }
        Request::Pause => client.pause(pb::Empty {}).await?,
        Request::Resume => client.resume(pb::Empty {}).await?,
        Request::Speed(clock) => client.set_speed(pb::SetSpeedRequest { clock }).await?,
        Request::Step(duration_ms) => client.step(pb::StepRequest { duration_ms }).await?,
        Request::Load(name) => {
            client
                .load_scenario(pb::LoadScenarioRequest {
                    name,
                    ..Default::default()
                })
                .await?
        }
        Request::Reconnect(_) => return Ok(()),
    };
    out.send(Update::Sim(sim.into_inner()));
    Ok(())
}
