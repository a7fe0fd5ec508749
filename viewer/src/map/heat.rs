//! The pollution heat map (seed 003): PM2.5 between the stations that
//! measure it, by inverse-distance weighting on screen cells, coloured by
//! its AQI. Only over the stations' extent (a margin around them): beyond
//! it nothing is known.

use egui::{Painter, Rect, Vec2, pos2};

use crate::colors;
use crate::model::Twin;

/// Side of a heat cell, points.
const CELL: f32 = 16.0;
/// How far past the outermost stations the map is coloured, points.
const MARGIN: f32 = 60.0;

/// Inverse-distance weighted value at `at` from `(position, value)`
/// samples (power 2); a sample on the spot gives its own value.
pub fn idw(samples: &[(egui::Pos2, f64)], at: egui::Pos2) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (p, v) in samples {
        let d2 = p.distance_sq(at) as f64;
        if d2 < 1e-6 {
            return Some(*v);
        }
        let w = 1.0 / d2;
        num += w * v;
        den += w;
    }
    (den > 0.0).then(|| num / den)
}

/// Paints the heat map under everything else. `to_screen` places a
/// station; `now` is the viewer's clock for positions.
pub fn paint(
    painter: &Painter,
    rect: Rect,
    twin: &Twin,
    now: f64,
    to_screen: &dyn Fn(crate::model::P) -> egui::Pos2,
) {
    let samples: Vec<(egui::Pos2, f64)> = twin
        .items
        .iter()
        .filter_map(|i| Some((to_screen(i.position(now)?), i.number("pm25")?)))
        .collect();
    if samples.len() < 2 {
        return;
    }
    let extent = samples
        .iter()
        .fold(Rect::NOTHING, |r, (p, _)| r.union(Rect::from_pos(*p)))
        .expand(MARGIN)
        .intersect(rect);
    if !extent.is_positive() {
        return;
    }
    let cols = (extent.width() / CELL).ceil() as usize;
    let rows = (extent.height() / CELL).ceil() as usize;
    for r in 0..rows {
        for c in 0..cols {
            let min = extent.min + Vec2::new(c as f32 * CELL, r as f32 * CELL);
            let centre = pos2(min.x + CELL / 2.0, min.y + CELL / 2.0);
            let Some(pm25) = idw(&samples, centre) else {
                continue;
            };
            let fill = colors::AQI
                .at(twin_core::aqi::from_pm25(pm25))
                .gamma_multiply(0.35);
            painter.rect_filled(Rect::from_min_size(min, Vec2::splat(CELL)), 0.0, fill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_fall_with_distance_and_a_station_gives_its_own_value() {
        let s = [(pos2(0.0, 0.0), 10.0), (pos2(100.0, 0.0), 30.0)];
        assert_eq!(idw(&s, pos2(0.0, 0.0)), Some(10.0));
        assert_eq!(idw(&s, pos2(50.0, 0.0)), Some(20.0));
        let near_first = idw(&s, pos2(20.0, 0.0)).unwrap();
        assert!(near_first > 10.0 && near_first < 15.0, "{near_first}");
        assert_eq!(idw(&[], pos2(1.0, 1.0)), None);
    }
}
