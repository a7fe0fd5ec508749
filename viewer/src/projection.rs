//! Web-Mercator projection and a pannable, zoomable viewport.
//!
//! World coordinates are the unit square of Web Mercator (EPSG:3857 scaled to
//! [0, 1], x east, y south), the same as slippy-map tiles at zoom 0. Working in
//! that square keeps pan and zoom plain affine maps, and screen pixels are
//! world units × `scale`.

use std::f64::consts::PI;

/// Latitude beyond which Web Mercator is cut (the square's edge).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Longitude/latitude in degrees → world unit square.
pub fn project(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    (x, y)
}

/// World unit square → longitude/latitude in degrees.
pub fn unproject(x: f64, y: f64) -> (f64, f64) {
    let lon = x * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees();
    (lon, lat)
}

/// What part of the world a map of `size` pixels shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    /// World coordinates at the centre of the screen.
    pub centre: (f64, f64),
    /// Pixels per world unit (256 × 2^zoom in slippy-map terms).
    pub scale: f64,
    /// Screen size in pixels.
    pub size: (f64, f64),
}

impl Viewport {
    /// The viewport that shows the lon/lat box with a margin of `margin` (0.1 = 10 %).
    pub fn fit(min: (f64, f64), max: (f64, f64), size: (f64, f64), margin: f64) -> Viewport {
        let (x0, y1) = project(min.0, min.1);
        let (x1, y0) = project(max.0, max.1);
        let w = (x1 - x0).abs().max(1e-9) * (1.0 + margin);
        let h = (y1 - y0).abs().max(1e-9) * (1.0 + margin);
        Viewport {
            centre: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            scale: (size.0 / w).min(size.1 / h),
            size,
        }
    }

    /// World → screen pixels (origin top left).
    pub fn to_screen(&self, world: (f64, f64)) -> (f64, f64) {
        (
            (world.0 - self.centre.0) * self.scale + self.size.0 / 2.0,
            (world.1 - self.centre.1) * self.scale + self.size.1 / 2.0,
        )
    }

    /// Screen pixels → world.
    pub fn to_world(&self, screen: (f64, f64)) -> (f64, f64) {
        (
            (screen.0 - self.size.0 / 2.0) / self.scale + self.centre.0,
            (screen.1 - self.size.1 / 2.0) / self.scale + self.centre.1,
        )
    }

    /// Moves the map by a drag of `delta` pixels.
    pub fn pan(&mut self, delta: (f64, f64)) {
        self.centre.0 -= delta.0 / self.scale;
        self.centre.1 -= delta.1 / self.scale;
    }

    /// Zooms by `factor` keeping the point under `cursor` where it is.
    pub fn zoom_at(&mut self, cursor: (f64, f64), factor: f64) {
        let before = self.to_world(cursor);
        self.scale = (self.scale * factor).clamp(1.0, 256.0 * 2f64.powi(24));
        let after = self.to_world(cursor);
        self.centre.0 += before.0 - after.0;
        self.centre.1 += before.1 - after.1;
    }

    /// Metres per pixel at a latitude, for scale bars and radius circles.
    pub fn metres_per_pixel(&self, lat: f64) -> f64 {
        const EARTH_CIRCUMFERENCE_M: f64 = 40_075_016.686;
        EARTH_CIRCUMFERENCE_M * lat.to_radians().cos() / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_round_trips_and_matches_tiles() {
        for (lon, lat) in [(0.0, 0.0), (2.35, 48.85), (-6.6, 5.8), (151.2, -33.9)] {
            let (x, y) = project(lon, lat);
            let (lo, la) = unproject(x, y);
            assert!((lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9);
        }
        // Paris is in tile (8, 5) at zoom 4.
        let (x, y) = project(2.35, 48.85);
        assert_eq!(((x * 16.0) as u32, (y * 16.0) as u32), (8, 5));
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut v = Viewport::fit((2.3, 48.8), (2.4, 48.9), (800.0, 600.0), 0.1);
        let cursor = (600.0, 150.0);
        let before = v.to_world(cursor);
        v.zoom_at(cursor, 2.0);
        let after = v.to_world(cursor);
        assert!((before.0 - after.0).abs() < 1e-12 && (before.1 - after.1).abs() < 1e-12);
        let p = project(2.35, 48.85);
        let s = v.to_screen(p);
        v.pan((10.0, -5.0));
        let s2 = v.to_screen(p);
        assert!((s2.0 - s.0 - 10.0).abs() < 1e-6 && (s2.1 - s.1 + 5.0).abs() < 1e-6);
    }

    #[test]
    fn fit_shows_the_whole_box() {
        let v = Viewport::fit((-6.62, 5.78), (-6.58, 5.82), (1000.0, 500.0), 0.0);
        for corner in [(-6.62, 5.78), (-6.58, 5.82)] {
            let (x, y) = v.to_screen(project(corner.0, corner.1));
            assert!(
                (-1e-6..=1000.0 + 1e-6).contains(&x) && (-1e-6..=500.0 + 1e-6).contains(&y),
                "{x},{y}"
            );
        }
        let m = v.metres_per_pixel(5.8);
        assert!(m > 8.5 && m < 9.3, "{m}"); // 0.04° of latitude ≈ 4.45 km over 500 px
    }
}
