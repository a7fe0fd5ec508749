//! Entity ids and the five entity kinds.
//!
//! An [`EntityId`] is a 64-bit value: the top three bits carry the [`Kind`], the
//! other 61 bits a stable hash (xxh3) of the entity's local name. That makes an id
//! `Copy`, hashable in one multiply, routable to a shard without a lookup, and the
//! same on every machine and every run: `machine/press-07` always has the same id.
//! The readable name lives in a process-wide [`names`](crate::names) table so that
//! ids print as `machine/press-07` without each entity carrying a `String`.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names;

/// The five kinds of entity. A domain subtype ("cocoa", "bus", "pm25") is data
/// carried by the entity, never a new kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Parcel = 1,
    Machine = 2,
    Sensor = 3,
    Vehicle = 4,
    Zone = 5,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Parcel,
        Kind::Machine,
        Kind::Sensor,
        Kind::Vehicle,
        Kind::Zone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Parcel => "parcel",
            Kind::Machine => "machine",
            Kind::Sensor => "sensor",
            Kind::Vehicle => "vehicle",
            Kind::Zone => "zone",
        }
    }

    fn from_code(code: u64) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u64 == code)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| IdError::UnknownKind(s.to_string()))
    }
}

const KIND_SHIFT: u32 = 61;
const HASH_MASK: u64 = (1 << KIND_SHIFT) - 1;

/// Longest local name of an entity, in bytes.
pub const MAX_NAME: usize = 256;

/// The address of an entity actor. See the module doc for its layout.
/// Deserializing checks the kind bits, as [`EntityId::from_raw`] does: a
/// recording or a payload may carry any number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct EntityId(NonZeroU64);

impl TryFrom<u64> for EntityId {
    type Error = IdError;
    fn try_from(raw: u64) -> Result<EntityId, IdError> {
        EntityId::from_raw(raw)
    }
}

impl From<EntityId> for u64 {
    fn from(id: EntityId) -> u64 {
        id.raw()
    }
}

/// At most 64 characters of `s`, to quote untrusted text in an error.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "unknown entity kind `{}` (expected parcel, machine, sensor, vehicle or zone)",
        quoted(.0)
    )]
    UnknownKind(String),
    #[error("entity name `{}` must look like KIND/NAME, e.g. machine/press-07", quoted(.0))]
    Malformed(String),
    #[error("entity name of {0} bytes: at most {MAX_NAME}")]
    TooLong(usize),
    #[error("entity id {0:#x} carries no valid kind")]
    BadRaw(u64),
}

impl EntityId {
    /// The id of `kind/local`, recording the readable name.
    pub fn new(kind: Kind, local: &str) -> EntityId {
        let id = Self::of(kind, local);
        names::record(id, local);
        id
    }

    /// The id of `kind/local` without recording the name (hot paths that already
    /// know the entity exists).
    pub fn of(kind: Kind, local: &str) -> EntityId {
        let hash = xxhash_rust::xxh3::xxh3_64(local.as_bytes()) & HASH_MASK;
        let raw = ((kind as u64) << KIND_SHIFT) | hash;
        EntityId(NonZeroU64::new(raw).expect("kind bits are never zero"))
    }

    /// Parses `kind/local`, recording the name.
    pub fn parse(s: &str) -> Result<EntityId, IdError> {
        let (kind, local) = Self::split(s)?;
        Ok(EntityId::new(kind, local))
    }

    /// Parses `kind/local` without recording the name: for the hot paths
    /// (ingest) that address entities created, and so named, before.
    pub fn parse_id(s: &str) -> Result<EntityId, IdError> {
        let (kind, local) = Self::split(s)?;
        Ok(EntityId::of(kind, local))
    }

    fn split(s: &str) -> Result<(Kind, &str), IdError> {
        if s.len() > MAX_NAME + 8 {
            return Err(IdError::TooLong(s.len()));
        }
        let (kind, local) = s
            .split_once('/')
            .ok_or_else(|| IdError::Malformed(s.to_string()))?;
        if local.is_empty() {
            return Err(IdError::Malformed(s.to_string()));
        }
        if local.len() > MAX_NAME {
            return Err(IdError::TooLong(local.len()));
        }
        Ok((kind.parse()?, local))
    }

    pub fn from_raw(raw: u64) -> Result<EntityId, IdError> {
        match Kind::from_code(raw >> KIND_SHIFT) {
            Some(_) => Ok(EntityId(NonZeroU64::new(raw).ok_or(IdError::BadRaw(raw))?)),
            None => Err(IdError::BadRaw(raw)),
        }
    }

    pub fn raw(self) -> u64 {
        self.0.get()
    }

    pub fn kind(self) -> Kind {
        Kind::from_code(self.raw() >> KIND_SHIFT).expect("ids are built with a valid kind")
    }

    /// The local part of the name (`press-07`), if this process knows it.
    pub fn local_name(self) -> Option<String> {
        names::lookup(self)
    }

    /// Which of `shards` hosts this entity. Stable for a given shard count.
    pub fn shard(self, shards: usize) -> usize {
        // The low bits are a hash already; a multiply spreads them evenly.
        ((self.raw().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % shards as u64) as usize
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match names::lookup(*self) {
            Some(local) => write!(f, "{}/{}", self.kind(), local),
            None => write!(f, "{}/#{:015x}", self.kind(), self.raw() & HASH_MASK),
        }
    }
}

impl fmt::Debug for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for EntityId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        EntityId::parse(s)
    }
}

/// A hasher for keys that are already uniformly distributed hashes (entity ids):
/// it keeps the value as is instead of hashing it again.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fold the kind bits into the low bits hashbrown uses for buckets.
        self.0 = n ^ (n >> 29);
    }
}

pub type IdBuildHasher = BuildHasherDefault<IdHasher>;
/// A map keyed by entity id with the identity-style hasher.
pub type IdMap<V> = hashbrown::HashMap<EntityId, V, IdBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_refused_not_panicked_on() {
        // A raw id with no valid kind, as a payload or recording may carry.
        let bad = (7u64 << KIND_SHIFT) | 42;
        assert!(matches!(EntityId::from_raw(bad), Err(IdError::BadRaw(_))));
        let json = format!("[{bad}]");
        let e = serde_json::from_str::<Vec<EntityId>>(&json).unwrap_err();
        assert!(e.to_string().contains("no valid kind"), "{e}");
        let good = EntityId::of(Kind::Sensor, "t-1");
        let back: EntityId = serde_json::from_str(&serde_json::to_string(&good).unwrap()).unwrap();
        assert_eq!(back, good);
        // A 64 KiB name (its length once wrapped the name table's u16).
        let long = format!("sensor/{}", "é".repeat(32 * 1024));
        let e = EntityId::parse(&long).unwrap_err();
        assert!(matches!(e, IdError::TooLong(_)), "{e}");
        assert!(e.to_string().len() < 100);
        let id = EntityId::new(Kind::Sensor, &"é".repeat(32 * 1024 + 1));
        assert_eq!(id.local_name(), None, "too long to be recorded");
        assert!(id.to_string().starts_with("sensor/#"));
        let ok = "x".repeat(MAX_NAME);
        assert_eq!(
            EntityId::parse(&format!("zone/{ok}")).unwrap().local_name(),
            Some(ok)
        );
        let e = EntityId::parse(&format!("{}/x", "k".repeat(200))).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
    }

    #[test]
    fn id_carries_kind_and_name() {
        let id = EntityId::new(Kind::Machine, "press-07");
        assert_eq!(id.kind(), Kind::Machine);
        assert_eq!(id.to_string(), "machine/press-07");
        assert_eq!(EntityId::parse("machine/press-07").unwrap(), id);
        assert_ne!(EntityId::of(Kind::Sensor, "press-07"), id);
        assert_eq!(EntityId::from_raw(id.raw()).unwrap(), id);
    }

    #[test]
    fn malformed_names_are_refused() {
        assert!(matches!(
            EntityId::parse("press-07"),
            Err(IdError::Malformed(_))
        ));
        assert!(matches!(
            EntityId::parse("robot/r1"),
            Err(IdError::UnknownKind(k)) if k == "robot"
        ));
        assert!(EntityId::from_raw(7).is_err());
    }

    #[test]
    fn shards_are_balanced() {
        let mut counts = [0usize; 4];
        for i in 0..10_000 {
            counts[EntityId::of(Kind::Sensor, &format!("s{i}")).shard(4)] += 1;
        }
        assert!(
            counts.iter().all(|c| (2_200..2_800).contains(c)),
            "{counts:?}"
        );
    }
}
