//! `twin eval cmapss`: the RUL model on NASA's C-MAPSS benchmark.
//!
//! Two ways, one set of figures (`twin_eval::cmapss::Metrics`):
//! - **test**: `--model M --test test_FD001.txt --rul RUL_FD001.txt`
//!   predicts each test engine at its last cycle, writes `unit,rul,low,high`
//!   to `--predictions`, and scores against the RUL file;
//! - **cross-validation**: `--cv K --train train_FD001.txt` for when only the
//!   training file is at hand. Engines are split into K folds *by engine*;
//!   a model trained on the other folds (with the same settings as `twin
//!   train rul`) follows each held-out engine cycle by cycle and is asked for
//!   its estimate at a few cuts, as the test file cuts its engines. A cut
//!   leaves `r` true cycles with `r` spread evenly over `[5, min(150, life -
//!   31)]`, the span the published test file FD001 covers (its shortest
//!   engine shows 31 cycles, its longest remaining life is 145); the model never
//!   sees a cycle after its cut. `nasa_score` is scaled to one cut per engine
//!   so that it reads like a test file's score over as many engines.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value as Json, json};
use twin_eval::cmapss::{self, Metrics, Prediction};
use twin_infer::rul::{Model, Trajectory};

use super::Result;
use crate::train::rul::{Settings, trajectories};

/// Cuts per held-out engine in cross-validation.
const CUTS: usize = 5;
/// Span of true remaining life the cuts cover.
const CUT_SPAN: (f64, f64) = (5.0, 150.0);
/// Cycles a cut shows at least: the shortest engine of the published test
/// file FD001. The same for every model setting, so that settings are
/// compared on the same cuts.
const MIN_SHOWN: usize = 31;

#[derive(clap::Args)]
pub struct Args {
    /// A model written by `twin train rul`.
    #[arg(long, requires_all = ["test", "rul"], conflicts_with = "cv")]
    model: Option<PathBuf>,
    /// A C-MAPSS test file.
    #[arg(long)]
    test: Option<PathBuf>,
    /// The test file's true remaining lives.
    #[arg(long)]
    rul: Option<PathBuf>,
    /// Where to write `unit,rul,low,high` per test engine.
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Cross-validate on a training file with this many folds.
    #[arg(long, requires = "train", value_parser = clap::value_parser!(u8).range(2..=20))]
    cv: Option<u8>,
    /// The training file to cross-validate on.
    #[arg(long)]
    train: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn main(a: Args) -> Result<()> {
    let started = Instant::now();
    let (metrics, mode) = match (&a.model, a.cv, &a.train) {
        (Some(m), None, _) => (test(&a, m)?, "test"),
        (None, Some(k), Some(train)) => (cross_validate(&a, usize::from(k), train)?, "cv"),
        _ => return Err("give --model with --test and --rul, or --cv with --train".into()),
    };
    let mut out = serde_json::to_value(metrics)?;
    out["mode"] = json!(mode);
    out["seconds"] = json!(started.elapsed().as_secs_f64());
    print(&out, a.json);
    Ok(())
}

fn print(out: &Json, as_json: bool) {
    if as_json {
        println!("{out}");
    } else if let Json::Object(map) = out {
        for (k, v) in map {
            println!("{k:<16} {v}");
        }
    }
}

fn test(a: &Args, model: &Path) -> Result<Metrics> {
    let (test, rul) = (
        a.test.as_ref().expect("clap"),
        a.rul.as_ref().expect("clap"),
    );
    let text = std::fs::read_to_string(model).map_err(|e| format!("{}: {e}", model.display()))?;
    let model = Model::from_json(&text).map_err(|e| format!("{}: {e}", model.display()))?;
    let engines = trajectories(cmapss::read_units(test)?);
    let truth = cmapss::read_rul(rul)?;
    if truth.len() != engines.len() {
        return Err(format!(
            "{} holds {} engines, {} holds {} lives",
            test.display(),
            engines.len(),
            rul.display(),
            truth.len()
        )
        .into());
    }
    let mut out = Vec::new();
    for (e, t) in engines.iter().zip(&truth) {
        let p = follow(&model, e, e.cycles.len())?;
        out.push(Prediction { truth: *t, ..p });
    }
    if let Some(path) = &a.predictions {
        let mut w = csv::Writer::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
        w.write_record(["unit", "rul", "low", "high"])?;
        for (e, p) in engines.iter().zip(&out) {
            w.write_record([
                e.unit.to_string(),
                format!("{:.2}", p.rul),
                format!("{:.2}", p.low),
                format!("{:.2}", p.high),
            ])?;
        }
        w.flush()?;
    }
    Ok(Metrics::of(&out))
}

/// The model's estimate after it has seen the first `upto` cycles of an
/// engine, and nothing after.
fn follow(model: &Model, engine: &Trajectory, upto: usize) -> Result<Prediction> {
    let mut state = model.follow();
    for c in &engine.cycles[..upto] {
        model
            .observe(&mut state, &c.settings, &c.sensors)
            .map_err(|e| format!("unit {}: {e}", engine.unit))?;
    }
    let e = model
        .estimate(&state)
        .ok_or_else(|| format!("unit {} has no cycle", engine.unit))?;
    Ok(Prediction {
        truth: f64::NAN,
        rul: e.value,
        low: e.low,
        high: e.high,
    })
}

/// Remaining lives at which a held-out engine of `life` cycles is cut.
fn cuts(life: usize) -> Vec<usize> {
    let hi = CUT_SPAN.1.min(life.saturating_sub(MIN_SHOWN) as f64);
    if hi < CUT_SPAN.0 {
        return Vec::new();
    }
    (0..CUTS)
        .map(|k| (CUT_SPAN.0 + (hi - CUT_SPAN.0) * (k as f64 + 0.5) / CUTS as f64).round() as usize)
        .collect()
}

fn cross_validate(a: &Args, k: usize, train: &Path) -> Result<Metrics> {
    let config = a.settings.config()?;
    let engines = trajectories(cmapss::read_units(train)?);
    if engines.len() < k {
        return Err(format!(
            "{}: {} engines for {k} folds",
            train.display(),
            engines.len()
        )
        .into());
    }
    let mut out = Vec::new();
    for f in 0..k {
        let fold = |i: &usize| i % k == f;
        let kept: Vec<Trajectory> = (0..engines.len())
            .filter(|i| !fold(i))
            .map(|i| engines[i].clone())
            .collect();
        let model = Model::train(&kept, config.clone(), "rul-gbm/cv")?;
        for e in (0..engines.len()).filter(fold).map(|i| &engines[i]) {
            let life = e.cycles.len();
            for r in cuts(life) {
                let p = follow(&model, e, life - r)?;
                out.push(Prediction {
                    truth: r as f64,
                    ..p
                });
            }
        }
        eprintln!("… fold {} of {k}", f + 1);
    }
    let mut m = Metrics::of(&out);
    m.nasa_score *= engines.len() as f64 / out.len().max(1) as f64;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_stay_inside_the_engine_and_the_span() {
        assert_eq!(cuts(200).len(), CUTS);
        for life in [40, 100, 200, 362] {
            for r in cuts(life) {
                assert!(
                    (5..=150).contains(&r) && life - r >= MIN_SHOWN,
                    "{life} {r}"
                );
            }
        }
        assert!(cuts(34).is_empty());
    }
}
