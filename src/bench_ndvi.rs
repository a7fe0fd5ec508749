//! `twin bench ndvi`: NDVI pixels per second over a tile in memory, bands
//! of digital numbers in the range of a real vegetated scene, a few pixels
//! with no data; the median of several runs, and the memory bandwidth the
//! same run reaches copying a band (the bound such a loop can approach).

use std::time::Instant;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;
use twin_infer::raster::{GeoRef, Raster, ndvi};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(side: usize, runs: usize) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let n = side * side;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let band = |rng: &mut ChaCha8Rng, lo: f32, hi: f32| -> Vec<f32> {
        (0..n)
            .map(|i| {
                if i % 1009 == 0 {
                    65535.0
                } else {
                    rng.random_range(lo..hi)
                }
            })
            .collect()
    };
    let raster = |data| Raster {
        width: side,
        height: side,
        data,
        nodata: Some(65535.0),
        geo: GeoRef::default(),
    };
    let red = raster(band(&mut rng, 200.0, 1500.0));
    let nir = raster(band(&mut rng, 1500.0, 5000.0));
    let (mut rates, mut copies) = (Vec::new(), Vec::new());
    let mut valid = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = ndvi::compute(&red, &nir)?;
        rates.push(n as f64 / t.elapsed().as_secs_f64());
        valid = out.data.iter().filter(|v| **v != ndvi::NODATA).count();
        let t = Instant::now();
        let copy = red.data.clone();
        copies.push((copy.len() * 4 * 2) as f64 / t.elapsed().as_secs_f64());
        drop(copy);
    }
    Ok(json!({
        "pixels": n,
        "valid_pixels": valid,
        "pixels_per_s": median(rates.clone()),
        "pixels_per_s_runs": rates,
        "copy_bytes_per_s": median(copies),
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
    }))
}
