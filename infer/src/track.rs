//! Where a vehicle is, from what its trackers report: a Kalman filter over
//! position and velocity in a local plane.
//!
//! GPS fixes are noisy, arrive late or not at all (tunnels, urban canyons)
//! and now and then jump by hundreds of metres (multipath). Speed and
//! heading, from the vehicle's own instruments, say how it moves between
//! fixes. The filter keeps `[east, north, v_east, v_north]` with its
//! covariance under a constant-velocity model whose acceleration is white
//! noise; a fix measures the position, a speed and heading pair the
//! velocity. Between measurements the estimate coasts and its uncertainty
//! grows. A measurement whose innovation is implausible under the current
//! uncertainty (squared Mahalanobis distance above the 99.9 % point of a
//! χ² with two degrees of freedom) is rejected; after several rejections in
//! a row the filter trusts the new fixes instead of its own past (the
//! vehicle was moved, or the filter was wrong) and restarts from the next.
//!
//! The plane is tangent at the first fix (equirectangular): across a city
//! its distortion is far below GPS noise. State is a few dozen numbers per
//! vehicle, whatever the length of its journey.

use nalgebra::{Matrix2, Matrix2x4, Matrix4, Vector2, Vector4};
use serde::{Deserialize, Serialize};

/// Mean Earth radius, metres.
const EARTH_M: f64 = 6_371_008.8;
/// χ² with two degrees of freedom, 99.9 %.
const GATE: f64 = 13.82;
/// Rejections in a row after which the filter restarts on the next fix.
const MAX_REJECTED: u32 = 5;

/// Noise the filter assumes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Config {
    /// Standard deviation of a GPS fix per axis, metres.
    pub gps_m: f64,
    /// Standard deviation of a speed reading, m/s.
    pub speed_ms: f64,
    /// Standard deviation of a heading reading, degrees.
    pub heading_deg: f64,
    /// Standard deviation of the vehicle's acceleration, m/s².
    pub accel_ms2: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            gps_m: 8.0,
            speed_ms: 0.5,
            heading_deg: 5.0,
            accel_ms2: 1.0,
        }
    }
}

/// What became of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Used.
    Fused,
    /// Too far from what the filter expected; not used.
    Rejected,
    /// The filter had no position yet and started from this one.
    Started,
    /// Older than the filter's last update; not used.
    Stale,
}

/// The filter's belief about a vehicle at some moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lon: f64,
    pub lat: f64,
    /// Velocity, m/s, east and north.
    pub velocity: (f64, f64),
    /// Standard deviation of the position, metres (root of the mean of the
    /// two axes' variances).
    pub sigma_m: f64,
}

/// One vehicle's filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Track {
    config: Config,
    /// Tangent point (lon, lat) and metres per degree of longitude there.
    origin: Option<(f64, f64, f64)>,
    /// Time of the state, seconds.
    t: f64,
    x: Vector4<f64>,
    p: Matrix4<f64>,
    rejected: u32,
}

impl Track {
    pub fn new(config: Config) -> Track {
        Track {
            config,
            origin: None,
            t: 0.0,
            x: Vector4::zeros(),
            p: Matrix4::identity(),
            rejected: 0,
        }
    }

    fn to_plane(&self, lon: f64, lat: f64) -> Vector2<f64> {
        let (lon0, lat0, per_lon) = self.origin.expect("origin set");
        let per_lat = EARTH_M.to_radians();
        Vector2::new((lon - lon0) * per_lon, (lat - lat0) * per_lat)
    }

    fn start(&mut self, t: f64, lon: f64, lat: f64) {
        let per_lon = EARTH_M.to_radians() * lat.to_radians().cos();
        self.origin = Some((lon, lat, per_lon));
        self.t = t;
        let g = self.config.gps_m.powi(2);
        // Unknown velocity: a city vehicle moves at most about 30 m/s.
        self.x = Vector4::zeros();
        self.p = Matrix4::from_diagonal(&Vector4::new(g, g, 225.0, 225.0));
        self.rejected = 0;
    }

    /// State and covariance moved forward to `t` (no change if `t` is not
    /// later).
    fn predicted(&self, t: f64) -> (Vector4<f64>, Matrix4<f64>) {
        let dt = (t - self.t).max(0.0);
        if dt == 0.0 {
            return (self.x, self.p);
        }
        let mut f = Matrix4::identity();
        f[(0, 2)] = dt;
        f[(1, 3)] = dt;
        let q = self.config.accel_ms2.powi(2);
        let (dt2, dt3, dt4) = (dt * dt, dt * dt * dt, dt * dt * dt * dt);
        let mut qm = Matrix4::zeros();
        for axis in 0..2 {
            qm[(axis, axis)] = dt4 / 4.0 * q;
            qm[(axis, axis + 2)] = dt3 / 2.0 * q;
            qm[(axis + 2, axis)] = dt3 / 2.0 * q;
            qm[(axis + 2, axis + 2)] = dt2 * q;
        }
        (f * self.x, f * self.p * f.transpose() + qm)
    }

    /// Fuses a measurement `z = H x + noise(r)` taken at `t`.
    fn update(&mut self, t: f64, h: Matrix2x4<f64>, z: Vector2<f64>, r: Matrix2<f64>) -> Verdict {
        let (x, p) = self.predicted(t);
        let innovation = z - h * x;
        let s = h * p * h.transpose() + r;
        let Some(s_inv) = s.try_inverse() else {
            return Verdict::Rejected;
        };
        let d2 = (innovation.transpose() * s_inv * innovation)[(0, 0)];
        if !d2.is_finite() || d2 > GATE {
            return Verdict::Rejected;
        }
        let k = p * h.transpose() * s_inv;
        // Joseph form: stays symmetric and positive under rounding.
        let i_kh = Matrix4::identity() - k * h;
        self.p = i_kh * p * i_kh.transpose() + k * r * k.transpose();
        self.x = x + k * innovation;
        self.t = t;
        Verdict::Fused
    }

    /// A GPS fix at `t` seconds. Only fixes count towards a restart: a
    /// filter whose fixes are all rejected has lost the vehicle, however
    /// well its velocity agrees.
    pub fn fix(&mut self, t: f64, lon: f64, lat: f64) -> Verdict {
        if !(t.is_finite() && lon.is_finite() && lat.is_finite()) {
            return Verdict::Rejected;
        }
        if self.origin.is_none() || self.rejected >= MAX_REJECTED {
            self.start(t, lon, lat);
            return Verdict::Started;
        }
        if t < self.t {
            return Verdict::Stale;
        }
        let g = self.config.gps_m.powi(2);
        let h = Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        let verdict = self.update(
            t,
            h,
            self.to_plane(lon, lat),
            Matrix2::from_diagonal(&Vector2::new(g, g)),
        );
        match verdict {
            Verdict::Rejected => self.rejected += 1,
            _ => self.rejected = 0,
        }
        verdict
    }

    /// A speed (m/s) and heading (degrees clockwise from north) taken
    /// together at `t` seconds.
    pub fn velocity(&mut self, t: f64, speed_ms: f64, heading_deg: f64) -> Verdict {
        if self.origin.is_none() {
            return Verdict::Stale;
        }
        if !(speed_ms.is_finite() && heading_deg.is_finite()) || speed_ms < 0.0 {
            return Verdict::Rejected;
        }
        if t < self.t {
            return Verdict::Stale;
        }
        let (s, c) = heading_deg.to_radians().sin_cos();
        let z = Vector2::new(speed_ms * s, speed_ms * c);
        // Noise of (v sin h, v cos h) from that of v and h, to first order.
        let j = Matrix2::new(s, speed_ms * c, c, -speed_ms * s);
        let sv = Matrix2::from_diagonal(&Vector2::new(
            self.config.speed_ms.powi(2),
            self.config.heading_deg.to_radians().powi(2),
        ));
        // A floor keeps the update sane for a vehicle at rest.
        let r = j * sv * j.transpose() + Matrix2::identity() * 1e-4;
        let h = Matrix2x4::new(0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        // The velocity is the one the vehicle held since the last update
        // (a receiver reports the speed and heading of the fix it gives
        // with them): it is fused at the start of that interval, and the
        // state then moves on with it, so that the position follows a turn
        // or a stop at once instead of a fix later.
        let verdict = match self.update(self.t, h, z, r) {
            Verdict::Rejected => {
                // A turn or a stop, not an outlier (a speedometer and a
                // compass do not jump by metres per second): the velocity
                // is the measured one, known as well as it was measured.
                self.x[2] = z[0];
                self.x[3] = z[1];
                for i in 0..2 {
                    for k in 2..4 {
                        self.p[(i, k)] = 0.0;
                        self.p[(k, i)] = 0.0;
                    }
                }
                self.p[(2, 2)] = r[(0, 0)];
                self.p[(3, 3)] = r[(1, 1)];
                self.p[(2, 3)] = r[(0, 1)];
                self.p[(3, 2)] = r[(1, 0)];
                Verdict::Fused
            }
            v => v,
        };
        // The interval's displacement is that velocity times its length:
        // no acceleration noise on the position, only on the velocity
        // that the next interval starts from.
        let dt = (t - self.t).max(0.0);
        let mut f = Matrix4::identity();
        f[(0, 2)] = dt;
        f[(1, 3)] = dt;
        let q = self.config.accel_ms2.powi(2) * dt * dt;
        self.x = f * self.x;
        self.p = f * self.p * f.transpose() + Matrix4::from_diagonal(&Vector4::new(0.0, 0.0, q, q));
        self.t = self.t.max(t);
        verdict
    }

    /// The belief at `t` seconds (coasting from the last update); `None`
    /// before the first fix.
    pub fn at(&self, t: f64) -> Option<Position> {
        let (lon0, lat0, per_lon) = self.origin?;
        let (x, p) = self.predicted(t);
        let per_lat = EARTH_M.to_radians();
        Some(Position {
            lon: lon0 + x[0] / per_lon,
            lat: lat0 + x[1] / per_lat,
            velocity: (x[2], x[3]),
            sigma_m: ((p[(0, 0)] + p[(1, 1)]) / 2.0).sqrt(),
        })
    }
}

/// Metres between two WGS84 points (haversine).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_M * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vehicle driving east then north at 10 m/s near Lyon, fixes every
    /// second with noise from a fixed sequence.
    fn drive(seconds: usize) -> Vec<(f64, (f64, f64), f64, f64)> {
        let (lon0, lat0) = (4.85f64, 45.75f64);
        let per_lat = EARTH_M.to_radians();
        let per_lon = per_lat * lat0.to_radians().cos();
        (0..seconds)
            .map(|t| {
                let (e, n, heading) = if t < seconds / 2 {
                    (10.0 * t as f64, 0.0, 90.0)
                } else {
                    (
                        10.0 * (seconds / 2) as f64,
                        10.0 * (t - seconds / 2) as f64,
                        0.0,
                    )
                };
                (
                    t as f64,
                    (lon0 + e / per_lon, lat0 + n / per_lat),
                    10.0,
                    heading,
                )
            })
            .collect()
    }

    fn noise(k: usize) -> f64 {
        // Deterministic, zero-mean, spread about ±1.7 (σ ≈ 1).
        let u = ((k as u64).wrapping_mul(2654435761) % 10_000) as f64 / 10_000.0;
        (u - 0.5) * 3.46
    }

    fn noisy((lon, lat): (f64, f64), k: usize, sigma: f64) -> (f64, f64) {
        let per_lat = EARTH_M.to_radians();
        let per_lon = per_lat * lat.to_radians().cos();
        (
            lon + sigma * noise(2 * k) / per_lon,
            lat + sigma * noise(2 * k + 7919) / per_lat,
        )
    }

    #[test]
    fn fusing_beats_the_raw_fixes_and_rejects_a_jump() {
        let path = drive(240);
        let mut track = Track::new(Config::default());
        let (mut raw, mut est, mut n) = (0.0, 0.0, 0);
        for (k, &(t, truth, speed, heading)) in path.iter().enumerate() {
            let mut fix = noisy(truth, k, 8.0);
            if k == 150 {
                fix = noisy(truth, k, 8.0);
                fix.1 += 0.005; // about 550 m north: multipath
                assert_eq!(track.fix(t, fix.0, fix.1), Verdict::Rejected);
            } else {
                track.fix(t, fix.0, fix.1);
            }
            track.velocity(t, speed, heading);
            if k >= 20 && k != 150 {
                raw += distance_m(fix, truth).powi(2);
                est += distance_m(
                    {
                        let p = track.at(t).unwrap();
                        (p.lon, p.lat)
                    },
                    truth,
                )
                .powi(2);
                n += 1;
            }
        }
        let (raw, est) = ((raw / n as f64).sqrt(), (est / n as f64).sqrt());
        assert!(
            est < 0.5 * raw,
            "estimate RMSE {est:.2} m, raw fixes {raw:.2} m"
        );
    }

    #[test]
    fn coasts_through_a_dropout_with_growing_uncertainty() {
        let path = drive(100);
        let mut track = Track::new(Config::default());
        for (k, &(t, truth, speed, heading)) in path[..40].iter().enumerate() {
            let fix = noisy(truth, k, 8.0);
            track.fix(t, fix.0, fix.1);
            track.velocity(t, speed, heading);
        }
        let before = track.at(39.0).unwrap().sigma_m;
        let after = track.at(49.0).unwrap();
        assert!(after.sigma_m > before, "{} ≤ {before}", after.sigma_m);
        let err = distance_m((after.lon, after.lat), path[49].1);
        assert!(err < 15.0, "after 10 s without a fix: {err:.1} m off");
    }

    #[test]
    fn restarts_after_a_run_of_rejections() {
        let mut track = Track::new(Config::default());
        for t in 0..30 {
            track.fix(t as f64, 4.85, 45.75);
            track.velocity(t as f64, 0.0, 0.0);
        }
        // The vehicle was towed 2 km away: the fixes agree with each other.
        let mut verdicts = Vec::new();
        for t in 30..40 {
            verdicts.push(track.fix(t as f64, 4.876, 45.75));
        }
        assert_eq!(&verdicts[..MAX_REJECTED as usize], &[Verdict::Rejected; 5]);
        assert_eq!(verdicts[MAX_REJECTED as usize], Verdict::Started);
        let p = track.at(39.0).unwrap();
        assert!(distance_m((p.lon, p.lat), (4.876, 45.75)) < 10.0);
        assert_eq!(track.fix(f64::NAN, 0.0, 0.0), Verdict::Rejected);
    }
}
