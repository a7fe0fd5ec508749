//! Work orders from the planners; when there are none, the twin's reason
//! is shown rather than a blank list.

use crate::format;
use crate::model::Twin;

pub fn show(ui: &mut egui::Ui, twin: &Twin) -> Option<String> {
    let Some(w) = &twin.work_orders else {
        ui.weak("Asking the twin for its work orders…");
        return None;
    };
    if w.work_orders.is_empty() {
        ui.label("No work orders.");
        if !w.empty_reason.is_empty() {
            ui.weak(&w.empty_reason);
        }
        return None;
    }
    let mut chosen = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("work-orders")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                for h in ["machine", "state", "due", "reason"] {
                    ui.strong(h);
                }
                ui.end_row();
                for o in &w.work_orders {
                    if ui.link(&o.machine).clicked() {
                        chosen = Some(o.machine.clone());
                    }
                    ui.label(&o.state);
                    ui.label(format::sim_time(o.due_ms));
                    ui.label(&o.reason);
                    ui.end_row();
                }
            });
    });
    chosen
}
