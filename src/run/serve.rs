//! The gRPC server as `twin run` starts it: where it listens, its tokens,
//! its TLS identity and its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::control::RunControl;
use clap::Args as ClapArgs;
use tokio::sync::oneshot;
use tracing::{info, warn};
use twin_actors::Runtime;
use twin_actors::grpc::{LimitConfig, ServerConfig, Token, bind};

use super::Result;

#[derive(ClapArgs, Clone, Debug)]
pub struct ServeArgs {
    /// Address of the gRPC API (twin.v1).
    #[arg(long, env = "TWIN_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Serve no gRPC API.
    #[arg(long)]
    no_serve: bool,
    /// A bearer token clients must send, `SECRET` or `SECRET:ROLE` with
    /// ROLE read, write or admin (the default) (repeatable). Without any,
    /// an admin token is generated and printed.
    #[arg(
        long = "token",
        env = "TWIN_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    tokens: Vec<Token>,
    /// PEM certificate (chain) for TLS; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest request message, bytes.
    #[arg(long, default_value_t = LimitConfig::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Most observations or commands in one batch.
    #[arg(long, default_value_t = LimitConfig::default().max_batch)]
    max_batch: usize,
    /// Observations per second one client (token) may send.
    #[arg(long, default_value_t = LimitConfig::default().max_obs_per_s)]
    max_obs_per_s: f64,
    /// Largest response message, bytes (pages stop short of it).
    #[arg(long, default_value_t = LimitConfig::default().max_response_bytes)]
    max_response_bytes: usize,
    /// Longest a call may take to answer before `DEADLINE_EXCEEDED` (a
    /// client's shorter `grpc-timeout` wins).
    #[arg(long, default_value = "30s", value_parser = twin_core::SimTime::parse_duration)]
    deadline: twin_core::SimTime,
    /// Calls one connection may have in flight at once (more wait their turn).
    #[arg(long, default_value_t = LimitConfig::default().concurrency_per_connection)]
    concurrency_per_connection: usize,
    /// How far ahead of the simulation's clock an ingested observation may
    /// be (later ones are refused as `too_far_ahead`).
    #[arg(long, default_value = "5m", value_parser = twin_core::SimTime::parse_duration)]
    pub max_skew: twin_core::SimTime,
    /// Directory of scenario files `LoadScenario` may load by file name
    /// (without it, only the built-ins).
    #[arg(long)]
    pub scenario_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// No server (`twin record`).
    pub fn off() -> ServeArgs {
        ServeArgs {
            listen: ([127, 0, 0, 1], 0).into(),
            no_serve: true,
            tokens: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_message_bytes: LimitConfig::default().max_message_bytes,
            max_batch: LimitConfig::default().max_batch,
            max_obs_per_s: LimitConfig::default().max_obs_per_s,
            max_response_bytes: LimitConfig::default().max_response_bytes,
            deadline: twin_core::SimTime::secs(30),
            concurrency_per_connection: LimitConfig::default().concurrency_per_connection,
            scenario_dir: None,
            max_skew: twin_core::SimTime::minutes(5),
        }
    }
}

/// A running server, stopped on demand.
pub struct ServerHandle {
    /// Where it listens (`None` when not serving).
    pub addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A random token: 128 bits from the OS, in hex.
fn fresh_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serves `runtime`; `control` is the simulation's (`None` for a live
/// site: simulation calls then answer `FAILED_PRECONDITION`).
pub async fn serve(
    args: &ServeArgs,
    runtime: Arc<Runtime>,
    control: Option<Arc<RunControl>>,
) -> Result<ServerHandle> {
    if args.no_serve {
        return Ok(ServerHandle {
            addr: None,
            stop: None,
            task: None,
        });
    }
    let mut tokens = args.tokens.clone();
    if tokens.is_empty() {
        let t = fresh_token()?;
        eprintln!("gRPC token (none was given): {t}");
        tokens.push(Token::new(&t, twin_actors::grpc::Role::Admin));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((
            std::fs::read(c).map_err(|e| format!("--tls-cert {}: {e}", c.display()))?,
            std::fs::read(k).map_err(|e| format!("--tls-key {}: {e}", k.display()))?,
        )),
        _ => None,
    };
    let secure = tls.is_some();
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, server) = bind(
        ServerConfig {
            listen: args.listen,
            tokens,
            tls,
            limits: LimitConfig {
                max_message_bytes: args.max_message_bytes,
                max_batch: args.max_batch,
                max_obs_per_s: args.max_obs_per_s,
                max_response_bytes: args.max_response_bytes,
                deadline: std::time::Duration::from_millis(args.deadline.as_ms().max(1) as u64),
                concurrency_per_connection: args.concurrency_per_connection,
            },
            stall_after: twin_core::store::watch::STALL_AFTER,
            max_skew: args.max_skew,
        },
        runtime,
        control.map(|c| c as Arc<dyn twin_actors::grpc::SimControl>),
        async move {
            let _ = stopped.await;
        },
    )
    .await?;
    info!(%addr, tls = secure, "gRPC API (twin.v1) listening");
    // Scripts read the address from here (`--listen 127.0.0.1:0` picks a port).
    eprintln!(
        "gRPC listening on {}://{addr}",
        if secure { "https" } else { "http" }
    );
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            warn!("gRPC server stopped: {e}");
        }
    });
    Ok(ServerHandle {
        addr: Some(addr),
        stop: Some(stop),
        task: Some(task),
    })
}
