//! Virtual time and the clock that paces it.
//!
//! [`SimTime`] is milliseconds since the scenario epoch. The [`Clock`] maps wall
//! time to simulated time in one of four modes; it takes wall time as an argument
//! instead of reading it, so pacing is a pure function that tests can drive.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the scenario epoch (may be negative for data before it).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(pub i64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MIN: SimTime = SimTime(i64::MIN);

    pub const fn ms(ms: i64) -> SimTime {
        SimTime(ms)
    }
    pub const fn secs(s: i64) -> SimTime {
        SimTime(s * 1_000)
    }
    pub const fn minutes(m: i64) -> SimTime {
        SimTime(m * 60_000)
    }
    pub const fn hours(h: i64) -> SimTime {
        SimTime(h * 3_600_000)
    }
    pub const fn days(d: i64) -> SimTime {
        SimTime(d * 86_400_000)
    }
    pub fn as_ms(self) -> i64 {
        self.0
    }
    /// Seconds as a time, to the millisecond (saturating; NaN is zero).
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime((s * 1000.0).round() as i64)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// The start of the bucket of width `width` that holds this time.
    pub fn floor(self, width: SimTime) -> SimTime {
        SimTime(self.0.div_euclid(width.0).saturating_mul(width.0))
    }
    pub fn saturating_sub(self, other: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(other.0))
    }
    pub fn saturating_add(self, other: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(other.0))
    }

    /// Parses durations such as `90s`, `15m`, `2h`, `7d` or `250ms`.
    pub fn parse_duration(s: &str) -> Result<SimTime, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration such as 90s, 15m, 2h or 7d"))?;
        let ms = match unit {
            "ms" => 1.0,
            "s" | "" => 1_000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            other => return Err(format!("unknown duration unit `{other}` in `{s}`")),
        };
        Ok(SimTime((n * ms).round() as i64))
    }
}

/// Saturating: a time from outside (a request, a payload, a recording) may
/// be anywhere in the `i64` range, and arithmetic on it must not overflow.
impl Add for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

/// Saturating, as [`Add`].
impl Sub for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let (d, h, m, s, r) = (
            ms / 86_400_000,
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1_000 % 60,
            ms % 1_000,
        );
        write!(f, "{sign}{d}d{h:02}:{m:02}:{s:02}.{r:03}")
    }
}

/// How simulated time relates to wall time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// One simulated second per wall second.
    RealTime,
    /// `factor` simulated seconds per wall second.
    Accelerated(f64),
    /// No waiting: time jumps to the next thing to do.
    AsFastAsPossible,
    /// Time moves only when told to ([`Clock::step`]).
    Stepped,
}

impl ClockMode {
    /// The slowest accelerated clock: one simulated second per 1,000 wall
    /// seconds.
    pub const MIN_FACTOR: f64 = 1e-3;
    /// The fastest: a million simulated seconds (11.6 days) per wall second;
    /// beyond that, `max` is what is meant.
    pub const MAX_FACTOR: f64 = 1e6;

    /// Parses `real`, `max`, `step` or `xN` (e.g. `x60`), N between
    /// [`MIN_FACTOR`](Self::MIN_FACTOR) and [`MAX_FACTOR`](Self::MAX_FACTOR).
    pub fn parse(s: &str) -> Result<ClockMode, String> {
        match s {
            "real" | "realtime" => Ok(ClockMode::RealTime),
            "max" | "fast" => Ok(ClockMode::AsFastAsPossible),
            "step" | "stepped" => Ok(ClockMode::Stepped),
            _ => {
                let shown: String = s.chars().take(32).collect();
                let f = s
                    .strip_prefix('x')
                    .and_then(|f| f.parse::<f64>().ok())
                    .ok_or_else(|| {
                        format!("clock mode `{shown}`: expected real, max, step or xN")
                    })?;
                if (Self::MIN_FACTOR..=Self::MAX_FACTOR).contains(&f) {
                    Ok(ClockMode::Accelerated(f))
                } else {
                    Err(format!(
                        "clock mode `{shown}`: the factor must be between {} and {}",
                        Self::MIN_FACTOR,
                        Self::MAX_FACTOR
                    ))
                }
            }
        }
    }
}

/// Maps wall time (as a [`Duration`] since some fixed instant) to [`SimTime`].
#[derive(Clone, Debug)]
pub struct Clock {
    mode: ClockMode,
    /// Simulated time at the last re-anchoring.
    anchor_sim: SimTime,
    /// Wall time at the last re-anchoring.
    anchor_wall: Duration,
    paused: bool,
}

impl Clock {
    pub fn new(mode: ClockMode, start: SimTime, wall_now: Duration) -> Clock {
        Clock {
            mode,
            anchor_sim: start,
            anchor_wall: wall_now,
            paused: false,
        }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn rate(&self) -> Option<f64> {
        match self.mode {
            ClockMode::RealTime => Some(1.0),
            ClockMode::Accelerated(f) => Some(f),
            ClockMode::AsFastAsPossible | ClockMode::Stepped => None,
        }
    }

    /// Simulated time now. In the paced modes it follows wall time; in the
    /// others it is wherever [`Clock::advance_to`] or [`Clock::step`] left it.
    pub fn now(&self, wall_now: Duration) -> SimTime {
        match self.rate() {
            Some(rate) if !self.paused => {
                let wall = wall_now.saturating_sub(self.anchor_wall).as_secs_f64();
                self.anchor_sim + SimTime((wall * rate * 1000.0) as i64)
            }
            _ => self.anchor_sim,
        }
    }

    /// How long to wait (wall time) before simulated time reaches `target`.
    /// `None` means "never, by itself" (paused or stepped).
    pub fn wait_until(&self, target: SimTime, wall_now: Duration) -> Option<Duration> {
        if self.paused {
            return None;
        }
        match self.mode {
            ClockMode::Stepped => None,
            ClockMode::AsFastAsPossible => Some(Duration::ZERO),
            _ => {
                let rate = self.rate().expect("paced mode");
                let ahead = (target - self.now(wall_now)).0.max(0) as f64 / 1000.0 / rate;
                // Too far to say (a slow clock, a far target): wait for a
                // request rather than fail.
                Some(Duration::try_from_secs_f64(ahead).unwrap_or(Duration::MAX))
            }
        }
    }

    /// In the unpaced modes, moves time forward to `target` (never backwards).
    pub fn advance_to(&mut self, target: SimTime) {
        if self.rate().is_none() && target > self.anchor_sim {
            self.anchor_sim = target;
        }
    }

    /// Moves simulated time by `dt`, whatever the mode.
    pub fn step(&mut self, dt: SimTime, wall_now: Duration) {
        self.anchor_sim = self.now(wall_now) + dt;
        self.anchor_wall = wall_now;
    }

    pub fn pause(&mut self, wall_now: Duration) {
        if !self.paused {
            self.anchor_sim = self.now(wall_now);
            self.anchor_wall = wall_now;
            self.paused = true;
        }
    }

    pub fn resume(&mut self, wall_now: Duration) {
        if self.paused {
            self.anchor_wall = wall_now;
            self.paused = false;
        }
    }

    pub fn set_mode(&mut self, mode: ClockMode, wall_now: Duration) {
        self.anchor_sim = self.now(wall_now);
        self.anchor_wall = wall_now;
        self.mode = mode;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn accelerated_clock_runs_n_times_faster_and_pauses() {
        let mut c = Clock::new(ClockMode::Accelerated(60.0), SimTime::ZERO, Duration::ZERO);
        assert_eq!(c.now(S * 2), SimTime::minutes(2));
        c.pause(S * 2);
        assert_eq!(c.now(S * 10), SimTime::minutes(2));
        assert_eq!(c.wait_until(SimTime::hours(1), S * 10), None);
        c.resume(S * 10);
        assert_eq!(c.now(S * 11), SimTime::minutes(3));
        assert_eq!(
            c.wait_until(SimTime::minutes(4), S * 11),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn stepped_and_max_clocks_move_only_when_told() {
        let mut c = Clock::new(ClockMode::Stepped, SimTime::ZERO, Duration::ZERO);
        assert_eq!(c.now(S * 100), SimTime::ZERO);
        c.step(SimTime::secs(5), S * 100);
        assert_eq!(c.now(S * 200), SimTime::secs(5));
        let mut m = Clock::new(ClockMode::AsFastAsPossible, SimTime::ZERO, Duration::ZERO);
        assert_eq!(m.wait_until(SimTime::days(1), S), Some(Duration::ZERO));
        m.advance_to(SimTime::hours(3));
        m.advance_to(SimTime::hours(1));
        assert_eq!(m.now(S), SimTime::hours(3));
    }

    #[test]
    fn the_slowest_clock_waits_for_a_far_target_without_failing() {
        let c = Clock::new(ClockMode::Accelerated(1e-3), SimTime::ZERO, Duration::ZERO);
        let far = c.wait_until(SimTime(i64::MAX), S).expect("paced");
        assert!(far > Duration::from_secs(1 << 60), "{far:?}");
        assert_eq!(
            c.wait_until(SimTime::secs(1), Duration::ZERO),
            Some(S * 1000)
        );
    }

    #[test]
    fn time_arithmetic_saturates() {
        assert_eq!(SimTime(i64::MAX) + SimTime::secs(1), SimTime(i64::MAX));
        assert_eq!(SimTime(i64::MIN) - SimTime::secs(1), SimTime(i64::MIN));
        assert_eq!(SimTime::secs(2) - SimTime::secs(3), SimTime::secs(-1));
    }

    #[test]
    fn durations_and_modes_parse() {
        assert_eq!(SimTime::parse_duration("7d").unwrap(), SimTime::days(7));
        assert_eq!(SimTime::parse_duration("90s").unwrap(), SimTime::secs(90));
        assert_eq!(SimTime::parse_duration("250ms").unwrap(), SimTime::ms(250));
        assert!(SimTime::parse_duration("3 weeks").is_err());
        assert_eq!(
            ClockMode::parse("x60").unwrap(),
            ClockMode::Accelerated(60.0)
        );
        assert!(ClockMode::parse("x0").is_err());
        assert_eq!(
            ClockMode::parse("x1e6").unwrap(),
            ClockMode::Accelerated(1e6)
        );
        for bad in ["x1e-20", "x1e7", "xNaN", "xinf", "x-1"] {
            let e = ClockMode::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(
            SimTime::minutes(7).floor(SimTime::minutes(5)),
            SimTime::minutes(5)
        );
        assert_eq!(SimTime(-1).floor(SimTime::minutes(5)), SimTime::minutes(-5));
    }
}
