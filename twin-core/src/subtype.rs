//! Domain subtypes ("cocoa", "bus", "cnc-mill", "pm25", "district"), interned.
//!
//! Every entity carries one and there are few distinct ones, so each entity
//! holds a two-byte index instead of a string.

use std::fmt;
use std::sync::{Arc, LazyLock, RwLock};

use serde::{Deserialize, Serialize};

#[derive(Default)]
struct Table {
    names: Vec<Arc<str>>,
    index: hashbrown::HashMap<Arc<str>, u16>,
}

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| {
    let mut t = Table::default();
    intern(&mut t, "");
    RwLock::new(t)
});

/// Index of the subtype that stands for any subtype past the table's capacity.
const OTHER: u16 = u16::MAX;

fn intern(t: &mut Table, s: &str) -> u16 {
    if let Some(i) = t.index.get(s) {
        return *i;
    }
    let Ok(i) = u16::try_from(t.names.len()) else {
        return OTHER;
    };
    if i == OTHER {
        return OTHER;
    }
    let name: Arc<str> = Arc::from(s);
    t.names.push(name.clone());
    t.index.insert(name, i);
    i
}

/// An interned subtype. The empty subtype is the default.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtype(u16);

impl Subtype {
    pub fn new(s: &str) -> Subtype {
        if let Some(i) = TABLE.read().expect("subtype table poisoned").index.get(s) {
            return Subtype(*i);
        }
        Subtype(intern(
            &mut TABLE.write().expect("subtype table poisoned"),
            s,
        ))
    }

    pub fn name(self) -> Arc<str> {
        let t = TABLE.read().expect("subtype table poisoned");
        t.names
            .get(self.0 as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("other"))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<&str> for Subtype {
    fn from(s: &str) -> Subtype {
        Subtype::new(s)
    }
}

impl fmt::Display for Subtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for Subtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.name())
    }
}

/// Stored and sent as the name: indexes differ between processes.
impl Serialize for Subtype {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Subtype {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(Subtype::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_round_trips() {
        let a = Subtype::new("cocoa");
        assert_eq!(a, Subtype::new("cocoa"));
        assert_ne!(a, Subtype::new("bus"));
        assert_eq!(a.to_string(), "cocoa");
        assert!(Subtype::default().is_empty());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"cocoa\"");
        assert_eq!(serde_json::from_str::<Subtype>(&json).unwrap(), a);
    }
}
