//! `twin fuzz`: hostile input at every door of the twin, counted.
//!
//! A real `twin run` is started in this process (its own threads, a real
//! store, the whole server stack on loopback), and every method of the API
//! is called over a real connection with bodies from [`wire`]
//! (random bytes, messages built from values that break careless code,
//! mutated valid requests), under admin, read and unknown tokens. Mutated
//! copies of the shipped scenario and GeoJSON files go through the readers
//! too. The run fails if anything panics, if the server ends or stops
//! answering, or if a reader panics.

mod files;
mod rpc;
mod wire;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, Parser};
use futures::StreamExt;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;
use tonic::transport::Channel;
use twin_proto::v1 as pb;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(ClapArgs, Clone, Debug)]
pub struct Args {
    /// Cases to run: nine in ten are API calls, one in ten a mutated file.
    #[arg(long, default_value_t = 100_000)]
    pub cases: u64,
    /// Seed of the cases (the same seed makes the same cases).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// API calls in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

const ADMIN: &str = "fuzz-admin";
const READER: &str = "fuzz-reader";
/// Calls between two checks that the server still answers.
const CHECK_EVERY: u64 = 10_000;

/// The server under test: a `twin run` in this process, on its own
/// threads and tokio runtime, serving on loopback; stopped when dropped.
struct Server {
    addr: String,
    stop: crate::run::Stop,
    thread: Option<std::thread::JoinHandle<std::result::Result<(), String>>>,
    /// Panics anywhere in the process since the server started.
    panics: Arc<AtomicU64>,
}

impl Server {
    /// Whether the run is still going (it ends only when stopped).
    fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_server() -> Result<Server> {
    let args = crate::run::Args::try_parse_from([
        "twin run",
        "--scenario",
        "garden",
        "--ephemeral",
        "--forever",
        "--clock",
        "x60",
        "--listen",
        "127.0.0.1:0",
        "--token",
        ADMIN,
        "--token",
        &format!("{READER}:read"),
        "--deadline",
        "2s",
        "--max-entities",
        "20000",
        "--quiet",
    ])?;
    // Every panic from here on is counted, whichever thread it is on: a
    // handler's panic would otherwise only end its connection's task.
    let panics = Arc::new(AtomicU64::new(0));
    let seen = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::Relaxed);
        previous(info);
    }));
    let stop = crate::run::Stop::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let stopper = stop.clone();
    let thread = std::thread::Builder::new()
        .name("fuzzed-twin".into())
        .spawn(move || {
            let rt = crate::tokio_runtime().map_err(|e| e.to_string())?;
            rt.block_on(crate::run::run(args, stopper, move |addr| {
                let _ = tx.send(addr);
            }))
            .map_err(|e| e.to_string())
        })?;
    let addr = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Some(addr)) => format!("http://{addr}"),
        Ok(None) => return Err("the fuzzed twin run does not serve".into()),
        Err(_) => {
            let why = match thread.join() {
                Ok(Err(e)) => e,
                _ => "it ended before it listened".into(),
            };
            return Err(format!("the fuzzed twin run did not start: {why}").into());
        }
    };
    Ok(Server {
        addr,
        stop,
        thread: Some(thread),
        panics,
    })
}

/// Whether the server answers a plain call within 10 s.
async fn answers(channel: &Channel) -> bool {
    let mut c = pb::twin_client::TwinClient::new(channel.clone());
    let mut req = tonic::Request::new(pb::Empty {});
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN}").parse().expect("ASCII"),
    );
    matches!(
        tokio::time::timeout(Duration::from_secs(10), c.get_simulation(req)).await,
        Ok(Ok(_))
    )
}

pub fn main(args: Args) -> Result<()> {
    let report = run(&args)?;
    if args.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    let failed = report["server_panics"].as_u64() != Some(0)
        || report["reader_panics"].as_u64() != Some(0)
        || report["serving"] != json!(true);
    if failed {
        return Err("fuzzing found a failure (see the report)".into());
    }
    Ok(())
}

/// Runs the cases; the report.
pub fn run(args: &Args) -> Result<serde_json::Value> {
    let file_cases = args.cases / 10;
    let rpc_cases = args.cases - file_cases;
    let t0 = Instant::now();
    let (accepted, reader_panics) = file_run(args.seed, file_cases);
    let server = start_server()?;
    let rt = crate::tokio_runtime()?;
    let rpc = rt.block_on(rpc_run(&server, args, rpc_cases))?;
    let alive = server.alive();
    let secs = t0.elapsed().as_secs_f64();
    let codes: serde_json::Map<String, serde_json::Value> = rpc
        .codes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.load(Ordering::Relaxed) > 0)
        .map(|(i, n)| {
            let code = tonic::Code::from_i32(i as i32);
            (format!("{code:?}"), json!(n.load(Ordering::Relaxed)))
        })
        .collect();
    Ok(json!({
        "cases": args.cases,
        "rpc_cases": rpc_cases,
        "file_cases": file_cases,
        "files_accepted": accepted,
        "cases_per_s": args.cases as f64 / secs,
        "codes": codes,
        "server_panics": server.panics.load(Ordering::Relaxed),
        "reader_panics": reader_panics,
        "serving": rpc.serving && alive,
        "stopped_answering_after": rpc.stopped,
        "internal_examples": rpc.internal,
        "seed": args.seed,
    }))
}

/// Mutated files through the readers: (accepted, panics).
fn file_run(seed: u64, cases: u64) -> (u64, u64) {
    let corpus = files::corpus();
    let (mut accepted, mut panics) = (0, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xF11E);
    for _ in 0..cases {
        match std::panic::catch_unwind(AssertUnwindSafe(|| files::case(&mut rng, &corpus, 20_000)))
        {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => panics += 1,
        }
    }
    (accepted, panics)
}

/// The API calls, `CHECK_EVERY` at a time with a check that the server
/// still answers after each.
async fn rpc_run(server: &Server, args: &Args, cases: u64) -> Result<RpcReport> {
    let channel = Channel::from_shared(server.addr.clone())?.connect().await?;
    let methods = Arc::new(rpc::methods());
    let codes: Vec<AtomicU64> = (0..17).map(|_| AtomicU64::new(0)).collect();
    let internal = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut stopped = None;
    let mut done = 0;
    while done < cases {
        let n = CHECK_EVERY.min(cases - done);
        futures::stream::iter(done..done + n)
            .for_each_concurrent(args.concurrency.max(1), |i| {
                let (channel, methods, codes, internal) =
                    (channel.clone(), methods.clone(), &codes, &internal);
                async move {
                    let mut rng = ChaCha8Rng::seed_from_u64(args.seed.wrapping_mul(1 << 32) ^ i);
                    let method = &methods[rng.random_range(0..methods.len())];
                    let token = match rng.random_range(0..10) {
                        0 => READER,
                        1 => "wrong",
                        _ => ADMIN,
                    };
                    let answer = rpc::call(channel, method, token, &mut rng).await;
                    let code = answer.as_ref().err().map_or(tonic::Code::Ok, |e| e.code());
                    codes[(code as usize).min(16)].fetch_add(1, Ordering::Relaxed);
                    // tonic answers a body that does not decode with
                    // INTERNAL, as gRPC's own servers do; the others are
                    // the server's own and worth reading.
                    if let (tonic::Code::Internal, Err(e)) = (code, &answer)
                        && !e.message().starts_with("failed to decode")
                    {
                        let mut seen = internal.lock().expect("lock");
                        if seen.len() < 10 {
                            let m: String = e.message().chars().take(100).collect();
                            seen.insert(format!("{} {m}", method.path));
                        }
                    }
                }
            })
            .await;
        done += n;
        if !answers(&channel).await {
            stopped = Some(done);
            break;
        }
    }
    let serving = stopped.is_none() && answers(&channel).await;
    let internal = internal.into_inner().expect("lock").into_iter().collect();
    Ok(RpcReport {
        codes,
        serving,
        stopped,
        internal,
    })
}

/// What the API calls found.
struct RpcReport {
    /// Answers by gRPC code.
    codes: Vec<AtomicU64>,
    /// Whether the server still answers at the end.
    serving: bool,
    /// After how many calls it stopped answering, if it did.
    stopped: Option<u64>,
    /// A few of the `INTERNAL` answers not about decoding, by method.
    internal: Vec<String>,
}
