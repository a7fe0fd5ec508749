//! `twin-viewer --bench`: frame times of the whole screen, map included,
//! rendered headless on a synthetic twin of N entities (sensors, vehicles,
//! machines, parcels over a 20 km square). A frame is the UI pass (layout,
//! map, panels) plus tessellation into triangles: the work the app does on
//! the CPU each frame, without a GPU upload, which is the driver's.

use std::time::Instant;

use serde::Serialize;
use twin_proto::v1 as pb;
use twin_proto::v1::entity::State;

use crate::app::App;
use crate::settings::Settings;

#[derive(Debug, Serialize)]
pub struct Figures {
    pub entities: usize,
    pub frames: usize,
    pub frame_ms_p50: f64,
    pub frame_ms_p99: f64,
    /// Whether the fitted map drew aggregated cells.
    pub aggregated: bool,
    pub entities_10k: usize,
    pub frame_ms_p50_10k: f64,
    pub frame_ms_p99_10k: f64,
}

/// A synthetic twin: `n` entities around Lyon, a fifth of them parcels.
pub fn synthetic(n: usize) -> Vec<pb::Entity> {
    let side = (n as f64).sqrt().ceil() as usize;
    let (lon0, lat0, step) = (4.75, 45.70, 0.2 / side as f64);
    let point = |lon, lat| pb::Geometry {
        shape: Some(pb::geometry::Shape::Point(pb::Point { lon, lat })),
    };
    (0..n)
        .map(|i| {
            let (lon, lat) = (
                lon0 + (i % side) as f64 * step,
                lat0 + (i / side) as f64 * step,
            );
            let (kind, subtype, state, geometry) = match i % 10 {
                0 | 1 => {
                    let h = step * 0.45;
                    let ring = [(-h, -h), (h, -h), (h, h), (-h, h), (-h, -h)]
                        .iter()
                        .map(|(a, b)| pb::Point {
                            lon: lon + a,
                            lat: lat + b,
                        })
                        .collect();
                    (
                        pb::Kind::Parcel,
                        "cocoa",
                        State::Parcel(pb::ParcelState {
                            health: pb::CropHealth::Healthy as i32,
                            ..Default::default()
                        }),
                        pb::Geometry {
                            shape: Some(pb::geometry::Shape::Polygon(pb::Polygon { ring })),
                        },
                    )
                }
                2 | 3 => (
                    pb::Kind::Vehicle,
                    "taxi",
                    State::Vehicle(pb::VehicleState {
                        status: pb::VehicleStatus::EnRoute as i32,
                        ..Default::default()
                    }),
                    point(lon, lat),
                ),
                4 => {
                    let status = [
                        pb::MachineStatus::Running,
                        pb::MachineStatus::Idle,
                        pb::MachineStatus::Down,
                        pb::MachineStatus::Maintenance,
                    ][i / 10 % 4];
                    (
                        pb::Kind::Machine,
                        "pump",
                        State::Machine(pb::MachineState {
                            status: status as i32,
                            ..Default::default()
                        }),
                        point(lon, lat),
                    )
                }
                _ => {
                    let quality = if i % 97 == 0 {
                        pb::Quality::Stale
                    } else {
                        pb::Quality::Ok
                    };
                    (
                        pb::Kind::Sensor,
                        "air-quality-station",
                        State::Sensor(pb::SensorState {
                            quality: quality as i32,
                            ..Default::default()
                        }),
                        point(lon, lat),
                    )
                }
            };
            let number = |m: &str, x: f64| pb::Reading {
                measurand: m.into(),
                value: Some(pb::Value {
                    kind: Some(pb::value::Kind::Number(x)),
                }),
                ..Default::default()
            };
            pb::Entity {
                id: format!("{}/e{i:06}", crate::inspector::kind_name(kind)),
                kind: kind as i32,
                name: format!("e{i:06}"),
                subtype: subtype.into(),
                state: Some(state),
                geometry: Some(geometry),
                readings: vec![
                    number("ndvi", (i % 90) as f64 / 100.0),
                    number("pm25", (i % 60) as f64),
                    number("heading", (i * 37 % 360) as f64),
                ],
                ..Default::default()
            }
        })
        .collect()
}

/// Frame times (ms) of `frames` frames of the app over `n` entities.
fn frame_times(n: usize, frames: usize, size: (f32, f32)) -> (Vec<f64>, bool) {
    let mut app = App::new(Settings::default(), None, None);
    app.twin.upsert(&synthetic(n));
    let ctx = egui::Context::default();
    let mut times = Vec::with_capacity(frames);
    let warm_up = 10;
    for f in 0..frames + warm_up {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(size.0, size.1),
            )),
            time: Some(f as f64 / 60.0),
            ..Default::default()
        };
        // A slow pan: every frame draws a different view.
        app.map.viewport.pan((0.5, 0.25));
        let t = Instant::now();
        let out = ctx.run_ui(input, |ui| app.show(ui));
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        std::hint::black_box(prims);
        if f >= warm_up {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    (times, app.map.aggregated)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub fn run(n: usize, frames: usize, size: (f32, f32)) -> Figures {
    let frames = frames.max(10);
    let (big, aggregated) = frame_times(n, frames, size);
    let small_n = 10_000;
    let (small, _) = frame_times(small_n, frames, size);
    Figures {
        entities: n,
        frames,
        frame_ms_p50: quantile(&big, 0.5),
        frame_ms_p99: quantile(&big, 0.99),
        aggregated,
        entities_10k: small_n,
        frame_ms_p50_10k: quantile(&small, 0.5),
        frame_ms_p99_10k: quantile(&small, 0.99),
    }
}
