//! The feed's persistent session with its broker, in MQTT 3.1.1 or 5: one
//! task polls the connection, subscribes when the broker has no session
//! for the client, hands each message over, and after an error waits a
//! back-off with jitter ([`super::backoff`]) before the next attempt.
//! The rest of the feed sees only [`Delivery`] and [`Client::ack`].

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rumqttc::v5::mqttbytes::v5 as v5b;
use rumqttc::{QoS, v5};
use tokio::sync::mpsc;
use tracing::{info, warn};
use twin_actors::feeds::FeedStats;

use super::Connection;

/// A message from the broker, to acknowledge once applied.
pub enum Delivery {
    V4(rumqttc::Publish),
    V5(v5b::Publish),
}

impl Delivery {
    pub fn topic(&self) -> Cow<'_, str> {
        match self {
            Delivery::V4(p) => Cow::Borrowed(&p.topic),
            Delivery::V5(p) => String::from_utf8_lossy(&p.topic),
        }
    }

    /// The payload, shared (not copied).
    pub fn payload_bytes(&self) -> bytes::Bytes {
        match self {
            Delivery::V4(p) => p.payload.clone(),
            Delivery::V5(p) => p.payload.clone(),
        }
    }
}

/// The client side of the session: acknowledgements and the goodbye.
#[derive(Clone)]
pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

impl Client {
    /// Queues the PUBACK of `d` (sent in order, once the connection has it).
    pub async fn ack(&self, d: &Delivery) {
        let _ = match (self, d) {
            (Client::V4(c), Delivery::V4(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            (Client::V5(c), Delivery::V5(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            _ => Ok(()),
        };
    }

    pub fn disconnect(&self) {
        let _ = match self {
            Client::V4(c) => c.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(c) => c.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// The broker keeps a v5 session this long after the twin goes away.
const SESSION_EXPIRY_S: u32 = 7 * 24 * 3600;

/// Opens the session (`version` 4 for 3.1.1, or 5) and starts polling it:
/// messages go to `tx`; `filters` are subscribed at QoS 1 whenever the
/// broker holds no session for the client.
pub fn open(
    connection: &Connection,
    version: u8,
    max_message: usize,
    capacity: usize,
    filters: Vec<String>,
    stats: Arc<FeedStats>,
    tx: mpsc::Sender<Delivery>,
) -> Result<(Client, tokio::task::JoinHandle<()>), String> {
    let mut link = Link {
        stats,
        failures: 0,
        ever: false,
    };
    match version {
        4 => {
            let mut o = connection.options(max_message)?;
            o.set_clean_session(false);
            o.set_manual_acks(true);
            let (client, mut events) = rumqttc::AsyncClient::new(o, capacity);
            let c = client.clone();
            let task = tokio::spawn(async move {
                use rumqttc::{Event, Packet, SubscribeFilter};
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if tx.send(Delivery::V4(p)).await.is_err() {
                                return;
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            if link.connected(ack.session_present) {
                                let subs = filters
                                    .iter()
                                    .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                                link.subscribed(
                                    c.try_subscribe_many(subs).map_err(|e| e.to_string()),
                                );
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => link.ready(),
                        Ok(_) => {}
                        Err(e) => link.failed(e.to_string()).await,
                    }
                }
            });
            Ok((Client::V4(client), task))
        }
        5 => {
            let mut o = connection.options_v5(max_message)?;
            o.set_clean_start(false);
            o.set_session_expiry_interval(Some(SESSION_EXPIRY_S));
            o.set_manual_acks(true);
            let (client, mut events) = v5::AsyncClient::new(o, capacity);
            let c = client.clone();
            let task = tokio::spawn(async move {
                use v5::Event;
                use v5b::{Filter, Packet};
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if tx.send(Delivery::V5(p)).await.is_err() {
                                return;
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            if link.connected(ack.session_present) {
                                let subs = filters.iter().map(|f| {
                                    Filter::new(f.clone(), rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                                });
                                link.subscribed(
                                    c.try_subscribe_many(subs).map_err(|e| e.to_string()),
                                );
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => link.ready(),
                        Ok(_) => {}
                        Err(e) => link.failed(e.to_string()).await,
                    }
                }
            });
            Ok((Client::V5(client), task))
        }
        v => Err(format!("--mqtt-version {v}: 4 (3.1.1) or 5")),
    }
}

/// What both protocol versions do on the connection's events.
struct Link {
    stats: Arc<FeedStats>,
    failures: u32,
    ever: bool,
}

impl Link {
    /// A CONNACK: whether to subscribe (the broker kept no session).
    fn connected(&mut self, session_present: bool) -> bool {
        self.failures = 0;
        if self.ever {
            FeedStats::add(&self.stats.reconnects, 1);
        }
        self.ever = true;
        info!(broker = %self.stats.source, session = session_present, "MQTT connected");
        if session_present {
            // The broker kept the subscriptions.
            self.ready();
        }
        !session_present
    }

    fn subscribed(&self, sent: Result<(), String>) {
        if let Err(e) = sent {
            self.stats.set_error(format!("subscribe: {e}"));
        }
    }

    /// Subscribed: what is published from now on reaches the twin.
    fn ready(&self) {
        self.stats.connected.store(true, Ordering::Relaxed);
    }

    async fn failed(&mut self, e: String) {
        self.stats.connected.store(false, Ordering::Relaxed);
        let wait = super::backoff(self.failures);
        self.failures = self.failures.saturating_add(1);
        if self.failures <= 3 || self.failures.is_multiple_of(20) {
            warn!(broker = %self.stats.source, "MQTT connection: {e}; retrying in {:.1} s", wait.as_secs_f64());
        }
        self.stats.set_error(format!("connection: {e}"));
        tokio::time::sleep(wait).await;
    }
}
