//! `twin train rul --scenario` and `twin eval world` on a small, fast
//! factory written by the test: four pumps whose lives last about a day,
//! sensors read every minute. The model is trained on some C-MAPSS engines
//! and scored on a world drawing from the others.

use std::path::Path;
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("twin runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SCENARIO: &str = r#"
name = "small-factory"
seed = 3
duration = "10d"
tick = "1m"
region = { bbox = [4.845, 45.745, 4.855, 45.755] }

[sensors.accelerometer]
period = "1m"
noise = 0.15

[sensors.pt100]
period = "1m"
noise = 0.3

[factory]
hours_per_cycle = 0.1
technicians = { count = 0 }

[[factory.machines]]
subtype = "pump"
count = 4
initial_life_used = { uniform = [0.0, 0.5] }
units_per_hour = 0
sensors = { vibration_rms = "accelerometer", temperature = "pt100" }
"#;

const INFERENCE: &str = r#"
[[inference]]
model = "rul"
select = { kinds = ["machine"] }
file = "rul.json"
params = { threshold_h = 5 }

[[inference]]
model = "anomaly"
select = { kinds = ["sensor"] }
params = { probation = 300 }
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_model_trained_on_a_world_is_scored_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.toml", SCENARIO);
    let model = dir.path().join("rul.json");
    let o = twin(&[
        "train",
        "rul",
        "--scenario",
        &plain,
        "--for",
        "30d",
        "--engines",
        "1-60",
        "--cycle",
        "6m",
        "--window",
        "30",
        "--ensemble",
        "1",
        "--iterations",
        "60",
        "--out",
        model.to_str().unwrap(),
    ]);
    ok(&o);
    let said = String::from_utf8_lossy(&o.stderr);
    let lives: usize = said
        .split(" lives run to wear-out")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(lives >= 60, "{lives} lives in 30 days of 4 pumps: {said}");

    let scored = write(dir.path(), "scored.toml", &format!("{SCENARIO}{INFERENCE}"));
    let out = ok(&twin(&[
        "eval",
        "world",
        "--scenario",
        &scored,
        "--for",
        "10d",
        "--engines",
        "61-100",
        "--warn-within",
        "12h",
        "--horizon",
        "20",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let n = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert!(n("failures") >= 20.0, "{v}");
    assert!(n("failures_warned") >= 0.7 * n("failures"), "{v}");
    assert!(n("rul_estimates_scored") >= 100.0, "{v}");
    // Lives of about 20 h, scored in their last 20 h: a model that learned
    // nothing would be off by about half of that.
    assert!(n("rul_mae_h") < 5.0, "{v}");
    assert!((0.6..=1.0).contains(&n("rul_coverage_90")), "{v}");
    assert_eq!(n("anomaly_series"), 8.0, "{v}");
    assert!(n("anomaly_false_alerts_per_day") < 5.0, "{v}");

    // A scenario naming a model file that is not there is refused, and
    // the message names the file.
    let bad = write(
        dir.path(),
        "bad.toml",
        &format!(
            "{SCENARIO}{}",
            INFERENCE.replace("rul.json", "missing.json")
        ),
    );
    let o = twin(&["eval", "world", "--scenario", &bad, "--for", "1d"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The city's vehicles: the filter's estimates against the world's true
/// trajectory beat the raw fixes they come from, each scored at its own
/// time (a fix weighed late, when its speed and heading never came, is
/// still compared with where the vehicle was then).
#[test]
fn city_tracking_beats_the_raw_fixes() {
    let out = ok(&twin(&[
        "eval",
        "world",
        "--scenario",
        "city",
        "--for",
        "3h",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let n = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert!(n("position_count") >= 0.9 * n("gps_count"), "{v}");
    assert!(
        n("position_rmse_m") < 0.6 * n("gps_rmse_m"),
        "estimates no better than the fixes: {v}"
    );
    assert!(n("position_p99_m") < 20.0, "{v}");
}

/// The farm's disease zones against the world's outbreaks: on a seed whose
/// first outbreak grows into view, a zone is opened over it, its parcels
/// are infected ones, and zones where nothing is stay within the goal of
/// one per 90 days.
#[test]
fn farm_disease_zones_are_scored_against_the_outbreaks() {
    let out = ok(&twin(&[
        "eval",
        "world",
        "--scenario",
        "farm-cocoa",
        "--seed",
        "1",
        "--for",
        "90d",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let n = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert!(n("disease_outbreaks") >= 1.0, "{v}");
    assert!(n("disease_outbreaks_detected") >= 1.0, "{v}");
    assert!(n("disease_iou") > 0.2 && n("disease_iou") <= 1.0, "{v}");
    assert!(n("disease_detection_delay_days") > 0.0, "{v}");
    assert!(n("false_disease_zones_per_90d") <= 1.0, "{v}");
    assert!(
        v.get("position_count").is_none(),
        "no tracker on the farm: {v}"
    );
}
