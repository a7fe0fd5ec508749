//! Colour ramps and status colours, in one place so that the map, its
//! legend and the panels agree on what a colour means.

use egui::Color32;

/// A piecewise-linear ramp: `(value, colour)` stops in increasing value.
pub struct Ramp(pub &'static [(f64, [u8; 3])]);

impl Ramp {
    pub fn at(&self, v: f64) -> Color32 {
        let stops = self.0;
        let v = if v.is_nan() { stops[0].0 } else { v };
        let i = stops.iter().position(|s| s.0 >= v).unwrap_or(stops.len());
        let rgb = match i {
            0 => stops[0].1,
            i if i == stops.len() => stops[stops.len() - 1].1,
            i => {
                let (a, b) = (stops[i - 1], stops[i]);
                let t = ((v - a.0) / (b.0 - a.0)) as f32;
                let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
                [
                    mix(a.1[0], b.1[0]),
                    mix(a.1[1], b.1[1]),
                    mix(a.1[2], b.1[2]),
                ]
            }
        };
        Color32::from_rgb(rgb[0], rgb[1], rgb[2])
    }

    pub fn min(&self) -> f64 {
        self.0[0].0
    }

    pub fn max(&self) -> f64 {
        self.0[self.0.len() - 1].0
    }
}

/// NDVI: bare soil brown, sparse yellow, dense canopy deep green.
pub const NDVI: Ramp = Ramp(&[
    (0.0, [140, 100, 60]),
    (0.3, [215, 190, 90]),
    (0.5, [150, 200, 80]),
    (0.7, [60, 160, 60]),
    (0.9, [20, 100, 40]),
]);

/// The US AQI bands: good, moderate, unhealthy for sensitive groups,
/// unhealthy, very unhealthy, hazardous.
pub const AQI: Ramp = Ramp(&[
    (0.0, [0, 200, 80]),
    (50.0, [0, 200, 80]),
    (100.0, [240, 220, 0]),
    (150.0, [255, 126, 0]),
    (200.0, [230, 0, 0]),
    (300.0, [143, 63, 151]),
    (500.0, [126, 0, 35]),
]);

/// Occupancy and congestion as a fraction: free green, full red.
pub const OCCUPANCY: Ramp = Ramp(&[
    (0.0, [40, 170, 90]),
    (0.6, [240, 200, 40]),
    (0.9, [230, 60, 30]),
    (1.0, [160, 0, 0]),
]);

/// Disease severity 0–1: pale to dark red.
pub const SEVERITY: Ramp = Ramp(&[
    (0.0, [250, 200, 150]),
    (0.5, [230, 90, 40]),
    (1.0, [120, 0, 0]),
]);

/// The colour of a status word as the runtime reports it (machine status,
/// sensor quality, vehicle status, zone alarm level, crop health).
pub fn status(word: &str) -> Color32 {
    match word {
        "running" | "ok" | "normal" | "healthy" | "in_service" | "en_route" => {
            Color32::from_rgb(40, 180, 90)
        }
        "idle" | "parked" | "unknown" | "" => Color32::from_rgb(120, 140, 170),
        "warning" | "uncertain" | "stressed" => Color32::from_rgb(240, 180, 0),
        "down" | "bad" | "critical" | "out_of_service" => Color32::from_rgb(220, 40, 40),
        "maintenance" => Color32::from_rgb(150, 90, 210),
        "stale" | "stuck" | "out_of_range" => Color32::from_rgb(230, 120, 30),
        _ => Color32::GRAY,
    }
}

/// Alert severities (twin.v1 `Severity`: 0 info, 1 warning, 2 critical).
pub fn severity(level: i32) -> Color32 {
    match level {
        2 => Color32::from_rgb(220, 40, 40),
        1 => Color32::from_rgb(240, 180, 0),
        _ => Color32::from_rgb(80, 150, 230),
    }
}

/// US EPA AQI of a 24-hour PM2.5 concentration (µg/m³), 2024 breakpoints:
/// the figure people read, rather than a concentration.
pub fn aqi_from_pm25(c: f64) -> f64 {
    const BANDS: [(f64, f64, f64, f64); 6] = [
        (0.0, 9.0, 0.0, 50.0),
        (9.1, 35.4, 51.0, 100.0),
        (35.5, 55.4, 101.0, 150.0),
        (55.5, 125.4, 151.0, 200.0),
        (125.5, 225.4, 201.0, 300.0),
        (225.5, 325.4, 301.0, 500.0),
    ];
    let c = (c.max(0.0) * 10.0).floor() / 10.0;
    for (lo, hi, ilo, ihi) in BANDS {
        if c <= hi {
            return ilo + (ihi - ilo) * (c - lo).max(0.0) / (hi - lo);
        }
    }
    500.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_interpolate_and_clamp() {
        assert_eq!(NDVI.at(-1.0), NDVI.at(0.0));
        assert_eq!(NDVI.at(2.0), Color32::from_rgb(20, 100, 40));
        let mid = OCCUPANCY.at(0.3);
        assert_eq!(mid, Color32::from_rgb(140, 185, 65));
    }

    #[test]
    fn aqi_follows_the_epa_breakpoints() {
        assert_eq!(aqi_from_pm25(0.0), 0.0);
        assert_eq!(aqi_from_pm25(9.0), 50.0);
        assert!((aqi_from_pm25(35.4) - 100.0).abs() < 1e-9);
        assert!((aqi_from_pm25(55.5) - 151.0).abs() < 1e-9);
        assert_eq!(aqi_from_pm25(1000.0), 500.0);
    }
}
