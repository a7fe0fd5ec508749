//! The live feeds `twin run` starts beside its world: `--mqtt` subscribes
//! to a broker and applies what devices publish (see `twin_feed::mqtt`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args as ClapArgs;
use tokio::sync::watch;
use tracing::warn;
use twin_actors::Runtime;
use twin_feed::mqtt::Connection;
use twin_feed::mqtt::subscribe::{self, Feed};
use twin_feed::{Clock, Map};

use super::Result;

#[derive(ClapArgs, Clone, Debug, Default)]
pub struct FeedArgs {
    /// Subscribe to an MQTT broker, `mqtt://HOST:PORT` or `mqtts://HOST:PORT`
    /// (user and password from TWIN_MQTT_USER and TWIN_MQTT_PASSWORD), and
    /// apply what it delivers: QoS 1, a persistent session, each message
    /// acknowledged once applied and durable.
    #[arg(long)]
    mqtt: Option<String>,
    /// How topics and payloads map to readings (TOML; default: only
    /// `twin/<kind>/<name>/<measurand>`).
    #[arg(long, requires = "mqtt")]
    mqtt_map: Option<PathBuf>,
    /// The client id: the broker keeps this session's messages while the
    /// twin is away, so keep it stable.
    #[arg(long, default_value = "twin", requires = "mqtt")]
    mqtt_client_id: String,
    /// PEM file of the CAs to trust with mqtts:// (default: the system's).
    #[arg(long, requires = "mqtt")]
    mqtt_ca: Option<PathBuf>,
    /// MQTT protocol version: 4 (3.1.1) or 5.
    #[arg(long, default_value_t = 4, requires = "mqtt")]
    mqtt_version: u8,
}

/// The running feeds, stopped together.
pub struct Feeds {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<std::result::Result<(), String>>>,
}

impl Feeds {
    /// Starts what `args` asks for; `clock` tells the twin's time (and
    /// where it stands in Unix time), `max_skew` bounds how far ahead of it
    /// a reading may be.
    pub fn start(
        args: &FeedArgs,
        runtime: &Arc<Runtime>,
        clock: Arc<dyn Fn() -> Clock + Send + Sync>,
        max_skew: twin_core::SimTime,
    ) -> Result<Feeds> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(url) = &args.mqtt {
            let clock = clock.clone();
            let mut connection =
                Connection::new(url, &args.mqtt_client_id).map_err(|e| format!("--mqtt {e}"))?;
            connection.ca_file = args.mqtt_ca.clone();
            let map = match &args.mqtt_map {
                Some(path) => Map::load(path).map_err(|e| format!("--mqtt-map {e}"))?,
                None => Map::default_scheme(),
            };
            let feed = Feed {
                connection,
                map: Arc::new(map),
                clock,
                max_skew: Some(max_skew),
                version: args.mqtt_version,
            };
            tasks.push(subscribe::start(feed, runtime.clone(), stopped));
        }
        Ok(Feeds { stop, tasks })
    }

    /// Stops every feed and waits for it.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for t in self.tasks {
            match t.await {
                Ok(Err(e)) => warn!("feed: {e}"),
                Err(e) => warn!("feed task: {e}"),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// A line per feed for the run's summary.
pub fn report(runtime: &Runtime) {
    use twin_actors::feeds::FeedStats as S;
    for (name, s) in runtime.feeds().list() {
        let reasons: Vec<String> = s
            .reasons()
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        println!(
            "feed {name} {}: {} messages, {} readings, {} applied, {} duplicates, {} malformed, {} refused, {} created, {} reconnects{}",
            s.source,
            S::get(&s.messages),
            S::get(&s.readings),
            S::get(&s.applied),
            S::get(&s.duplicates),
            S::get(&s.malformed),
            S::get(&s.refused),
            S::get(&s.created),
            S::get(&s.reconnects),
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join(", "))
            }
        );
    }
}
