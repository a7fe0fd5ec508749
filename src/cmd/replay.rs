//! `twin replay`: re-drive a fresh runtime from a recording and check that
//! every state hash is reproduced. Exits non-zero on any divergence or damage.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use twin::bench::lockstep_config;
use twin::replay::replay;
use twin_core::ClockMode;

use super::Result;
use twin::progress;
use twin::run::default_workers;

#[derive(ClapArgs)]
pub struct Args {
    /// The recording (written by `twin record` or `twin run --record`).
    recording: PathBuf,
    /// Pace: `max` (as fast as possible) or `xN` (N simulated seconds per second).
    #[arg(long, default_value = "max", value_parser = ClockMode::parse)]
    speed: ClockMode,
    /// Worker threads (shards): the hashes do not depend on it.
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// Send the recording's observations to this sink instead of checking
    /// it (mqtt://, grpc://, ndjson:, csv:; see `twin loadgen`).
    #[arg(long)]
    sink: Option<String>,
    #[command(flatten)]
    mqtt: twin::loadgen::MqttArgs,
    /// Bearer token for a grpc:// sink.
    #[arg(long, env = "TWIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn main(args: Args) -> Result<()> {
    let speed = match args.speed {
        ClockMode::AsFastAsPossible => None,
        ClockMode::Accelerated(f) => Some(f),
        ClockMode::RealTime => Some(1.0),
        ClockMode::Stepped => return Err("--speed: expected max or xN".into()),
    };
    if let Some(url) = &args.sink {
        let options = twin::loadgen::sink_options(&args.mqtt, args.token.clone());
        let report = twin::tokio_runtime()?.block_on(twin::loadgen::replay::to_sink(
            &args.recording,
            url,
            &options,
            speed,
        ))?;
        println!(
            "sent {} observations of {} to {url} in {:.1} s ({:.0}/s), {} errors",
            report.sent,
            args.recording.display(),
            report.seconds,
            report.msgs_per_s,
            report.errors
        );
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let bar = progress::bar(None);
        let report = replay(&args.recording, lockstep_config(args.workers), speed, |step, now| {
            if step % 64 == 0 {
                bar.set_message(format!("step {step} · sim {now}"));
            }
        })
        .await;
        bar.finish_and_clear();
        let report = report?;
        let secs = report.elapsed.as_secs_f64();
        let models = if report.models.is_empty() {
            String::new()
        } else {
            format!(" with {}", report.models.join(", "))
        };
        println!(
            "replayed {}{models} ({} steps): {} inputs, {} events, {} state hashes reproduced, {} work orders, {} plans; {:.0} inputs/s",
            report.scenario,
            report.steps,
            report.inputs,
            report.events,
            report.hashes_checked,
            report.work_orders,
            report.plans,
            report.inputs as f64 / secs.max(1e-9)
        );
        Ok(())
    })
}
