//! Zonal statistics: a raster's valid pixels inside each polygon (a pixel
//! counts when its centre is inside), as mean, median, 10th percentile and
//! the fraction of the polygon's pixels that hold data.
//!
//! Polygons come in longitude/latitude (GeoJSON); a raster in a UTM zone
//! (EPSG 326zz north, 327zz south) has them projected first with
//! `proj4rs`, one in EPSG 4326 takes them as they are. Any other system is
//! refused by name rather than misplaced.

use geo::{BoundingRect, Contains, Coord, MapCoords, Point, Polygon};
use serde::Serialize;

use super::Raster;

/// Statistics of one zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneStats {
    pub name: String,
    /// Pixels whose centre is inside the polygon.
    pub pixels: usize,
    pub valid_pixels: usize,
    pub valid_fraction: f64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p10: Option<f64>,
}

/// A map between longitude/latitude and a raster's coordinates, one way
/// (`None` where it fails).
pub type Projection = Box<dyn Fn(f64, f64) -> Option<(f64, f64)>>;

/// How polygons in longitude/latitude reach a raster's coordinates.
pub fn to_raster_crs(epsg: Option<u16>) -> Result<Projection, String> {
    projection(epsg, true)
}

/// How a raster's coordinates reach longitude/latitude (to draw it on a map).
pub fn from_raster_crs(epsg: Option<u16>) -> Result<Projection, String> {
    projection(epsg, false)
}

fn projection(epsg: Option<u16>, to_raster: bool) -> Result<Projection, String> {
    match epsg {
        Some(4326) => Ok(Box::new(|x, y| Some((x, y)))),
        Some(code @ (32601..=32660 | 32701..=32760)) => {
            let (zone, south) = if code > 32700 {
                (code - 32700, " +south")
            } else {
                (code - 32600, "")
            };
            let lonlat = proj4rs::Proj::from_proj_string("+proj=longlat +datum=WGS84")
                .map_err(|e| e.to_string())?;
            let utm = proj4rs::Proj::from_proj_string(&format!(
                "+proj=utm +zone={zone}{south} +datum=WGS84 +units=m"
            ))
            .map_err(|e| e.to_string())?;
            Ok(if to_raster {
                Box::new(move |lon: f64, lat: f64| {
                    let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
                    proj4rs::transform::transform(&lonlat, &utm, &mut p).ok()?;
                    Some((p.0, p.1))
                })
            } else {
                Box::new(move |x: f64, y: f64| {
                    let mut p = (x, y, 0.0);
                    proj4rs::transform::transform(&utm, &lonlat, &mut p).ok()?;
                    Some((p.0.to_degrees(), p.1.to_degrees()))
                })
            })
        }
        Some(other) => Err(format!(
            "the raster is in EPSG:{other}; only EPSG:4326 and the WGS 84 UTM zones (326zz, 327zz) are placed on the Earth"
        )),
        None => Err("the raster has no coordinate system (no GeoKeyDirectory): its pixels cannot be placed on the Earth".into()),
    }
}

/// Statistics of `raster` (masked pixels are its no-data value or NaN)
/// inside each named polygon, given in longitude/latitude.
pub fn zonal(raster: &Raster, zones: &[(String, Polygon<f64>)]) -> Result<Vec<ZoneStats>, String> {
    let project = to_raster_crs(raster.geo.epsg())?;
    let mut out = Vec::with_capacity(zones.len());
    for (name, polygon) in zones {
        let failed = std::cell::Cell::new(false);
        let projected = polygon.map_coords(|c| match project(c.x, c.y) {
            Some((x, y)) => Coord { x, y },
            None => {
                failed.set(true);
                c
            }
        });
        if failed.get() {
            return Err(format!(
                "{name}: a vertex could not be projected onto the raster"
            ));
        }
        out.push(zone(raster, name, &projected)?);
    }
    Ok(out)
}

fn zone(raster: &Raster, name: &str, polygon: &Polygon<f64>) -> Result<ZoneStats, String> {
    let geo = &raster.geo;
    let Some(rect) = polygon.bounding_rect() else {
        return Err(format!("{name}: an empty polygon"));
    };
    // The pixel window the polygon's bounding box covers, clamped.
    let corners = [
        geo.to_pixel(rect.min().x, rect.min().y),
        geo.to_pixel(rect.max().x, rect.max().y),
    ];
    let [Some(a), Some(b)] = corners else {
        return Err("the raster is not georeferenced".into());
    };
    let clamp = |v: f64, n: usize| (v.max(0.0) as usize).min(n);
    let (c0, c1) = (
        clamp(a.0.min(b.0).floor(), raster.width),
        clamp(a.0.max(b.0).ceil() + 1.0, raster.width),
    );
    let (r0, r1) = (
        clamp(a.1.min(b.1).floor(), raster.height),
        clamp(a.1.max(b.1).ceil() + 1.0, raster.height),
    );
    let (mut pixels, mut values) = (0usize, Vec::new());
    for row in r0..r1 {
        for col in c0..c1 {
            let Some((x, y)) = geo.pixel_centre(col as f64, row as f64) else {
                continue;
            };
            if polygon.contains(&Point::new(x, y)) {
                pixels += 1;
                let v = raster.data[row * raster.width + col];
                if raster.is_data(v) {
                    values.push(f64::from(v));
                }
            }
        }
    }
    values.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        (!values.is_empty()).then(|| {
            let pos = q * (values.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
        })
    };
    Ok(ZoneStats {
        name: name.to_string(),
        pixels,
        valid_pixels: values.len(),
        valid_fraction: if pixels == 0 {
            0.0
        } else {
            values.len() as f64 / pixels as f64
        },
        mean: (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64),
        median: quantile(0.5),
        p10: quantile(0.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{GeoRef, epsg_keys};
    use geo::polygon;

    /// A 4×4 raster of 1° pixels from (0, 4) down to (4, 0) in EPSG:4326,
    /// pixel (col, row) = 10·row + col, pixel (3, 3) no data.
    fn grid() -> Raster {
        let mut data: Vec<f32> = (0..16).map(|i| (10 * (i / 4) + i % 4) as f32).collect();
        data[15] = -1.0;
        Raster {
            width: 4,
            height: 4,
            data,
            nodata: Some(-1.0),
            geo: GeoRef {
                pixel_scale: Some(vec![1.0, 1.0, 0.0]),
                tiepoint: Some(vec![0.0, 0.0, 0.0, 0.0, 4.0, 0.0]),
                geo_keys: Some(epsg_keys(4326)),
                ..GeoRef::default()
            },
        }
    }

    #[test]
    fn a_hand_checked_polygon() {
        // Covers the centres of columns 2-3, rows 2-3: values 22, 23, 32
        // and the masked 33.
        let p = polygon![(x: 2.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 2.0), (x: 2.0, y: 2.0)];
        let z = zonal(&grid(), &[("p".into(), p)]).unwrap();
        let z = &z[0];
        assert_eq!((z.pixels, z.valid_pixels), (4, 3));
        assert_eq!(z.valid_fraction, 0.75);
        assert_eq!(z.mean, Some((22.0 + 23.0 + 32.0) / 3.0));
        assert_eq!(z.median, Some(23.0));
        assert!((z.p10.unwrap() - 22.2).abs() < 1e-9);
    }

    #[test]
    fn a_triangle_takes_only_the_centres_inside() {
        // Below the line x + y = 4.2 over the 2×2 block at the top left:
        // centres (0.5, 3.5), (0.5, 2.5) and (1.5, 2.5) are inside,
        // (1.5, 3.5) is not.
        let p = polygon![(x: 0.0, y: 4.2), (x: 0.0, y: 2.0), (x: 2.2, y: 2.0)];
        let z = zonal(&grid(), &[("t".into(), p)]).unwrap();
        assert_eq!(z[0].pixels, 3);
        assert_eq!(z[0].mean, Some((0.0 + 10.0 + 11.0) / 3.0));
    }

    #[test]
    fn an_unknown_coordinate_system_is_refused_by_name() {
        let mut r = grid();
        r.geo.geo_keys = Some(epsg_keys(2154));
        let p = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
        assert!(
            zonal(&r, &[("p".into(), p)])
                .unwrap_err()
                .contains("EPSG:2154")
        );
    }

    #[test]
    fn utm_rasters_take_projected_parcels() {
        // A 10 m raster in UTM 31N around (500000, 5000000): longitude 3° E
        // is the zone's central meridian, where easting is 500,000 m.
        let mut r = grid();
        r.geo = GeoRef {
            pixel_scale: Some(vec![10.0, 10.0, 0.0]),
            tiepoint: Some(vec![0.0, 0.0, 0.0, 499_980.0, 5_000_020.0, 0.0]),
            geo_keys: Some(epsg_keys(32631)),
            ..GeoRef::default()
        };
        let project = to_raster_crs(r.geo.epsg()).unwrap();
        let (x, _) = project(3.0, 45.0).unwrap();
        assert!((x - 500_000.0).abs() < 1e-3, "{x}");
    }
}
