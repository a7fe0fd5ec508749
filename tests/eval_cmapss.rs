//! `twin train rul` and `twin eval cmapss` on C-MAPSS-format files written
//! by the test: a fleet whose sensors drift towards failure, with noise,
//! in two operating regimes.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Rows of `units` engines from `first` on, and the remaining life at each
/// engine's cut (`cut` = share of its life shown; 1.0 = run to failure).
fn fleet(first: u32, units: u32, cut: impl Fn(u32) -> f64) -> (String, Vec<usize>) {
    let mut r: u64 = u64::from(first) * 7919;
    let mut uniform = move || {
        r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (r >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut text, mut left) = (String::new(), Vec::new());
    for unit in first..first + units {
        let life = 130 + (uniform() * 120.0) as usize;
        let shown = ((life as f64 * cut(unit)) as usize).clamp(31, life);
        left.push(life - shown);
        for t in 0..shown {
            let regime = (uniform() < 0.5) as u8 as f64;
            let wear = ((t as f64 / life as f64) * 4.0).exp() / 54.6;
            let mut row = format!(
                "{unit} {} {:.4} 0.0 100.0",
                t + 1,
                regime * 20.0 + (uniform() - 0.5) * 0.002
            );
            for s in 0..21 {
                let base = 100.0 + 10.0 * s as f64 + 15.0 * regime;
                let drift = match s % 3 {
                    0 => 4.0 * wear,
                    1 => -2.0 * wear,
                    _ => 0.0,
                };
                row += &format!(" {:.4}", base + drift + (uniform() - 0.5));
            }
            text += &row;
            text.push('\n');
        }
    }
    (text, left)
}

fn twin(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .output()
        .unwrap()
}

fn os<'a>(args: &[&'a str]) -> Vec<&'a OsStr> {
    args.iter().map(|a| OsStr::new(*a)).collect()
}

const SMALL: [&str; 4] = ["--ensemble", "1", "--iterations", "80"];

#[test]
fn trains_predicts_and_scores_held_out_engines() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = fleet(1, 40, |_| 1.0);
    let (test, left) = fleet(101, 30, |u| 0.4 + 0.02 * f64::from(u - 101));
    let rul: String = left.iter().map(|l| format!("{l}\n")).collect();
    let p = |n: &str| dir.path().join(n);
    let (train_f, test_f, rul_f) = (p("train.txt"), p("test.txt"), p("rul.txt"));
    let (model, predictions, short) = (p("models/m.json"), p("p.csv"), p("short.txt"));
    std::fs::write(&train_f, train).unwrap();
    std::fs::write(&test_f, test).unwrap();
    std::fs::write(&rul_f, rul).unwrap();
    std::fs::write(&short, "10\n").unwrap();

    let mut train_args = os(&["train", "rul"]);
    train_args.extend(os(&SMALL));
    train_args.extend([OsStr::new("--data"), train_f.as_os_str()]);
    assert!(!twin(&train_args).status.success(), "--out is required");
    train_args.extend([OsStr::new("--out"), model.as_os_str()]);
    let out = twin(&train_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let eval = |rul: &Path| {
        let mut a = os(&["eval", "cmapss", "--json", "--model"]);
        a.extend([model.as_os_str(), "--test".as_ref(), test_f.as_os_str()]);
        a.extend(["--rul".as_ref(), rul.as_os_str()]);
        a.extend(["--predictions".as_ref(), predictions.as_os_str()]);
        twin(&a)
    };
    let out = eval(&rul_f);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["engines"], 30);
    let rmse = m["rmse"].as_f64().unwrap();
    assert!(rmse < 25.0, "{m}");
    let coverage = m["coverage_90"].as_f64().unwrap();
    assert!(coverage >= 0.7, "{m}");
    let csv = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("unit,rul,low,high"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 30);
    assert_eq!(rows[0][0], 101.0);
    assert!(rows.iter().all(|r| r[2] <= r[1] && r[1] <= r[3]));

    // A RUL file that does not match the test file is refused by name.
    let out = eval(&short);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("holds 30 engines"),
        "{err}"
    );
}

#[test]
fn cross_validates_by_engine_and_names_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = fleet(1, 12, |_| 1.0);
    let path = dir.path().join("train.txt");
    std::fs::write(&path, &train).unwrap();
    let mut args = os(&["eval", "cmapss", "--json", "--cv", "3"]);
    args.extend(os(&SMALL));
    args.extend([OsStr::new("--train"), path.as_os_str()]);
    let out = twin(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["mode"], "cv");
    assert_eq!(m["engines"], 12 * 5, "five cuts per engine: {m}");
    assert!(m["rmse"].as_f64().unwrap() < 40.0, "{m}");

    let broken = train.replacen("1 3 ", "1 4 ", 1);
    std::fs::write(&path, broken).unwrap();
    let out = twin(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 3") && err.contains("follows cycle 2"),
        "{err}"
    );
}
