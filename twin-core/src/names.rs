//! The process-wide table from entity id to readable local name.
//!
//! Names are append-only and stored in one arena string with a compact index, so
//! a million named entities cost about 16 bytes of index plus the name's bytes,
//! not a heap `String` each. The table only serves display and lookup; the id
//! itself is derived from the name, so losing the table never changes an id.

use std::sync::{LazyLock, RwLock};

use crate::id::{EntityId, IdMap};

#[derive(Default)]
struct NameTable {
    arena: String,
    index: IdMap<(u32, u16)>,
}

static NAMES: LazyLock<RwLock<NameTable>> = LazyLock::new(Default::default);

/// Records `local` as the name of `id` unless a name is known already.
/// Returns the name the table holds for `id` afterwards.
pub(crate) fn record(id: EntityId, local: &str) {
    {
        let table = NAMES.read().expect("name table poisoned");
        if table.index.contains_key(&id) {
            return;
        }
    }
    let mut table = NAMES.write().expect("name table poisoned");
    if table.index.contains_key(&id) || local.len() > u16::MAX as usize {
        return;
    }
    let offset = u32::try_from(table.arena.len()).unwrap_or(u32::MAX);
    if offset == u32::MAX {
        return; // 4 GiB of names: stop recording, ids still work.
    }
    table.arena.push_str(local);
    table.index.insert(id, (offset, local.len() as u16));
}

pub(crate) fn lookup(id: EntityId) -> Option<String> {
    let table = NAMES.read().expect("name table poisoned");
    table
        .index
        .get(&id)
        .map(|&(o, l)| table.arena[o as usize..o as usize + l as usize].to_string())
}

/// Whether `local` is the name this process knows for `id` (or none is known).
/// A `false` means two names hash to the same id: a collision to refuse.
pub fn consistent(id: EntityId, local: &str) -> bool {
    lookup(id).is_none_or(|known| known == local)
}

/// Number of names recorded (for memory accounting).
pub fn len() -> usize {
    NAMES.read().expect("name table poisoned").index.len()
}
