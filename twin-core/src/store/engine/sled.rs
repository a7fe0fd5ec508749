//! The store's trees on sled 0.34.
//!
//! sled takes about 100k single-key inserts a second here but millions of
//! samples a second written as one value, which is why history is written as
//! whole batches and sealed chunks (see `store::history`). Two of its habits
//! shape this file:
//!
//! - Every `apply_batch` starts by writing out sled's log buffer (a file write
//!   and a wake-up of its seven I/O threads), so [`Batch`]es are applied only
//!   where the store asks for atomicity, and chunks are inserted one by one.
//! - A page read back from disk waits until its log buffer is written, and
//!   under sustained load that wait can hang for good (sled issue #1412). So
//!   the buffer is written out every [`ROLL_EVERY`] WAL inserts (an empty
//!   batch), which keeps what is not yet on disk to a few milliseconds of
//!   writes. Segments are the largest sled allows (16 MiB), as the same
//!   deadlock needs seven log writes of a segment each in flight at once.
//!   Neither is a proof: the store's watchdog reports a stall if one happens.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Batch, Bytes, Engine, EngineKind, Scan, Tree, bounds};
use crate::store::Result;

/// Every this many WAL inserts, sled's log buffer is written out.
const ROLL_EVERY: u64 = 8;

pub struct SledEngine {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    wal_writes: AtomicU64,
}

impl SledEngine {
    fn config() -> sled::Config {
        sled::Config::new()
            .cache_capacity(64 << 20)
            .segment_size(1 << 24)
            .flush_every_ms(Some(500))
    }

    /// Opens the store at `path`. sled's flusher thread lets go of the
    /// file lock a moment after the previous handle is dropped, so a store
    /// reopened at once (a restart in the same process) waits for it, up to
    /// ten seconds (on a loaded host its last flush took over two), rather
    /// than failing.
    pub fn open(path: &Path) -> Result<SledEngine> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Self::config().path(path).open() {
                // sled reports the lock as an `Other` I/O error with this
                // text (sled 0.34, config.rs), not as `WouldBlock`.
                Err(sled::Error::Io(e))
                    if e.to_string().starts_with("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                opened => return Self::with(opened?),
            }
        }
    }

    pub fn temporary() -> Result<SledEngine> {
        Self::with(Self::config().temporary(true).open()?)
    }

    fn with(db: sled::Db) -> Result<SledEngine> {
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<sled::Result<_>>()?;
        Ok(SledEngine {
            db,
            trees,
            wal_writes: AtomicU64::new(0),
        })
    }

    fn tree(&self, t: Tree) -> &sled::Tree {
        &self.trees[t.index()]
    }
}

impl Engine for SledEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sled
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.tree(tree).get(key)?.map(Bytes::Sled))
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool> {
        Ok(self.tree(tree).contains_key(key)?)
    }

    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<()> {
        self.tree(tree).insert(key, value)?;
        if tree == Tree::Wal
            && self.wal_writes.fetch_add(1, Ordering::Relaxed) % ROLL_EVERY == ROLL_EVERY - 1
        {
            self.tree(Tree::Chunks)
                .apply_batch(sled::Batch::default())?;
        }
        Ok(())
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()> {
        self.tree(tree).remove(key)?;
        Ok(())
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        let mut per_tree: Vec<Option<sled::Batch>> = (0..Tree::ALL.len()).map(|_| None).collect();
        for (tree, key, value) in batch.ops {
            let b = per_tree[tree.index()].get_or_insert_with(sled::Batch::default);
            match value {
                Some(v) => b.insert(key, v),
                None => b.remove(key),
            }
        }
        for (i, b) in per_tree.into_iter().enumerate() {
            if let Some(b) = b {
                self.trees[i].apply_batch(b)?;
            }
        }
        Ok(())
    }

    fn range<'a>(&'a self, tree: Tree, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Scan<'a> {
        let iter = self.tree(tree).range::<&[u8], _>(bounds(from, to));
        let map = |item: sled::Result<(sled::IVec, sled::IVec)>| {
            item.map(|(k, v)| (Bytes::Sled(k), Bytes::Sled(v)))
                .map_err(Into::into)
        };
        if reverse {
            Box::new(iter.rev().map(map))
        } else {
            Box::new(iter.map(map))
        }
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }
}
