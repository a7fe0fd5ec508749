//! The overview: entities by kind and status, the event rate, the mean
//! AQI and the machines down.

use crate::colors;
use crate::format;
use crate::inspector::kind_name;
use crate::model::Twin;

pub fn show(ui: &mut egui::Ui, twin: &Twin) {
    egui::Grid::new("kpi").num_columns(2).show(ui, |ui| {
        ui.label("Entities");
        ui.strong(twin.items.len().to_string());
        ui.end_row();
        ui.label("Events / s");
        ui.strong(format!("{:.0}", twin.event_rate));
        ui.end_row();
        ui.label("Mean AQI");
        match twin.mean_aqi() {
            Some(a) => ui.strong(egui::RichText::new(format!("{a:.0}")).color(colors::AQI.at(a))),
            None => ui.weak("no station"),
        };
        ui.end_row();
        ui.label("Machines down");
        ui.strong(twin.machines_down().to_string());
        ui.end_row();
        ui.label("Active alerts");
        ui.strong(twin.alerts.len().to_string());
        ui.end_row();
        if twin.missed > 0 {
            ui.label("Events missed");
            ui.strong(twin.missed.to_string())
                .on_hover_text("The viewer fell behind the watch stream and skipped these.");
            ui.end_row();
        }
    });
    ui.separator();
    for (kind, statuses) in twin.census() {
        let total: usize = statuses.iter().map(|s| s.1).sum();
        egui::CollapsingHeader::new(format!("{} · {total}", kind_name(kind)))
            .default_open(true)
            .show(ui, |ui| {
                for (status, n) in statuses {
                    ui.horizontal(|ui| {
                        let (r, _) =
                            ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                        ui.painter().rect_filled(r, 2.0, colors::status(&status));
                        ui.label(format!("{status}: {n}"));
                    });
                }
            });
    }
    if let Some(s) = &twin.sim {
        ui.separator();
        ui.weak(format!("Simulated time {}", format::sim_time(s.time_ms)));
    }
}
