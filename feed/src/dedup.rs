//! Readings seen lately, so that a message delivered twice (QoS 1 after a
//! reconnect, a duplicating gateway) is applied once.

use std::collections::VecDeque;

use twin_core::{EntityId, Measurand, SimTime};

/// The last `capacity` keys (entity, measurand, time, sequence), as hashes.
pub struct Seen {
    set: hashbrown::HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Seen {
    pub fn new(capacity: usize) -> Seen {
        Seen {
            set: hashbrown::HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub fn key(entity: EntityId, m: Measurand, time: SimTime, seq: u64) -> u64 {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&entity.raw().to_le_bytes());
        bytes[8..16].copy_from_slice(&(m as u64).to_le_bytes());
        bytes[16..24].copy_from_slice(&time.as_ms().to_le_bytes());
        bytes[24..].copy_from_slice(&seq.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }

    /// Records `key`; false when it was seen already.
    pub fn insert(&mut self, key: u64) -> bool {
        if !self.set.insert(key) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(key);
        true
    }

    /// Forgets `key` (its batch was not applied after all).
    pub fn forget(&mut self, key: u64) {
        self.set.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::Kind;

    #[test]
    fn a_key_is_seen_once_and_old_keys_age_out() {
        let e = EntityId::of(Kind::Sensor, "a");
        let k = |t: i64, seq: u64| Seen::key(e, Measurand::Pm25, SimTime(t), seq);
        let mut seen = Seen::new(2);
        assert!(seen.insert(k(1, 0)));
        assert!(!seen.insert(k(1, 0)));
        assert!(
            seen.insert(k(1, 1)),
            "another sequence number is another reading"
        );
        assert!(seen.insert(k(2, 0)));
        assert!(seen.insert(k(1, 0)), "aged out after two newer keys");
        seen.forget(k(1, 0));
        assert!(seen.insert(k(1, 0)));
    }
}
