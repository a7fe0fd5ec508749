//! Where the load generator sends the world's observations. One trait,
//! one file per sink:
//!
//! - [`mqtt`]: `mqtt://HOST:PORT`, the default topic scheme, QoS 0 or 1,
//!   many connections;
//! - [`grpc`]: `grpc://HOST:PORT`, another twin's `Ingest`;
//! - [`file`]: `ndjson:PATH` and `csv:PATH` (`-` for stdout).
//!
//! Every payload carries a sequence number and the Unix time it was sent
//! (µs), so that the receiving side can count losses and measure latency
//! (`twin loadgen --receive`).

pub mod file;
pub mod grpc;
pub mod mqtt;

use std::future::Future;

use twin_core::{EntityId, Measurand, SimTime, Value};

/// One observation on its way out.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub entity: EntityId,
    pub measurand: Measurand,
    pub time: SimTime,
    pub value: Value,
    /// The generator's number for it; a duplicate keeps its original's.
    pub seq: u64,
    /// Send a mangled payload instead (fault injection).
    pub corrupt: bool,
}

/// What a sink has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkStats {
    /// Messages handed to the transport.
    pub sent: u64,
    /// Messages the transport refused or lost (connection errors, refused
    /// items).
    pub errors: u64,
    /// Sent but not yet acknowledged (QoS 1, gRPC).
    pub inflight: u64,
}

/// A destination for generated messages.
pub trait Sink: Send {
    /// Sends `batch`, waiting only as the transport's flow control asks.
    fn send(&mut self, batch: &[Message]) -> impl Future<Output = Result<(), String>> + Send;
    /// Waits until what was sent is acknowledged (or `timeout` passes).
    fn flush(
        &mut self,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
    fn stats(&self) -> SinkStats;
    /// Time from send to acknowledgement (or to the socket when nothing
    /// acknowledges), µs; a sample of them.
    fn latencies_us(&self) -> Vec<u32>;
}

/// How to open a sink from its URL: the MQTT sink's settings and a gRPC
/// sink's token (the file sinks need nothing more).
#[derive(Clone, Debug)]
pub struct SinkOptions {
    pub mqtt: mqtt::MqttSinkConfig,
    pub token: Option<String>,
}

/// Any sink, chosen by its URL's scheme.
pub enum AnySink {
    Mqtt(mqtt::MqttSink),
    Grpc(grpc::GrpcSink),
    File(file::FileSink),
}

impl AnySink {
    /// `mqtt://` or `mqtts://`, `grpc://` (or `http://`), `ndjson:PATH`,
    /// `csv:PATH`.
    pub async fn open(url: &str, o: &SinkOptions) -> Result<AnySink, String> {
        if let Some(path) = url.strip_prefix("ndjson:") {
            Ok(AnySink::File(file::FileSink::open(
                path,
                file::Format::Ndjson,
            )?))
        } else if let Some(path) = url.strip_prefix("csv:") {
            Ok(AnySink::File(file::FileSink::open(
                path,
                file::Format::Csv,
            )?))
        } else if url.starts_with("grpc://") || url.starts_with("http://") {
            Ok(AnySink::Grpc(
                grpc::GrpcSink::connect(url, o.token.clone()).await?,
            ))
        } else if url.starts_with("mqtt://") || url.starts_with("mqtts://") {
            let cfg = mqtt::MqttSinkConfig {
                url: url.to_string(),
                ..o.mqtt.clone()
            };
            Ok(AnySink::Mqtt(mqtt::MqttSink::connect(&cfg).await?))
        } else {
            Err(format!(
                "sink `{url}`: expected mqtt://, grpc://, ndjson: or csv:"
            ))
        }
    }
}

impl Sink for AnySink {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        match self {
            AnySink::Mqtt(s) => s.send(batch).await,
            AnySink::Grpc(s) => s.send(batch).await,
            AnySink::File(s) => s.send(batch).await,
        }
    }
    async fn flush(&mut self, timeout: std::time::Duration) -> Result<(), String> {
        match self {
            AnySink::Mqtt(s) => s.flush(timeout).await,
            AnySink::Grpc(s) => s.flush(timeout).await,
            AnySink::File(s) => s.flush(timeout).await,
        }
    }
    fn stats(&self) -> SinkStats {
        match self {
            AnySink::Mqtt(s) => s.stats(),
            AnySink::Grpc(s) => s.stats(),
            AnySink::File(s) => s.stats(),
        }
    }
    fn latencies_us(&self) -> Vec<u32> {
        match self {
            AnySink::Mqtt(s) => s.latencies_us(),
            AnySink::Grpc(s) => s.latencies_us(),
            AnySink::File(s) => s.latencies_us(),
        }
    }
}

/// The latency samples kept per sink: enough for a p99.9 over a run.
pub const MAX_SAMPLES: usize = 1 << 20;

/// Records a latency sample, thinning out once [`MAX_SAMPLES`] are kept.
pub fn sample(samples: &mut Vec<u32>, seen: &mut u64, us: u64) {
    *seen += 1;
    let us = us.min(u32::MAX as u64) as u32;
    if samples.len() < MAX_SAMPLES {
        samples.push(us);
    } else {
        // Reservoir sampling keeps every sample equally likely.
        let r = xxhash_rust::xxh3::xxh3_64(&seen.to_le_bytes()) % *seen;
        if (r as usize) < MAX_SAMPLES {
            samples[r as usize] = us;
        }
    }
}

/// When a message `secs` after the first falls due, from `start`. A far
/// or broken time (a file's, a recording's) is capped, never an overflow.
pub fn due(start: std::time::Instant, secs: f64) -> std::time::Instant {
    let secs = if secs.is_finite() {
        secs.clamp(0.0, 1e9)
    } else {
        1e9
    };
    start + std::time::Duration::from_secs_f64(secs)
}

/// Paced sending: when `due` is ahead, sends what `batch` holds, then
/// waits for it.
pub async fn hold<S: Sink>(
    sink: &mut S,
    batch: &mut Vec<Message>,
    due: std::time::Instant,
) -> Result<(), String> {
    let now = std::time::Instant::now();
    if due > now {
        sink.send(batch).await?;
        batch.clear();
        tokio::time::sleep(due - now).await;
    }
    Ok(())
}

/// Unix time now, µs.
pub fn unix_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The topic of the default scheme: `PREFIX/kind/name/measurand`.
pub fn topic(prefix: &str, entity: EntityId, m: Measurand) -> String {
    format!("{prefix}/{entity}/{}", m.name())
}

/// The JSON payload of the default scheme, with the sequence number and
/// the send time: `{"value":…,"time_ms":…,"seq":…,"sent_us":…}`.
pub fn json_payload(msg: &Message, sent_us: i64, out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    if msg.corrupt {
        // Half a payload: what a truncated frame looks like.
        let _ = write!(out, "{{\"value\":");
        return;
    }
    let _ = write!(out, "{{\"value\":");
    json_value(&msg.value, out);
    let _ = write!(
        out,
        ",\"time_ms\":{},\"seq\":{},\"sent_us\":{sent_us}}}",
        msg.time.as_ms(),
        msg.seq
    );
}

/// A value as JSON, as the feed's decoders read it back.
pub fn json_value(v: &Value, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = match v {
        Value::Number(x) if x.is_finite() => write!(out, "{x}"),
        Value::Flag(b) => write!(out, "{b}"),
        Value::Point { lon, lat } => write!(out, "[{lon},{lat}]"),
        Value::Text(t) => write!(out, "{}", serde_json::Value::from(&**t)),
        _ => write!(out, "null"),
    };
}

/// The percentile `p` (0–1) of `samples`, sorting them.
pub fn percentile(samples: &mut [u32], p: f64) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let i = ((samples.len() - 1) as f64 * p).round() as usize;
    Some(samples[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::Kind;

    #[test]
    fn payloads_read_back_through_the_default_scheme() {
        let e = EntityId::new(Kind::Sensor, "probe-9");
        let msg = Message {
            entity: e,
            measurand: Measurand::SoilMoisture,
            time: SimTime(1234),
            value: Value::Number(27.5),
            seq: 42,
            corrupt: false,
        };
        let t = topic("twin", e, msg.measurand);
        assert_eq!(t, "twin/sensor/probe-9/soil_moisture");
        let mut p = Vec::new();
        json_payload(&msg, 99, &mut p);
        let clock = crate::Clock {
            now: SimTime(0),
            epoch_unix_ms: 0,
        };
        let d = crate::scheme::decode("twin", &t, &p, &clock)
            .unwrap()
            .unwrap();
        let r = &d.readings[0];
        assert_eq!(
            (r.value.clone(), r.time, r.seq),
            (Value::Number(27.5), Some(SimTime(1234)), 42)
        );
        json_payload(
            &Message {
                corrupt: true,
                ..msg
            },
            99,
            &mut p,
        );
        assert!(
            crate::scheme::decode("twin", &t, &p, &clock)
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn percentiles_and_reservoir() {
        let mut s: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut s, 0.5), Some(51));
        assert_eq!(percentile(&mut s, 0.99), Some(99));
        assert_eq!(percentile(&mut [], 0.5), None);
        let (mut samples, mut seen) = (Vec::new(), 0);
        for i in 0..(MAX_SAMPLES as u64 + 1000) {
            sample(&mut samples, &mut seen, i);
        }
        assert_eq!(samples.len(), MAX_SAMPLES);
        assert_eq!(seen, MAX_SAMPLES as u64 + 1000);
    }
}
