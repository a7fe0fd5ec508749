//! Geometry helpers on `geo`, in the units operators think in: hectares and metres.
//!
//! Coordinates are WGS84 longitude/latitude in degrees. Areas are geodesic (exact
//! on the ellipsoid); distances use the haversine great circle, which is within
//! 0.5% and several times cheaper, which matters when filtering many entities.

use geo::{Contains, Distance, GeodesicArea, Haversine, Point, Polygon, Rect};
use serde::{Deserialize, Serialize};

/// Area of a polygon in hectares.
pub fn area_ha(polygon: &Polygon<f64>) -> f64 {
    polygon.geodesic_area_unsigned() / 10_000.0
}

/// Great-circle distance between two points in metres.
pub fn distance_m(a: Point<f64>, b: Point<f64>) -> f64 {
    Haversine.distance(a, b)
}

/// A region used to filter entities: a bounding box, a polygon or a circle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    BBox(Rect<f64>),
    Polygon(Polygon<f64>),
    Circle { centre: Point<f64>, radius_m: f64 },
}

impl Region {
    pub fn contains(&self, p: Point<f64>) -> bool {
        match self {
            Region::BBox(r) => {
                let (min, max) = (r.min(), r.max());
                (min.x..=max.x).contains(&p.x()) && (min.y..=max.y).contains(&p.y())
            }
            Region::Polygon(poly) => poly.contains(&p),
            Region::Circle { centre, radius_m } => distance_m(*centre, p) <= *radius_m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, polygon};

    /// A square of about 100 m × 100 m near Soubré, Côte d'Ivoire.
    fn square() -> Polygon<f64> {
        let d_lat = 100.0 / 111_320.0;
        let d_lon = d_lat / (5.8f64).to_radians().cos();
        polygon![
            (x: -6.6, y: 5.8), (x: -6.6 + d_lon, y: 5.8),
            (x: -6.6 + d_lon, y: 5.8 + d_lat), (x: -6.6, y: 5.8 + d_lat)
        ]
    }

    #[test]
    fn area_of_a_hectare() {
        let a = area_ha(&square());
        assert!((a - 1.0).abs() < 0.02, "{a}");
    }

    #[test]
    fn distance_paris_london() {
        let d = distance_m(Point::new(2.3522, 48.8566), Point::new(-0.1278, 51.5074));
        assert!((d - 343_500.0).abs() < 2_000.0, "{d}");
    }

    #[test]
    fn containment_in_box_polygon_and_circle() {
        let inside = Point::new(-6.5996, 5.8004);
        let outside = Point::new(-6.59, 5.81);
        let bbox = Region::BBox(Rect::new(
            coord! {x: -6.61, y: 5.79},
            coord! {x: -6.599, y: 5.801},
        ));
        let poly = Region::Polygon(square());
        let circle = Region::Circle {
            centre: Point::new(-6.6, 5.8),
            radius_m: 100.0,
        };
        for r in [&bbox, &poly, &circle] {
            assert!(r.contains(inside), "{r:?}");
            assert!(!r.contains(outside), "{r:?}");
        }
    }
}
