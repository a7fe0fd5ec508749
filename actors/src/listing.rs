//! Every entity, resident or passivated, listed a page at a time.
//!
//! Why it is its own piece: a twin of millions of entities must answer
//! `ListEntities` and `ListAlerts` without cloning all of them per call. A
//! page walks each shard's ordered resident ids and the store's state tree
//! from the cursor, and each source looks at no more than [`BUDGET`]
//! entities, so a call costs a bounded amount of work whatever the twin's
//! size and however selective the filter; a page cut short by the budget is
//! short (even empty) and still carries a cursor.
//!
//! Residents are read before the store: an entity passivated in between is
//! then found in the store, and one found in both is taken from memory,
//! which is never older.

use std::collections::BTreeMap;

use twin_core::EntityId;
use twin_core::state::EntityRecord;

use crate::runtime::{Runtime, RuntimeError};
use crate::shard_actor::lock;

/// Entities one source (a shard, the store) looks at per page, at most.
pub const BUDGET: usize = 20_000;

/// One page of entities, in id order.
#[derive(Debug, Default)]
pub struct EntityPage {
    pub records: Vec<EntityRecord>,
    /// Where the next page starts (after this id); `None` after the last.
    pub next: Option<EntityId>,
}

impl Runtime {
    /// Entities after `after` that `keep` accepts, at most `limit`, in id
    /// order. Blocking (it reads the store): call it off the async workers.
    pub fn entities_page(
        &self,
        after: Option<EntityId>,
        limit: usize,
        keep: &dyn Fn(&EntityRecord) -> bool,
    ) -> Result<EntityPage, RuntimeError> {
        let limit = limit.max(1);
        // One more than asked: whether a next page exists is then known.
        let want = limit + 1;
        let mut found: BTreeMap<EntityId, EntityRecord> = BTreeMap::new();
        // The smallest id at which a source stopped before its end: past
        // it, the page would not be complete.
        let mut frontier: Option<EntityId> = None;
        let stop_at = |id: EntityId, f: &mut Option<EntityId>| {
            *f = Some(f.map_or(id, |x| x.min(id)));
        };
        for core in self.cores() {
            let (records, stopped) = lock(core).resident_page(after, want, BUDGET, keep);
            found.extend(records.into_iter().map(|r| (r.id(), r)));
            if let Some(id) = stopped {
                stop_at(id, &mut frontier);
            }
        }
        if let Some(store) = self.store() {
            let (mut looked, mut kept) = (0, 0);
            for r in store.states_after(after) {
                let r = r.map_err(|e| RuntimeError::Store(e.to_string()))?;
                let id = r.id();
                if frontier.is_some_and(|f| id > f) {
                    break;
                }
                looked += 1;
                if !found.contains_key(&id) && !self.is_resident(id) && keep(&r) {
                    found.insert(id, r);
                    kept += 1;
                }
                if kept >= want || looked >= BUDGET {
                    stop_at(id, &mut frontier);
                    break;
                }
            }
        }
        let mut records: Vec<EntityRecord> = found
            .into_values()
            .filter(|r| frontier.is_none_or(|f| r.id() <= f))
            .collect();
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(EntityRecord::id)
        } else {
            frontier
        };
        Ok(EntityPage { records, next })
    }

    fn is_resident(&self, id: EntityId) -> bool {
        let cores = self.cores();
        lock(&cores[id.shard(cores.len())]).is_resident(id)
    }
}
