//! An engine wrapper that can hold writes, hold or fail reads on demand.
//!
//! Why it exists: what the store's callers do when the disk misbehaves (a
//! write that never completes, a read that fails) must be tested against the
//! real code paths, and no real engine does either on cue. A [`Gate`] passes
//! everything to the engine it wraps until told otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{Batch, Bytes, Engine, EngineKind, Scan, Tree};
use crate::store::{Result, StoreError};

/// A handle to switch a [`Gate`]'s faults on and off.
#[derive(Clone, Default)]
pub struct GateControl {
    inner: Arc<Switches>,
}

#[derive(Default)]
struct Held {
    writes: bool,
    /// Reads of this tree wait.
    reads: Option<Tree>,
}

#[derive(Default)]
struct Switches {
    held: Mutex<Held>,
    released: Condvar,
    fail_reads: AtomicBool,
}

impl GateControl {
    /// Writes (and flushes) block until [`release`](Self::release).
    pub fn hold_writes(&self) {
        self.inner.held.lock().expect("gate lock").writes = true;
    }
    /// Reads of `tree` block until [`release`](Self::release): a slow disk.
    pub fn hold_reads(&self, tree: Tree) {
        self.inner.held.lock().expect("gate lock").reads = Some(tree);
    }
    /// Lets held writes and reads go.
    pub fn release(&self) {
        *self.inner.held.lock().expect("gate lock") = Held::default();
        self.inner.released.notify_all();
    }
    /// Every read fails with an I/O error while `on`.
    pub fn fail_reads(&self, on: bool) {
        self.inner.fail_reads.store(on, Ordering::SeqCst);
    }
    fn wait_while(&self, held: impl Fn(&Held) -> bool) {
        let mut h = self.inner.held.lock().expect("gate lock");
        while held(&h) {
            h = self.inner.released.wait(h).expect("gate lock");
        }
    }

    fn wait_open(&self) {
        self.wait_while(|h| h.writes);
    }

    fn read(&self, tree: Tree) -> Result<()> {
        self.wait_while(|h| h.reads == Some(tree));
        if self.inner.fail_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Io(format!(
                "read of tree `{}` failed (gate)",
                tree.name()
            )));
        }
        Ok(())
    }
}

/// An engine whose writes can be held and reads failed, by its [`GateControl`].
pub struct Gate {
    inner: Arc<dyn Engine>,
    control: GateControl,
}

impl Gate {
    pub fn new(inner: Arc<dyn Engine>) -> (Gate, GateControl) {
        let control = GateControl::default();
        (
            Gate {
                inner,
                control: control.clone(),
            },
            control,
        )
    }
}

impl Engine for Gate {
    fn kind(&self) -> EngineKind {
        self.inner.kind()
    }
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        self.control.read(tree)?;
        self.inner.get(tree, key)
    }
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<()> {
        self.control.wait_open();
        self.inner.insert(tree, key, value)
    }
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<()> {
        self.control.wait_open();
        self.inner.remove(tree, key)
    }
    fn apply(&self, batch: Batch) -> Result<()> {
        self.control.wait_open();
        self.inner.apply(batch)
    }
    fn range<'a>(&'a self, tree: Tree, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Scan<'a> {
        if let Err(e) = self.control.read(tree) {
            return Box::new(std::iter::once(Err(e)));
        }
        self.inner.range(tree, from, to, reverse)
    }
    fn flush(&self) -> Result<()> {
        self.control.wait_open();
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64> {
        self.inner.size_on_disk()
    }
    fn settle(&self) -> Result<()> {
        self.inner.settle()
    }
    fn catch_up(&self) {
        self.inner.catch_up()
    }
}
