//! Jobs placed on a crew's shifts with `vrp-core`, a maintained solver of
//! rich vehicle routing problems.
//!
//! Each technician is a vehicle with one tour per shift of the horizon,
//! starting where the technician is (or will be free); each job is a
//! service at a machine taking its duration, needing a skill the
//! technician must have. The goal, in order: leave as few jobs unplaced as
//! possible (an urgent job weighs more), keep each tour's urgent jobs
//! before the others, then spend the least time (travel and work). Travel
//! times come from straight-line distances at the crew's walking speed.
//!
//! A large problem (more than [`parts::DIRECT`] jobs) is cut into parts
//! solved one after the other ([`parts`]): the solver's construction grows
//! with the square of the jobs.
//!
//! One initial solution (cheapest insertion) is built before the
//! generations, not the solver's default four: each costs a full
//! construction.
//!
//! The solver is a metaheuristic: a solve runs on a thread of its own for a
//! fixed number of generations, but its hash maps are seeded per process,
//! so two solves of one problem may differ. A recording therefore keeps
//! what the planners decided, and a replay applies it rather than solving
//! again.

mod parts;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use vrp_core::construction::features::{
    JobSkills, JobSkillsDimension, OrderResult, VehicleSkillsDimension, create_skills_feature,
    create_tour_order_soft_feature,
};
use vrp_core::models::problem::{JobIdDimension, Single, VehicleIdDimension};
use vrp_core::prelude::*;
use vrp_core::rosomaxa::evolution::InitialOperators;
use vrp_core::rosomaxa::evolution::TelemetryMode;
use vrp_core::solver::search::RecreateWithCheapest;
use vrp_core::solver::{RecreateInitialOperator, get_static_heuristic};
use vrp_core::utils::{Either, Parallelism};

/// A job to place.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: u64,
    /// Where, metres in a local plane.
    pub at: (f64, f64),
    /// Seconds of work at the place.
    pub duration_s: f64,
    pub skill: String,
    /// 1 (most urgent) to 3.
    pub priority: u8,
}

/// A technician and when they can work.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Where they start, metres in the same plane.
    pub at: (f64, f64),
    pub skills: Vec<String>,
    /// Working windows, seconds from now, in order; the first may start at
    /// once (or later, when the technician is busy until then).
    pub shifts: Vec<(f64, f64)>,
}

/// Where a job went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub job: u64,
    /// Index in the crew.
    pub member: usize,
    /// Seconds from now the work starts, and when the technician should
    /// leave for it.
    pub start_s: f64,
    pub leave_s: f64,
}

/// A schedule: jobs placed, and jobs no shift could take.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub placed: Vec<Placed>,
    pub unplaced: Vec<u64>,
}

impl Schedule {
    /// As a recording keeps it.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("schedules serialise")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Schedule, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

/// Where a planner's schedules come from.
pub trait Solve: Send {
    fn solve(
        &mut self,
        jobs: &[Job],
        crew: &[Member],
        speed_m_s: f64,
        effort: Effort,
    ) -> Result<Schedule, String>;
}

/// Solves with the solver, keeping each schedule made for a recording.
#[derive(Default)]
pub struct Live {
    pub made: Vec<Schedule>,
}

impl Solve for Live {
    fn solve(
        &mut self,
        jobs: &[Job],
        crew: &[Member],
        speed_m_s: f64,
        effort: Effort,
    ) -> Result<Schedule, String> {
        let s = solve(jobs, crew, speed_m_s, effort)?;
        self.made.push(s.clone());
        Ok(s)
    }
}

/// Gives back, in order, the schedules a recording kept: a replay plans
/// what the run planned.
pub struct Recorded(pub std::collections::VecDeque<Schedule>);

impl Solve for Recorded {
    fn solve(&mut self, _: &[Job], _: &[Member], _: f64, _: Effort) -> Result<Schedule, String> {
        self.0
            .pop_front()
            .ok_or_else(|| "the recording holds no schedule for this step".to_string())
    }
}

/// Solver effort: generations of the metaheuristic after construction.
#[derive(Clone, Copy, Debug)]
pub struct Effort {
    pub generations: usize,
}

impl Default for Effort {
    fn default() -> Self {
        Effort { generations: 20 }
    }
}

/// Places `jobs` on `crew` walking at `speed_m_s`.
pub fn solve(
    jobs: &[Job],
    crew: &[Member],
    speed_m_s: f64,
    effort: Effort,
) -> Result<Schedule, String> {
    if jobs.is_empty() {
        return Ok(Schedule::default());
    }
    let jobs = jobs.to_vec();
    let crew = crew.to_vec();
    // A thread of its own (and a one-thread pool for the solver's parallel
    // parts): a solve never takes the runtime's threads.
    std::thread::Builder::new()
        .name("twin-schedule".into())
        .spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .map_err(|e| e.to_string())?;
            pool.install(|| {
                if jobs.len() > parts::DIRECT {
                    parts::run_parts(&jobs, &crew, speed_m_s, effort)
                } else {
                    run(&jobs, &crew, speed_m_s, effort)
                }
            })
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the solver panicked".to_string())?
}

/// A synthetic problem, for benchmarks and tests: `orders` spread over a
/// 1 km site (1.5, 3 or 4.5 hours of work; priorities 1 to 3; half
/// mechanical, half electrical), `technicians` at the depot with one
/// 16-hour shift, every other one with both skills.
pub fn synthetic(orders: usize, technicians: usize) -> (Vec<Job>, Vec<Member>) {
    let jobs = (0..orders as u64)
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
    let crew = (0..technicians)
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
    (jobs, crew)
}

/// One problem, whole, with the solver.
fn run(jobs: &[Job], crew: &[Member], speed: f64, effort: Effort) -> Result<Schedule, String> {
    let err = |e: GenericError| e.to_string();
    let logger: InfoLogger = Arc::new(|m: &str| tracing::trace!("vrp: {m}"));
    // Locations: each member's start, then each job's place.
    let points: Vec<(f64, f64)> = crew
        .iter()
        .map(|m| m.at)
        .chain(jobs.iter().map(|j| j.at))
        .collect();
    let n = points.len();
    let mut durations = Vec::with_capacity(n * n);
    let mut distances = Vec::with_capacity(n * n);
    for a in &points {
        for b in &points {
            let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
            distances.push(d.round());
            durations.push((d / speed.max(0.1)).round());
        }
    }
    let transport: Arc<dyn TransportCost> =
        Arc::new(SimpleTransportCost::new(durations, distances).map_err(err)?);
    let single_jobs = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            SingleBuilder::default()
                .id(&j.id.to_string())
                .location(crew.len() + i)?
                .duration(j.duration_s)?
                .dimension(|d| {
                    d.set_job_skills(JobSkills::new(Some(vec![j.skill.clone()]), None, None));
                })
                .build_as_job()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    // One vehicle per technician and shift, a later shift costing its
    // delay: the solver's costs count the length of a tour, not when it
    // starts, and work is wanted early. A technician's shifts never
    // overlap, so they still hold one order at a time.
    let mut vehicles = Vec::new();
    for (i, m) in crew.iter().enumerate() {
        let skills: HashSet<String> = m.skills.iter().cloned().collect();
        for (k, &(from, to)) in m.shifts.iter().enumerate() {
            let mut v = VehicleBuilder::default()
                .id(&format!("{i}:{k}"))
                .add_detail(
                    VehicleDetailBuilder::default()
                        .set_start_location(i)
                        .set_start_time(from)
                        .set_end_time(to)
                        .build()
                        .map_err(err)?,
                )
                .set_distance_cost(0.0)
                .set_duration_cost(1.0)
                .capacity(SingleDimLoad::new(1_000_000))
                .dimension(|d| {
                    d.set_vehicle_skills(skills.clone());
                })
                .build()
                .map_err(err)?;
            v.costs.fixed = from.max(0.0);
            vehicles.push(v);
        }
    }
    let urgent = |j: &Job| match j.priority {
        1 => 100.0,
        2 => 10.0,
        _ => 1.0,
    };
    let priority: Arc<HashMap<String, u8>> = Arc::new(
        jobs.iter()
            .map(|j| (j.id.to_string(), j.priority))
            .collect(),
    );
    let weights: HashMap<String, f64> =
        jobs.iter().map(|j| (j.id.to_string(), urgent(j))).collect();
    let unassigned = MinimizeUnassignedBuilder::new("unplaced")
        .set_job_estimator(move |_, job| {
            job.dimens()
                .get_job_id()
                .and_then(|id| weights.get(id))
                .copied()
                .unwrap_or(1.0)
        })
        .build()
        .map_err(err)?;
    let order_fn: Arc<dyn Fn(&Single) -> OrderResult + Send + Sync> = Arc::new(
        move |s: &Single| match s.dimens.get_job_id().and_then(|id| priority.get(id)) {
            Some(p) => OrderResult::Value(*p as Float),
            None => OrderResult::Default,
        },
    );
    let order =
        create_tour_order_soft_feature("urgent-first", Either::Left(order_fn)).map_err(err)?;
    let skills = create_skills_feature("skills", ViolationCode(2)).map_err(err)?;
    let time = TransportFeatureBuilder::new("time")
        .set_transport_cost(transport.clone())
        .set_time_constrained(true)
        .set_violation_code(ViolationCode(1))
        .build_minimize_cost()
        .map_err(err)?;
    let capacity = CapacityFeatureBuilder::<SingleDimLoad>::new("capacity")
        .set_violation_code(ViolationCode(3))
        .build()
        .map_err(err)?;
    let goal = GoalContextBuilder::with_features(&[unassigned, time, order, skills, capacity])
        .map_err(err)?
        .build()
        .map_err(err)?;
    let problem = Arc::new(
        ProblemBuilder::default()
            .add_jobs(single_jobs.into_iter())
            .add_vehicles(vehicles.into_iter())
            .with_goal(goal)
            .with_transport_cost(transport.clone())
            .with_logger(logger.clone())
            .build()
            .map_err(err)?,
    );
    let environment = Arc::new(Environment::new(
        Arc::new(DefaultRandom::new_repeatable()),
        None,
        Parallelism::new(1, 1),
        logger,
        false,
    ));
    let heuristic = get_static_heuristic(problem.clone(), environment.clone());
    let random = environment.random.clone();
    let initial: InitialOperators<_, _, _> = vec![(
        Box::new(RecreateInitialOperator::new(Arc::new(
            RecreateWithCheapest::new(random),
        ))),
        1,
    )];
    let config = VrpConfigBuilder::new(problem.clone())
        .set_environment(environment)
        .set_telemetry_mode(TelemetryMode::None)
        .set_heuristic(Box::new(heuristic))
        .prebuild()
        .map_err(err)?
        .with_initial(1, 0.05, initial)
        .with_max_generations(Some(effort.generations.max(1)))
        .build()
        .map_err(err)?;
    let solution = Solver::new(problem, config).solve().map_err(err)?;
    let mut out = Schedule::default();
    for route in &solution.routes {
        let member: usize = route
            .actor
            .vehicle
            .dimens
            .get_vehicle_id()
            .and_then(|id| id.split(':').next()?.parse().ok())
            .ok_or("a tour without its technician")?;
        let mut left = route.tour.start().map_or(0.0, |a| a.schedule.departure);
        for a in route.tour.all_activities() {
            let Some(job) = &a.job else { continue };
            let id: u64 = job
                .dimens
                .get_job_id()
                .and_then(|id| id.parse().ok())
                .ok_or("a job without its id")?;
            // The technician leaves when done with what came before.
            let start = a.place.time.start.max(a.schedule.arrival);
            out.placed.push(Placed {
                job: id,
                member,
                start_s: start,
                leave_s: left.max(0.0),
            });
            left = a.schedule.departure;
        }
    }
    for (job, _) in &solution.unassigned {
        if let Some(id) = job.dimens().get_job_id().and_then(|id| id.parse().ok()) {
            out.unplaced.push(id);
        }
    }
    out.placed.sort_by(|a, b| {
        (a.member, a.start_s)
            .partial_cmp(&(b.member, b.start_s))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out.unplaced.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, x: f64, skill: &str, priority: u8) -> Job {
        Job {
            id,
            at: (x, 0.0),
            duration_s: 3600.0,
            skill: skill.into(),
            priority,
        }
    }

    fn member(skills: &[&str], shifts: Vec<(f64, f64)>) -> Member {
        Member {
            at: (0.0, 0.0),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            shifts,
        }
    }

    /// Every job placed or not, once; placed ones on a member with the
    /// skill, within a shift, one at a time.
    fn check(jobs: &[Job], crew: &[Member], s: &Schedule) {
        let mut seen: Vec<u64> = s
            .placed
            .iter()
            .map(|p| p.job)
            .chain(s.unplaced.iter().copied())
            .collect();
        seen.sort();
        let mut ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
        ids.sort();
        assert_eq!(seen, ids);
        let by_id: HashMap<u64, &Job> = jobs.iter().map(|j| (j.id, j)).collect();
        let mut per: HashMap<usize, Vec<(f64, f64)>> = HashMap::new();
        for p in &s.placed {
            let j = by_id[&p.job];
            let m = &crew[p.member];
            assert!(m.skills.contains(&j.skill), "{p:?} lacks the skill");
            assert!(
                m.shifts
                    .iter()
                    .any(|&(a, b)| p.start_s >= a && p.start_s + j.duration_s <= b + 1.0),
                "{p:?} outside the shifts"
            );
            assert!(p.leave_s <= p.start_s);
            per.entry(p.member)
                .or_default()
                .push((p.start_s, p.start_s + j.duration_s));
        }
        for spans in per.values_mut() {
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in spans.windows(2) {
                assert!(w[1].0 >= w[0].1 - 1e-6, "{w:?} overlap");
            }
        }
    }

    #[test]
    fn a_large_problem_is_solved_in_parts_that_keep_every_rule() {
        let (jobs, crew) = synthetic(400, 20);
        assert!(jobs.len() > parts::DIRECT);
        let s = solve(&jobs, &crew, 1.25, Effort { generations: 5 }).unwrap();
        check(&jobs, &crew, &s);
        // The crew holds 320 hours of the 1,200 asked: most urgent work is
        // placed, and what waits is mostly the least urgent.
        let urgent = |p: u8| jobs.iter().filter(|j| j.priority == p).count();
        let placed = |p: u8| {
            s.placed
                .iter()
                .filter(|x| jobs[x.job as usize].priority == p)
                .count()
        };
        assert!(placed(1) as f64 >= 0.95 * urgent(1) as f64, "{}", placed(1));
        assert!(placed(1) > placed(3), "{} vs {}", placed(1), placed(3));
        assert!(s.placed.len() >= 80, "{}", s.placed.len());
    }

    #[test]
    fn skills_shifts_and_no_overlap() {
        let jobs: Vec<Job> = (0..12)
            .map(|i| {
                job(
                    i,
                    100.0 * i as f64,
                    if i % 3 == 0 {
                        "electrical"
                    } else {
                        "mechanical"
                    },
                    1 + (i % 3) as u8,
                )
            })
            .collect();
        let crew = vec![
            member(
                &["mechanical"],
                vec![(0.0, 8.0 * 3600.0), (86_400.0, 86_400.0 + 8.0 * 3600.0)],
            ),
            member(&["mechanical", "electrical"], vec![(3600.0, 9.0 * 3600.0)]),
        ];
        let s = solve(&jobs, &crew, 1.25, Effort::default()).unwrap();
        check(&jobs, &crew, &s);
        assert!(s.placed.len() >= 10, "{s:?}");
        // Electrical work only on the one who has the skill.
        assert!(
            s.placed
                .iter()
                .filter(|p| p.job % 3 == 0)
                .all(|p| p.member == 1)
        );
        // The same problem, the same schedule.
    }
}
