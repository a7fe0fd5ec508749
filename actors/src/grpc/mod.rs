//! The gRPC server: `twin.v1.Twin` over tonic, with `grpc.health.v1` and
//! server reflection, bearer tokens with roles, limits and optional TLS.
//!
//! The service is a thin mapping onto the runtime (see `service.rs`); what
//! drives a simulated world plugs in through [`SimControl`].

mod auth;
mod control;
mod filter;
mod guard;
mod history;
mod ingest;
mod limits;
mod pace;
mod paging;
mod queries;
mod service;
mod sim;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Identity, Server, ServerTlsConfig};
use twin_proto::v1::twin_server::TwinServer;

pub use auth::{Role, Token};
pub use filter::EntityFilter;
pub use limits::{LimitConfig, Limits};
pub use service::TwinService;
pub use sim::{LoadError, SimControl, SimStatus};

use crate::runtime::Runtime;

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Accepted bearer tokens and their roles (at least one).
    pub tokens: Vec<Token>,
    /// PEM certificate chain and private key, for TLS.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    pub limits: LimitConfig,
    /// Health turns NOT_SERVING when the store has had writes pending this
    /// long without completing one (see `twin_core::store::watch`).
    pub stall_after: Duration,
    /// Observations more than this ahead of a simulation's clock are
    /// refused (with no simulation, the twin has no clock to compare with).
    pub max_skew: twin_core::SimTime,
}

impl ServerConfig {
    /// A plain-text server on `listen` with these tokens and default limits.
    pub fn new(listen: SocketAddr, tokens: Vec<Token>) -> ServerConfig {
        ServerConfig {
            listen,
            tokens,
            tls: None,
            limits: LimitConfig::default(),
            stall_after: twin_core::store::watch::STALL_AFTER,
            max_skew: twin_core::SimTime::minutes(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no token: give at least one (--token or TWIN_TOKENS)")]
    NoToken,
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("server: {0}")]
    Transport(String),
}

/// Streams (calls, watches included) one connection may hold open: a
/// dashboard may follow a thousand watch streams over one connection.
const MAX_STREAMS_PER_CONNECTION: u32 = 4_096;

/// Bytes a connection may have sent that its calls have not read yet.
/// h2 also sizes by it how many small frames may wait unread (half of it,
/// at up to 256 bytes a frame) before it closes the connection as a flood:
/// at hyper's 1 MiB, a client pipelining unary calls at 10,000 a second
/// was cut off once the server fell 200 ms behind.
const CONNECTION_WINDOW: u32 = 8 << 20;

/// A bound server: its address, and the future that serves until `shutdown`.
pub async fn bind(
    config: ServerConfig,
    runtime: Arc<Runtime>,
    sim: Option<Arc<dyn SimControl>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = Result<(), ServeError>>), ServeError> {
    if config.tokens.is_empty() {
        return Err(ServeError::NoToken);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let guard = guard::GuardLayer {
        tokens: auth::Tokens::new(&config.tokens),
        deadline: config.limits.deadline,
    };
    let limits = Arc::new(Limits::new(config.limits.clone()));
    let store = runtime.store().cloned();
    let service = TwinService {
        runtime,
        sim,
        limits,
        pace: Default::default(),
        max_skew: config.max_skew,
        bulk: Arc::new(
            crate::priority::Pool::bulk("twin-ingest")
                .map_err(|e| ServeError::Transport(e.to_string()))?,
        ),
    };
    // tonic's own decoding limit is a backstop above ours, so that ours
    // answers first, with a message that names the limit.
    let twin = TwinServer::new(service)
        .max_decoding_message_size(config.limits.max_message_bytes.saturating_mul(2))
        .max_encoding_message_size(config.limits.max_response_bytes.saturating_mul(2));
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<TwinServer<TwinService>>().await;
    let watchdog = tokio::spawn(watch_store(health, store, config.stall_after));
    // Reflection in both versions: grpcurl speaks v1, grpcio's Python
    // client still v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(twin_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| ServeError::Transport(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| ServeError::Transport(e.to_string()))?;
    let mut builder = Server::builder()
        .concurrency_limit_per_connection(config.limits.concurrency_per_connection.max(1))
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .initial_connection_window_size(Some(CONNECTION_WINDOW));
    if let Some((cert, key)) = &config.tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    let router = builder
        .layer(guard)
        .add_service(health_service)
        .add_service(twin)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    // Without TCP_NODELAY a response's frames written one after another
    // wait for the peer's ACK of the previous one: concurrent unary calls
    // then take a millisecond instead of a tenth.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let serve = async move {
        let served = router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| ServeError::Transport(e.to_string()));
        watchdog.abort();
        served
    };
    Ok((addr, serve))
}

/// Keeps health in step with the store: NOT_SERVING (for the twin service
/// and the server as a whole) while writes have been pending `after` or
/// more without one completing, SERVING again once one completes.
async fn watch_store(
    health: tonic_health::server::HealthReporter,
    store: Option<twin_core::store::Store>,
    after: Duration,
) {
    let Some(store) = store else { return };
    let mut stalled = false;
    let mut tick =
        tokio::time::interval((after / 4).clamp(Duration::from_millis(20), Duration::from_secs(1)));
    loop {
        tick.tick().await;
        match (store.write_stall(after), stalled) {
            (Some(waited), false) => {
                tracing::error!(
                    "store: writes pending for {:.1} s without one completing; health is NOT_SERVING",
                    waited.as_secs_f64()
                );
                health.set_not_serving::<TwinServer<TwinService>>().await;
                health
                    .set_service_status("", tonic_health::ServingStatus::NotServing)
                    .await;
                stalled = true;
            }
            (None, true) => {
                tracing::warn!("store: writes complete again; health is SERVING");
                health.set_serving::<TwinServer<TwinService>>().await;
                health
                    .set_service_status("", tonic_health::ServingStatus::Serving)
                    .await;
                stalled = false;
            }
            _ => {}
        }
    }
}
