//! A large problem cut into parts the solver takes one at a time
//! (cluster first, route second).
//!
//! The solver's construction inserts every job into every tour at every
//! step, so its time grows with the square of the jobs: 1,000 orders over
//! 50 technicians take it tens of seconds. Here, first, only what the crew
//! can hold is admitted — jobs by priority, each with its work and a
//! typical walk, up to a quarter more than the crew's shift time; the rest
//! stay unplaced, as the solver would leave them, and wait for a later
//! schedule. Then the admitted jobs are swept by angle around their centre
//! into parts of about [`PART_JOBS`] jobs of equal work, and the crew dealt
//! to the parts in turn, those with the most skills first, so that every
//! part has a share of each skill. Each part is solved whole; a job its
//! part could not place stays unplaced.

use super::{Effort, Job, Member, Schedule, run};

/// Problems up to this many jobs are solved whole.
pub(super) const DIRECT: usize = 150;
/// Jobs in a part, about.
const PART_JOBS: usize = 60;
/// Work admitted over the crew's shift time.
const ADMIT: f64 = 1.25;

pub(super) fn run_parts(
    jobs: &[Job],
    crew: &[Member],
    speed: f64,
    effort: Effort,
) -> Result<Schedule, String> {
    let mut out = Schedule::default();
    if crew.is_empty() {
        out.unplaced = jobs.iter().map(|j| j.id).collect();
        return Ok(out);
    }
    let admitted = admit(jobs, crew, speed, &mut out.unplaced);
    let k = admitted.len().div_ceil(PART_JOBS).clamp(1, crew.len());
    let job_parts = sweep(&admitted, k);
    let crew_parts = deal(crew, k);
    for (part, members) in job_parts.iter().zip(&crew_parts) {
        let sub_crew: Vec<Member> = members.iter().map(|&i| crew[i].clone()).collect();
        let s = run(part, &sub_crew, speed, effort)?;
        out.placed.extend(s.placed.into_iter().map(|mut p| {
            p.member = members[p.member];
            p
        }));
        out.unplaced.extend(s.unplaced);
    }
    Ok(out)
}

/// The jobs the crew can hold, most urgent first; the others go to
/// `left`.
fn admit(jobs: &[Job], crew: &[Member], speed: f64, left: &mut Vec<u64>) -> Vec<Job> {
    let shift_s: f64 = crew
        .iter()
        .flat_map(|m| m.shifts.iter().map(|(a, b)| (b - a).max(0.0)))
        .sum();
    // A typical walk: the mean distance of the jobs from their centre.
    let n = jobs.len() as f64;
    let (cx, cy) = centre(jobs);
    let walk_s = jobs
        .iter()
        .map(|j| (j.at.0 - cx).hypot(j.at.1 - cy))
        .sum::<f64>()
        / n
        / speed.max(0.1);
    let mut order: Vec<&Job> = jobs.iter().collect();
    order.sort_by_key(|j| (j.priority, j.id));
    let mut budget = shift_s * ADMIT;
    let mut admitted = Vec::new();
    for j in order {
        let need = j.duration_s + walk_s;
        if budget >= need {
            budget -= need;
            admitted.push(j.clone());
        } else {
            left.push(j.id);
        }
    }
    admitted
}

fn centre(jobs: &[Job]) -> (f64, f64) {
    let n = jobs.len().max(1) as f64;
    jobs.iter()
        .fold((0.0, 0.0), |(x, y), j| (x + j.at.0 / n, y + j.at.1 / n))
}

/// `k` parts of about equal work, each a sector around the jobs' centre.
fn sweep(jobs: &[Job], k: usize) -> Vec<Vec<Job>> {
    let (cx, cy) = centre(jobs);
    let mut order: Vec<&Job> = jobs.iter().collect();
    order.sort_by(|a, b| {
        let angle = |j: &Job| (j.at.1 - cy).atan2(j.at.0 - cx);
        angle(a).total_cmp(&angle(b)).then(a.id.cmp(&b.id))
    });
    let total: f64 = jobs.iter().map(|j| j.duration_s).sum();
    let mut parts = vec![Vec::new(); k];
    let mut done = 0.0;
    for j in order {
        let i = ((done / total.max(1e-9)) * k as f64).floor() as usize;
        parts[i.min(k - 1)].push(j.clone());
        done += j.duration_s;
    }
    parts
}

/// Crew indices dealt to `k` parts in turn, the most skilled first.
fn deal(crew: &[Member], k: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..crew.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(crew[i].skills.len()), i));
    let mut parts = vec![Vec::new(); k];
    for (n, i) in order.into_iter().enumerate() {
        parts[n % k].push(i);
    }
    parts
}
