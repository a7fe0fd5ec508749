//! Byte encodings of store keys. Big-endian with the sign bit flipped, so that
//! sled's byte order is numeric order and range scans are time scans.

use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::time::SimTime;

pub fn i64_key(x: i64) -> [u8; 8] {
    ((x as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn i64_from(b: &[u8]) -> i64 {
    (u64::from_be_bytes(b[..8].try_into().expect("8 bytes")) ^ (1 << 63)) as i64
}

pub fn u64_from(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

pub fn id_from(b: &[u8]) -> Option<EntityId> {
    EntityId::from_raw(u64_from(b)).ok()
}

pub fn measurand_from(b: &[u8]) -> Option<Measurand> {
    let code = u16::from_be_bytes(b[..2].try_into().expect("2 bytes"));
    Measurand::from_code(code)
}

/// The hour an instant falls in, as an ordered 4-byte prefix.
/// The hour of `t`, saturating: times far outside ±245,000 years (a
/// request's range, say) map to the first or last hour.
pub fn hour_of(t: SimTime) -> i32 {
    let h = t.as_ms().div_euclid(3_600_000);
    h.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

pub fn hour_key(h: i32) -> [u8; 4] {
    ((h as u32) ^ (1 << 31)).to_be_bytes()
}

pub fn hour_from(b: &[u8]) -> i32 {
    (u32::from_be_bytes(b[..4].try_into().expect("4 bytes")) ^ (1 << 31)) as i32
}

/// (entity, measurand): the series prefix shared by raw and roll-up keys.
pub fn series(id: EntityId, m: Measurand) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..8].copy_from_slice(&id.raw().to_be_bytes());
    k[8..].copy_from_slice(&(m as u16).to_be_bytes());
    k
}

/// Raw sample key: hour | entity | measurand | time | seq. Hour first, so that
/// retention drops whole hours and roll-ups read one hour in one scan.
pub fn raw(id: EntityId, m: Measurand, t: SimTime, seq: u64) -> [u8; 30] {
    let mut k = [0u8; 30];
    k[..4].copy_from_slice(&hour_key(hour_of(t)));
    k[4..14].copy_from_slice(&series(id, m));
    k[14..22].copy_from_slice(&i64_key(t.as_ms()));
    k[22..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Roll-up key: entity | measurand | bucket start.
pub fn rollup(id: EntityId, m: Measurand, bucket: SimTime) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..10].copy_from_slice(&series(id, m));
    k[10..].copy_from_slice(&i64_key(bucket.as_ms()));
    k
}

/// Event key: time | seq.
pub fn event(t: SimTime, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i64_key(t.as_ms()));
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Relationship key: a | code | b.
pub fn relation(a: EntityId, code: u8, b: EntityId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&a.raw().to_be_bytes());
    k[8] = code;
    k[9..].copy_from_slice(&b.raw().to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn i64_keys_sort_like_numbers(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), i64_key(a).cmp(&i64_key(b)));
            prop_assert_eq!(i64_from(&i64_key(a)), a);
        }

        #[test]
        fn hour_keys_sort_like_hours(a: i32, b: i32) {
            prop_assert_eq!(a.cmp(&b), hour_key(a).cmp(&hour_key(b)));
            prop_assert_eq!(hour_from(&hour_key(a)), a);
        }
    }
}
