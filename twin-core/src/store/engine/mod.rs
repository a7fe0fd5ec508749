//! The one boundary between the store and a key-value engine.
//!
//! Everything the store keeps lives in a fixed set of ordered trees
//! ([`Tree`]); an engine offers point reads and writes, ordered range scans,
//! batches and a durability point on them, nothing more. Two engines
//! implement it: [`sled`](self::sled) (a B-tree with a log, the design card's
//! first choice) and [`fjall`](self::fjall) (an LSM tree with a journal); the
//! choice between them is measured by `twin bench store` and written in
//! ARCHITECTURE.md. [`Gate`](self::gate::Gate) wraps either so that tests can
//! hold writes or fail reads, as a sick disk would.
//!
//! A store directory records its engine in a file named `engine`, and keeps
//! the engine's own files in a sub-directory of that name: a store is never
//! opened by the other engine, and nothing is written before that is checked.

pub mod fjall;
pub mod gate;
pub mod sled;

use std::fmt;
use std::ops::{Bound, Deref};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use super::{Result, StoreError};

/// The trees of a store. Each engine opens all of them at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tree {
    /// Latest record per entity.
    State,
    /// The event log, keyed by (time, seq).
    Events,
    /// History write-ahead log: one value per written batch.
    Wal,
    /// Sealed history chunks, keyed by (hour, series, first time, block).
    Chunks,
    /// 5-minute roll-ups, keyed by (series, bucket).
    R5m,
    /// Hourly roll-ups, keyed by (series, bucket).
    R1h,
    /// Hours that received data after they were rolled up.
    Dirty,
    RelFwd,
    RelRev,
    Names,
    Meta,
    /// The stored entities whose state holds an open alert (a reading at a
    /// warning or critical level), keyed by id: `ListAlerts` walks these
    /// instead of every state.
    Alerting,
    /// Durable ingest batches not yet reflected in the stored states, keyed
    /// by sequence number (see `store::journal`).
    Journal,
}

impl Tree {
    pub const ALL: [Tree; 13] = [
        Tree::State,
        Tree::Events,
        Tree::Wal,
        Tree::Chunks,
        Tree::R5m,
        Tree::R1h,
        Tree::Dirty,
        Tree::RelFwd,
        Tree::RelRev,
        Tree::Names,
        Tree::Meta,
        Tree::Alerting,
        Tree::Journal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tree::State => "state",
            Tree::Events => "events",
            Tree::Wal => "wal",
            Tree::Chunks => "chunks",
            Tree::R5m => "r5m",
            Tree::R1h => "r1h",
            Tree::Dirty => "dirty",
            Tree::RelFwd => "rel_fwd",
            Tree::RelRev => "rel_rev",
            Tree::Names => "names",
            Tree::Meta => "meta",
            Tree::Alerting => "alerting",
            Tree::Journal => "journal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Sled,
    Fjall,
}

impl EngineKind {
    pub const ALL: [EngineKind; 2] = [EngineKind::Sled, EngineKind::Fjall];
    /// The engine of a new store when none is asked for: the one that won
    /// `twin bench store` (see ARCHITECTURE.md).
    pub const DEFAULT: EngineKind = EngineKind::Fjall;

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Sled => "sled",
            EngineKind::Fjall => "fjall",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sled" => Ok(EngineKind::Sled),
            "fjall" => Ok(EngineKind::Fjall),
            other => Err(format!("unknown store engine `{other}` (sled or fjall)")),
        }
    }
}

/// A value or key read from an engine, without a copy.
pub enum Bytes {
    Sled(::sled::IVec),
    Fjall(::fjall::Slice),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Sled(v) => v,
            Bytes::Fjall(v) => v,
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Key-value pairs of a range scan, in key order.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<(Bytes, Bytes)>> + 'a>;

/// Writes applied together: atomically within each tree (sled), or across
/// trees (fjall). Within one batch a key appears at most once.
#[derive(Default)]
pub struct Batch {
    pub(super) ops: Vec<(Tree, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn insert(&mut self, tree: Tree, key: &[u8], value: &[u8]) {
        self.ops.push((tree, key.to_vec(), Some(value.to_vec())));
    }
    pub fn remove(&mut self, tree: Tree, key: &[u8]) {
        self.ops.push((tree, key.to_vec(), None));
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// An ordered key-value engine holding the trees of [`Tree::ALL`].
pub trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>>;
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<()>;
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()>;
    fn apply(&self, batch: Batch) -> Result<()>;
    /// Pairs with `from <= key < to` (`to: None`: to the end), in key order,
    /// or in reverse order with `reverse`.
    fn range<'a>(&'a self, tree: Tree, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Scan<'a>;
    /// Makes every write so far durable: it survives `kill -9` and power loss.
    fn flush(&self) -> Result<()>;
    /// Bytes the engine's files take on disk.
    fn size_on_disk(&self) -> Result<u64>;
    /// Does now the space reclaiming the engine would do in the background
    /// (for measuring the size on disk, not on any user's path).
    fn settle(&self) -> Result<()> {
        self.flush()
    }
    /// Waits while the engine has more written than it has flushed beyond
    /// a fixed bound. Upkeep calls it between series, so that what it
    /// writes waits on the engine rather than piling up in memory; the
    /// write path never does.
    fn catch_up(&self) {}

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool> {
        Ok(self.get(tree, key)?.is_some())
    }
    /// The pairs whose key starts with `prefix`, in key order.
    fn prefix<'a>(&'a self, tree: Tree, prefix: &[u8]) -> Scan<'a> {
        match prefix_end(prefix) {
            Some(end) => self.range(tree, prefix, Some(&end), false),
            None => self.range(tree, prefix, None, false),
        }
    }
    fn first(&self, tree: Tree) -> Result<Option<(Bytes, Bytes)>> {
        self.range(tree, &[], None, false).next().transpose()
    }
    fn last(&self, tree: Tree) -> Result<Option<(Bytes, Bytes)>> {
        self.range(tree, &[], None, true).next().transpose()
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn bounds<'k>(from: &'k [u8], to: Option<&'k [u8]>) -> (Bound<&'k [u8]>, Bound<&'k [u8]>) {
    (
        Bound::Included(from),
        to.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

/// The file in a store directory that names its engine.
const MARKER: &str = "engine";

/// Opens the engine of the store in `dir`, creating the store with `asked`
/// (or the default engine) if `dir` holds none. A store made by one engine
/// asked to open with the other is an error that names both.
pub fn open(dir: &Path, asked: Option<EngineKind>) -> Result<Arc<dyn Engine>> {
    let err = |what: String| StoreError::Open {
        path: dir.display().to_string(),
        reason: what,
    };
    let marker = dir.join(MARKER);
    let kind = match std::fs::read_to_string(&marker) {
        Ok(text) => {
            let found: EngineKind = text.trim().parse().map_err(err)?;
            if let Some(asked) = asked.filter(|a| *a != found) {
                return Err(err(format!(
                    "this store was written by the {found} engine, not {asked}; \
                     open it with --store-engine {found}"
                )));
            }
            found
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let kind = asked.unwrap_or(EngineKind::DEFAULT);
            let not_empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
            if not_empty {
                return Err(err(
                    "the directory is not empty and holds no twin store (no `engine` file)".into(),
                ));
            }
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            std::fs::write(&marker, format!("{kind}\n")).map_err(|e| err(e.to_string()))?;
            kind
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let data = dir.join(kind.name());
    let opened: Result<Arc<dyn Engine>> = match kind {
        EngineKind::Sled => sled::SledEngine::open(&data).map(|e| Arc::new(e) as _),
        EngineKind::Fjall => fjall::FjallEngine::open(&data).map(|e| Arc::new(e) as _),
    };
    opened.map_err(|e| err(e.to_string()))
}

/// A store engine in a temporary directory, removed when dropped.
pub fn temporary(kind: EngineKind) -> Result<Arc<dyn Engine>> {
    Ok(match kind {
        EngineKind::Sled => Arc::new(sled::SledEngine::temporary()?),
        EngineKind::Fjall => Arc::new(fjall::FjallEngine::temporary()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_past_the_prefix() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
    }

    #[test]
    fn a_store_refuses_the_other_engine_and_a_foreign_directory() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path(), Some(EngineKind::Sled)).unwrap();
        let e = open(dir.path(), Some(EngineKind::Fjall)).err().unwrap();
        let text = e.to_string();
        assert!(text.contains("sled engine, not fjall"), "{text}");
        assert_eq!(open(dir.path(), None).unwrap().kind(), EngineKind::Sled);
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
        let e = open(other.path(), None).err().unwrap();
        assert!(e.to_string().contains("holds no twin store"), "{e}");
    }
}
