//! The index of stored entities with an open alert (a reading at a warning
//! or critical level), so that `ListAlerts` walks these instead of every
//! state. It is written in the same batch as each state, so it never
//! disagrees with what is stored.

use super::engine::{Batch, Engine, Tree};
use super::record::decode_record;
use super::{Result, Store, keys};
use crate::id::EntityId;
use crate::state::{AlarmLevel, EntityRecord};

/// Set once [`Tree::Alerting`] indexes every stored state (a store written
/// before the index existed gets it built when it is first opened).
const INDEXED: &str = "alerting_indexed";

/// Whether a record has a reading at a warning or critical level.
fn has_alert(r: &EntityRecord) -> bool {
    r.common.readings.worst_level() != AlarmLevel::Normal
}

/// Adds to `batch`, which stores `r` under `key`, what keeps the index true
/// to it. Most records have no alert and never had one: a lookup (bloom
/// filtered) is cheaper than a tombstone per write.
pub(super) fn follow(
    db: &dyn Engine,
    batch: &mut Batch,
    key: &[u8],
    r: &EntityRecord,
) -> Result<()> {
    if has_alert(r) {
        batch.insert(Tree::Alerting, key, &[]);
    } else if db.contains(Tree::Alerting, key)? {
        batch.remove(Tree::Alerting, key);
    }
    Ok(())
}

/// Builds the index from every stored state, unless it was built already.
pub(super) fn index_once(db: &dyn Engine) -> Result<()> {
    if db.contains(Tree::Meta, INDEXED.as_bytes())? {
        return Ok(());
    }
    let mut batch = Batch::default();
    for item in db.range(Tree::State, &[], None, false) {
        let (k, v) = item?;
        let Some(id) = keys::id_from(&k) else {
            continue;
        };
        if has_alert(&decode_record(&v, id)?) {
            batch.insert(Tree::Alerting, &k, &[]);
        }
    }
    batch.insert(Tree::Meta, INDEXED.as_bytes(), &[]);
    db.apply(batch)
}

impl Store {
    /// The stored entities after `after` whose stored state holds an open
    /// alert, in id order (their states may be older than a resident copy).
    pub fn alerting_after(
        &self,
        after: Option<EntityId>,
    ) -> impl Iterator<Item = Result<EntityId>> + '_ {
        let from = after.map_or(0, |id| id.raw().saturating_add(1));
        self.db()
            .range(Tree::Alerting, &from.to_be_bytes(), None, false)
            .filter_map(|item| match item {
                Ok((k, _)) => keys::id_from(&k).map(Ok),
                Err(e) => Some(Err(e)),
            })
    }
}
