//! Every entity, resident or passivated, listed a page at a time; and the
//! ones with an open alert, from indexes of those alone.
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

    /// Entities after `after` with an open alert that `keep` accepts, at
    /// most `limit`, in id order. Only entities with an alert are looked
    /// at: each shard's resident ones and the store's index of the
    /// passivated ones, each source giving at most `limit + 1` ids. A page
    /// whose filter refused some is short and still carries a cursor.
    /// Blocking (it may read the store): call it off the async workers.
    pub fn alerts_page(
        &self,
        after: Option<EntityId>,
        limit: usize,
        keep: &dyn Fn(&EntityRecord) -> bool,
    ) -> Result<EntityPage, RuntimeError> {
        let want = limit.max(1) + 1;
        let mut ids = std::collections::BTreeSet::new();
        // The smallest last id of a source that gave all it was asked for:
        // past it, that source may have more to give.
        let mut frontier: Option<EntityId> = None;
        let mut take = |from: Vec<EntityId>, frontier: &mut Option<EntityId>| {
            if from.len() >= want
                && let Some(last) = from.last()
            {
                *frontier = Some(frontier.map_or(*last, |f| f.min(*last)));
            }
            ids.extend(from);
        };
        for core in self.cores() {
            let resident = lock(core).alerting_after(after, want);
            take(resident, &mut frontier);
        }
        if let Some(store) = self.store() {
            let (mut stored, mut cut) = (Vec::new(), None);
            for (looked, id) in store.alerting_after(after).enumerate() {
                let id = id.map_err(|e| RuntimeError::Store(e.to_string()))?;
                // A resident entity's alerts are the ones in memory.
                if !self.is_resident(id) {
                    stored.push(id);
                    if stored.len() >= want {
                        break;
                    }
                }
                if looked + 1 >= BUDGET {
                    cut = Some(id);
                    break;
                }
            }
            take(stored, &mut frontier);
            if let Some(c) = cut {
                frontier = Some(frontier.map_or(c, |f| f.min(c)));
            }
        }
        let mut records = Vec::new();
        let mut next = frontier;
        for id in ids
            .into_iter()
            .filter(|id| frontier.is_none_or(|f| *id <= f))
        {
            if records.len() == limit.max(1) {
                next = records.last().map(EntityRecord::id);
                break;
            }
            let record = match self.resident_record(id) {
                Some(r) => Some(r),
                None => match self.store() {
                    Some(s) => s
                        .get_state(id)
                        .map_err(|e| RuntimeError::Store(e.to_string()))?,
                    None => None,
                },
            };
            if let Some(r) = record.filter(|r| keep(r)) {
                records.push(r);
            }
        }
        Ok(EntityPage { records, next })
    }

    fn resident_record(&self, id: EntityId) -> Option<EntityRecord> {
        let cores = self.cores();
        lock(&cores[id.shard(cores.len())]).snapshot(id)
    }

    fn is_resident(&self, id: EntityId) -> bool {
        let cores = self.cores();
        lock(&cores[id.shard(cores.len())]).is_resident(id)
    }
}
