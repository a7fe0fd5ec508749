//! `twin eval`: the twin's models run on a benchmark's data, one fresh
//! model per series exactly as the twin runs it, and scored as the
//! benchmark defines it (`twin-eval`).

pub mod cmapss;
pub mod disease;
pub mod forecast;
pub mod forecasts;
pub mod nab;
pub mod planning;
pub mod world;

use clap::{Args as ClapArgs, Subcommand};

/// Errors of an evaluation: a message for the user.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// The anomaly detector on a NAB-layout folder (`category/file.csv`).
    Nab(nab::Args),
    /// The RUL model on NASA's C-MAPSS turbofan benchmark.
    Cmapss(cmapss::Args),
    /// A scenario with its models on, scored against the world's truth.
    World(world::Args),
    /// The forecaster on an hourly series, walked forward past a date.
    Forecast(forecast::Args),
    /// A scenario under each planning policy, scored on the world's truth.
    Planning(planning::Args),
}

/// A figure to three decimals, as the reports print them.
pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn main(args: Args) -> Result<()> {
    match args.what {
        What::Nab(a) => nab::main(a),
        What::Cmapss(a) => cmapss::main(a),
        What::World(a) => world::main(a),
        What::Forecast(a) => forecast::main(a),
        What::Planning(a) => planning::main(a),
    }
}
