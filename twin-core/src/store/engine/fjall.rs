//! The store's trees on fjall 3, an LSM tree: one keyspace per tree, one
//! journal for all.
//!
//! Writes go to the journal and a memtable; sorted tables are flushed and
//! compacted on fjall's own threads. Every write reaches the operating
//! system before it returns (it survives the process being killed); it is
//! durable against power loss at [`Engine::flush`], or within [`SYNC_EVERY`]
//! by the syncer thread, as sled syncs its log on its own. Batches are
//! atomic across keyspaces.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use fjall::config::{CompressionPolicy, FilterPolicy};
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Batch, Bytes, Engine, EngineKind, Scan, Tree, bounds};
use crate::store::Result;

/// Memory and journal bounds. Every memtable and the block cache are bounded
/// by size, not by the data an hour brings, so compaction's peak stays the
/// same however large the hour: the WAL's memtable is larger because every
/// observation passes through it, the others hold chunks, roll-ups, events
/// and state, written at a fraction of that rate.
const CACHE: u64 = 32 << 20;
const WAL_MEMTABLE: u64 = 32 << 20;
const MEMTABLE: u64 = 4 << 20;
/// The memtable size fjall itself is told: never reached. Past its size,
/// fjall 3.1 queues a rotation request for every write until its worker
/// gets to it, filling the worker's queue of 1,000 messages; the worker
/// then blocks sending a flush into that full queue, and with one worker
/// nothing drains it (a deadlock, fjall pull request #323). The engine
/// counts what it writes and rotates a memtable itself instead.
const NEVER: u64 = 1 << 40;
/// Sealed memtables upkeep lets a tree queue for flushing before it waits
/// ([`Engine::catch_up`]). Upkeep writes chunks and roll-ups faster than
/// the one worker flushes them; without the wait the queue (fjall's own
/// limit is 4 per tree) and so the memory grow with the hour being
/// compacted. Shards never wait on it.
const MAX_SEALED: usize = 1;
/// What one write adds to a memtable beyond its key and value (sequence
/// number, value type, skip-list node), roughly.
const ENTRY_OVERHEAD: usize = 32;
/// The journal is kept until every memtable it covers is flushed; fjall's
/// floor is 64 MiB.
const JOURNAL: u64 = 128 << 20;

/// How often the syncer makes the journal durable.
pub const SYNC_EVERY: Duration = Duration::from_millis(500);

pub struct FjallEngine {
    trees: Vec<Keyspace>,
    db: Database,
    /// Bytes written to each tree's memtable since it was last rotated.
    written: Vec<AtomicU64>,
    /// Dropping the sender stops the syncer.
    syncer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    /// A temporary store's directory, removed last: fields drop in order,
    /// so the database and its trees have let go of their files by then.
    dir: Option<tempfile::TempDir>,
}

impl FjallEngine {
    pub fn open(path: &Path) -> Result<FjallEngine> {
        Self::with(Self::builder(path).open()?)
    }

    pub fn temporary() -> Result<FjallEngine> {
        let dir = tempfile::Builder::new()
            .prefix("twin-fjall-")
            .tempdir()
            .map_err(fjall::Error::from)?;
        let mut engine = Self::with(Self::builder(dir.path()).open()?)?;
        engine.dir = Some(dir);
        Ok(engine)
    }

    /// One background worker: with more, fjall 3.1's first worker hands
    /// every compaction on to the others and, while they are busy, takes it
    /// back and hands it on again, spinning a core (README gives what it
    /// cost). One worker is safe because the engine rotates memtables
    /// itself ([`NEVER`]). The journal is not compressed: it
    /// mostly holds WAL blocks that are trimmed within minutes, and
    /// compressing them cost the writing shard 4 % of its time.
    fn builder(path: &Path) -> fjall::DatabaseBuilder<Database> {
        Database::builder(path)
            .cache_size(CACHE)
            .max_journaling_size(JOURNAL)
            .worker_threads(1)
            .journal_compression(CompressionType::None)
    }

    fn with(db: Database) -> Result<FjallEngine> {
        let trees = Tree::ALL
            .iter()
            .map(|t| db.keyspace(t.name(), || options(*t)))
            .collect::<fjall::Result<_>>()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let synced = db.clone();
        let thread = std::thread::Builder::new()
            .name("fjall-sync".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(SYNC_EVERY) {
                    if let Err(e) = synced.persist(PersistMode::SyncAll) {
                        eprintln!("warning: store: syncing the journal failed: {e}");
                    }
                }
            })
            .map_err(fjall::Error::from)?;
        Ok(FjallEngine {
            db,
            written: Tree::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            trees,
            syncer: Some((stop, thread)),
            dir: None,
        })
    }

    fn tree(&self, t: Tree) -> &Keyspace {
        &self.trees[t.index()]
    }

    /// Counts `bytes` written to `t`, and rotates its memtable once past
    /// the tree's size (one writer does, the others see the count reset).
    fn wrote(&self, t: Tree, bytes: usize) -> Result<()> {
        let counter = &self.written[t.index()];
        let limit = memtable_size(t);
        let n = counter.fetch_add(bytes as u64, Ordering::AcqRel) + bytes as u64;
        if n >= limit && counter.swap(0, Ordering::AcqRel) >= limit {
            self.tree(t).rotate_memtable()?;
        }
        Ok(())
    }
}

/// The size at which the engine rotates a tree's memtable.
fn memtable_size(tree: Tree) -> u64 {
    if tree == Tree::Wal {
        WAL_MEMTABLE
    } else {
        MEMTABLE
    }
}

/// A keyspace's options. Bloom filters serve point reads, which only entity
/// state, names and metadata get; the others are scanned by range. WAL blocks
/// and chunks are not compressed again: a WAL block lives minutes, and a
/// chunk is already compressed by the codec.
fn options(tree: Tree) -> KeyspaceCreateOptions {
    let o = KeyspaceCreateOptions::default().max_memtable_size(NEVER);
    match tree {
        Tree::State | Tree::Names | Tree::Meta | Tree::Alerting => o,
        Tree::Wal | Tree::Chunks | Tree::Journal => o
            .filter_policy(FilterPolicy::disabled())
            .data_block_compression_policy(CompressionPolicy::all(CompressionType::None)),
        _ => o.filter_policy(FilterPolicy::disabled()),
    }
}

impl Drop for FjallEngine {
    /// Stops the syncer before the database closes, so that the directory
    /// is free when this returns.
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.syncer.take() {
            drop(stop);
            let _ = thread.join();
        }
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
        self.wrote(tree, key.len() + value.len() + ENTRY_OVERHEAD)
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()> {
        self.tree(tree).remove(key)?;
        self.wrote(tree, key.len() + ENTRY_OVERHEAD)
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        let mut b = self.db.batch();
        let mut bytes = vec![0usize; self.trees.len()];
        for (tree, key, value) in batch.ops {
            bytes[tree.index()] +=
                key.len() + value.as_ref().map_or(0, |v| v.len()) + ENTRY_OVERHEAD;
            match value {
                Some(v) => b.insert(self.tree(tree), key, v),
                None => b.remove(self.tree(tree), key),
            }
        }
        b.commit()?;
        for (t, n) in Tree::ALL.iter().zip(bytes) {
            if n > 0 {
                self.wrote(*t, n)?;
            }
        }
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

    fn catch_up(&self) {
        for t in [Tree::Chunks, Tree::R5m, Tree::R1h] {
            while self.tree(t).sealed_memtable_count() > MAX_SEALED {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
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
