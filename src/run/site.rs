//! `twin run --site`: the twin of a live site. No world is simulated: the
//! site file's entities are created (once; a reopened store keeps them),
//! feeds bring the readings, and time is the wall clock's (simulated time
//! zero is the Unix epoch). The runtime's minute tick and the hourly
//! upkeep run as in a simulated run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;
use twin_actors::{Runtime, RuntimeConfig};
use twin_core::{InputError, SimTime};
use twin_scenarios::site::Site;

use super::{Args, Result, Stop, feeds, hourly, open_store, serve};
use crate::drive::TICK_EVERY;

/// The wall clock as twin time.
pub fn wall_now() -> SimTime {
    SimTime(jiff::Timestamp::now().as_millisecond())
}

pub async fn run(
    args: &Args,
    path: &Path,
    stop: Stop,
    ready: impl FnOnce(Option<std::net::SocketAddr>),
) -> Result<()> {
    let site = Site::load(path)?;
    let store = open_store(args)?;
    store.keep_declared()?;
    let config = RuntimeConfig {
        workers: args.world.workers,
        models: site.models()?,
        planners: site.planners()?,
        ..RuntimeConfig::default()
    };
    let runtime = Arc::new(Runtime::start(config, Some(store.clone()))?);
    let start = wall_now();
    let report = runtime.create(site.records.clone(), start).await?;
    if let Some((_, e)) = report
        .errors
        .iter()
        .find(|(_, e)| !matches!(e, InputError::AlreadyExists(_)))
    {
        return Err(format!("{}: {e}", path.display()).into());
    }
    runtime.checkpoint().await?;
    store.put_meta("site", &site.name)?;
    info!(site = %site.name, entities = site.records.len(), "live site ready");
    let clock = Arc::new(|| twin_feed::Clock {
        now: wall_now(),
        epoch_unix_ms: 0,
    });
    let feeds = feeds::Feeds::start(&args.feeds, &runtime, clock, args.serve.max_skew)?;
    // Served once the feeds are on the board: a client may list them at once.
    let server = serve::serve(&args.serve, runtime.clone(), None).await?;
    ready(server.addr);

    let end = (!args.forever)
        .then_some(args.duration)
        .flatten()
        .map(|d| start + d);
    let tick = Duration::from_millis(TICK_EVERY.as_ms() as u64);
    let mut last_hour = start.floor(SimTime::hours(1));
    loop {
        let now = wall_now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        tokio::select! {
            _ = stop.requested() => break,
            _ = tokio::time::sleep(tick) => {}
        }
        let now = wall_now();
        runtime.tick(now).await?;
        if now.floor(SimTime::hours(1)) > last_hour {
            last_hour = now.floor(SimTime::hours(1));
            hourly(&runtime, &store, now).await?;
        }
    }
    feeds.stop().await;
    hourly(&runtime, &store, wall_now()).await?;
    server.stop().await;
    if !args.quiet {
        feeds::report(&runtime);
    }
    match Arc::try_unwrap(runtime) {
        Ok(runtime) => runtime.shutdown().await?,
        Err(_) => tracing::warn!("the runtime is still shared at exit; its last checkpoint stands"),
    }
    if !args.quiet {
        println!(
            "site {} ran {:.1} s: {} entities in the store",
            site.name,
            (wall_now() - start).as_secs_f64(),
            store.state_count()
        );
    }
    Ok(())
}
