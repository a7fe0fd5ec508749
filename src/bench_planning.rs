//! `twin bench planning`: how long the maintenance planner's scheduler
//! takes to place open orders on a crew: synthetic orders spread over a
//! 1 km site (three durations, three priorities, two skills), technicians
//! at the depot, half of them with both skills, one shift each; the
//! median of several solves at the planner's default effort.

use std::time::Instant;

use serde_json::json;
use twin_plan::schedule::{self, Effort, Job, Member};

use crate::eval::round;

pub fn run(
    orders: usize,
    technicians: usize,
    runs: usize,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let jobs: Vec<Job> = (0..orders as u64)
        .map(|i| Job {
            id: i,
            at: ((i * 7_919 % 1_000) as f64, (i * 104_729 % 1_000) as f64),
            duration_s: 1.5 * 3_600.0 * (1 + i % 3) as f64,
            skill: if i % 2 == 0 {
                "mechanical"
            } else {
                "electrical"
            }
            .into(),
            priority: 1 + (i % 3) as u8,
        })
        .collect();
    let crew: Vec<Member> = (0..technicians)
        .map(|k| Member {
            at: (0.0, 0.0),
            skills: if k % 2 == 0 {
                vec!["mechanical".into(), "electrical".into()]
            } else {
                vec!["mechanical".into()]
            },
            shifts: vec![(0.0, 16.0 * 3_600.0)],
        })
        .collect();
    let mut secs = Vec::new();
    let mut placed = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let s = schedule::solve(&jobs, &crew, 1.25, Effort::default())?;
        secs.push(t.elapsed().as_secs_f64());
        placed = s.placed.len();
    }
    secs.sort_by(f64::total_cmp);
    Ok(json!({
        "orders": orders,
        "technicians": technicians,
        "placed": placed,
        "replan_s": round(secs[secs.len() / 2]),
        "replan_runs_s": secs.iter().map(|s| round(*s)).collect::<Vec<_>>(),
    }))
}
