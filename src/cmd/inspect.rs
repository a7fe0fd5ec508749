//! `twin inspect`: an entity's state and history, read from a store.

use clap::Args as ClapArgs;

use super::Result;

#[derive(ClapArgs)]
pub struct Args {}

pub fn main(_args: Args) -> Result<()> {
    Ok(())
}
