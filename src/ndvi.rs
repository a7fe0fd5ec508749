//! `twin ndvi`: NDVI from a red and a near-infrared band (single-band
//! GeoTIFFs), written as a GeoTIFF on the same grid, with statistics; per
//! parcel with `--parcels`, and sent to a running twin as each parcel's
//! `ndvi` reading with `--grpc`.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use serde_json::json;
use twin_infer::raster::{self, ndvi, zonal};
use twin_proto::client::Connect;
use twin_proto::v1 as pb;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The red band (Sentinel-2 B04), uint16 digital numbers or float.
    #[arg(long)]
    pub red: PathBuf,
    /// The near-infrared band (Sentinel-2 B08), on the red band's grid.
    #[arg(long)]
    pub nir: PathBuf,
    /// Parcels as a GeoJSON FeatureCollection of polygons in longitude/
    /// latitude, named by their `name` property: adds statistics per parcel.
    #[arg(long)]
    pub parcels: Option<PathBuf>,
    /// Where to write the NDVI GeoTIFF (float32, no data = -9999).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A running twin (`http://host:port`) whose parcels get their mean NDVI
    /// as an `ndvi` reading (needs --parcels; parcel NAME is `parcel/NAME`).
    #[arg(long, requires = "parcels")]
    pub grpc: Option<String>,
    /// Bearer token for --grpc (a `write` role at least).
    #[arg(long, env = "TWIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Time of the readings, ms (default: the twin's clock).
    #[arg(long)]
    pub time_ms: Option<i64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: Args) -> Result<()> {
    let red = raster::read(&args.red)?;
    let nir = raster::read(&args.nir)?;
    let ndvi = ndvi::compute(&red, &nir)?;
    if let Some(out) = &args.out {
        raster::write_f32(out, &ndvi)?;
    }
    let stats = ndvi::stats(&ndvi);
    let mut report = json!(stats);
    let mut zones = Vec::new();
    if let Some(path) = &args.parcels {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let shapes = twin_scenarios::geojson::parse_polygons(&text, path)?;
        let named: Vec<_> = shapes.into_iter().map(|s| (s.name, s.polygon)).collect();
        zones = zonal::zonal(&ndvi, &named).map_err(|e| format!("{}: {e}", path.display()))?;
        report["parcels"] = json!(zones);
    }
    if let Some(url) = &args.grpc {
        let sent = send(url, args.token.clone(), args.time_ms, &zones)?;
        report["sent"] = json!(sent);
    }
    if args.json {
        println!("{report}");
    } else {
        let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
        println!(
            "NDVI over {} pixels, {} valid: mean {}, min {}, max {}, pixel (0, 0) {}",
            stats.pixels,
            stats.valid_pixels,
            f(stats.mean),
            f(stats.min),
            f(stats.max),
            f(stats.pixel_0_0)
        );
        for z in &zones {
            println!(
                "  {:<16} mean {} median {} p10 {} valid {:.0} % of {} pixels",
                z.name,
                f(z.mean),
                f(z.median),
                f(z.p10),
                100.0 * z.valid_fraction,
                z.pixels
            );
        }
        if let Some(out) = &args.out {
            println!("written to {}", out.display());
        }
    }
    Ok(())
}

/// Sends each parcel's mean NDVI to the twin; how many were applied.
fn send(
    url: &str,
    token: Option<String>,
    time_ms: Option<i64>,
    zones: &[zonal::ZoneStats],
) -> Result<usize> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut client = Connect {
            url: url.to_string(),
            token,
            ..Connect::default()
        }
        .connect()
        .await?;
        let time_ms = match time_ms {
            Some(t) => t,
            None => {
                client
                    .get_simulation(pb::Empty {})
                    .await?
                    .into_inner()
                    .time_ms
            }
        };
        let observations: Vec<pb::Observation> = zones
            .iter()
            .filter_map(|z| {
                Some(pb::Observation {
                    entity: format!("parcel/{}", z.name),
                    time_ms,
                    measurand: "ndvi".into(),
                    value: Some(pb::Value {
                        kind: Some(pb::value::Kind::Number(z.mean?)),
                    }),
                    ..Default::default()
                })
            })
            .collect();
        let n = observations.len();
        let request = pb::IngestRequest {
            batch_id: 0,
            observations,
            durable: true,
        };
        let mut acks = client
            .ingest(tokio_stream::iter([request]))
            .await?
            .into_inner();
        let ack = acks
            .message()
            .await?
            .ok_or("the twin closed the stream without an acknowledgement")?;
        for e in &ack.errors {
            eprintln!("twin ndvi: {}: {} ({})", e.field, e.message, e.code);
        }
        Ok(n - ack.errors.len())
    })
}
