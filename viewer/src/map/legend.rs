//! The legend: one row per layer that is on, with its ramp or its status
//! colours, in the map's top-right corner.

use egui::{Align2, Color32, Rect, Stroke, pos2, vec2};

use super::{DistrictMetric, Layer, Layers};
use crate::colors::{self, Ramp};

/// What the map shows that the legend explains.
pub struct Shown<'a> {
    /// The layers that have entities (the others are not explained).
    pub present: &'a [Layer],
    pub aggregated: bool,
    /// Whether an NDVI raster file is drawn.
    pub raster: bool,
    /// Whether parcels are outlined by their irrigation plans.
    pub plans: bool,
}

pub fn show(ui: &mut egui::Ui, map: Rect, layers: &Layers, shown: &Shown<'_>) {
    let Shown {
        present,
        aggregated,
        raster,
        plans,
    } = *shown;
    egui::Area::new(egui::Id::unique("map-legend"))
        .fixed_pos(pos2(map.max.x - 210.0, map.min.y + 8.0))
        .order(egui::Order::Foreground)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_width(190.0);
                ui.strong("Legend");
                if raster {
                    ramp(ui, "Raster: NDVI", &colors::NDVI);
                }
                for l in Layer::ALL {
                    if !layers.shows(l) || !present.contains(&l) {
                        continue;
                    }
                    match l {
                        Layer::Parcels => {
                            ramp(ui, "Parcels: NDVI", &colors::NDVI);
                            if plans {
                                plan_outlines(ui);
                            }
                        }
                        Layer::Districts => match layers.district_metric {
                            DistrictMetric::Aqi => ramp(ui, "Districts: AQI", &colors::AQI),
                            DistrictMetric::Traffic => {
                                ramp(ui, "Districts: traffic", &colors::OCCUPANCY)
                            }
                        },
                        Layer::Disease => ramp(ui, "Disease: severity", &colors::SEVERITY),
                        Layer::Parking => ramp(ui, "Parking: occupancy", &colors::OCCUPANCY),
                        Layer::Pollution => ramp(ui, "Pollution: AQI of PM2.5", &colors::AQI),
                        _ => {}
                    }
                }
                ui.label("Markers by status:");
                ui.horizontal_wrapped(|ui| {
                    for (word, label) in [
                        ("running", "ok"),
                        ("idle", "idle"),
                        ("warning", "warning"),
                        ("stale", "stale"),
                        ("down", "down"),
                        ("maintenance", "maint."),
                    ] {
                        swatch(ui, colors::status(word));
                        ui.small(label);
                    }
                });
                if aggregated {
                    ui.weak("Many entities: drawn as cells, coloured by the worst status in each.");
                }
            });
        });
}

fn ramp(ui: &mut egui::Ui, label: &str, ramp: &Ramp) {
    ui.small(label);
    let (rect, _) = ui.allocate_exact_size(vec2(180.0, 10.0), egui::Sense::hover());
    let n = 24;
    for k in 0..n {
        let t = k as f64 / (n - 1) as f64;
        let v = ramp.min() + t * (ramp.max() - ramp.min());
        let x0 = rect.min.x + rect.width() * k as f32 / n as f32;
        let r = Rect::from_min_max(
            pos2(x0, rect.min.y),
            pos2(x0 + rect.width() / n as f32 + 0.5, rect.max.y),
        );
        ui.painter().rect_filled(r, 0.0, ramp.at(v));
    }
    let p = ui.painter();
    let c = ui.visuals().weak_text_color();
    let font = egui::FontId::proportional(9.0);
    p.text(
        rect.left_bottom(),
        Align2::LEFT_TOP,
        format!("{}", ramp.min()),
        font.clone(),
        c,
    );
    p.text(
        rect.right_bottom(),
        Align2::RIGHT_TOP,
        format!("{}", ramp.max()),
        font,
        c,
    );
    ui.add_space(10.0);
}

fn swatch(ui: &mut egui::Ui, c: Color32) {
    let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().rect(
        rect,
        2.0,
        c,
        Stroke::new(1.0, Color32::from_black_alpha(120)),
        egui::StrokeKind::Inside,
    );
}

/// The outlines of parcels with an irrigation plan under way or waiting.
fn plan_outlines(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        for (state, label) in [
            (twin_proto::v1::PlanState::Running, "watering"),
            (twin_proto::v1::PlanState::Waiting, "held for rain"),
        ] {
            let (r, _) = ui.allocate_exact_size(vec2(14.0, 10.0), egui::Sense::hover());
            ui.painter().rect_stroke(
                r,
                1.0,
                Stroke::new(2.5, colors::plan(state)),
                egui::StrokeKind::Inside,
            );
            ui.small(label);
        }
    });
}
