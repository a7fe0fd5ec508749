//! `twin loadgen`: a scenario's world as a load generator for other
//! systems. The world runs on its own thread as fast as the target rate
//! needs; its observations pass through the faults asked for
//! (`twin_feed::faults`) to a sink (`twin_feed::sink`). A line a second
//! says where it stands, as the usual MQTT benchmarks do; the end gives
//! totals and the publish latency's percentiles. `--receive` is the other
//! side: it counts what arrives and measures loss and end-to-end latency
//! from the sequence number and send time in each payload.

mod receive;
pub mod replay;

use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use serde::Serialize;
use twin_core::SimTime;
use twin_core::ports::ObservationSource;
use twin_feed::faults::{FaultCounts, FaultRates, Faults};
use twin_feed::sink::mqtt::MqttSinkConfig;
use twin_feed::sink::{AnySink, Message, Sink, SinkOptions, percentile};
use twin_scenarios::{Scenario, SimWorld};

pub use receive::Received;

/// Messages handed to the sink at a time.
const CHUNK: usize = 1_000;

#[derive(ClapArgs, Clone, Debug)]
pub struct Args {
    /// Scenario whose world generates the observations (a built-in name or
    /// a file).
    #[arg(long, default_value = "factory")]
    pub scenario: String,
    /// Multiplies the scenario's populations.
    #[arg(long)]
    pub scale: Option<f64>,
    /// Seed of the world (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to send: mqtt://HOST:PORT, grpc://HOST:PORT (another twin's
    /// Ingest), ndjson:PATH or csv:PATH (`-` for standard output).
    #[arg(long, required_unless_present = "receive")]
    pub sink: Option<String>,
    /// Messages per second (default: as fast as the sink takes them).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to send (wall-clock), e.g. 30s or 5m.
    #[arg(long = "for", value_parser = wall_duration)]
    pub duration: Option<Duration>,
    /// How many messages to generate (before faults), then stop.
    #[arg(long)]
    pub count: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print no line per second.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub mqtt: MqttArgs,
    /// Bearer token for a grpc:// sink.
    #[arg(long, env = "TWIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Receive instead of send: subscribe to this broker (mqtt://…) and
    /// count what arrives (loss, duplicates, end-to-end latency).
    #[arg(long, conflicts_with = "sink")]
    pub receive: Option<String>,
    /// Topic filter to receive.
    #[arg(long, default_value = "twin/#")]
    pub topic: String,
    /// Receiving: stop after this long without a message (once one came).
    #[arg(long, default_value = "3s", value_parser = wall_duration)]
    pub idle: Duration,
}

#[derive(ClapArgs, Clone, Debug)]
pub struct MqttArgs {
    /// QoS of MQTT publishes (and of the subscription with --receive).
    #[arg(long, default_value_t = 1)]
    pub qos: u8,
    /// MQTT client connections, each with its own client id.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// QoS 1 messages unacknowledged per connection.
    #[arg(long, default_value_t = 100)]
    pub inflight: u16,
    /// Client id (connections add `-N`).
    #[arg(long, default_value = "twin-loadgen")]
    pub client_id: String,
    /// Topic prefix of the default scheme.
    #[arg(long, default_value = "twin")]
    pub topic_prefix: String,
}

#[derive(ClapArgs, Clone, Debug, Default)]
pub struct FaultArgs {
    /// Rate of messages dropped.
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Rate of messages sent twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Rate of messages swapped with the next.
    #[arg(long, default_value_t = 0.0)]
    pub reorder: f64,
    /// Rate of messages sent with a mangled payload.
    #[arg(long, default_value_t = 0.0)]
    pub corrupt: f64,
    /// Rate of messages held back (an exponential time of mean --delay-mean).
    #[arg(long, default_value_t = 0.0)]
    pub delay: f64,
    #[arg(long, default_value = "50ms", value_parser = wall_duration)]
    pub delay_mean: Duration,
    /// Share of sensors stuck on their first value.
    #[arg(long, default_value_t = 0.0)]
    pub stuck: f64,
    /// Share of sensors that send nothing.
    #[arg(long, default_value_t = 0.0)]
    pub dead: f64,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,
}

impl Args {
    /// The sink settings these arguments give.
    pub fn sink_options(&self) -> SinkOptions {
        sink_options(&self.mqtt, self.token.clone())
    }
}

/// Sink settings from the MQTT options and a gRPC token.
pub fn sink_options(mqtt: &MqttArgs, token: Option<String>) -> SinkOptions {
    SinkOptions {
        mqtt: MqttSinkConfig {
            url: String::new(),
            client_id: mqtt.client_id.clone(),
            connections: mqtt.connections,
            qos: mqtt.qos,
            inflight: mqtt.inflight,
            prefix: mqtt.topic_prefix.clone(),
        },
        token,
    }
}

impl FaultArgs {
    fn rates(&self) -> FaultRates {
        FaultRates {
            drop: self.drop,
            duplicate: self.duplicate,
            reorder: self.reorder,
            corrupt: self.corrupt,
            delay: self.delay,
            delay_mean: self.delay_mean,
            stuck: self.stuck,
            dead: self.dead,
        }
    }
}

fn wall_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = SimTime::parse_duration(s)?;
    if t <= SimTime::ZERO {
        return Err(format!("`{s}`: a positive duration"));
    }
    Ok(Duration::from_millis(t.as_ms() as u64))
}

/// What a load generation did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub sink: String,
    /// Messages the world generated (before faults).
    pub generated: u64,
    /// Messages handed to the sink.
    pub sent: u64,
    pub errors: u64,
    pub seconds: f64,
    pub msgs_per_s: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_p999_ms: Option<f64>,
    pub faults: FaultCounts,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub fn main(args: Args) -> Result<()> {
    let rt = crate::tokio_runtime()?;
    if let Some(url) = &args.receive {
        let r = rt.block_on(receive::run(&args, url))?;
        r.print(args.json);
        return Ok(());
    }
    let report = rt.block_on(run(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "sent {} of {} generated in {:.1} s: {:.0} msgs/s, {} errors; latency p50 {} p99 {} p99.9 {}",
            report.sent,
            report.generated,
            report.seconds,
            report.msgs_per_s,
            report.errors,
            ms(report.latency_p50_ms),
            ms(report.latency_p99_ms),
            ms(report.latency_p999_ms),
        );
        if args.faults.rates().any() {
            println!("faults: {:?}", report.faults);
        }
    }
    Ok(())
}

fn ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2} ms"))
}

/// Generates and sends as `args` asks; the sink is chosen by the URL's scheme.
pub async fn run(args: &Args) -> Result<Report> {
    let url = args.sink.clone().ok_or("--sink is needed")?;
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("--rate: a positive number".into());
    }
    if args.duration.is_none() && args.count.is_none() {
        return Err("say how much: --for D or --count N".into());
    }
    args.faults.rates().check()?;
    let sink = AnySink::open(&url, &args.sink_options()).await?;
    drive(sink, args, &url).await
}

/// The world's thread: observations as messages, in batches, until told
/// to stop (the receiver gone) or `count` are made.
fn generate(
    scenario: Scenario,
    count: Option<u64>,
    tx: tokio::sync::mpsc::Sender<Vec<Message>>,
) -> Result<()> {
    let mut world = SimWorld::new(&scenario)?;
    world.set_parallel(false);
    let tick = world.tick();
    let mut obs = Vec::new();
    let mut seq = 0u64;
    loop {
        obs.clear();
        let until = world.now() + tick;
        world.advance(until, &mut obs);
        let mut batch: Vec<Message> = obs
            .drain(..)
            .map(|o| {
                seq += 1;
                message(o, seq - 1)
            })
            .collect();
        if let Some(n) = count {
            batch.truncate((n - (seq - batch.len() as u64).min(n)) as usize);
        }
        let last = count.is_some_and(|n| seq >= n);
        if !batch.is_empty() && tx.blocking_send(batch).is_err() {
            return Ok(());
        }
        if last {
            return Ok(());
        }
    }
}

fn message(o: twin_core::Observation, seq: u64) -> Message {
    Message {
        entity: o.entity,
        measurand: o.measurand,
        time: o.time,
        value: o.value,
        seq,
        corrupt: false,
    }
}

/// The first `n` messages of `scenario`'s world (for benchmarks that send
/// the same payloads by other means).
pub fn sample(scenario: &str, n: usize) -> Result<Vec<Message>> {
    let mut world = SimWorld::new(&Scenario::find(scenario)?)?;
    world.set_parallel(false);
    let mut obs = Vec::new();
    while obs.len() < n {
        let until = world.now() + world.tick();
        world.advance(until, &mut obs);
    }
    obs.truncate(n);
    Ok(obs
        .into_iter()
        .enumerate()
        .map(|(i, o)| message(o, i as u64))
        .collect())
}

/// `twin loadgen WORDS…` parsed as the command line would.
pub fn args(words: &[&str]) -> std::result::Result<Args, clap::Error> {
    #[derive(clap::Parser)]
    struct Words {
        #[command(flatten)]
        args: Args,
    }
    use clap::Parser;
    Words::try_parse_from(std::iter::once("loadgen").chain(words.iter().copied())).map(|w| w.args)
}

async fn drive<S: Sink>(mut sink: S, args: &Args, url: &str) -> Result<Report> {
    let mut scenario = Scenario::find(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(scale) = args.scale {
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(format!("--scale {scale}: a positive number").into());
        }
        scenario = scenario.with_scale(scale);
    }
    scenario.check_size(10_000_000)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Message>>(16);
    let count = args.count;
    let world = std::thread::Builder::new()
        .name("loadgen-world".into())
        .spawn(move || generate(scenario, count, tx).map_err(|e| e.to_string()))?;
    let mut faults = Faults::new(args.faults.rates(), args.faults.fault_seed);
    let start = Instant::now();
    let end = args.duration.map(|d| start + d);
    let mut generated = 0u64;
    let mut out = Vec::with_capacity(CHUNK * 2);
    let mut last_line = start;
    let mut last_sent = 0u64;
    let mut exhausted = false;
    while end.is_none_or(|e| Instant::now() < e) && !exhausted {
        let Some(mut batch) = rx.recv().await else {
            exhausted = true;
            continue;
        };
        while !batch.is_empty() {
            let n = CHUNK.min(batch.len());
            if let Some(rate) = args.rate {
                let due = twin_feed::sink::due(start, generated as f64 / rate);
                let wait = due.saturating_duration_since(Instant::now());
                // A zero sleep still waits for the timer: skip it.
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            generated += n as u64;
            out.clear();
            faults.apply(batch.drain(..n), Instant::now(), &mut out);
            sink.send(&out).await?;
            if !args.quiet && last_line.elapsed() >= Duration::from_secs(1) {
                let s = sink.stats();
                let dt = last_line.elapsed().as_secs_f64();
                eprintln!(
                    "elapsed {:.1} s, sent {}, rate {:.0}/s, errors {}, inflight {}",
                    start.elapsed().as_secs_f64(),
                    s.sent,
                    (s.sent - last_sent) as f64 / dt,
                    s.errors,
                    s.inflight
                );
                last_sent = s.sent;
                last_line = Instant::now();
            }
            if end.is_some_and(|e| Instant::now() >= e) {
                break;
            }
        }
    }
    drop(rx);
    // Delayed messages still held are sent at the end, when due.
    while faults.held() > 0 {
        if let Some(due) = faults.next_due() {
            tokio::time::sleep(due.saturating_duration_since(Instant::now())).await;
        }
        out.clear();
        faults.release(Instant::now(), &mut out);
        sink.send(&out).await?;
    }
    let flushed = sink.flush(Duration::from_secs(30)).await;
    let seconds = start.elapsed().as_secs_f64();
    let _ = world.join();
    flushed?;
    let s = sink.stats();
    let mut lat = sink.latencies_us();
    let p = |lat: &mut Vec<u32>, q| percentile(lat, q).map(|us| us as f64 / 1000.0);
    Ok(Report {
        sink: url.to_string(),
        generated,
        sent: s.sent,
        errors: s.errors,
        seconds,
        msgs_per_s: s.sent as f64 / seconds,
        latency_p50_ms: p(&mut lat, 0.5),
        latency_p99_ms: p(&mut lat, 0.99),
        latency_p999_ms: p(&mut lat, 0.999),
        faults: faults.counts.clone(),
    })
}
