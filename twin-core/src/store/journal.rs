//! The journal of durable ingest batches.
//!
//! Why: a durable ingest used to write the state of every entity a batch
//! touched before acknowledging it, a dozen microseconds per entity, so a
//! batch of a thousand sensors cost more in state writes than everything
//! else together. Now a durable batch is written here once, as it came,
//! and the store's sync covers it with the batch's history; entity states
//! are written at checkpoints as for any other input. A checkpoint records
//! the sequence number every earlier batch is reflected by
//! ([`Store::journal_applied`]) and drops the entries up to it; after a
//! crash the runtime applies the entries past it again before it takes
//! any input, so an acknowledged batch is never lost.
//!
//! An entry holds the batch and, when the batch may create entities, the
//! names of its entities (an entity the batch created has no stored record
//! to learn its name from; any other was stored when it was created).

use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError, Tree};
use crate::id::EntityId;
use crate::observation::Observation;

const APPLIED: &str = "journal_applied";

/// One journaled batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journaled {
    pub seq: u64,
    /// Each distinct entity of the batch with its name.
    pub names: Vec<(EntityId, String)>,
    pub batch: Vec<Observation>,
}

impl Journaled {
    /// Learns the names of the batch's entities.
    pub fn learn_names(&self) {
        for (id, name) in &self.names {
            EntityId::new(id.kind(), name);
        }
    }
}

impl Store {
    /// Writes a durable batch under `seq` (made durable by the next
    /// [`Store::flush`]), with its entities' names if `names`.
    pub fn journal_append(&self, seq: u64, batch: &[Observation], names: bool) -> Result<()> {
        let names: Vec<(EntityId, String)> = if names {
            let mut ids: Vec<EntityId> = batch.iter().map(|o| o.entity).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter()
                .filter_map(|id| id.local_name().map(|n| (id, n)))
                .collect()
        } else {
            Vec::new()
        };
        let entry = (names, batch);
        let bytes = postcard::to_allocvec(&entry)
            .map_err(|e| StoreError::Io(format!("journal entry {seq}: {e}")))?;
        self.db().insert(Tree::Journal, &seq.to_be_bytes(), &bytes)
    }

    /// The journaled batches after `after`, in order.
    pub fn journal_after(&self, after: u64) -> impl Iterator<Item = Result<Journaled>> + '_ {
        let from = after.saturating_add(1).to_be_bytes();
        self.db()
            .range(Tree::Journal, &from, None, false)
            .map(|item| {
                let (k, v) = item?;
                let seq = super::keys::u64_from(&k);
                let (names, batch): (Vec<(EntityId, String)>, Vec<Observation>) =
                    postcard::from_bytes(&v).map_err(|source| StoreError::Decode {
                        key: format!("journal/{seq}"),
                        source,
                    })?;
                Ok(Journaled { seq, names, batch })
            })
    }

    /// The last sequence number journaled, if any.
    pub fn journal_last(&self) -> Result<Option<u64>> {
        Ok(self
            .db()
            .last(Tree::Journal)?
            .map(|(k, _)| super::keys::u64_from(&k)))
    }

    /// The sequence number up to which every journaled batch is reflected
    /// in the stored states (0: none was ever checkpointed).
    pub fn journal_applied(&self) -> Result<u64> {
        Ok(self.get_meta(APPLIED)?.unwrap_or(0))
    }

    /// Records that the stored states reflect every batch up to `seq`, and
    /// drops those entries.
    pub fn journal_checkpointed(&self, seq: u64) -> Result<()> {
        self.put_meta(APPLIED, &seq)?;
        let keys: Vec<_> = self
            .db()
            .range(
                Tree::Journal,
                &[],
                Some(&seq.saturating_add(1).to_be_bytes()),
                false,
            )
            .map(|item| item.map(|(k, _)| k))
            .collect::<Result<_>>()?;
        let mut batch = super::Batch::default();
        for k in &keys {
            batch.remove(Tree::Journal, k);
        }
        self.db().apply(batch)
    }
}
