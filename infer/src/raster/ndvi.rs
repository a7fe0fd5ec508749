//! NDVI = (NIR − red) / (NIR + red), per pixel, from two bands on the same
//! grid. A pixel with no data in either band, or whose bands sum to zero,
//! is masked (written as [`NODATA`] and left out of every statistic), never
//! NaN. Digital numbers and reflectances give the same NDVI: the scale
//! cancels in the ratio.

use serde::Serialize;

use super::{Raster, RasterError};

/// What a masked NDVI pixel holds in the written raster (outside [-1, 1]).
pub const NODATA: f32 = -9999.0;

/// Statistics of an NDVI raster over its valid pixels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NdviStats {
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub valid_pixels: usize,
    pub pixels: usize,
    /// The top-left pixel's NDVI (none when it is masked).
    pub pixel_0_0: Option<f64>,
}

/// The NDVI of one pixel, or `None` when masked.
#[inline]
pub fn pixel(red: f32, nir: f32) -> Option<f32> {
    let sum = nir + red;
    let v = (nir - red) / sum;
    (sum != 0.0 && v.is_finite()).then_some(v)
}

/// NDVI of `red` and `nir`, which must share their grid; the result keeps
/// `red`'s georeferencing. Rows are split over the cores.
pub fn compute(red: &Raster, nir: &Raster) -> Result<Raster, RasterError> {
    if (red.width, red.height) != (nir.width, nir.height) {
        return Err(RasterError::File {
            path: "NIR band".into(),
            message: format!(
                "is {}×{} pixels, the red band {}×{}: the bands must share their grid",
                nir.width, nir.height, red.width, red.height
            ),
        });
    }
    let mut out = vec![NODATA; red.data.len()];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = red.data.len().div_ceil(threads).max(4096);
    std::thread::scope(|s| {
        for ((o, r), n) in out
            .chunks_mut(chunk)
            .zip(red.data.chunks(chunk))
            .zip(nir.data.chunks(chunk))
        {
            s.spawn(move || fill(o, r, n, red.nodata, nir.nodata));
        }
    });
    Ok(Raster {
        width: red.width,
        height: red.height,
        data: out,
        nodata: Some(NODATA),
        geo: red.geo.clone(),
    })
}

fn fill(
    out: &mut [f32],
    red: &[f32],
    nir: &[f32],
    red_nodata: Option<f32>,
    nir_nodata: Option<f32>,
) {
    // No-data values are compared only when a band declares one: the loop
    // without them is the one that runs on a clean scene.
    let (rn, nn) = (
        red_nodata.unwrap_or(f32::NAN),
        nir_nodata.unwrap_or(f32::NAN),
    );
    for ((o, &r), &n) in out.iter_mut().zip(red).zip(nir) {
        *o = match pixel(r, n) {
            Some(v) if r != rn && n != nn => v,
            _ => NODATA,
        };
    }
}

/// Statistics of an NDVI raster from [`compute`].
pub fn stats(ndvi: &Raster) -> NdviStats {
    let (mut sum, mut n) = (0.0f64, 0usize);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in &ndvi.data {
        if v != NODATA {
            let v = f64::from(v);
            sum += v;
            n += 1;
            min = min.min(v);
            max = max.max(v);
        }
    }
    let some = |x: f64| (n > 0).then_some(x);
    NdviStats {
        mean: some(sum / n.max(1) as f64),
        min: some(min),
        max: some(max),
        valid_pixels: n,
        pixels: ndvi.data.len(),
        pixel_0_0: ndvi
            .data
            .first()
            .filter(|v| **v != NODATA)
            .map(|v| f64::from(*v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::GeoRef;

    fn band(data: Vec<f32>, nodata: Option<f32>) -> Raster {
        Raster {
            width: 3,
            height: 2,
            data,
            nodata,
            geo: GeoRef::default(),
        }
    }

    #[test]
    fn known_pixels_and_masks() {
        let red = band(vec![1000.0, 0.0, 500.0, 0.0, 65535.0, 300.0], Some(65535.0));
        let nir = band(
            vec![3000.0, 0.0, 500.0, 2000.0, 4000.0, 100.0],
            Some(65535.0),
        );
        let n = compute(&red, &nir).unwrap();
        assert_eq!(n.data[0], 0.5); // (3000-1000)/4000
        assert_eq!(n.data[1], NODATA, "zero sum");
        assert_eq!(n.data[2], 0.0);
        assert_eq!(n.data[3], 1.0);
        assert_eq!(n.data[4], NODATA, "no data in the red band");
        assert_eq!(n.data[5], -0.5);
        let s = stats(&n);
        assert_eq!(s.valid_pixels, 4);
        assert_eq!(s.mean, Some(0.25));
        assert_eq!((s.min, s.max), (Some(-0.5), Some(1.0)));
        assert_eq!(s.pixel_0_0, Some(0.5));
    }

    #[test]
    fn bands_on_different_grids_are_refused() {
        let red = band(vec![1.0; 6], None);
        let nir = Raster {
            width: 2,
            height: 3,
            ..band(vec![1.0; 6], None)
        };
        assert!(
            compute(&red, &nir)
                .unwrap_err()
                .to_string()
                .contains("share their grid")
        );
    }
}
