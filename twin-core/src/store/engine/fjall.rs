//! The store's trees on fjall 3, an LSM tree: one keyspace per tree, one
//! journal for all.
//!
//! Writes go to the journal (through a write buffer) and a memtable; sorted
//! tables are flushed and compacted on fjall's own threads. A write is
//! durable at [`Engine::flush`], which writes out and syncs the journal.
//! Batches are atomic across keyspaces.

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Batch, Bytes, Engine, EngineKind, Scan, Tree, bounds};
use crate::store::Result;

pub struct FjallEngine {
    db: Database,
    trees: Vec<Keyspace>,
}

impl FjallEngine {
    pub fn open(path: &Path) -> Result<FjallEngine> {
        Self::with(Database::builder(path).cache_size(256 << 20).open()?)
    }

    pub fn temporary() -> Result<FjallEngine> {
        let dir = tempfile::Builder::new()
            .prefix("twin-fjall-")
            .tempdir()
            .map_err(fjall::Error::from)?
            .keep();
        Self::with(
            Database::builder(dir)
                .cache_size(256 << 20)
                .temporary(true)
                .open()?,
        )
    }

    fn with(db: Database) -> Result<FjallEngine> {
        let trees = Tree::ALL
            .iter()
            .map(|t| db.keyspace(t.name(), KeyspaceCreateOptions::default))
            .collect::<fjall::Result<_>>()?;
        Ok(FjallEngine { db, trees })
    }

    fn tree(&self, t: Tree) -> &Keyspace {
        &self.trees[t.index()]
    }
}

impl Engine for FjallEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Fjall
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.tree(tree).get(key)?.map(Bytes::Fjall))
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool> {
        Ok(self.tree(tree).contains_key(key)?)
    }

    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<()> {
        self.tree(tree).insert(key, value)?;
        Ok(())
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()> {
        self.tree(tree).remove(key)?;
        Ok(())
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        let mut b = self.db.batch();
        for (tree, key, value) in batch.ops {
            match value {
                Some(v) => b.insert(self.tree(tree), key, v),
                None => b.remove(self.tree(tree), key),
            }
        }
        b.commit()?;
        Ok(())
    }

    fn range<'a>(&'a self, tree: Tree, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Scan<'a> {
        let iter = self.tree(tree).range::<&[u8], _>(bounds(from, to));
        let map = |g: fjall::Guard| {
            g.into_inner()
                .map(|(k, v)| (Bytes::Fjall(k), Bytes::Fjall(v)))
                .map_err(Into::into)
        };
        if reverse {
            Box::new(iter.rev().map(map))
        } else {
            Box::new(iter.map(map))
        }
    }

    fn flush(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.disk_space()?)
    }

    /// Flushes every memtable (so the journals can go) and compacts every
    /// keyspace to its last level (so removed keys leave the disk).
    fn settle(&self) -> Result<()> {
        self.flush()?;
        for t in &self.trees {
            t.rotate_memtable_and_wait()?;
            t.major_compact()?;
        }
        Ok(())
    }
}
