//! `twin eval nab`: the anomaly detector over every series of a folder laid
//! out as NAB's `data/` (`category/file.csv`, columns `timestamp,value`),
//! NAB results files written as NAB's runner writes them, and, with the
//! labels, NAB's scores for its three profiles.
//!
//! Each file gets a fresh detector whose probation is the one NAB gives its
//! detectors: 15 % of the file, at most 750 rows. Nothing else of the file
//! is known to the detector before it scores a row.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json, json};
use twin_eval::nab::{Labels, Profile, Series, evaluate, parse_times, probation, read_columns};
use twin_infer::anomaly::{Config, Detector};

use super::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The NAB-layout folder of series.
    #[arg(long)]
    data: PathBuf,
    /// Where to write `twin/<category>/twin_<file>.csv`.
    #[arg(long)]
    out: PathBuf,
    /// NAB's `combined_windows.json`: score the results.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// NAB's `profiles.json` (default: NAB's three profiles).
    #[arg(long)]
    profiles: Option<PathBuf>,
    /// The detector's vigilance, in [0.5, 1] (default: the twin's).
    #[arg(long)]
    vigilance: Option<f64>,
    /// The detector's window in downsampled steps (default: the twin's).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    window: Option<u16>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// NAB's three profiles, as its `config/profiles.json` sets them.
const PROFILES: &str = r#"{
  "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
  "reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
  "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}}
}"#;

pub fn main(a: Args) -> Result<()> {
    if let Some(v) = a.vigilance
        && !(0.5..=1.0).contains(&v)
    {
        return Err(format!("--vigilance {v}: must be in [0.5, 1]").into());
    }
    let files = series_files(&a.data)?;
    if files.is_empty() {
        return Err(format!("{}: no `category/file.csv` series", a.data.display()).into());
    }
    let mut corpus = Vec::new();
    for rel in &files {
        let path = a.data.join(rel);
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (stamps, values) = read_columns(&path.display().to_string(), file, "value")?;
        let scores = detect(&values, |c| {
            c.vigilance = a.vigilance.unwrap_or(c.vigilance);
            c.window = a.window.map_or(c.window, usize::from);
        });
        write_results(&a.out, rel, &stamps, &values, &scores)?;
        let times = parse_times(rel, &stamps)?;
        corpus.push(Series {
            file: rel.clone(),
            times,
            scores,
        });
    }
    let mut out = Map::new();
    out.insert("files".into(), json!(corpus.len()));
    if let Some(labels) = &a.labels {
        let labels = Labels::parse(&read(labels)?)?;
        let profiles = match &a.profiles {
            Some(p) => Profile::parse_all(&read(p)?)?,
            None => Profile::parse_all(PROFILES)?,
        };
        for r in evaluate(&corpus, &labels, &profiles, None)? {
            out.insert(r.profile.name.clone(), json!(r.normalised));
            out.insert(format!("{}_threshold", r.profile.name), json!(r.threshold));
        }
    }
    if a.json {
        println!("{}", Json::Object(out));
    } else {
        for (k, v) in &out {
            println!("{k:<32} {v}");
        }
    }
    Ok(())
}

/// The anomaly score of each value, from a fresh detector with the twin's
/// settings as `tune` leaves them.
pub fn detect(values: &[f64], tune: impl FnOnce(&mut Config)) -> Vec<f64> {
    let mut cfg = Config::for_probation(probation(values.len()));
    tune(&mut cfg);
    let mut d = Detector::new(cfg);
    values.iter().map(|v| d.update(*v)).collect()
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()).into())
}

/// `category/file.csv` paths under `dir`, sorted.
fn series_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let list = |d: &Path| std::fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()));
    for category in list(dir)? {
        let category = category?.path();
        if !category.is_dir() {
            continue;
        }
        for f in list(&category)? {
            let f = f?.path();
            if f.extension().is_some_and(|x| x == "csv")
                && let (Some(c), Some(n)) = (category.file_name(), f.file_name())
            {
                out.push(format!("{}/{}", c.to_string_lossy(), n.to_string_lossy()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `OUT/twin/<category>/twin_<file>.csv` as NAB's runner does.
fn write_results(
    out: &Path,
    rel: &str,
    stamps: &[String],
    values: &[f64],
    scores: &[f64],
) -> Result<()> {
    let (category, name) = rel.split_once('/').expect("category/file.csv");
    let dir = out.join("twin").join(category);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("twin_{name}"));
    let mut w = csv::Writer::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    w.write_record(["timestamp", "value", "anomaly_score"])?;
    for ((t, v), s) in stamps.iter().zip(values).zip(scores) {
        w.write_record([t.clone(), v.to_string(), s.to_string()])?;
    }
    w.flush()?;
    Ok(())
}
