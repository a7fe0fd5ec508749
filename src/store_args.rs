//! `--store-engine`: one option for every command that opens a store.

use std::path::Path;

use clap::Args as ClapArgs;
use twin_core::store::{EngineKind, Options, Retention, Store};

#[derive(ClapArgs, Clone, Copy, Debug, Default)]
pub struct EngineArg {
    /// Store engine, sled or fjall (default: the store's own, or fjall for a
    /// new store). A store opened with the other engine is an error.
    #[arg(long = "store-engine", value_parser = parse_engine)]
    pub engine: Option<EngineKind>,
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse()
}

impl EngineArg {
    /// Opens (or creates) the store in `dir`.
    pub fn open(&self, dir: &Path, retention: Retention) -> twin_core::store::Result<Store> {
        Store::open_with(
            dir,
            Options {
                engine: self.engine,
                retention,
            },
        )
    }

    /// A store in a temporary directory, removed when dropped.
    pub fn temporary(&self, retention: Retention) -> twin_core::store::Result<Store> {
        Store::temporary_on(self.engine.unwrap_or(EngineKind::DEFAULT), retention)
    }
}
