//! Single-band GeoTIFF rasters: read (striped or tiled, integer or float
//! samples, uncompressed, LZW or Deflate, through the `tiff` crate), keep
//! their georeferencing, write back as float32 with it.
//!
//! Satellite bands arrive this way: Sentinel-2 L2A ships each band as
//! digital numbers (reflectance × 10,000) in uint16. What the twin computes
//! from them ([`ndvi`]) and per parcel ([`zonal`]) is in the submodules.

pub mod ndvi;
pub mod zonal;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::{TiffEncoder, colortype};
use tiff::tags::Tag;

/// Where a raster sits on the Earth: the GeoTIFF tags, kept as read so that
/// a raster derived from it is written with the same georeferencing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeoRef {
    /// ModelPixelScale: (x, y, z) size of a pixel in model units.
    pub pixel_scale: Option<Vec<f64>>,
    /// ModelTiepoint: (i, j, k, x, y, z), raster point (i, j) at model (x, y).
    pub tiepoint: Option<Vec<f64>>,
    /// ModelTransformation: a 4×4 affine, row by row (instead of the two above).
    pub transformation: Option<Vec<f64>>,
    /// GeoKeyDirectory, with the parameters its keys point into.
    pub geo_keys: Option<Vec<u16>>,
    pub geo_doubles: Option<Vec<f64>>,
    pub geo_ascii: Option<String>,
}

impl GeoRef {
    /// Model coordinates (x, y) of the centre of pixel (col, row), if the
    /// raster is georeferenced.
    pub fn pixel_centre(&self, col: f64, row: f64) -> Option<(f64, f64)> {
        let (i, j) = (col + 0.5, row + 0.5);
        if let Some(m) = self.transformation.as_deref().filter(|m| m.len() >= 8) {
            return Some((m[0] * i + m[1] * j + m[3], m[4] * i + m[5] * j + m[7]));
        }
        let (s, t) = (self.pixel_scale.as_deref()?, self.tiepoint.as_deref()?);
        if s.len() < 2 || t.len() < 6 {
            return None;
        }
        Some((t[3] + (i - t[0]) * s[0], t[4] - (j - t[1]) * s[1]))
    }

    /// Pixel (col, row), fractional, of model point (x, y): the inverse of
    /// [`GeoRef::pixel_centre`] (less the half pixel).
    pub fn to_pixel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        if let Some(m) = self.transformation.as_deref().filter(|m| m.len() >= 8) {
            let det = m[0] * m[5] - m[1] * m[4];
            if det == 0.0 {
                return None;
            }
            let (dx, dy) = (x - m[3], y - m[7]);
            return Some(((m[5] * dx - m[1] * dy) / det, (m[0] * dy - m[4] * dx) / det));
        }
        let (s, t) = (self.pixel_scale.as_deref()?, self.tiepoint.as_deref()?);
        if s.len() < 2 || t.len() < 6 || s[0] == 0.0 || s[1] == 0.0 {
            return None;
        }
        Some((t[0] + (x - t[3]) / s[0], t[1] + (t[4] - y) / s[1]))
    }

    /// The EPSG code of the raster's coordinate system, from its geo keys:
    /// ProjectedCSType (3072), else GeographicType (2048).
    pub fn epsg(&self) -> Option<u16> {
        let keys = self.geo_keys.as_deref()?;
        let count = usize::from(*keys.get(3)?);
        let entries = keys.get(4..4 + 4 * count)?;
        let find = |id: u16| {
            entries
                .chunks_exact(4)
                .find(|e| e[0] == id && e[1] == 0)
                .map(|e| e[3])
        };
        find(3072).or_else(|| find(2048))
    }
}

/// One band of pixels, row by row, as f32, and what marks no data.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// The no-data value (GDAL_NODATA), if the file declares one.
    pub nodata: Option<f32>,
    pub geo: GeoRef,
}

impl Raster {
    /// Whether pixel value `v` holds data.
    pub fn is_data(&self, v: f32) -> bool {
        !v.is_nan() && self.nodata != Some(v)
    }
}

/// What went wrong reading or writing a raster, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn error(path: &Path, message: impl std::fmt::Display) -> RasterError {
    RasterError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Reads the first image of a single-band TIFF. The decoder's own limits
/// refuse an image whose header claims more than it may allocate.
pub fn read(path: &Path) -> Result<Raster, RasterError> {
    let file = File::open(path).map_err(|e| error(path, e))?;
    let mut d = Decoder::new(BufReader::new(file)).map_err(|e| error(path, e))?;
    let (w, h) = d.dimensions().map_err(|e| error(path, e))?;
    let color = d.colortype().map_err(|e| error(path, e))?;
    if !matches!(color, tiff::ColorType::Gray(_)) {
        return Err(error(
            path,
            format!("expected one band of samples, found {color:?}"),
        ));
    }
    let f64s = |d: &mut Decoder<_>, tag| {
        d.find_tag(tag)
            .ok()
            .flatten()
            .and_then(|v| v.into_f64_vec().ok())
    };
    let geo = GeoRef {
        pixel_scale: f64s(&mut d, Tag::ModelPixelScaleTag),
        tiepoint: f64s(&mut d, Tag::ModelTiepointTag),
        transformation: f64s(&mut d, Tag::ModelTransformationTag),
        geo_keys: d
            .find_tag(Tag::GeoKeyDirectoryTag)
            .ok()
            .flatten()
            .and_then(|v| v.into_u16_vec().ok()),
        geo_doubles: f64s(&mut d, Tag::GeoDoubleParamsTag),
        geo_ascii: d
            .find_tag(Tag::GeoAsciiParamsTag)
            .ok()
            .flatten()
            .and_then(|v| v.into_string().ok()),
    };
    let nodata = d
        .find_tag(Tag::GdalNodata)
        .ok()
        .flatten()
        .and_then(|v| v.into_string().ok())
        .and_then(|s| s.trim_matches(char::from(0)).trim().parse::<f32>().ok());
    let data: Vec<f32> = match d.read_image().map_err(|e| error(path, e))? {
        DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(|x| x as f32).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(|x| x as f32).collect(),
        DecodingResult::F32(v) => v,
        DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        other => {
            return Err(error(
                path,
                format!(
                    "unsupported sample type {:?}",
                    std::mem::discriminant(&other)
                ),
            ));
        }
    };
    let (width, height) = (w as usize, h as usize);
    if data.len() != width * height {
        return Err(error(
            path,
            format!("{} samples for {width}×{height} pixels", data.len()),
        ));
    }
    Ok(Raster {
        width,
        height,
        data,
        nodata,
        geo,
    })
}

/// Writes `r` as a float32 single-band GeoTIFF with its georeferencing and
/// no-data value.
pub fn write_f32(path: &Path, r: &Raster) -> Result<(), RasterError> {
    let file = File::create(path).map_err(|e| error(path, e))?;
    let mut tiff = TiffEncoder::new(BufWriter::new(file)).map_err(|e| error(path, e))?;
    let mut image = tiff
        .new_image::<colortype::Gray32Float>(r.width as u32, r.height as u32)
        .map_err(|e| error(path, e))?;
    write_geo(image.encoder(), &r.geo, r.nodata).map_err(|e| error(path, e))?;
    image.write_data(&r.data).map_err(|e| error(path, e))
}

/// Writes uint16 samples with `geo`: how a Sentinel-2 band is shipped
/// (used to make test inputs and by tools that export bands).
pub fn write_u16(
    path: &Path,
    width: usize,
    height: usize,
    data: &[u16],
    geo: &GeoRef,
    nodata: Option<f32>,
) -> Result<(), RasterError> {
    let file = File::create(path).map_err(|e| error(path, e))?;
    let mut tiff = TiffEncoder::new(BufWriter::new(file)).map_err(|e| error(path, e))?;
    let mut image = tiff
        .new_image::<colortype::Gray16>(width as u32, height as u32)
        .map_err(|e| error(path, e))?;
    write_geo(image.encoder(), geo, nodata).map_err(|e| error(path, e))?;
    image.write_data(data).map_err(|e| error(path, e))
}

fn write_geo<W: std::io::Write + std::io::Seek, K: tiff::encoder::TiffKind>(
    e: &mut tiff::encoder::DirectoryEncoder<'_, W, K>,
    geo: &GeoRef,
    nodata: Option<f32>,
) -> tiff::TiffResult<()> {
    if let Some(v) = &geo.pixel_scale {
        e.write_tag(Tag::ModelPixelScaleTag, &v[..])?;
    }
    if let Some(v) = &geo.tiepoint {
        e.write_tag(Tag::ModelTiepointTag, &v[..])?;
    }
    if let Some(v) = &geo.transformation {
        e.write_tag(Tag::ModelTransformationTag, &v[..])?;
    }
    if let Some(v) = &geo.geo_keys {
        e.write_tag(Tag::GeoKeyDirectoryTag, &v[..])?;
    }
    if let Some(v) = &geo.geo_doubles {
        e.write_tag(Tag::GeoDoubleParamsTag, &v[..])?;
    }
    if let Some(v) = &geo.geo_ascii {
        e.write_tag(Tag::GeoAsciiParamsTag, v.as_str())?;
    }
    if let Some(n) = nodata {
        e.write_tag(Tag::GdalNodata, n.to_string().as_str())?;
    }
    Ok(())
}

/// Geo keys of a raster in EPSG `code` (a projected system such as UTM
/// 326zz, or 4326), pixel-is-area: enough for GIS tools to place it.
pub fn epsg_keys(code: u16) -> Vec<u16> {
    let geographic = code == 4326;
    // Header (version 1.1.0, 3 keys), then GTModelType, GTRasterType and
    // the coordinate system, each (id, location 0, count 1, value).
    vec![
        1,
        1,
        0,
        3,
        1024,
        0,
        1,
        if geographic { 2 } else { 1 },
        1025,
        0,
        1,
        1,
        if geographic { 2048 } else { 3072 },
        0,
        1,
        code,
    ]
}
