//! The Numenta Anomaly Benchmark's scoring (Lavin and Ahmad, "Evaluating
//! Real-time Anomaly Detection Algorithms", 2015), written from its
//! description and checked file by file against NAB's own results.
//!
//! A detector gives every row of a series a score in [0, 1]; a row is a
//! detection when its score reaches the threshold. Each labelled window is
//! worth the weight of its *earliest* detection: a scaled sigmoid of the
//! row's position in the window, 1 at the left edge (times the profile's
//! true-positive weight), falling to 0 at the right edge. A window without
//! detection costs the false-negative weight. A detection outside every
//! window costs the false-positive weight, less for one just after a
//! window. The first 15 % of each file (at most 750 rows) is probation:
//! not scored. One threshold serves a whole corpus, the one that maximises
//! its total; the total is normalised so that a detector that never fires
//! scores 0 and one that fires at the start of every window scores 100.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What went wrong reading or scoring a corpus; names the file.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
}

fn bad(what: impl Into<String>, reason: impl ToString) -> NabError {
    NabError::Input {
        what: what.into(),
        reason: reason.to_string(),
    }
}

pub type Result<T> = std::result::Result<T, NabError>;

/// A scoring profile: the weights of NAB's cost matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
}

impl Profile {
    /// The three profiles NAB ships, in its `profiles.json` form.
    pub fn parse_all(json: &str) -> Result<Vec<Profile>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Costs {
            tp_weight: f64,
            fp_weight: f64,
            fn_weight: f64,
        }
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "CostMatrix")]
            costs: Costs,
        }
        let map: BTreeMap<String, Entry> =
            serde_json::from_str(json).map_err(|e| bad("profiles", e))?;
        Ok(map
            .into_iter()
            .map(|(name, e)| Profile {
                name,
                tp: e.costs.tp_weight,
                fp: e.costs.fp_weight,
                fn_: e.costs.fn_weight,
            })
            .collect())
    }
}

/// Labelled anomaly windows by file (`category/file.csv`), as NAB's
/// `combined_windows.json` gives them: times in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    windows: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Labels {
    pub fn parse(json: &str) -> Result<Labels> {
        let raw: BTreeMap<String, Vec<(String, String)>> =
            serde_json::from_str(json).map_err(|e| bad("labels", e))?;
        let mut windows = BTreeMap::new();
        for (file, list) in raw {
            let mut w = Vec::with_capacity(list.len());
            for (start, end) in list {
                let (s, e) = (parse_time(&start)?, parse_time(&end)?);
                if e < s {
                    return Err(bad(&file, format!("window {start} ends before it starts")));
                }
                w.push((s, e));
            }
            w.sort_unstable();
            windows.insert(file, w);
        }
        Ok(Labels { windows })
    }

    /// The windows of `file`, in time order; `None` for a file not labelled.
    pub fn of(&self, file: &str) -> Option<&[(i64, i64)]> {
        self.windows.get(file).map(Vec::as_slice)
    }
}

/// A NAB time (`2014-04-10 16:15:00`, fractional seconds allowed) in
/// milliseconds since the epoch, read as UTC.
pub fn parse_time(s: &str) -> Result<i64> {
    let t: jiff::civil::DateTime = s
        .trim()
        .parse()
        .map_err(|e| bad(format!("time `{s}`"), e))?;
    let ts = t
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| bad(format!("time `{s}`"), e))?;
    Ok(ts.timestamp().as_millisecond())
}

/// A series and a detector's scores for it, row by row.
#[derive(Clone, Debug)]
pub struct Series {
    /// `category/file.csv`, the key of the labels.
    pub file: String,
    pub times: Vec<i64>,
    pub scores: Vec<f64>,
}

/// Reads the `timestamp` column (as written) and the numeric column
/// `column` of a NAB CSV (a data file: `value`; a results file:
/// `anomaly_score`). `what` names the file in errors.
pub fn read_columns(
    what: &str,
    csv: impl std::io::Read,
    column: &str,
) -> Result<(Vec<String>, Vec<f64>)> {
    let mut r = csv::Reader::from_reader(csv);
    let headers = r.headers().map_err(|e| bad(what, e))?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| bad(what, format!("no `{name}` column")))
    };
    let (t, v) = (find("timestamp")?, find(column)?);
    let (mut stamps, mut values) = (Vec::new(), Vec::new());
    for (n, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(what, e))?;
        let at = |i: usize| rec.get(i).unwrap_or_default().trim();
        let x: f64 = at(v)
            .parse()
            .map_err(|e| bad(format!("{what}, row {}, {column} `{}`", n + 2, at(v)), e))?;
        stamps.push(at(t).to_string());
        values.push(x);
    }
    Ok((stamps, values))
}

/// The times of `stamps` in milliseconds; `what` names the file in errors.
pub fn parse_times(what: &str, stamps: &[String]) -> Result<Vec<i64>> {
    stamps
        .iter()
        .enumerate()
        .map(|(n, s)| parse_time(s).map_err(|e| bad(format!("{what}, row {}", n + 2), e)))
        .collect()
}

/// A row of a file past its probation, as the threshold sweep sees it.
#[derive(Clone, Copy, Debug)]
struct Row {
    score: f64,
    /// What the row is worth if detected: positive in a window, negative
    /// outside.
    weight: f64,
    /// The window it lies in, numbered from 0 within its file.
    window: Option<u32>,
}

/// A file prepared for scoring under one profile.
#[derive(Clone, Debug)]
pub struct Scored {
    rows: Vec<Row>,
    /// Windows holding at least one scored row (a window wholly inside the
    /// probation is not scored).
    windows: u32,
}

/// The sigmoid NAB weighs positions with: 1 − 2/(1+e⁵)… at the left edge
/// of a window (position −1), 0 at its right edge, −1 from three window
/// widths past it.
fn scaled_sigmoid(position: f64) -> f64 {
    if position >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// The probation of a file of `n` rows: its first 15 %, at most 750 rows,
/// not scored (and given to detectors as their time to learn).
pub fn probation(n: usize) -> usize {
    ((0.15 * n as f64).floor() as usize).min(750)
}

impl Scored {
    /// Weighs every row of `s` under profile `p` given its windows.
    pub fn new(s: &Series, windows: &[(i64, i64)], p: &Profile) -> Result<Scored> {
        if s.times.len() != s.scores.len() {
            return Err(bad(&s.file, "as many scores as rows are needed"));
        }
        let index = |t: i64, edge: &str| {
            s.times.iter().position(|x| *x == t).ok_or_else(|| {
                bad(
                    &s.file,
                    format!("the {edge} of a window is not a row's time"),
                )
            })
        };
        // Each window as the (left, right) indices of its rows.
        let spans: Vec<(usize, usize)> = windows
            .iter()
            .map(|(a, b)| Ok((index(*a, "start")?, index(*b, "end")?)))
            .collect::<Result<_>>()?;
        let max_tp = scaled_sigmoid(-1.0);
        let first = probation(s.times.len());
        let mut rows = Vec::new();
        let mut scored_windows = std::collections::BTreeSet::new();
        // The window the row is in, or the last one it is past.
        let mut next = 0;
        let mut past: Option<(usize, usize)> = None;
        for (i, score) in s.scores.iter().enumerate() {
            while next < spans.len() && spans[next].1 < i {
                past = Some(spans[next]);
                next += 1;
            }
            let inside = spans.get(next).filter(|(l, _)| *l <= i);
            let (weight, window) = match inside {
                Some(&(l, r)) => {
                    let width = (r - l + 1) as f64;
                    let position = -((r - i + 1) as f64) / width;
                    (scaled_sigmoid(position) * p.tp / max_tp, Some(next as u32))
                }
                None => {
                    let position = match past {
                        None => 3.0,
                        Some((l, r)) => (i - r) as f64 / (r - l) as f64,
                    };
                    (scaled_sigmoid(position) * p.fp, None)
                }
            };
            if i >= first {
                if let Some(w) = window {
                    scored_windows.insert(w);
                }
                rows.push(Row {
                    score: *score,
                    weight,
                    window,
                });
            }
        }
        Ok(Scored {
            rows,
            windows: scored_windows.len() as u32,
        })
    }
}

/// A file's or a corpus's result at one threshold. The counts are of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    pub threshold: f64,
    pub score: f64,
    pub tp: u64,
    pub tn: u64,
    pub fp: u64,
    pub fn_: u64,
}

/// The outcome at every threshold that changes it, highest first, over
/// `files` together: the first is above every score (nothing detected),
/// each next one detects the rows scoring at least it.
pub fn sweep(files: &[&Scored], p: &Profile) -> Vec<Outcome> {
    // Windows numbered across the corpus.
    let mut rows = Vec::new();
    let mut offset = 0u32;
    for f in files {
        rows.extend(f.rows.iter().map(|r| Row {
            window: r.window.map(|w| w + offset),
            ..*r
        }));
        offset += f
            .rows
            .iter()
            .filter_map(|r| r.window)
            .max()
            .map_or(0, |w| w + 1);
    }
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut best: Vec<Option<f64>> = vec![None; offset as usize];
    let windows: u32 = files.iter().map(|f| f.windows).sum();
    let in_windows = rows.iter().filter(|r| r.window.is_some()).count() as u64;
    let mut now = Outcome {
        // Above every score in [0, 1]: nothing detected.
        threshold: 1.1,
        score: -p.fn_ * windows as f64,
        tn: rows.len() as u64 - in_windows,
        fn_: in_windows,
        ..Outcome::default()
    };
    let mut out = Vec::new();
    for r in &rows {
        if r.score != now.threshold {
            out.push(now);
            now.threshold = r.score;
        }
        match r.window {
            Some(w) => {
                now.tp += 1;
                now.fn_ -= 1;
                let slot = &mut best[w as usize];
                let before = slot.unwrap_or(-p.fn_);
                let after = before.max(r.weight);
                *slot = Some(after);
                now.score += after - before;
            }
            None => {
                now.fp += 1;
                now.tn -= 1;
                now.score += r.weight;
            }
        }
    }
    out.push(now);
    out
}

/// A file's outcome at `threshold`: rows scoring at least it are detections.
pub fn score_at(file: &Scored, p: &Profile, threshold: f64) -> Outcome {
    let all = sweep(&[file], p);
    let mut at = all[0];
    for o in all {
        if o.threshold < threshold {
            break;
        }
        at = o;
    }
    Outcome { threshold, ..at }
}

/// The threshold that maximises the corpus's total (the highest among
/// equals), with that total.
pub fn best(files: &[&Scored], p: &Profile) -> Outcome {
    sweep(files, p)
        .into_iter()
        .reduce(|a, b| if b.score > a.score { b } else { a })
        .expect("a sweep has at least one outcome")
}

/// NAB's normalisation: 0 for the null detector's total, 100 for a detector
/// that fires at the start of each of `windows` windows.
pub fn normalise(total: f64, null: f64, windows: usize, p: &Profile) -> f64 {
    let perfect = windows as f64 * p.tp;
    100.0 * (total - null) / (perfect - null)
}

/// A corpus's result under one profile.
#[derive(Clone, Debug)]
pub struct ProfileResult {
    pub profile: Profile,
    pub threshold: f64,
    pub raw: f64,
    pub normalised: f64,
    /// Each file's outcome at the corpus's threshold, by file.
    pub files: Vec<(String, Outcome)>,
}

/// Scores a detector's results on a labelled corpus under each profile,
/// with the threshold optimised per profile over the corpus (or the one
/// given), normalised against NAB's null detector (a constant score).
pub fn evaluate(
    corpus: &[Series],
    labels: &Labels,
    profiles: &[Profile],
    threshold: Option<f64>,
) -> Result<Vec<ProfileResult>> {
    let windows_of = |s: &Series| {
        labels
            .of(&s.file)
            .ok_or_else(|| bad(&s.file, "not in the labels"))
    };
    let windows: usize = corpus
        .iter()
        .map(|s| windows_of(s).map(<[_]>::len))
        .sum::<Result<_>>()?;
    let mut out = Vec::new();
    for p in profiles {
        let scored: Vec<Scored> = corpus
            .iter()
            .map(|s| Scored::new(s, windows_of(s)?, p))
            .collect::<Result<_>>()?;
        let nulls: Vec<Scored> = corpus
            .iter()
            .map(|s| {
                let constant = Series {
                    scores: vec![0.5; s.times.len()],
                    ..s.clone()
                };
                Scored::new(&constant, windows_of(s)?, p)
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&Scored> = scored.iter().collect();
        let chosen = match threshold {
            Some(t) => t,
            None => best(&refs, p).threshold,
        };
        let files: Vec<(String, Outcome)> = corpus
            .iter()
            .zip(&scored)
            .map(|(s, f)| (s.file.clone(), score_at(f, p, chosen)))
            .collect();
        let raw = files.iter().map(|(_, o)| o.score).sum();
        let null = best(&nulls.iter().collect::<Vec<_>>(), p).score;
        out.push(ProfileResult {
            profile: p.clone(),
            threshold: chosen,
            raw,
            normalised: normalise(raw, null, windows, p),
            files,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard() -> Profile {
        Profile {
            name: "standard".into(),
            tp: 1.0,
            fp: 0.11,
            fn_: 1.0,
        }
    }

    /// 100 rows (15 on probation), one window over rows 50..=59.
    fn series(detect: &[usize]) -> (Series, Vec<(i64, i64)>) {
        let times: Vec<i64> = (0..100).map(|i| i * 1000).collect();
        let scores = (0..100)
            .map(|i| if detect.contains(&i) { 1.0 } else { 0.0 })
            .collect();
        let s = Series {
            file: "f.csv".into(),
            times,
            scores,
        };
        (s, vec![(50_000, 59_000)])
    }

    fn score(detect: &[usize]) -> Outcome {
        let (s, w) = series(detect);
        score_at(&Scored::new(&s, &w, &standard()).unwrap(), &standard(), 0.5)
    }

    #[test]
    fn a_detection_at_the_start_of_a_window_is_worth_the_true_positive_weight() {
        assert!((score(&[50]).score - 1.0).abs() < 1e-12);
        // Later in the window is worth less, and only the earliest counts.
        let late = score(&[58]).score;
        assert!(late > 0.0 && late < 0.5, "{late}");
        assert!((score(&[50, 58]).score - 1.0).abs() < 1e-12);
    }

    #[test]
    fn misses_and_false_positives_cost_their_weights() {
        assert_eq!(score(&[]).score, -1.0);
        // Before any window a false positive costs the full fp weight.
        assert!((score(&[20]).score - (-1.0 - 0.11)).abs() < 1e-12);
        // Just after a window, less; far after, the full weight.
        let near = score(&[60]).score + 1.0;
        assert!(near > -0.11 && near < 0.0, "{near}");
        assert!((score(&[95]).score + 1.0 + 0.11).abs() < 1e-12);
        // Probation is not scored.
        assert_eq!(score(&[3]).score, -1.0);
    }

    #[test]
    fn the_best_threshold_maximises_the_corpus_total() {
        let (mut s, w) = series(&[]);
        s.scores[52] = 0.8; // in the window
        s.scores[30] = 0.9; // a false positive above it
        let f = Scored::new(&s, &w, &standard()).unwrap();
        let b = best(&[&f], &standard());
        assert_eq!(b.threshold, 0.8);
        assert_eq!((b.tp, b.fp), (1, 1));
    }
}
