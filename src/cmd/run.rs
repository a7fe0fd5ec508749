//! `twin run`: the twin on a simulated world.

use clap::Args as ClapArgs;

use super::Result;

#[derive(ClapArgs)]
pub struct Args {}

pub fn main(_args: Args) -> Result<()> {
    Ok(())
}
