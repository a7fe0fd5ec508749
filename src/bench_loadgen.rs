//! `twin bench loadgen`: the load generator and the MQTT feed against one
//! local Mosquitto, in one run (`scripts/bench-loadgen.sh` provides the
//! broker and paho-mqtt):
//!
//! - `raw_client_msgs_per_s`: a bare rumqttc publish loop of pre-encoded
//!   payloads (the client library's limit with this broker);
//! - `loadgen_msgs_per_s`: `twin loadgen --sink mqtt` with the factory world
//!   generating, encoding and timing every message;
//! - `paho_msgs_per_s`: the same payloads from a plain Python paho-mqtt
//!   loop, the generator many users would write;
//! - `mqtt_ingest_obs_per_s`: loadgen → Mosquitto → `twin run --mqtt` (a
//!   child process with its store on disk, each batch durable before its
//!   acks), with `lost` and the feed's end-to-end latency;
//! - `broker_restart_lost`: the broker restarted in the middle of a paced
//!   QoS 1 stream into the twin; what never arrived.
//!
//! The three publish rates are measured at QoS 1 (the top-level keys) and
//! at QoS 0, with an inflight window of 100, in interleaved rounds: the
//! medians are reported, with the ratios of the medians.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::{Value, json};
use twin_feed::mosquitto::Mosquitto;
use twin_feed::mqtt::Connection;
use twin_feed::sink;
use twin_proto::client::{Client, Connect};
use twin_proto::v1 as pb;

use crate::loadgen;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(ClapArgs, Clone, Debug)]
pub struct LoadgenBench {
    /// Messages per publish run.
    #[arg(long, default_value_t = 200_000)]
    pub messages: u64,
    /// Rounds of the three publish runs; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Messages into the twin for the ingest figure.
    #[arg(long, default_value_t = 100_000)]
    pub ingest_messages: u64,
    /// Messages of the broker-restart run, sent at 5,000/s.
    #[arg(long, default_value_t = 30_000)]
    pub restart_messages: u64,
    /// A Python with paho-mqtt (scripts/bench-loadgen.sh makes one).
    #[arg(long, default_value = "target/py-venv/bin/python")]
    pub python: PathBuf,
}

const INFLIGHT: u16 = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub async fn run(b: &LoadgenBench, say: impl Fn(&str)) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let broker = Mosquitto::start(dir.path())?;
    // The payloads of the world's first messages, for the raw and the
    // Python loops.
    let mut pairs = Vec::new();
    let mut payload = Vec::new();
    for m in loadgen::sample("factory", 10_000)? {
        sink::json_payload(&m, sink::unix_us(), &mut payload);
        pairs.push((sink::topic("twin", m.entity, m.measurand), payload.clone()));
    }
    let file = dir.path().join("payloads.tsv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
    for (t, p) in &pairs {
        f.write_all(t.as_bytes())?;
        f.write_all(b"\t")?;
        f.write_all(p)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    drop(f);

    let qos1 = publish_rates(b, &broker, &pairs, &file, 1, &say).await?;
    let qos0 = publish_rates(b, &broker, &pairs, &file, 0, &say).await?;
    say("MQTT ingest into a twin");
    let fast = ingest(&broker, b.ingest_messages, None, dir.path().join("ingest")).await?;
    say("MQTT ingest at a steady 5,000/s");
    let paced = ingest(
        &broker,
        b.ingest_messages.min(50_000),
        Some(5_000),
        dir.path().join("paced"),
    )
    .await?;
    drop(broker);
    say("broker restart mid-stream");
    let restart = restart(b.restart_messages, dir.path().join("restart")).await?;
    Ok(json!({
        "messages": b.messages,
        "inflight": INFLIGHT,
        "raw_client_msgs_per_s": qos1["raw_client_msgs_per_s"],
        "loadgen_msgs_per_s": qos1["loadgen_msgs_per_s"],
        "paho_msgs_per_s": qos1["paho_msgs_per_s"],
        "loadgen_over_raw": qos1["loadgen_over_raw"],
        "loadgen_over_paho": qos1["loadgen_over_paho"],
        "qos1": qos1,
        "qos0": qos0,
        "mqtt_ingest": fast,
        "mqtt_ingest_obs_per_s": fast["obs_per_s"],
        "lost": fast["lost"],
        "e2e_latency_p99_ms": fast["e2e_p99_ms"],
        "mqtt_ingest_at_5000_per_s": paced,
        "broker_restart": restart,
        "broker_restart_lost": restart["lost"],
    }))
}

/// The three publish rates at `qos`, in interleaved rounds: medians, the
/// runs, and the ratios of the medians.
async fn publish_rates(
    b: &LoadgenBench,
    broker: &Mosquitto,
    pairs: &[(String, Vec<u8>)],
    file: &std::path::Path,
    qos: u8,
    say: &impl Fn(&str),
) -> Result<Value> {
    let url = broker.url();
    let (mut raw, mut ours, mut paho) = (Vec::new(), Vec::new(), Vec::new());
    let (n, q) = (b.messages.to_string(), qos.to_string());
    for round in 0..b.runs {
        say(&format!("QoS {qos} round {}: raw rumqttc", round + 1));
        raw.push(raw_loop(&url, pairs, b.messages, qos).await?);
        say(&format!("QoS {qos} round {}: twin loadgen", round + 1));
        let a = loadgen::args(&[
            "--sink",
            &url,
            "--count",
            &n,
            "--qos",
            &q,
            "--quiet",
            "--client-id",
            "bench-loadgen",
        ])?;
        ours.push(loadgen::run(&a).await?.msgs_per_s);
        say(&format!("QoS {qos} round {}: paho-mqtt", round + 1));
        paho.push(paho_loop(&b.python, broker.port, file, b.messages, qos)?);
    }
    let (raw_m, ours_m, paho_m) = (
        median(raw.clone()),
        median(ours.clone()),
        median(paho.clone()),
    );
    Ok(json!({
        "qos": qos,
        "raw_client_msgs_per_s": raw_m,
        "raw_client_msgs_per_s_runs": raw,
        "loadgen_msgs_per_s": ours_m,
        "loadgen_msgs_per_s_runs": ours,
        "paho_msgs_per_s": paho_m,
        "paho_msgs_per_s_runs": paho,
        "loadgen_over_raw": ours_m / raw_m,
        "loadgen_over_paho": ours_m / paho_m,
    }))
}

/// A bare rumqttc loop: publish `n` pre-encoded messages on one
/// connection, and wait for every PUBACK (QoS 1) or for every message to
/// be written (QoS 0).
async fn raw_loop(url: &str, pairs: &[(String, Vec<u8>)], n: u64, qos: u8) -> Result<f64> {
    let mut o = Connection::new(url, "bench-raw")?.options(64 * 1024)?;
    o.set_inflight(INFLIGHT);
    let qos = if qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    let (client, mut events) = AsyncClient::new(o, 4096);
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let task = tokio::spawn(async move {
        while let Ok(e) = events.poll().await {
            match e {
                Event::Incoming(Packet::PubAck(_)) if qos == QoS::AtLeastOnce => {}
                Event::Outgoing(rumqttc::Outgoing::Publish(_)) if qos == QoS::AtMostOnce => {}
                _ => continue,
            }
            d.fetch_add(1, Ordering::Relaxed);
        }
    });
    let t0 = Instant::now();
    for i in 0..n as usize {
        let (t, p) = &pairs[i % pairs.len()];
        client.publish(t.clone(), qos, false, p.clone()).await?;
    }
    while done.load(Ordering::Relaxed) < n {
        if t0.elapsed() > Duration::from_secs(300) {
            return Err("the raw loop's messages never all went out".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    let _ = client.disconnect().await;
    task.abort();
    Ok(rate)
}

fn paho_loop(python: &PathBuf, port: u16, file: &std::path::Path, n: u64, qos: u8) -> Result<f64> {
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/paho_publish.py"
        ))
        .args(["--port", &port.to_string(), "--count", &n.to_string()])
        .args(["--qos", &qos.to_string()])
        .arg("--file")
        .arg(file)
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (scripts/bench-loadgen.sh installs paho-mqtt)",
                python.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!("paho_publish.py: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    v["msgs_per_s"]
        .as_f64()
        .ok_or_else(|| "paho_publish.py printed no rate".into())
}

/// A `twin run` child: the factory, its own world held still, fed by MQTT.
struct Twin(Child);

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn twin(url: &str, store: PathBuf) -> Result<(Twin, Client)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "run",
            "--scenario",
            "factory",
            "--clock",
            "step",
            "--max-skew",
            "30d",
        ])
        .args([
            "--forever",
            "--quiet",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "bench",
        ])
        .args(["--mqtt", url, "--mqtt-client-id", "bench-twin"])
        .arg("--store")
        .arg(&store)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    let addr = loop {
        let line = lines.next().ok_or("twin run ended before listening")??;
        if let Some(a) = line.strip_prefix("gRPC listening on ") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let twin = Twin(child);
    let mut client = Connect {
        url: addr,
        token: Some("bench".into()),
        ..Connect::default()
    }
    .connect()
    .await?;
    let t0 = Instant::now();
    while !feed(&mut client).await?.connected {
        if t0.elapsed() > Duration::from_secs(20) {
            return Err("the twin's MQTT feed never subscribed".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((twin, client))
}

async fn feed(c: &mut Client) -> Result<pb::Feed> {
    c.list_feeds(pb::Empty {})
        .await?
        .into_inner()
        .feeds
        .into_iter()
        .next()
        .ok_or_else(|| "the twin lists no feed".into())
}

/// Waits until the feed has taken `n` messages, or nothing changed for
/// 10 s; returns the feed and when its count last moved.
async fn settle(c: &mut Client, n: u64) -> Result<(pb::Feed, Instant)> {
    let mut last = feed(c).await?;
    let mut moved = Instant::now();
    while last.messages < n && moved.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let f = feed(c).await?;
        if f.messages != last.messages {
            moved = Instant::now();
        }
        last = f;
    }
    Ok((last, moved))
}

/// `n` messages from the generator into a fresh twin, as fast as it goes
/// or at `rate` a second.
async fn ingest(broker: &Mosquitto, n: u64, rate: Option<u64>, store: PathBuf) -> Result<Value> {
    let (_twin, mut c) = twin(&broker.url(), store).await?;
    let t0 = Instant::now();
    let (url, n_s, rate_s) = (broker.url(), n.to_string(), rate.unwrap_or(0).to_string());
    let mut words = vec![
        "--sink",
        &url,
        "--count",
        &n_s,
        "--quiet",
        "--client-id",
        "bench-ingest",
    ];
    if rate.is_some() {
        words.extend(["--rate", &rate_s]);
    }
    let a = loadgen::args(&words)?;
    loadgen::run(&a).await?;
    let (f, done) = settle(&mut c, n).await?;
    let secs = done.duration_since(t0).as_secs_f64();
    Ok(json!({
        "messages": n,
        "taken": f.messages,
        "applied": f.applied,
        "refused": f.refused,
        "lost": n.saturating_sub(f.messages),
        "seconds": secs,
        "obs_per_s": f.messages as f64 / secs,
        "e2e_p50_ms": f.e2e_p50_ms,
        "e2e_p99_ms": f.e2e_p99_ms,
        "durable": true,
    }))
}

async fn restart(n: u64, dir: PathBuf) -> Result<Value> {
    std::fs::create_dir_all(&dir)?;
    let mut broker = Mosquitto::start(&dir)?;
    let url = broker.url();
    let (_twin, mut c) = twin(&url, dir.join("store")).await?;
    let a = loadgen::args(&[
        "--sink",
        &url,
        "--count",
        &n.to_string(),
        "--rate",
        "5000",
        "--quiet",
        "--client-id",
        "bench-restart",
    ])?;
    let sender = tokio::spawn(async move { loadgen::run(&a).await.map_err(|e| e.to_string()) });
    tokio::time::sleep(Duration::from_millis(n * 1000 / 5000 / 2)).await;
    let t = Instant::now();
    tokio::task::block_in_place(|| broker.restart())?;
    let down_ms = t.elapsed().as_secs_f64() * 1000.0;
    let sent = sender.await??;
    let (f, _) = settle(&mut c, n).await?;
    let distinct = f.readings - f.duplicates;
    Ok(json!({
        "messages": n,
        "sent": sent.sent,
        "received": f.messages,
        "duplicates": f.duplicates,
        "lost": n.saturating_sub(distinct),
        "broker_down_ms": down_ms,
        "twin_reconnects": f.reconnects,
    }))
}
