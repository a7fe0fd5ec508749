//! Hostile request bodies for any protobuf message, with no knowledge of
//! its fields: plain random bytes, messages built field by field on the
//! wire from values that break careless code (empty and huge strings,
//! paths, ids that almost parse, extreme numbers, NaN), and mutations of
//! valid requests.
//!
//! Why at the wire level: one generator serves every message of the
//! contract, and a field the server decodes with a wrong type or a value
//! out of its range is exactly what a careless or hostile client sends.

use rand::RngExt;
use rand_chacha::ChaCha8Rng as StdRng;

/// Strings worth sending in any string field.
const STRINGS: &[&str] = &[
    "",
    "sensor/t0",
    "sensor/probe-0-0",
    "parcel/p-0",
    "machine/m-0",
    "zone/region",
    "robot/r1",
    "sensor/",
    "/",
    "sensor/#ffffffffffffff",
    "../../../../etc/passwd",
    "/etc/passwd",
    "farm",
    "city",
    "factory",
    "x1e-20",
    "x1e300",
    "xNaN",
    "x-1",
    "max",
    "step",
    "real",
    "temperature",
    "soil_moisture",
    "pump_on",
    "destination",
    "h-1",
    "h9223372036854775807",
    "0.0",
    "18446744073709551615",
    "9223372036854775807.18446744073709551615",
    "\u{0}",
    "é€😀",
    "Bearer x",
    "NaN",
    "1e308",
];

/// Integers worth sending in any varint field.
const INTS: &[u64] = &[
    0,
    1,
    2,
    7,
    255,
    1_000,
    10_000,
    100_001,
    1 << 31,
    (1 << 31) - 1,
    1 << 32,
    u32::MAX as u64,
    i64::MAX as u64,
    i64::MIN as u64,
    u64::MAX,
    (-1i64) as u64,
    604_800_001,
    1 << 62,
];

/// Floats worth sending in any double field.
const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e-300,
    1e300,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    180.0,
    -91.0,
    1e12,
];

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | u64::from(wire_type), out);
}

fn len_delimited(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

/// A message built field by field: each field a number the contract uses
/// (1 to 12), with a wire type and value drawn from the lists above; nested
/// messages up to `depth` deep.
pub fn structured(rng: &mut StdRng, depth: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let fields = rng.random_range(0..8);
    for _ in 0..fields {
        let field = rng.random_range(1..=12);
        match rng.random_range(0..10) {
            0..=2 => {
                key(field, 0, &mut out);
                varint(*pick(rng, INTS), &mut out);
            }
            3 => {
                key(field, 1, &mut out);
                out.extend_from_slice(&pick(rng, FLOATS).to_le_bytes());
            }
            4..=6 => {
                let s = pick(rng, STRINGS);
                len_delimited(field, s.as_bytes(), &mut out);
            }
            7 => {
                // A long string: a name past every limit.
                let n = *pick(rng, &[257usize, 4_096, 70_000]);
                len_delimited(field, &vec![b'a'; n], &mut out);
            }
            8 if depth > 0 => {
                let inner = structured(rng, depth - 1);
                len_delimited(field, &inner, &mut out);
            }
            _ => {
                // A packed repeated field (enums, kinds).
                let mut packed = Vec::new();
                for _ in 0..rng.random_range(0..6) {
                    varint(*pick(rng, INTS), &mut packed);
                }
                len_delimited(field, &packed, &mut out);
            }
        }
    }
    out
}

/// Random bytes, up to 256 of them.
pub fn noise(rng: &mut StdRng) -> Vec<u8> {
    let n = rng.random_range(0..256);
    (0..n).map(|_| rng.random()).collect()
}

/// A copy of `valid` with a few bytes flipped, inserted, removed or the
/// tail cut off.
pub fn mutate(rng: &mut StdRng, valid: &[u8]) -> Vec<u8> {
    let mut b = valid.to_vec();
    for _ in 0..rng.random_range(1..4) {
        match rng.random_range(0..4) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=b.len());
                b.insert(i, rng.random());
            }
            2 if !b.is_empty() => {
                b.remove(rng.random_range(0..b.len()));
            }
            _ => {
                let n = rng.random_range(0..=b.len());
                b.truncate(n);
            }
        }
    }
    b
}

/// One body: noise, a structured message, or a mutation of `valid`.
pub fn body(rng: &mut StdRng, valid: &[u8]) -> Vec<u8> {
    match rng.random_range(0..10) {
        0..=1 => noise(rng),
        2..=6 => structured(rng, 3),
        _ => mutate(rng, valid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use rand_chacha::rand_core::SeedableRng;
    use twin_proto::v1 as pb;

    #[test]
    fn structured_bodies_often_decode_as_real_messages() {
        let mut rng = StdRng::seed_from_u64(1);
        let decoded = (0..1_000)
            .filter(|_| pb::ListEntitiesRequest::decode(&structured(&mut rng, 3)[..]).is_ok())
            .count();
        // Not all (wrong wire types fail), but many: otherwise the server
        // would only ever see decoding errors.
        assert!(decoded > 100, "{decoded}");
    }
}
