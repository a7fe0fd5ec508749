//! Shapes taken from real data, so the world moves like the places it imitates.
//!
//! `scripts/calibrate.py` reduces the real data sets (see `data/README.md`) to
//! the small tables in `data/profiles/`; they are compiled in here so that a
//! scenario needs no file but its own. Each profile is a pure function of
//! time or of a fraction, interpolated linearly between table rows.

use std::sync::OnceLock;

use crate::calendar::Civil;

/// Rows of a calibration CSV: `#` comments and the header are skipped.
fn rows(text: &'static str) -> impl Iterator<Item = Vec<f64>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse().expect("calibration tables are numeric"))
                .collect()
        })
}

/// Linear interpolation in a table of (x, y) sorted by x, clamped at the ends.
fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    match table.iter().position(|&(tx, _)| tx >= x) {
        Some(0) => table[0].1,
        None => table[table.len() - 1].1,
        Some(i) => {
            let ((x0, y0), (x1, y1)) = (table[i - 1], table[i]);
            y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        }
    }
}

/// The seasonal NDVI of a temperate cropland (Sentinel-2 patch, 2015–2017),
/// by day of year: about 0.25 in winter, 0.70 in early summer.
pub fn ndvi_season(day_of_year: f64) -> f64 {
    static TABLE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t: Vec<(f64, f64)> = rows(include_str!("../../data/profiles/ndvi_season.csv"))
            .map(|r| (r[1], r[3]))
            .collect();
        // Wrap around the year so interpolation is circular.
        let (first, last) = (t[0], t[t.len() - 1]);
        t.insert(0, (last.0 - 365.0, last.1));
        t.push((first.0 + 365.0, first.1));
        t
    });
    interpolate(table, day_of_year.rem_euclid(365.0))
}

/// The lowest and highest values of [`ndvi_season`], to rescale it.
pub fn ndvi_season_range() -> (f64, f64) {
    (0..365)
        .map(|d| ndvi_season(d as f64))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Road traffic relative to the busiest hour of the week (I-94, 2016–2018),
/// 0..1, interpolated between hours.
pub fn traffic_level(at: Civil) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        rows(include_str!("../../data/profiles/traffic_week.csv"))
            .map(|r| r[2])
            .collect()
    });
    let hour_of_week = at.weekday as f64 * 24.0 + at.hour;
    let i = hour_of_week.floor() as usize % 168;
    let f = hour_of_week.fract();
    table[i] * (1.0 - f) + table[(i + 1) % 168] * f
}

/// One hour of the air-quality day: NO2 and CO relative to their means, and
/// the mean temperature (°C) and relative humidity (%) at that hour.
#[derive(Clone, Copy, Debug)]
pub struct AirHour {
    pub no2: f64,
    pub co: f64,
    pub temperature_c: f64,
    pub humidity_pct: f64,
}

/// The diurnal air-quality shape (UCI Air Quality, 2004–2005), weekday or
/// weekend, interpolated between hours.
pub fn air_hour(at: Civil) -> AirHour {
    static TABLE: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    let table = TABLE
        .get_or_init(|| rows(include_str!("../../data/profiles/air_quality_day.csv")).collect());
    let base = if at.weekday >= 5 { 24 } else { 0 };
    let i = at.hour.floor() as usize % 24;
    let f = at.hour.fract();
    let (a, b) = (&table[base + i], &table[base + (i + 1) % 24]);
    let mix = |k: usize| a[k] * (1.0 - f) + b[k] * f;
    AirHour {
        no2: mix(2),
        co: mix(3),
        temperature_c: mix(4),
        humidity_pct: mix(5),
    }
}

/// Degradation (0 new, 1 failed) at a fraction of life, from the mean
/// health-index trajectory of the C-MAPSS FD001 engines: flat for the first
/// quarter, then accelerating towards failure.
pub fn degradation(life_fraction: f64) -> f64 {
    static TABLE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        rows(include_str!("../../data/profiles/cmapss_degradation.csv"))
            .map(|r| (r[0], r[1]))
            .collect()
    });
    // The table has evenly spaced rows: index directly (this runs for every
    // machine at every tick).
    let steps = (table.len() - 1) as f64;
    let x = life_fraction.max(0.0) * steps;
    let i = x as usize;
    if i >= table.len() - 1 {
        return if life_fraction >= 1.0 {
            1.0
        } else {
            table[table.len() - 1].1
        };
    }
    let f = x - i as f64;
    table[i].1 * (1.0 - f) + table[i + 1].1 * f
}

/// The wear paths of the 100 FD001 training engines, in unit order: per
/// cycle, the standardised wear (positive with wear, about −0.7 new and
/// 2.3 at failure) of four groups of the engine's trending sensors, which
/// the factory reads as vibration, temperature, pressure and current.
pub fn paths() -> &'static [Vec<[f32; 4]>] {
    static TABLE: OnceLock<Vec<Vec<[f32; 4]>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out: Vec<Vec<[f32; 4]>> = Vec::new();
        for r in rows(include_str!("../../data/profiles/cmapss_paths.csv")) {
            let unit = r[0] as usize;
            if out.len() < unit {
                out.push(Vec::new());
            }
            out[unit - 1].push([r[2] as f32, r[3] as f32, r[4] as f32, r[5] as f32]);
        }
        out
    })
}

/// Lifetimes, in cycles, of the C-MAPSS FD001 training engines (128 to 362).
pub fn lifetimes() -> &'static [f64] {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        rows(include_str!("../../data/profiles/cmapss_lifetimes.csv"))
            .map(|r| r[1])
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_its_path_and_wears_along_it() {
        let (paths, lives) = (paths(), lifetimes());
        assert_eq!(paths.len(), 100);
        for (p, life) in paths.iter().zip(lives) {
            assert_eq!(p.len(), *life as usize);
            let mean =
                |rows: &[[f32; 4]]| rows.iter().flatten().sum::<f32>() / (4 * rows.len()) as f32;
            // Each starts where it starts (engines differ when new) and
            // wears by well over a standard deviation to failure.
            let (new, failing) = (mean(&p[..10]), mean(&p[p.len() - 10..]));
            assert!(new < 0.3 && failing > 1.5 && failing - new > 1.5);
        }
    }

    #[test]
    fn the_profiles_keep_the_shapes_of_their_data() {
        // NDVI: winter low, summer high.
        assert!(ndvi_season(15.0) < 0.35 && ndvi_season(180.0) > 0.65);
        // Continuity across new year.
        assert!((ndvi_season(364.9) - ndvi_season(0.1)).abs() < 0.02);
        // Traffic: Monday 8:00 far busier than Monday 3:00, Sunday 8:00 quieter.
        let at = |weekday, hour| Civil {
            weekday,
            hour,
            day_of_year: 100.0,
        };
        assert!(traffic_level(at(0, 7.5)) > 4.0 * traffic_level(at(0, 3.0)));
        assert!(traffic_level(at(6, 7.5)) < 0.5 * traffic_level(at(0, 7.5)));
        // Air: the evening NO2 peak of a weekday is above the night.
        assert!(air_hour(at(2, 19.0)).no2 > 1.5 * air_hour(at(2, 4.0)).no2);
        // Degradation: monotone from 0 to 1, convex.
        assert_eq!(degradation(0.0), 0.0);
        assert!(degradation(0.5) < 0.2 && degradation(0.95) > 0.7);
        assert_eq!(degradation(1.2), 1.0);
        assert_eq!(lifetimes().len(), 100);
        let min = lifetimes().iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(min, 128.0);
    }
}
