//! The NAB scorer against NAB's own per-file results for two of its
//! detectors (`numenta`, `windowedGaussian`): each file's score and row
//! counts at the threshold NAB optimised for each profile.

use std::path::{Path, PathBuf};

use serde_json::Value;
use twin_eval::nab::{Labels, Profile, Scored, Series, parse_times, read_columns, score_at};

fn nab_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("tests/data/nab")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn per_file_scores_equal_nab_reference_for_both_detectors() {
    let dir = nab_dir();
    let labels = Labels::parse(&read(&dir.join("combined_windows.json"))).unwrap();
    let profiles = Profile::parse_all(&read(&dir.join("profiles.json"))).unwrap();
    let thresholds: Value =
        serde_json::from_str(&read(&dir.join("reference/thresholds.json"))).unwrap();
    let mut checked = 0;
    for detector in ["numenta", "windowedGaussian"] {
        for p in &profiles {
            let threshold = thresholds[detector][&p.name]["threshold"].as_f64().unwrap();
            let table = dir.join(format!(
                "reference/{detector}/{detector}_{}_scores.csv",
                p.name
            ));
            let mut r = csv::Reader::from_path(&table).unwrap();
            for rec in r.records() {
                let rec = rec.unwrap();
                let file = &rec[2];
                if file == "Totals" || file.is_empty() {
                    continue;
                }
                let (category, name) = file.split_once('/').unwrap();
                let results =
                    dir.join(format!("reference/{detector}/{category}/{detector}_{name}"));
                if !results.exists() {
                    continue;
                }
                let (stamps, scores) = read_columns(
                    file,
                    std::fs::File::open(&results).unwrap(),
                    "anomaly_score",
                )
                .unwrap();
                let s = Series {
                    file: file.into(),
                    times: parse_times(file, &stamps).unwrap(),
                    scores,
                };
                let scored = Scored::new(&s, labels.of(file).unwrap(), p).unwrap();
                let o = score_at(&scored, p, threshold);
                let want: f64 = rec[4].parse().unwrap();
                let count = |i: usize| rec[i].parse::<u64>().unwrap();
                assert!(
                    (o.score - want).abs() < 1e-6,
                    "{detector} {} {file}: {} against {want}",
                    p.name,
                    o.score
                );
                assert_eq!(
                    (o.tp, o.tn, o.fp, o.fn_),
                    (count(5), count(6), count(7), count(8)),
                    "{detector} {} {file}",
                    p.name
                );
                checked += 1;
            }
        }
    }
    // Two detectors, three profiles, the five series kept here.
    assert_eq!(checked, 2 * 3 * 5);
}
