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

const GREEN: [u8; 3] = [40, 180, 90];
const GREY: [u8; 3] = [120, 140, 170];
const AMBER: [u8; 3] = [240, 180, 0];
const PURPLE: [u8; 3] = [150, 90, 210];
const ORANGE: [u8; 3] = [230, 120, 30];
const RED: [u8; 3] = [220, 40, 40];

/// Every status word the runtime reports (machine status, sensor quality,
/// vehicle status, zone alarm level, crop health): how bad it is, 0 fine to
/// 4 failed, and its colour. The map's cells and markers both read it.
const STATUSES: &[(&str, u8, [u8; 3])] = &[
    ("running", 0, GREEN),
    ("ok", 0, GREEN),
    ("normal", 0, GREEN),
    ("healthy", 0, GREEN),
    ("in_service", 0, GREEN),
    ("en_route", 0, GREEN),
    ("idle", 1, GREY),
    ("parked", 1, GREY),
    ("unknown", 1, GREY),
    ("", 1, GREY),
    ("warning", 2, AMBER),
    ("uncertain", 2, AMBER),
    ("stressed", 2, AMBER),
    ("maintenance", 2, PURPLE),
    ("stale", 3, ORANGE),
    ("stuck", 3, ORANGE),
    ("out_of_range", 3, ORANGE),
    ("down", 4, RED),
    ("bad", 4, RED),
    ("critical", 4, RED),
    ("out_of_service", 4, RED),
];

/// The colour of a status word (grey for a word it does not know).
pub fn status(word: &str) -> Color32 {
    STATUSES
        .iter()
        .find(|s| s.0 == word)
        .map_or(Color32::GRAY, |s| Color32::from_rgb(s.2[0], s.2[1], s.2[2]))
}

/// How bad a status word is, 0 fine to 4 failed (1 for a word it does not know).
pub fn status_rank(word: &str) -> u8 {
    STATUSES.iter().find(|s| s.0 == word).map_or(1, |s| s.1)
}

/// Alert severities (twin.v1 `Severity`: 0 info, 1 warning, 2 critical).
/// The outline of a parcel with an irrigation plan: watering, or held
/// back for rain.
pub fn plan(state: twin_proto::v1::PlanState) -> Color32 {
    match state {
        twin_proto::v1::PlanState::Running => Color32::from_rgb(30, 90, 220),
        _ => Color32::from_rgb(130, 190, 240),
    }
}

pub fn severity(level: i32) -> Color32 {
    match level {
        2 => Color32::from_rgb(220, 40, 40),
        1 => Color32::from_rgb(240, 180, 0),
        _ => Color32::from_rgb(80, 150, 230),
    }
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
}
