//! Live alerts, newest first, filtered by severity; a click selects the
//! entity.

use egui::RichText;

use crate::colors;
use crate::format;
use crate::model::Twin;

pub fn show(ui: &mut egui::Ui, twin: &Twin, min_severity: &mut i32) -> Option<String> {
    ui.horizontal(|ui| {
        ui.label("At least:");
        for (level, name) in [(0, "info"), (1, "warning"), (2, "critical")] {
            ui.selectable_value(min_severity, level, name);
        }
    });
    let shown: Vec<_> = twin
        .alerts
        .iter()
        .filter(|a| a.severity >= *min_severity)
        .collect();
    ui.label(format!("{} active alert(s)", shown.len()));
    ui.separator();
    if shown.is_empty() {
        ui.weak("No active alert at this level: every reading is within its limits.");
        return None;
    }
    let mut chosen = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for a in shown {
            let name = match a.severity {
                2 => "CRITICAL",
                1 => "WARNING",
                _ => "INFO",
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    RichText::new(name)
                        .strong()
                        .color(colors::severity(a.severity)),
                );
                ui.weak(format::sim_time(a.raised_ms));
                if ui.link(&a.entity).clicked() {
                    chosen = Some(a.entity.clone());
                }
            });
            ui.label(&a.message);
            ui.separator();
        }
    });
    chosen
}
