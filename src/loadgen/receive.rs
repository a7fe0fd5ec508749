//! `twin loadgen --receive`: the receiving side of a load test. It
//! subscribes to the broker and reads the sequence number and send time
//! each generated payload carries: how many arrived, how many were lost or
//! duplicated, and the end-to-end latency (sender and receiver on one
//! clock: the same machine, or synchronised ones).

use std::time::{Duration, Instant};

use hashbrown::HashSet;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde::{Deserialize, Serialize};
use twin_feed::mqtt::Connection;
use twin_feed::sink::{percentile, sample, unix_us};

use super::{Args, Result};

/// What a receiver saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Received {
    /// Messages that arrived.
    pub received: u64,
    /// Distinct sequence numbers among them.
    pub distinct: u64,
    pub duplicates: u64,
    /// Payloads without a sequence number (not from a generator, corrupted).
    pub unreadable: u64,
    /// Expected (`--count`, or the highest sequence number + 1) less distinct.
    pub lost: u64,
    pub seconds: f64,
    pub msgs_per_s: f64,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub e2e_max_ms: Option<f64>,
}

impl Received {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
        } else {
            println!(
                "received {} ({} distinct, {} duplicates, {} unreadable, {} lost) in {:.1} s: {:.0} msgs/s; end-to-end p50 {:?} ms p99 {:?} ms",
                self.received,
                self.distinct,
                self.duplicates,
                self.unreadable,
                self.lost,
                self.seconds,
                self.msgs_per_s,
                self.e2e_p50_ms,
                self.e2e_p99_ms
            );
        }
    }
}

#[derive(Deserialize)]
struct Stamp {
    seq: Option<u64>,
    sent_us: Option<i64>,
}

pub async fn run(args: &Args, url: &str) -> Result<Received> {
    let qos = match args.mqtt.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        q => return Err(format!("--qos {q}: 0 or 1").into()),
    };
    let conn = Connection::new(url, &format!("{}-receiver", args.mqtt.client_id))?;
    let (client, mut events) = AsyncClient::new(conn.options(1 << 20)?, 1024);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut r = Received::default();
    let mut max_seq = None::<u64>;
    let (mut lat, mut lat_seen) = (Vec::new(), 0u64);
    let start = Instant::now();
    let mut first = None::<Instant>;
    let mut last = Instant::now();
    let end = args.duration.map(|d| start + d);
    let mut last_line = Instant::now();
    loop {
        if end.is_some_and(|e| Instant::now() >= e)
            || args.count.is_some_and(|n| r.distinct >= n)
            || (first.is_some() && last.elapsed() >= args.idle)
        {
            break;
        }
        let polled = tokio::time::timeout(Duration::from_millis(100), events.poll()).await;
        let Ok(polled) = polled else { continue };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                client.subscribe(args.topic.clone(), qos).await?;
            }
            // Scripts wait for this line before they start the sender.
            Ok(Event::Incoming(Packet::SubAck(_))) => eprintln!("subscribed to {}", args.topic),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let now_us = unix_us();
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
                r.received += 1;
                match serde_json::from_slice::<Stamp>(&p.payload) {
                    Ok(Stamp {
                        seq: Some(seq),
                        sent_us,
                    }) => {
                        if seen.insert(seq) {
                            r.distinct += 1;
                        } else {
                            r.duplicates += 1;
                        }
                        max_seq = max_seq.max(Some(seq));
                        if let Some(sent) = sent_us {
                            sample(
                                &mut lat,
                                &mut lat_seen,
                                now_us.saturating_sub(sent).max(0) as u64,
                            );
                        }
                    }
                    _ => r.unreadable += 1,
                }
            }
            Ok(_) => {}
            Err(e) => {
                if first.is_none() && start.elapsed() > Duration::from_secs(10) {
                    return Err(format!("{url}: {e}").into());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if !args.quiet && last_line.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "elapsed {:.1} s, received {}, distinct {}, duplicates {}",
                start.elapsed().as_secs_f64(),
                r.received,
                r.distinct,
                r.duplicates
            );
            last_line = Instant::now();
        }
    }
    let _ = client.disconnect().await;
    let span = match first {
        Some(f) => last.duration_since(f).as_secs_f64().max(1e-3),
        None => start.elapsed().as_secs_f64(),
    };
    let expected = args.count.unwrap_or(max_seq.map_or(0, |m| m + 1));
    r.lost = expected.saturating_sub(r.distinct);
    r.seconds = span;
    r.msgs_per_s = r.received as f64 / span;
    let mut p = |q| percentile(&mut lat, q).map(|us| us as f64 / 1000.0);
    r.e2e_p50_ms = p(0.5);
    r.e2e_p99_ms = p(0.99);
    r.e2e_max_ms = p(1.0);
    Ok(r)
}
