//! `twin eval nab` on a small NAB-layout corpus written by the test: two
//! series of daily cycles with noise, one with a level shift inside its
//! labelled window, one clean.

use std::process::Command;

fn series(shift_at: Option<usize>) -> String {
    let mut s = String::from("timestamp,value\n");
    let mut r: u64 = 17;
    for i in 0..4032usize {
        r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let day = (i as f64 * std::f64::consts::TAU / 288.0).sin();
        let shift = if shift_at.is_some_and(|a| i >= a) {
            4.0
        } else {
            0.0
        };
        let (d, m) = (1 + i / 288, i % 288);
        s += &format!(
            "2014-04-{d:02} {:02}:{:02}:00,{}\n",
            m / 12,
            (m % 12) * 5,
            50.0 + 10.0 * day + 2.0 * noise + 10.0 * shift
        );
    }
    s
}

#[test]
fn eval_nab_writes_nab_results_and_scores_a_caught_shift() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("synthetic")).unwrap();
    // Row 3000 is 2014-04-11 10:00; the window spans 1.5 days around it.
    std::fs::write(data.join("synthetic/shift.csv"), series(Some(3000))).unwrap();
    std::fs::write(data.join("synthetic/clean.csv"), series(None)).unwrap();
    let labels = dir.path().join("labels.json");
    std::fs::write(
        &labels,
        r#"{"synthetic/shift.csv": [["2014-04-11 00:00:00.000000", "2014-04-11 23:55:00.000000"]],
            "synthetic/clean.csv": []}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["eval", "nab", "--json", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--labels")
        .arg(&labels)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["files"], 2);
    // Caught early in its window with no false alarm elsewhere: near 100.
    for profile in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        let score = v[profile].as_f64().unwrap();
        assert!(score > 80.0, "{profile}: {score}");
    }
    let results = std::fs::read_to_string(out.join("twin/synthetic/twin_shift.csv")).unwrap();
    let mut lines = results.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    assert_eq!(lines.count(), 4032);
}

#[test]
fn eval_nab_names_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("c")).unwrap();
    std::fs::write(
        dir.path().join("c/f.csv"),
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["eval", "nab", "--data"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("row 3") && err.contains("`x`"), "{err}");
}
