//! The compressed encoding of a history chunk, in the Gorilla family.
//!
//! Why: a sample kept as it arrives (time, seq, value, quality) takes 15 to
//! 25 bytes; sensors sample at regular periods with quantised values, so
//! most of that is predictable. Columns, each encoded for what it usually
//! holds:
//!
//! - **times** and **seqs**: the first, then deltas of deltas in Gorilla's
//!   variable-width buckets; a regular period costs one bit a sample;
//! - **numbers**: when every value of the chunk is an integer multiple of a
//!   decimal quantum (0.01, 0.1, 1…, reproduced bit for bit), the integers'
//!   deltas are bit-packed at the width that minimises the chunk, with an
//!   escape for outliers; otherwise Gorilla's XOR of consecutive floats;
//! - **points**: longitude and latitude as two number columns;
//! - **other values** (flags, text, estimates, mixed kinds): postcard;
//! - **quality**: run lengths (nearly always one run of `Ok`).
//!
//! A chunk read from disk is untrusted: decoding checks every length against
//! the bytes left and returns an error, never panics or allocates beyond the
//! chunk's size.

use crate::observation::Quality;
use crate::store::Sample;
use crate::time::SimTime;
use crate::value::Value;

const VERSION: u8 = 1;

#[derive(Debug, PartialEq)]
pub struct DecodeError(pub &'static str);

type Result<T> = std::result::Result<T, DecodeError>;

// ----- bits -----

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// Appends the low `bits` bits of `v` (bits <= 64).
    fn put(&mut self, v: u64, bits: u32) {
        if bits == 0 {
            return;
        }
        if bits > 32 {
            self.put(v >> 32, bits - 32);
            self.put(v & 0xFFFF_FFFF, 32);
            return;
        }
        let v = v & ((1u64 << bits) - 1);
        self.acc = (self.acc << bits) | v;
        self.n += bits;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n) - 1;
    }
    fn bit(&mut self, b: bool) {
        self.put(u64::from(b), 1);
    }
    fn varint(&mut self, mut v: u64) {
        loop {
            let more = v >= 0x80;
            self.put((v & 0x7F) | if more { 0x80 } else { 0 }, 8);
            v >>= 7;
            if !more {
                return;
            }
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put(0, pad);
        }
        self.out
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }
    fn get(&mut self, bits: u32) -> Result<u64> {
        if bits as usize > self.left() {
            return Err(DecodeError("chunk ends early"));
        }
        let mut v = 0u64;
        let mut need = bits;
        while need > 0 {
            let byte = self.bytes[self.pos / 8];
            let used = (self.pos % 8) as u32;
            let take = (8 - used).min(need);
            let chunk = (u64::from(byte) >> (8 - used - take)) & ((1 << take) - 1);
            v = (v << take) | chunk;
            need -= take;
            self.pos += take as usize;
        }
        Ok(v)
    }
    fn bit(&mut self) -> Result<bool> {
        Ok(self.get(1)? == 1)
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.get(8)?;
            if shift == 63 && b > 1 {
                return Err(DecodeError("varint overflows"));
            }
            v |= (b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }
    /// A count of items each taking at least `min_bits`: refused when the
    /// chunk is too short to hold them, so no allocation trusts a length.
    fn count(&mut self, min_bits: usize) -> Result<usize> {
        let n = self.varint()?;
        if n as usize > self.left() / min_bits.max(1) + 1 {
            return Err(DecodeError("count larger than the chunk"));
        }
        Ok(n as usize)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

// ----- integer columns: delta of delta, Gorilla's buckets -----

/// (prefix, prefix bits, payload bits) of Gorilla's delta-of-delta buckets.
const DOD_BUCKETS: [(u64, u32, u32); 4] = [
    (0b10, 2, 7),
    (0b110, 3, 9),
    (0b1110, 4, 12),
    (0b1111, 4, 64),
];

fn put_dod(w: &mut BitWriter, xs: impl Iterator<Item = i64>) {
    let (mut prev, mut delta) = (0i64, 0i64);
    for (i, x) in xs.enumerate() {
        match i {
            0 => w.varint(zigzag(x)),
            1 => {
                delta = x.wrapping_sub(prev);
                w.varint(zigzag(delta));
            }
            _ => {
                let d = x.wrapping_sub(prev);
                let dod = d.wrapping_sub(delta);
                delta = d;
                if dod == 0 {
                    w.bit(false);
                } else {
                    let z = zigzag(dod);
                    let &(prefix, pbits, bits) = DOD_BUCKETS
                        .iter()
                        .find(|(_, _, bits)| *bits == 64 || z < 1 << bits)
                        .expect("the last bucket takes any value");
                    w.put(prefix, pbits);
                    w.put(z, bits);
                }
            }
        }
        prev = x;
    }
}

fn get_dod(r: &mut BitReader, n: usize, out: &mut Vec<i64>) -> Result<()> {
    let (mut prev, mut delta) = (0i64, 0i64);
    for i in 0..n {
        let x = match i {
            0 => unzigzag(r.varint()?),
            1 => {
                delta = unzigzag(r.varint()?);
                prev.wrapping_add(delta)
            }
            _ => {
                if r.bit()? {
                    let mut ones = 1;
                    while ones < 4 && r.bit()? {
                        ones += 1;
                    }
                    let bits = DOD_BUCKETS[ones - 1].2;
                    delta = delta.wrapping_add(unzigzag(r.get(bits)?));
                }
                prev.wrapping_add(delta)
            }
        };
        out.push(x);
        prev = x;
    }
    Ok(())
}

// ----- float columns -----

const FLOAT_DECIMAL_MUL: u8 = 0;
const FLOAT_DECIMAL_DIV: u8 = 1;
const FLOAT_XOR: u8 = 2;
/// Integers above this lose precision as f64.
const EXACT: f64 = (1u64 << 53) as f64;

/// The quanta `10^-e` as the nearest f64 (what `0.01` in a file or a
/// sensor model's resolution is), and `10^e`, for e in 0..=9.
const QUANTA: [f64; 10] = [1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9];
const POWERS: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

fn decimal(e: u8) -> (f64, f64) {
    (QUANTA[e as usize], POWERS[e as usize])
}

fn rebuild(mode: u8, e: u8, k: i64) -> f64 {
    let (q, up) = decimal(e);
    if mode == FLOAT_DECIMAL_MUL {
        k as f64 * q
    } else {
        k as f64 / up
    }
}

/// The decimal form of every value: (mode, exponent, integers), if one
/// reproduces them all bit for bit.
fn as_decimals(xs: &[f64]) -> Option<(u8, u8, Vec<i64>)> {
    for e in 0..=9u8 {
        let (_, up) = decimal(e);
        let ks: Option<Vec<i64>> = xs
            .iter()
            .map(|&x| {
                let k = (x * up).round();
                (k.abs() < EXACT).then_some(k as i64)
            })
            .collect();
        let ks = ks?;
        for mode in [FLOAT_DECIMAL_MUL, FLOAT_DECIMAL_DIV] {
            if xs
                .iter()
                .zip(&ks)
                .all(|(x, k)| rebuild(mode, e, *k).to_bits() == x.to_bits())
            {
                return Some((mode, e, ks));
            }
        }
    }
    None
}

fn bit_len(z: u64) -> u32 {
    64 - z.leading_zeros()
}

fn put_floats(w: &mut BitWriter, xs: &[f64]) {
    let Some((mode, e, ks)) = as_decimals(xs) else {
        w.put(u64::from(FLOAT_XOR), 8);
        put_xor(w, xs);
        return;
    };
    w.put(u64::from(mode), 8);
    w.put(u64::from(e), 8);
    let Some((&first, _)) = ks.split_first() else {
        return;
    };
    w.varint(zigzag(first));
    let deltas: Vec<u64> = ks
        .windows(2)
        .map(|p| zigzag(p[1].wrapping_sub(p[0])))
        .collect();
    // The width that makes the column smallest: each delta costs a flag bit
    // plus the width, or 64 bits more when it does not fit.
    let mut by_len = [0usize; 65];
    for d in &deltas {
        by_len[bit_len(*d) as usize] += 1;
    }
    let mut fitting = 0;
    let (mut best, mut best_cost) = (0u32, usize::MAX);
    for width in 0..=64u32 {
        fitting += by_len[width as usize];
        let cost = deltas.len() * (1 + width as usize) + (deltas.len() - fitting) * 64;
        if cost < best_cost {
            (best, best_cost) = (width, cost);
        }
    }
    w.put(u64::from(best), 8);
    for d in deltas {
        if bit_len(d) <= best {
            w.bit(false);
            w.put(d, best);
        } else {
            w.bit(true);
            w.put(d, 64);
        }
    }
}

fn get_floats(r: &mut BitReader, n: usize, out: &mut Vec<f64>) -> Result<()> {
    let mode = r.get(8)? as u8;
    if mode == FLOAT_XOR {
        return get_xor(r, n, out);
    }
    if mode > FLOAT_DECIMAL_DIV {
        return Err(DecodeError("unknown float column mode"));
    }
    let e = r.get(8)? as u8;
    if e > 9 {
        return Err(DecodeError("decimal exponent out of range"));
    }
    if n == 0 {
        return Ok(());
    }
    let mut k = unzigzag(r.varint()?);
    out.push(rebuild(mode, e, k));
    let width = r.get(8)? as u32;
    if width > 64 {
        return Err(DecodeError("delta width out of range"));
    }
    for _ in 1..n {
        let d = if r.bit()? { r.get(64)? } else { r.get(width)? };
        k = k.wrapping_add(unzigzag(d));
        out.push(rebuild(mode, e, k));
    }
    Ok(())
}

/// Gorilla's float column: the XOR with the previous value, as a zero bit
/// when equal, else its meaningful bits within the previous window or a new
/// window (5 bits of leading zeros, 6 of length).
fn put_xor(w: &mut BitWriter, xs: &[f64]) {
    let mut prev = 0u64;
    let (mut lead, mut trail) = (u32::MAX, 0u32);
    for (i, x) in xs.iter().enumerate() {
        let bits = x.to_bits();
        if i == 0 {
            w.put(bits, 64);
            prev = bits;
            continue;
        }
        let xor = bits ^ prev;
        prev = bits;
        if xor == 0 {
            w.bit(false);
            continue;
        }
        w.bit(true);
        let (l, t) = (xor.leading_zeros().min(31), xor.trailing_zeros());
        if lead != u32::MAX && l >= lead && t >= trail {
            w.bit(false);
            w.put(xor >> trail, 64 - lead - trail);
        } else {
            (lead, trail) = (l, t);
            let len = 64 - l - t;
            w.bit(true);
            w.put(u64::from(l), 5);
            w.put(u64::from(len - 1), 6);
            w.put(xor >> t, len);
        }
    }
}

fn get_xor(r: &mut BitReader, n: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut prev = 0u64;
    let (mut lead, mut trail) = (u32::MAX, 0u32);
    for i in 0..n {
        if i == 0 {
            prev = r.get(64)?;
        } else if r.bit()? {
            if r.bit()? {
                lead = r.get(5)? as u32;
                let len = r.get(6)? as u32 + 1;
                if lead + len > 64 {
                    return Err(DecodeError("xor window out of range"));
                }
                trail = 64 - lead - len;
            } else if lead == u32::MAX {
                return Err(DecodeError("xor window used before it is set"));
            }
            prev ^= r.get(64 - lead - trail)? << trail;
        }
        out.push(f64::from_bits(prev));
    }
    Ok(())
}

// ----- the chunk -----

const VALUES_NUMBERS: u8 = 0;
const VALUES_POINTS: u8 = 1;
const VALUES_OTHER: u8 = 2;

fn quality_code(q: Quality) -> u64 {
    match q {
        Quality::Ok => 0,
        Quality::Uncertain => 1,
        Quality::Bad => 2,
        Quality::Stale => 3,
        Quality::Stuck => 4,
        Quality::OutOfRange => 5,
    }
}

fn quality_from(code: u64) -> Result<Quality> {
    Ok(match code {
        0 => Quality::Ok,
        1 => Quality::Uncertain,
        2 => Quality::Bad,
        3 => Quality::Stale,
        4 => Quality::Stuck,
        5 => Quality::OutOfRange,
        _ => return Err(DecodeError("unknown quality code")),
    })
}

/// Encodes samples (in any order; kept as given) as one chunk.
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(u64::from(VERSION), 8);
    w.varint(samples.len() as u64);
    put_dod(&mut w, samples.iter().map(|s| s.time.as_ms()));
    put_dod(&mut w, samples.iter().map(|s| s.seq as i64));
    let mut runs: Vec<(Quality, u64)> = Vec::new();
    for s in samples {
        match runs.last_mut() {
            Some((q, n)) if *q == s.quality => *n += 1,
            _ => runs.push((s.quality, 1)),
        }
    }
    w.varint(runs.len() as u64);
    for (q, n) in runs {
        w.put(quality_code(q), 8);
        w.varint(n);
    }
    if samples.iter().all(|s| matches!(s.value, Value::Number(_))) {
        w.put(u64::from(VALUES_NUMBERS), 8);
        let xs: Vec<f64> = samples.iter().filter_map(|s| s.value.as_f64()).collect();
        put_floats(&mut w, &xs);
    } else if samples
        .iter()
        .all(|s| matches!(s.value, Value::Point { .. }))
    {
        w.put(u64::from(VALUES_POINTS), 8);
        let coord = |lon: bool| -> Vec<f64> {
            samples
                .iter()
                .map(|s| match s.value {
                    Value::Point { lon: x, lat: y } => {
                        if lon {
                            x
                        } else {
                            y
                        }
                    }
                    _ => unreachable!("checked above"),
                })
                .collect()
        };
        put_floats(&mut w, &coord(true));
        put_floats(&mut w, &coord(false));
    } else {
        w.put(u64::from(VALUES_OTHER), 8);
        for s in samples {
            let bytes = postcard::to_stdvec(&s.value).expect("values serialise");
            w.varint(bytes.len() as u64);
            for b in bytes {
                w.put(u64::from(b), 8);
            }
        }
    }
    w.finish()
}

/// Decodes a chunk, appending its samples to `out`.
pub fn decode(bytes: &[u8], out: &mut Vec<Sample>) -> Result<()> {
    let mut r = BitReader { bytes, pos: 0 };
    if r.get(8)? != u64::from(VERSION) {
        return Err(DecodeError("unknown chunk version"));
    }
    // Each sample takes at least one bit of each of its time and seq.
    let n = r.count(2)?;
    let mut times = Vec::with_capacity(n);
    get_dod(&mut r, n, &mut times)?;
    let mut seqs = Vec::with_capacity(n);
    get_dod(&mut r, n, &mut seqs)?;
    let mut qualities = Vec::with_capacity(n);
    let runs = r.count(16)?;
    for _ in 0..runs {
        let q = quality_from(r.get(8)?)?;
        let len = r.varint()?;
        if len as usize > n - qualities.len() {
            return Err(DecodeError("quality runs longer than the chunk"));
        }
        qualities.extend(std::iter::repeat_n(q, len as usize));
    }
    if qualities.len() != n {
        return Err(DecodeError("quality runs shorter than the chunk"));
    }
    let mut values = Vec::with_capacity(n);
    match r.get(8)? as u8 {
        VALUES_NUMBERS => {
            let mut xs = Vec::with_capacity(n);
            get_floats(&mut r, n, &mut xs)?;
            values.extend(xs.into_iter().map(Value::Number));
        }
        VALUES_POINTS => {
            let (mut lon, mut lat) = (Vec::with_capacity(n), Vec::with_capacity(n));
            get_floats(&mut r, n, &mut lon)?;
            get_floats(&mut r, n, &mut lat)?;
            values.extend(
                lon.into_iter()
                    .zip(lat)
                    .map(|(lon, lat)| Value::Point { lon, lat }),
            );
        }
        VALUES_OTHER => {
            let mut buf = Vec::new();
            for _ in 0..n {
                let len = r.count(8)?;
                buf.clear();
                for _ in 0..len {
                    buf.push(r.get(8)? as u8);
                }
                values.push(
                    postcard::from_bytes(&buf).map_err(|_| DecodeError("value does not decode"))?,
                );
            }
        }
        _ => return Err(DecodeError("unknown value column")),
    }
    out.extend(times.into_iter().zip(seqs).zip(qualities).zip(values).map(
        |(((t, seq), quality), value)| Sample {
            time: SimTime(t),
            seq: seq as u64,
            value,
            quality,
        },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(t: i64, seq: u64, value: Value, quality: Quality) -> Sample {
        Sample {
            time: SimTime(t),
            seq,
            value,
            quality,
        }
    }

    fn round_trip(samples: &[Sample]) -> usize {
        let bytes = encode(samples);
        let mut back = Vec::new();
        decode(&bytes, &mut back).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!((a.time, a.seq, a.quality), (b.time, b.seq, b.quality));
            match (&a.value, &b.value) {
                (Value::Number(x), Value::Number(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                (x, y) => assert_eq!(x, y),
            }
        }
        bytes.len()
    }

    /// A 1 Hz sensor quantised to 0.01, as the world's sensor models make
    /// them: about a byte a sample, not twenty.
    #[test]
    fn a_regular_quantised_series_takes_about_a_byte_a_sample() {
        let resolution = 0.01;
        let samples: Vec<Sample> = (0..3600)
            .map(|i| {
                let x = 50.0 + 5.0 * (i as f64 / 300.0).sin() + ((i * 7919) % 13) as f64 * 0.03;
                let q = (x * (1.0 / resolution)).round() * resolution;
                sample(1_000 * i, i as u64, Value::Number(q), Quality::Ok)
            })
            .collect();
        let size = round_trip(&samples);
        assert!(size < 3600 * 3 / 2, "{size} bytes for 3600 samples");
    }

    #[test]
    fn unquantised_floats_points_and_mixed_values_round_trip() {
        let noisy: Vec<Sample> = (0..500)
            .map(|i| {
                sample(
                    i * 997,
                    3 * i as u64,
                    Value::Number((i as f64).sqrt() * 1.1e-3),
                    Quality::Ok,
                )
            })
            .collect();
        round_trip(&noisy);
        let points: Vec<Sample> = (0..200)
            .map(|i| {
                let v = Value::Point {
                    lon: 2.35 + i as f64 * 1e-5,
                    lat: 48.85 - i as f64 * 3e-6,
                };
                sample(
                    i * 1000,
                    i as u64,
                    v,
                    if i % 50 == 0 {
                        Quality::Uncertain
                    } else {
                        Quality::Ok
                    },
                )
            })
            .collect();
        round_trip(&points);
        let mixed = vec![
            sample(5, 0, Value::Flag(true), Quality::Bad),
            sample(3, 9, Value::Text("open".into()), Quality::Stale),
            sample(-7, u64::MAX, Value::Number(f64::NAN), Quality::OutOfRange),
        ];
        round_trip(&mixed);
        round_trip(&[]);
    }

    proptest! {
        #[test]
        fn any_numbers_round_trip_bit_for_bit(
            xs in proptest::collection::vec((any::<i64>(), any::<u64>(), any::<f64>(), 0u64..6), 0..300),
        ) {
            let samples: Vec<Sample> = xs
                .iter()
                .map(|&(t, s, x, q)| sample(t, s, Value::Number(x), quality_from(q).unwrap()))
                .collect();
            round_trip(&samples);
        }

        #[test]
        fn any_bytes_decode_to_an_error_or_samples_never_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut out = Vec::new();
            let _ = decode(&bytes, &mut out);
        }
    }
}
