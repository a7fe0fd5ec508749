//! NASA's C-MAPSS turbofan benchmark (Saxena et al., PHM 2008): its file
//! format and the figures papers quote for it.
//!
//! A data file holds one row per engine and cycle, space separated: unit
//! number, cycle, three operating settings, 21 sensors. A training file runs
//! every engine to failure; a test file stops each engine some cycles before
//! it, and a RUL file gives, one line per test engine in unit order, the
//! cycles that remained. Each file is checked as it is read: a row that does
//! not fit is an error that names its line, and nothing is guessed.
//!
//! The figures: RMSE of the predicted RUL, NASA's asymmetric score (late
//! predictions cost more than early ones: `exp(d/10) - 1` for `d = predicted -
//! true > 0`, `exp(-d/13) - 1` otherwise, summed over engines), and for a
//! predicted interval its coverage and mean width.

use std::path::Path;

/// Operating settings per row.
pub const SETTINGS: usize = 3;
/// Sensors per row.
pub const SENSORS: usize = 21;

/// Errors reading a C-MAPSS file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {what}")]
    Row {
        path: String,
        line: usize,
        what: String,
    },
    #[error("{path}: {what}")]
    File { path: String, what: String },
}

/// One cycle of one engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub settings: [f64; SETTINGS],
    pub sensors: [f64; SENSORS],
}

/// One engine's cycles, from cycle 1 on.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: u32,
    pub rows: Vec<Row>,
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a training or test file. Units must come in blocks, each starting at
/// cycle 1 and counting up by one.
pub fn read_units(path: &Path) -> Result<Vec<Unit>, Error> {
    parse_units(&read(path)?, &path.display().to_string())
}

/// [`read_units`] on text already read; `path` only names it in errors.
pub fn parse_units(text: &str, path: &str) -> Result<Vec<Unit>, Error> {
    let mut units: Vec<Unit> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |what: String| Error::Row {
            path: path.to_string(),
            line: n + 1,
            what,
        };
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 2 + SETTINGS + SENSORS {
            return Err(bad(format!(
                "{} fields, expected {} (unit, cycle, {SETTINGS} settings, {SENSORS} sensors)",
                fields.len(),
                2 + SETTINGS + SENSORS
            )));
        }
        let unit: u32 = fields[0]
            .parse()
            .map_err(|_| bad(format!("unit {:?} is not a whole number", fields[0])))?;
        let cycle: usize = fields[1]
            .parse()
            .map_err(|_| bad(format!("cycle {:?} is not a whole number", fields[1])))?;
        let mut values = [0.0; SETTINGS + SENSORS];
        for (i, f) in fields[2..].iter().enumerate() {
            values[i] = f
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("field {} ({f:?}) is not a finite number", i + 3)))?;
        }
        let row = Row {
            settings: values[..SETTINGS].try_into().expect("sized"),
            sensors: values[SETTINGS..].try_into().expect("sized"),
        };
        match units.last_mut() {
            Some(u) if u.id == unit => {
                if cycle != u.rows.len() + 1 {
                    return Err(bad(format!(
                        "unit {unit} cycle {cycle} follows cycle {}",
                        u.rows.len()
                    )));
                }
                u.rows.push(row);
            }
            _ => {
                if units.iter().any(|u| u.id == unit) {
                    return Err(bad(format!("unit {unit} appears in two blocks")));
                }
                if cycle != 1 {
                    return Err(bad(format!("unit {unit} starts at cycle {cycle}, not 1")));
                }
                units.push(Unit {
                    id: unit,
                    rows: vec![row],
                });
            }
        }
    }
    if units.is_empty() {
        return Err(Error::File {
            path: path.to_string(),
            what: "no rows".into(),
        });
    }
    Ok(units)
}

/// Reads a RUL file: one whole number of cycles per line.
pub fn read_rul(path: &Path) -> Result<Vec<f64>, Error> {
    let name = path.display().to_string();
    let mut out = Vec::new();
    for (n, line) in read(path)?.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: u32 = line.parse().map_err(|_| Error::Row {
            path: name.clone(),
            line: n + 1,
            what: format!("{line:?} is not a whole number of cycles"),
        })?;
        out.push(f64::from(v));
    }
    Ok(out)
}

/// NASA's score of one prediction: `d = predicted - true`.
pub fn nasa(d: f64) -> f64 {
    if d < 0.0 {
        (-d / 13.0).exp() - 1.0
    } else {
        (d / 10.0).exp() - 1.0
    }
}

/// One engine's prediction against its truth.
#[derive(Debug, Clone, Copy)]
pub struct Prediction {
    pub truth: f64,
    pub rul: f64,
    pub low: f64,
    pub high: f64,
}

/// The benchmark's figures over a set of predictions.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Metrics {
    pub engines: usize,
    pub rmse: f64,
    /// NASA's score summed over the engines.
    pub nasa_score: f64,
    /// Share of truths inside `[low, high]`.
    pub coverage_90: f64,
    pub mean_width_90: f64,
}

impl Metrics {
    pub fn of(p: &[Prediction]) -> Metrics {
        let n = p.len().max(1) as f64;
        let sq: f64 = p.iter().map(|x| (x.rul - x.truth).powi(2)).sum();
        Metrics {
            engines: p.len(),
            rmse: (sq / n).sqrt(),
            nasa_score: p.iter().map(|x| nasa(x.rul - x.truth)).sum(),
            coverage_90: p
                .iter()
                .filter(|x| x.low <= x.truth && x.truth <= x.high)
                .count() as f64
                / n,
            mean_width_90: p.iter().map(|x| x.high - x.low).sum::<f64>() / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unit: u32, cycle: usize) -> String {
        let mut s = format!("{unit} {cycle}");
        for i in 0..SETTINGS + SENSORS {
            s.push_str(&format!(" {}.5", i));
        }
        s
    }

    #[test]
    fn reads_units_in_blocks() {
        let text = [line(1, 1), line(1, 2), line(2, 1)].join("\n");
        let units = parse_units(&text, "t").unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].rows.len(), 2);
        assert_eq!(units[1].rows[0].sensors[20], 23.5);
        assert_eq!(units[1].rows[0].settings[0], 0.5);
    }

    #[test]
    fn names_the_bad_line() {
        let gap = [line(1, 1), line(1, 3)].join("\n");
        let e = parse_units(&gap, "t").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("follows cycle 1"), "{e}");
        let short = format!("{}\n1 2 3", line(1, 1));
        let e = parse_units(&short, "t").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("3 fields"), "{e}");
        let nan = line(1, 1).replace(" 4.5", " NaN");
        let e = parse_units(&nan, "t").unwrap_err().to_string();
        assert!(e.contains("not a finite number"), "{e}");
        let split = [line(1, 1), line(2, 1), line(1, 2)].join("\n");
        let e = parse_units(&split, "t").unwrap_err().to_string();
        assert!(e.contains("two blocks"), "{e}");
    }

    #[test]
    fn nasa_score_punishes_late_more_than_early() {
        assert_eq!(nasa(0.0), 0.0);
        assert!(nasa(10.0) > nasa(-10.0));
        assert!((nasa(10.0) - (1f64.exp() - 1.0)).abs() < 1e-12);
        let m = Metrics::of(&[
            Prediction {
                truth: 10.0,
                rul: 13.0,
                low: 5.0,
                high: 20.0,
            },
            Prediction {
                truth: 50.0,
                rul: 46.0,
                low: 40.0,
                high: 45.0,
            },
        ]);
        assert!((m.rmse - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.coverage_90, 0.5);
        assert_eq!(m.mean_width_90, 10.0);
    }
}
