//! An NDVI raster (`twin ndvi --out ndvi.tif`, opened with
//! `twin-viewer --raster`) as a map overlay: read once, coloured by the
//! parcels' NDVI ramp with masked pixels transparent, and drawn as a
//! textured mesh whose vertices are points of the raster's own grid placed
//! through its coordinate system, so a UTM scene lies where its pixels are
//! under the Web-Mercator map.

use std::path::Path;

use egui::epaint::{Mesh, Vertex};
use egui::{Color32, ColorImage, Pos2, TextureHandle, TextureOptions, pos2};
use twin_infer::raster::{self, zonal};

use crate::colors;
use crate::model::P;
use crate::projection::project;

/// Longest side of the texture, pixels: a larger raster is sampled down.
const MAX_SIDE: usize = 2048;
/// Quads per side of the mesh: enough that a UTM grid bends as it should.
const GRID: usize = 16;

pub struct Overlay {
    /// The file's name, for the layer menu.
    pub name: String,
    pub on: bool,
    image: ColorImage,
    /// (GRID + 1)² points of the raster's outline and inside, row by row,
    /// in world coordinates.
    grid: Vec<P>,
    texture: Option<TextureHandle>,
}

impl Overlay {
    /// Reads an NDVI GeoTIFF; refuses one that cannot be placed.
    pub fn load(path: &Path) -> Result<Overlay, String> {
        let r = raster::read(path).map_err(|e| e.to_string())?;
        if r.width == 0 || r.height == 0 {
            return Err(format!("{}: an empty raster", path.display()));
        }
        let to_lonlat =
            zonal::from_raster_crs(r.geo.epsg()).map_err(|e| format!("{}: {e}", path.display()))?;
        let step = r.width.max(r.height).div_ceil(MAX_SIDE);
        let (w, h) = (r.width.div_ceil(step), r.height.div_ceil(step));
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let v = r.data[y * step * r.width + x * step];
                pixels.push(if r.is_data(v) && (-1.0..=1.0).contains(&v) {
                    colors::NDVI.at(f64::from(v))
                } else {
                    Color32::TRANSPARENT
                });
            }
        }
        let mut grid = Vec::with_capacity((GRID + 1) * (GRID + 1));
        for gy in 0..=GRID {
            for gx in 0..=GRID {
                // Pixel corners: the centre of pixel (c, r) less half a pixel.
                let col = (gx * r.width) as f64 / GRID as f64 - 0.5;
                let row = (gy * r.height) as f64 / GRID as f64 - 0.5;
                let place = r
                    .geo
                    .pixel_centre(col, row)
                    .and_then(|(x, y)| to_lonlat(x, y))
                    .filter(|(lon, lat)| lon.is_finite() && lat.is_finite());
                let Some((lon, lat)) = place else {
                    return Err(format!(
                        "{}: pixel corner ({col}, {row}) cannot be placed on the Earth",
                        path.display()
                    ));
                };
                grid.push(project(lon, lat));
            }
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(Overlay {
            name,
            on: true,
            image: ColorImage::new([w, h], pixels),
            grid,
            texture: None,
        })
    }

    /// The texture's size, pixels.
    pub fn size(&self) -> [usize; 2] {
        self.image.size
    }

    /// The colour of texture pixel (x, y).
    pub fn pixel(&self, x: usize, y: usize) -> Color32 {
        self.image.pixels[y * self.image.size[0] + x]
    }

    /// The raster's corners in world coordinates: top-left, top-right,
    /// bottom-right, bottom-left.
    pub fn corners(&self) -> [P; 4] {
        let n = GRID + 1;
        [
            self.grid[0],
            self.grid[GRID],
            self.grid[n * n - 1],
            self.grid[n * GRID],
        ]
    }

    /// Draws it, translucent, under what the twin shows.
    pub fn paint(&mut self, painter: &egui::Painter, to_screen: &dyn Fn(P) -> Pos2) {
        let image = &self.image;
        let texture = self.texture.get_or_insert_with(|| {
            painter
                .ctx()
                .load_texture("ndvi-raster", image.clone(), TextureOptions::NEAREST)
        });
        let mut mesh = Mesh::with_texture(texture.id());
        let tint = Color32::from_white_alpha(200);
        for gy in 0..=GRID {
            for gx in 0..=GRID {
                mesh.vertices.push(Vertex {
                    pos: to_screen(self.grid[gy * (GRID + 1) + gx]),
                    uv: pos2(gx as f32 / GRID as f32, gy as f32 / GRID as f32),
                    color: tint,
                });
            }
        }
        let n = (GRID + 1) as u32;
        for gy in 0..GRID as u32 {
            for gx in 0..GRID as u32 {
                let a = gy * n + gx;
                mesh.add_triangle(a, a + 1, a + n);
                mesh.add_triangle(a + 1, a + n + 1, a + n);
            }
        }
        painter.add(egui::Shape::mesh(mesh));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_infer::raster::{GeoRef, Raster, epsg_keys, write_f32};

    /// A 4×3 NDVI raster of 10 m pixels in UTM zone 31N, its top-left
    /// corner at (500 000, 5 000 000); one pixel masked.
    fn scene(dir: &Path) -> std::path::PathBuf {
        let mut data: Vec<f32> = (0..12).map(|i| i as f32 / 12.0).collect();
        data[5] = -9999.0;
        let r = Raster {
            width: 4,
            height: 3,
            data,
            nodata: Some(-9999.0),
            geo: GeoRef {
                pixel_scale: Some(vec![10.0, 10.0, 0.0]),
                tiepoint: Some(vec![0.0, 0.0, 0.0, 500_000.0, 5_000_000.0, 0.0]),
                geo_keys: Some(epsg_keys(32631)),
                ..GeoRef::default()
            },
        };
        let path = dir.join("ndvi.tif");
        write_f32(&path, &r).unwrap();
        path
    }

    #[test]
    fn a_utm_raster_is_coloured_masked_and_placed() {
        let dir = tempfile::tempdir().unwrap();
        let o = Overlay::load(&scene(dir.path())).unwrap();
        assert_eq!(o.size(), [4, 3]);
        assert_eq!(o.pixel(1, 1), Color32::TRANSPARENT);
        assert_eq!(o.pixel(3, 2), colors::NDVI.at(11.0 / 12.0));
        // UTM 31N easting 500 000 is the zone's central meridian, 3° E;
        // northing 5 000 000 is 0.9996 × the meridian arc from the equator,
        // which reaches 45° at 4 984 944 m and gains 111.13 km a degree
        // there: 45° + 17 057 m, 45.1535°.
        let [tl, tr, br, bl] = o.corners();
        let (lon, lat) = crate::projection::unproject(tl.0, tl.1);
        assert!((lon - 3.0).abs() < 1e-6, "{lon}");
        assert!((lat - 45.1535).abs() < 1e-3, "{lat}");
        // 40 m wide, 30 m high; north up.
        let metres = |a: P, b: P| {
            let (a, b) = (
                crate::projection::unproject(a.0, a.1),
                crate::projection::unproject(b.0, b.1),
            );
            twin_core::geometry::distance_m(a.into(), b.into())
        };
        assert!((metres(tl, tr) - 40.0).abs() < 0.5, "{}", metres(tl, tr));
        assert!((metres(tr, br) - 30.0).abs() < 0.5, "{}", metres(tr, br));
        assert!(bl.1 > tl.1, "the bottom row lies south");
    }

    #[test]
    fn a_raster_without_a_place_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bare.tif");
        let r = Raster {
            width: 2,
            height: 2,
            data: vec![0.5; 4],
            nodata: None,
            geo: GeoRef::default(),
        };
        write_f32(&path, &r).unwrap();
        let e = Overlay::load(&path).err().unwrap();
        assert!(
            e.contains("bare.tif") && e.contains("no coordinate system"),
            "{e}"
        );
        let e = Overlay::load(&dir.path().join("missing.tif"))
            .err()
            .unwrap();
        assert!(e.contains("missing.tif"), "{e}");
    }
}
