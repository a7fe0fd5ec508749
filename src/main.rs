//! `twin`: the command line. Wiring only: it parses arguments, builds the
//! store, the runtime and the world from the library crates, and connects them.

mod cmd;

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
    Run(cmd::run::Args),
    /// Run a scenario and record every input, with state hashes, for replay.
    Record(cmd::run::RecordArgs),
    /// Re-drive a fresh runtime from a recording and check every hash.
    Replay(cmd::replay::Args),
    /// Show an entity's state and history from a store.
    Inspect(cmd::inspect::Args),
    /// Measure performance and print the figures.
    Bench(cmd::bench::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => cmd::run::main(a),
        Command::Record(a) => cmd::run::record(a),
        Command::Replay(a) => cmd::replay::main(a),
        Command::Inspect(a) => cmd::inspect::main(a),
        Command::Bench(a) => cmd::bench::main(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("twin: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
