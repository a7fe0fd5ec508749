//! The MQTT sink: the default topic scheme over `connections` client
//! connections (each its own client id), messages dealt round-robin, QoS 0
//! or 1 with an inflight window. Each connection's event loop runs on its
//! own task and times every message from `send` to its PUBACK (QoS 1) or
//! to the socket (QoS 0).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use rumqttc::{AsyncClient, Event, Outgoing, Packet, QoS};
use twin_core::{EntityId, Measurand};

use super::{Message, Sink, SinkStats};
use crate::mqtt::{Connection, backoff};

/// How the MQTT sink connects and publishes.
#[derive(Clone, Debug)]
pub struct MqttSinkConfig {
    pub url: String,
    /// Client ids are `{client_id}-{i}`.
    pub client_id: String,
    pub connections: usize,
    /// 0 or 1.
    pub qos: u8,
    /// Most QoS 1 messages unacknowledged per connection.
    pub inflight: u16,
    pub prefix: String,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    /// When each message not yet on the wire was handed over, in order.
    queued: Mutex<VecDeque<Instant>>,
    /// Latency samples and how many were seen.
    latencies: Mutex<(Vec<u32>, u64)>,
}

struct Conn {
    client: AsyncClient,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

pub struct MqttSink {
    conns: Vec<Conn>,
    next: usize,
    qos: QoS,
    prefix: String,
    topics: HashMap<(EntityId, Measurand), String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MqttSink {
    /// Connects every connection (waiting for each CONNACK, 10 s at most).
    pub async fn connect(cfg: &MqttSinkConfig) -> Result<MqttSink, String> {
        let qos = match cfg.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            q => return Err(format!("--qos {q}: 0 or 1")),
        };
        if cfg.connections == 0 || cfg.connections > 1024 {
            return Err(format!("--connections {}: 1 to 1024", cfg.connections));
        }
        let mut conns = Vec::with_capacity(cfg.connections);
        for i in 0..cfg.connections {
            let c = Connection::new(&cfg.url, &format!("{}-{i}", cfg.client_id))?;
            let mut o = c.options(64 * 1024)?;
            o.set_inflight(cfg.inflight.max(1));
            // At QoS 1 the broker keeps the session across a restart, and
            // what was in flight is sent again: nothing is lost.
            o.set_clean_session(qos == QoS::AtMostOnce);
            let (client, events) = AsyncClient::new(o, 4096);
            let counters = Arc::new(Counters::default());
            let (ready_tx, ready) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(drive(events, counters.clone(), qos, ready_tx));
            tokio::time::timeout(Duration::from_secs(10), ready)
                .await
                .map_err(|_| format!("{}: no CONNACK within 10 s", cfg.url))?
                .map_err(|_| format!("{}: the connection ended before it was made", cfg.url))??;
            conns.push(Conn {
                client,
                counters,
                task,
            });
        }
        Ok(MqttSink {
            conns,
            next: 0,
            qos,
            prefix: cfg.prefix.clone(),
            topics: HashMap::new(),
        })
    }
}

/// One connection's event loop: times messages as they go out and come
/// back acknowledged; reconnects after errors.
async fn drive(
    mut events: rumqttc::EventLoop,
    counters: Arc<Counters>,
    qos: QoS,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    let mut sent_at: HashMap<u16, Instant> = HashMap::new();
    let mut failures = 0u32;
    let record = |t: Instant| {
        let mut l = lock(&counters.latencies);
        let (samples, seen) = &mut *l;
        super::sample(samples, seen, t.elapsed().as_micros() as u64);
        counters.done.fetch_add(1, Ordering::Relaxed);
    };
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                }
            }
            // A retransmission after a reconnect goes out under a pkid
            // still waiting for its PUBACK: it is not a new message.
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) if sent_at.contains_key(&pkid) => {}
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let Some(t) = lock(&counters.queued).pop_front() else {
                    continue;
                };
                if qos == QoS::AtMostOnce {
                    record(t);
                } else {
                    sent_at.insert(pkid, t);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                if let Some(t) = sent_at.remove(&ack.pkid) {
                    record(t);
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e.to_string()));
                    return;
                }
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff(failures)).await;
                failures = failures.saturating_add(1);
            }
        }
    }
}

impl Sink for MqttSink {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        for msg in batch {
            let topic = self
                .topics
                .entry((msg.entity, msg.measurand))
                .or_insert_with(|| super::topic(&self.prefix, msg.entity, msg.measurand))
                .clone();
            // Encoded into its own buffer, which the client takes over.
            let mut payload = Vec::with_capacity(128);
            super::json_payload(msg, super::unix_us(), &mut payload);
            let conn = &self.conns[self.next];
            self.next = (self.next + 1) % self.conns.len();
            lock(&conn.counters.queued).push_back(Instant::now());
            conn.counters.sent.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = conn.client.publish(topic, self.qos, false, payload).await {
                lock(&conn.counters.queued).pop_back();
                conn.counters.errors.fetch_add(1, Ordering::Relaxed);
                return Err(format!("publish: {e}"));
            }
        }
        Ok(())
    }

    async fn flush(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if s.inflight == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} messages unacknowledged after {:?}",
                    s.inflight, timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn stats(&self) -> SinkStats {
        let mut s = SinkStats::default();
        for c in &self.conns {
            let k = &c.counters;
            let sent = k.sent.load(Ordering::Relaxed);
            s.sent += sent;
            s.errors += k.errors.load(Ordering::Relaxed);
            s.inflight += sent.saturating_sub(k.done.load(Ordering::Relaxed));
        }
        s
    }

    fn latencies_us(&self) -> Vec<u32> {
        self.conns
            .iter()
            .flat_map(|c| lock(&c.counters.latencies).0.clone())
            .collect()
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        for c in &self.conns {
            let _ = c.client.try_disconnect();
            c.task.abort();
        }
    }
}
