//! `twin`: the command line. Wiring only: it parses arguments, builds the
//! store, the runtime and the world from the library crates, and connects them.

mod cmd;

/// mimalloc: the runtime and the API allocate many small, short-lived
/// values (decoded strings, event batches) across threads, where it is
/// markedly faster than glibc's allocator (gRPC ingest 0.7 → 1.25M obs/s).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How the allocator trades memory for speed, per command. A long-running
/// twin (`run`, the API, the runtime benchmarks) returns freed memory to the
/// OS at once and commits arenas on demand, so a million idle entities stay
/// within their memory budget (mimalloc's default keeps freed pages a while:
/// 314 bytes per idle entity instead of 245). Batch work over big
/// short-lived buffers (`record`, `replay`, `bench world`, and `fuzz`, which
/// parses a mutated scenario file per case) keeps the default: freeing at
/// once would slow replay from 5.6M to 3.9M inputs/s, and the file cases of
/// `fuzz` spent a fifth of their time faulting fresh pages in.
fn tune_allocator(command: &Command) {
    let batch = matches!(
        command,
        Command::Record(_) | Command::Replay(_) | Command::Fuzz(_)
    ) || cmd::bench::is_batch(command_bench(command));
    if batch {
        return;
    }
    // Option numbers from mimalloc.h (v2) as vendored by libmimalloc-sys.
    const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set stores an integer option; it is called once,
    // before any thread starts, and both options are read when memory is
    // reserved or purged, which is safe at any time.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

fn command_bench(command: &Command) -> Option<&cmd::bench::Args> {
    match command {
        Command::Bench(a) => Some(a),
        _ => None,
    }
}

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "twin",
    version,
    about = "An actor-based digital-twin simulator and runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the twin on a scenario's simulated world.
    Run(Box<twin::run::Args>),
    /// Run a scenario and record every input, with state hashes, for replay.
    Record(twin::run::RecordArgs),
    /// Re-drive a fresh runtime from a recording and check every hash.
    Replay(cmd::replay::Args),
    /// Show an entity's state and history from a store.
    Inspect(cmd::inspect::Args),
    /// Measure performance and print the figures.
    Bench(cmd::bench::Args),
    /// Run the twin's models on a benchmark's data and score them.
    Eval(twin::eval::Args),
    /// Train a model offline and write the file the twin loads.
    Train(twin::train::Args),
    /// Send hostile input to every API method and file reader, and check
    /// that nothing panics and the server keeps answering.
    Fuzz(twin::fuzz::Args),
    /// Replay a recorded series (CSV, NDJSON) into a running twin by time,
    /// as a live feed would.
    Feed(twin::feed::Args),
    /// Send a scenario's observations to another system (MQTT, gRPC, a
    /// file) at a chosen rate, with faults; or, with --receive, measure
    /// what arrives.
    Loadgen(Box<twin::loadgen::Args>),
    /// NDVI from a red and a near-infrared GeoTIFF band, per pixel and per
    /// parcel, optionally sent to a running twin.
    Ndvi(twin::ndvi::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,fjall=warn,lsm_tree=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    tune_allocator(&cli.command);
    let result = match cli.command {
        Command::Run(a) => twin::run::main(*a),
        Command::Record(a) => twin::run::record(a),
        Command::Replay(a) => cmd::replay::main(a),
        Command::Inspect(a) => cmd::inspect::main(a),
        Command::Bench(a) => cmd::bench::main(a),
        Command::Eval(a) => twin::eval::main(a),
        Command::Train(a) => twin::train::main(a),
        Command::Fuzz(a) => twin::fuzz::main(a),
        Command::Ndvi(a) => twin::ndvi::main(a),
        Command::Loadgen(a) => twin::loadgen::main(*a),
        Command::Feed(a) => twin::feed::main(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("twin: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
