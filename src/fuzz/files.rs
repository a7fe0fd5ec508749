//! Mutated copies of the shipped scenario files, their GeoJSON and their
//! model files, each fed to the reader a user's file of that kind goes
//! through: the TOML scenario parser with its checks and the size check
//! that runs before a world is built, the GeoJSON polygon reader, the RUL
//! model reader.

use std::path::PathBuf;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use twin_scenarios::Scenario;

use super::wire;

/// Numbers worth putting where the file has one.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "-0",
    "99999999999999999999",
    "1e-320",
    "4294967296",
    "0.5",
];

/// The shipped files a user starts from.
pub fn corpus() -> Vec<(PathBuf, String)> {
    Scenario::builtin_files()
        .into_iter()
        .map(|(name, text)| (PathBuf::from(name), text.to_string()))
        .collect()
}

/// `text` with one of its numbers replaced, or a few bytes changed.
fn mutate(rng: &mut ChaCha8Rng, text: &str) -> String {
    let numbers: Vec<(usize, usize)> = number_spans(text);
    if !numbers.is_empty() && rng.random_range(0..2) == 0 {
        let (a, b) = numbers[rng.random_range(0..numbers.len())];
        let with = NUMBERS[rng.random_range(0..NUMBERS.len())];
        return format!("{}{with}{}", &text[..a], &text[b..]);
    }
    String::from_utf8_lossy(&wire::mutate(rng, text.as_bytes())).into_owned()
}

/// Byte ranges of the numbers in `text`.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one mutated copy of a corpus file: whether the reader accepted it.
/// A reader that panics fails the caller's `catch_unwind`.
pub fn case(rng: &mut ChaCha8Rng, corpus: &[(PathBuf, String)], max_entities: usize) -> bool {
    let (path, text) = &corpus[rng.random_range(0..corpus.len())];
    let text = mutate(rng, text);
    // Each to its own reader: a 3 MB model file read as TOML made the file
    // cases of a long run crawl through the TOML lexer's error recovery.
    match path.extension().and_then(|e| e.to_str()) {
        Some("geojson") => twin_scenarios::geojson::parse_polygons(&text, path).is_ok(),
        Some("json") => twin_infer::rul::Model::from_json(&text).is_ok(),
        _ => match Scenario::parse(&text, path) {
            Ok(s) => s.check_size(max_entities).is_ok(),
            Err(_) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_where_they_stand() {
        let t = "scale = 1.5\nname = \"f2\"\n";
        let spans = number_spans(t);
        assert_eq!(&t[spans[0].0..spans[0].1], "1.5");
        assert_eq!(&t[spans[1].0..spans[1].1], "2");
    }
}
