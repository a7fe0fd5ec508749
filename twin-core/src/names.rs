//! The process-wide table from entity id to readable local name.
//!
//! Names are append-only. Each is stored once in a chunked arena as
//! (id, length, bytes), and a hash table of 4-byte arena offsets finds it by id:
//! about 5 bytes of table plus the name's own bytes and 10 of header per
//! entity, instead of a `String` (and its allocation) each. Chunks are never
//! reallocated, so the arena has no doubling slack. The table only serves
//! display and lookup; an id is derived from its name, so a missing name never
//! changes an id.

use std::sync::{LazyLock, RwLock};

use hashbrown::HashTable;

use crate::id::EntityId;

const CHUNK: usize = 1 << 20;
const HEADER: usize = 10;

#[derive(Default)]
struct NameTable {
    chunks: Vec<Vec<u8>>,
    index: HashTable<u32>,
}

fn hash(raw: u64) -> u64 {
    raw ^ (raw >> 29)
}

/// The bytes of the arena entry at `offset`: id, then length, then name.
fn at(chunks: &[Vec<u8>], offset: u32) -> &[u8] {
    &chunks[offset as usize / CHUNK][offset as usize % CHUNK..]
}

fn raw_id(entry: &[u8]) -> u64 {
    u64::from_le_bytes(entry[..8].try_into().expect("8 bytes"))
}

impl NameTable {
    fn entry(&self, offset: u32) -> (u64, &str) {
        let bytes = at(&self.chunks, offset);
        let len = u16::from_le_bytes(bytes[8..10].try_into().expect("2 bytes")) as usize;
        let name =
            std::str::from_utf8(&bytes[HEADER..HEADER + len]).expect("stored names are UTF-8");
        (raw_id(bytes), name)
    }

    fn find(&self, id: EntityId) -> Option<&str> {
        self.index
            .find(hash(id.raw()), |&o| self.entry(o).0 == id.raw())
            .map(|&o| self.entry(o).1)
    }

    fn insert(&mut self, id: EntityId, local: &str) {
        // The length is stored in two bytes; longer names are not kept
        // (parsing refuses them; an id never depends on its name's record).
        if local.len() > crate::id::MAX_NAME {
            return;
        }
        let need = HEADER + local.len();
        if self.chunks.last().is_none_or(|c| c.len() + need > CHUNK) {
            if self.chunks.len() >= u32::MAX as usize / CHUNK {
                return; // 4 GiB of names: stop recording, ids still work.
            }
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let c = self.chunks.len() - 1;
        let chunk = &mut self.chunks[c];
        let offset = (c * CHUNK + chunk.len()) as u32;
        chunk.extend_from_slice(&id.raw().to_le_bytes());
        chunk.extend_from_slice(&(local.len() as u16).to_le_bytes());
        chunk.extend_from_slice(local.as_bytes());
        let NameTable { chunks, index } = self;
        index.insert_unique(hash(id.raw()), offset, |&o| hash(raw_id(at(chunks, o))));
    }
}

static NAMES: LazyLock<RwLock<NameTable>> = LazyLock::new(Default::default);

/// Records `local` as the name of `id` unless a name is known already.
pub(crate) fn record(id: EntityId, local: &str) {
    if NAMES
        .read()
        .expect("name table poisoned")
        .find(id)
        .is_some()
    {
        return;
    }
    let mut table = NAMES.write().expect("name table poisoned");
    if table.find(id).is_none() {
        table.insert(id, local);
    }
}

pub(crate) fn lookup(id: EntityId) -> Option<String> {
    NAMES
        .read()
        .expect("name table poisoned")
        .find(id)
        .map(str::to_string)
}

/// Whether `local` is the name this process knows for `id` (or none is known).
/// A `false` means two names hash to the same id: a collision to refuse.
pub fn consistent(id: EntityId, local: &str) -> bool {
    NAMES
        .read()
        .expect("name table poisoned")
        .find(id)
        .is_none_or(|known| known == local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Kind;

    #[test]
    fn names_are_found_across_chunks() {
        let ids: Vec<EntityId> = (0..120_000)
            .map(|i| EntityId::new(Kind::Vehicle, &format!("names-test-bus-{i}")))
            .collect();
        for (i, id) in ids.iter().enumerate().step_by(997) {
            assert_eq!(lookup(*id).unwrap(), format!("names-test-bus-{i}"));
        }
        assert!(consistent(ids[5], "names-test-bus-5"));
        assert!(!consistent(ids[5], "another"));
    }
}
