//! `twin ndvi` on a real Sentinel-2 crop (data/samples/s2_crop.json),
//! written out as uint16 GeoTIFFs the way L2A ships its bands.

use std::path::Path;
use std::process::Command;

use twin_infer::raster::{self, GeoRef, epsg_keys, ndvi::NODATA};

struct Scene {
    width: usize,
    red: Vec<u16>,
    nir: Vec<u16>,
}

fn scene() -> Scene {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/s2_crop.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    let band = |b: &str| -> Vec<u16> {
        v[b].as_array()
            .expect("band")
            .iter()
            .map(|x| x.as_u64().expect("DN") as u16)
            .collect()
    };
    Scene {
        width: v["width"].as_u64().expect("width") as usize,
        red: band("B04"),
        nir: band("B08"),
    }
}

/// 1e-4° pixels from (10°E, 45°N) down and to the right, in EPSG:4326.
fn geo() -> GeoRef {
    GeoRef {
        pixel_scale: Some(vec![1e-4, 1e-4, 0.0]),
        tiepoint: Some(vec![0.0, 0.0, 0.0, 10.0, 45.0, 0.0]),
        geo_keys: Some(epsg_keys(4326)),
        ..GeoRef::default()
    }
}

fn ndvi_of(red: u16, nir: u16) -> f64 {
    (f64::from(nir) - f64::from(red)) / (f64::from(nir) + f64::from(red))
}

#[test]
fn ndvi_of_a_real_scene_per_pixel_and_per_parcel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scene();
    let (mut red, mut nir) = (s.red.clone(), s.nir.clone());
    // Pixel 1 has no data in the red band, pixel 2 sums to zero.
    red[1] = 65535;
    red[2] = 0;
    nir[2] = 0;
    let (rp, np, out) = (
        dir.path().join("B04.tif"),
        dir.path().join("B08.tif"),
        dir.path().join("ndvi.tif"),
    );
    raster::write_u16(&rp, s.width, s.width, &red, &geo(), Some(65535.0)).expect("red");
    raster::write_u16(&np, s.width, s.width, &nir, &geo(), None).expect("nir");
    // A parcel over columns 0-9 and rows 0-9 (pixel centres strictly inside).
    let parcels = dir.path().join("parcels.geojson");
    let (x0, y0, x1, y1) = (10.0, 45.0 - 10e-4, 10.0 + 10e-4, 45.0);
    std::fs::write(
        &parcels,
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"name":"p-1"}},
            "geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}]}}"#
        ),
    )
    .expect("parcels");
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["ndvi", "--json", "--red"])
        .arg(&rp)
        .arg("--nir")
        .arg(&np)
        .arg("--out")
        .arg(&out)
        .arg("--parcels")
        .arg(&parcels)
        .output()
        .expect("twin ndvi");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");

    // Every figure against the same sums done here in f64.
    let valid: Vec<f64> = (0..red.len())
        .filter(|&i| i != 1 && i != 2)
        .map(|i| ndvi_of(red[i], nir[i]))
        .collect();
    assert_eq!(v["valid_pixels"], valid.len());
    let mean = valid.iter().sum::<f64>() / valid.len() as f64;
    assert!((v["mean"].as_f64().unwrap() - mean).abs() < 1e-6);
    let max = valid.iter().copied().fold(f64::MIN, f64::max);
    assert!((v["max"].as_f64().unwrap() - max).abs() < 1e-6);
    assert!((v["pixel_0_0"].as_f64().unwrap() - ndvi_of(red[0], nir[0])).abs() < 1e-6);
    assert!(mean > 0.0 && max <= 1.0, "a vegetated scene: {mean}, {max}");

    let p = &v["parcels"][0];
    assert_eq!(p["name"], "p-1");
    assert_eq!(p["pixels"], 100);
    assert_eq!(p["valid_pixels"], 98, "pixels 1 and 2 are masked");
    let inside: Vec<f64> = (0..10)
        .flat_map(|r| (0..10).map(move |c| r * s.width + c))
        .filter(|&i| i != 1 && i != 2)
        .map(|i| ndvi_of(red[i], nir[i]))
        .collect();
    let pmean = inside.iter().sum::<f64>() / inside.len() as f64;
    assert!((p["mean"].as_f64().unwrap() - pmean).abs() < 1e-6);
    assert!((p["valid_fraction"].as_f64().unwrap() - 0.98).abs() < 1e-12);

    // The written raster keeps the grid, the georeferencing and the mask.
    let n = raster::read(&out).expect("ndvi.tif");
    assert_eq!((n.width, n.height), (s.width, s.width));
    assert_eq!(n.geo, geo());
    assert_eq!(n.geo.epsg(), Some(4326));
    assert_eq!(n.nodata, Some(NODATA));
    assert_eq!(n.data[1], NODATA);
    assert_eq!(n.data[2], NODATA);
    assert!((f64::from(n.data[0]) - ndvi_of(red[0], nir[0])).abs() < 1e-6);
}

#[test]
fn a_band_that_is_not_a_tiff_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("B04.tif");
    std::fs::write(&bad, b"not a tiff").expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["ndvi", "--red"])
        .arg(&bad)
        .arg("--nir")
        .arg(&bad)
        .output()
        .expect("twin ndvi");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("B04.tif"), "{err}");
}
