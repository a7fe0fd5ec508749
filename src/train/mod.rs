//! `twin train`: fits a model offline, in pure Rust, and writes the model
//! file the twin loads (`[[inference]]` in a scenario names it).

mod lives;
pub mod rul;

use clap::{Args as ClapArgs, Subcommand};

pub use crate::eval::Result;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Remaining useful life from run-to-failure histories.
    Rul(rul::Args),
}

pub fn main(args: Args) -> Result<()> {
    match args.what {
        What::Rul(a) => rul::main(a),
    }
}
