//! Durable ingest through the store's journal (`twin_core::store::journal`):
//! sequence numbers, the position a checkpoint may record, and recovery.
//!
//! Why its own piece: a durable batch is written once to the journal and
//! acknowledged after the store's next sync, instead of writing the state
//! of every entity it touched. What the journal promises rests on two
//! things kept here:
//! - a checkpoint records position `p` only when every batch up to `p` has
//!   been applied by every shard before the checkpoint's state writes; a
//!   batch still in flight keeps the position below it;
//! - at start, before any input, the batches past the recorded position are
//!   applied again ([`Runtime::recover`]): without their history and events,
//!   which were stored with them, and skipping what an entity's stored
//!   state already reflects (it was stored by a passivation or a checkpoint
//!   after the batch). Batches are applied again in journal order; two
//!   concurrent batches on one entity may have been applied in the other
//!   order before the crash, and readings settle by time either way.

use std::collections::BTreeSet;
use std::sync::Mutex;

use twin_core::Observation;
use twin_core::store::Store;

use crate::runtime::{Runtime, RuntimeError};

#[derive(Debug, Default)]
pub struct Journal {
    seqs: Mutex<Seqs>,
}

#[derive(Debug, Default)]
struct Seqs {
    /// The next sequence number to give.
    next: u64,
    /// Batches journaled and not yet applied by every shard.
    in_flight: BTreeSet<u64>,
    /// The position the last checkpoint recorded.
    checkpointed: u64,
    /// A checkpoint asked for by [`Journal::due`] is under way.
    checkpointing: bool,
}

impl Journal {
    /// Takes the journal's numbering on from what `store` holds.
    pub fn open(store: &Store) -> Result<Journal, RuntimeError> {
        let err = |e: twin_core::store::StoreError| RuntimeError::Store(e.to_string());
        let applied = store.journal_applied().map_err(err)?;
        let last = store.journal_last().map_err(err)?.unwrap_or(0);
        Ok(Journal {
            seqs: Mutex::new(Seqs {
                next: applied.max(last) + 1,
                in_flight: BTreeSet::new(),
                checkpointed: applied,
                checkpointing: false,
            }),
        })
    }

    fn seqs(&self) -> std::sync::MutexGuard<'_, Seqs> {
        self.seqs.lock().expect("journal lock poisoned")
    }

    /// Gives `batch` its sequence number and writes it to the journal, with
    /// its entities' names if it may create them; [`Journal::applied`] must
    /// follow once every shard has applied it.
    pub async fn append(
        &self,
        store: &Store,
        batch: Vec<Observation>,
        names: bool,
    ) -> Result<(u64, Vec<Observation>), RuntimeError> {
        let seq = {
            let mut s = self.seqs();
            let seq = s.next;
            s.next += 1;
            s.in_flight.insert(seq);
            seq
        };
        let store = store.clone();
        let written = crate::runtime::blocking(move || {
            store.journal_append(seq, &batch, names).map(|()| batch)
        })
        .await;
        match written {
            Ok(batch) => Ok((seq, batch)),
            Err(e) => {
                self.applied(seq);
                Err(e)
            }
        }
    }

    /// Batch `seq` has been applied by every shard (or failed).
    pub fn applied(&self, seq: u64) {
        self.seqs().in_flight.remove(&seq);
    }

    /// Whether batch `seq` is `every` or more past the last checkpoint, and
    /// no other caller is checkpointing for that already; the caller then
    /// checkpoints.
    pub fn due(&self, seq: u64, every: u64) -> bool {
        let mut s = self.seqs();
        let due = !s.checkpointing && seq >= s.checkpointed.saturating_add(every.max(1));
        s.checkpointing |= due;
        due
    }

    /// The checkpoint [`Journal::due`] asked for failed: the next batch
    /// asks again.
    pub fn checkpoint_failed(&self) {
        self.seqs().checkpointing = false;
    }

    /// A checkpoint recorded position `p`.
    pub fn checkpointed(&self, p: u64) {
        let mut s = self.seqs();
        s.checkpointed = s.checkpointed.max(p);
        s.checkpointing = false;
    }

    /// The position a checkpoint starting now may record: every batch up
    /// to it has been applied.
    pub fn position(&self) -> u64 {
        let s = self.seqs();
        match s.in_flight.first() {
            Some(first) => first - 1,
            None => s.next - 1,
        }
    }
}

impl Runtime {
    /// Applies again the journaled batches the stored states do not
    /// reflect, then checkpoints; called once at start, before any input.
    pub(crate) fn recover(&self) -> Result<usize, RuntimeError> {
        let Some(store) = self.store() else {
            return Ok(0);
        };
        let err = |e: twin_core::store::StoreError| RuntimeError::Store(e.to_string());
        let applied = store.journal_applied().map_err(err)?;
        let mut batches = 0;
        for entry in store.journal_after(applied) {
            let entry = entry.map_err(err)?;
            entry.learn_names();
            let report = futures::executor::block_on(self.apply(entry.batch, true))?;
            if let Some((i, e)) = report.errors.first() {
                tracing::debug!("journal {}: item {i} refused again: {e}", entry.seq);
            }
            batches += 1;
        }
        if batches > 0 {
            tracing::info!("applied {batches} journaled batch(es) again after an unclean stop");
            futures::executor::block_on(self.checkpoint())?;
        }
        Ok(batches)
    }
}
