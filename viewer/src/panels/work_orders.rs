//! Work orders from the planners: a timeline per technician of the next
//! day (orders scheduled and in progress, as bars from their planned start
//! for their estimated duration), then the list, open ones first. When
//! there are none, the twin's reason is shown rather than a blank list.

use std::collections::BTreeMap;

use twin_proto::v1 as pb;

use crate::format;
use crate::model::Twin;

/// How far ahead the timeline looks.
const SPAN_MS: i64 = 24 * 3_600_000;

/// One order on a technician's timeline.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bar {
    pub start: i64,
    pub end: i64,
    pub id: String,
    pub urgent: bool,
    pub in_progress: bool,
}

/// Bars per technician in the window from `now`, by start.
pub fn lanes(orders: &[pb::WorkOrder], now: i64) -> BTreeMap<String, Vec<Bar>> {
    let mut out: BTreeMap<String, Vec<Bar>> = BTreeMap::new();
    for o in orders {
        let active = matches!(
            o.state(),
            pb::WorkOrderState::Scheduled | pb::WorkOrderState::InProgress
        );
        if !active || o.technician.is_empty() || o.start_ms == 0 {
            continue;
        }
        let (start, end) = (o.start_ms, o.start_ms.saturating_add(o.duration_ms.max(0)));
        if end < now || start > now.saturating_add(SPAN_MS) {
            continue;
        }
        out.entry(o.technician.clone()).or_default().push(Bar {
            start,
            end,
            id: o.id.clone(),
            urgent: o.priority == 1,
            in_progress: o.state() == pb::WorkOrderState::InProgress,
        });
    }
    for bars in out.values_mut() {
        bars.sort();
    }
    out
}

fn timeline(ui: &mut egui::Ui, orders: &[pb::WorkOrder], now: i64) {
    let lanes = lanes(orders, now);
    if lanes.is_empty() {
        ui.weak("No technician has work placed in the next 24 h.");
        return;
    }
    ui.strong("Next 24 h");
    let label_w = 130.0;
    for (tech, bars) in &lanes {
        ui.horizontal(|ui| {
            ui.add_sized([label_w, 18.0], egui::Label::new(tech.as_str()).truncate());
            let width = ui.available_width().max(60.0);
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(width, 18.0), egui::Sense::hover());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            let x = |t: i64| {
                rect.left() + ((t - now) as f32 / SPAN_MS as f32).clamp(0.0, 1.0) * rect.width()
            };
            let mut hovered = None;
            for Bar {
                start,
                end,
                id,
                urgent,
                in_progress: going,
            } in bars
            {
                let r = egui::Rect::from_x_y_ranges(
                    x(*start)..=x(*end).max(x(*start) + 2.0),
                    rect.y_range(),
                );
                let colour = match (urgent, going) {
                    (_, true) => egui::Color32::from_rgb(70, 130, 200),
                    (true, false) => egui::Color32::from_rgb(210, 90, 60),
                    (false, false) => egui::Color32::from_rgb(120, 160, 110),
                };
                painter.rect_filled(r.shrink(1.0), 2.0, colour);
                if response.hover_pos().is_some_and(|p| r.contains(p)) {
                    hovered = Some(format!(
                        "{id}: {} to {}",
                        format::sim_time(*start),
                        format::sim_time(*end)
                    ));
                }
            }
            if let Some(text) = hovered {
                response.on_hover_text(text);
            }
        });
    }
    ui.weak("blue: in progress · red: urgent · green: scheduled");
}

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
    let now = twin.sim.as_ref().map_or(0, |s| s.time_ms);
    timeline(ui, &w.work_orders, now);
    ui.separator();
    // Open work first (by planned start), then the closed, newest first.
    let mut orders: Vec<&pb::WorkOrder> = w.work_orders.iter().collect();
    orders.sort_by_key(|o| {
        let closed = matches!(
            o.state(),
            pb::WorkOrderState::Done | pb::WorkOrderState::Cancelled
        );
        (
            closed,
            if closed { -o.created_ms } else { o.start_ms },
            o.priority,
        )
    });
    let mut chosen = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("work-orders")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for h in [
                    "order",
                    "machine",
                    "state",
                    "technician",
                    "start / due",
                    "reason",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for o in orders {
                    ui.label(format!("{} P{}", o.id, o.priority));
                    if ui.link(&o.machine).clicked() {
                        chosen = Some(o.machine.clone());
                    }
                    ui.label(crate::state_text::work_order(o.state()));
                    ui.label(&o.technician);
                    let when = if o.start_ms != 0 {
                        o.start_ms
                    } else {
                        o.due_ms
                    };
                    ui.label(format::sim_time(when));
                    ui.label(&o.reason);
                    ui.end_row();
                }
            });
    });
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(
        id: &str,
        tech: &str,
        state: pb::WorkOrderState,
        start: i64,
        priority: u32,
    ) -> pb::WorkOrder {
        pb::WorkOrder {
            id: id.into(),
            technician: tech.into(),
            state: state as i32,
            start_ms: start,
            duration_ms: 3 * 3_600_000,
            priority,
            ..Default::default()
        }
    }

    #[test]
    fn lanes_hold_the_next_days_work_by_technician() {
        let h = 3_600_000;
        let orders = vec![
            order("WO-1", "vehicle/a", pb::WorkOrderState::InProgress, h, 2),
            order("WO-2", "vehicle/a", pb::WorkOrderState::Scheduled, 5 * h, 1),
            order("WO-3", "vehicle/b", pb::WorkOrderState::Scheduled, 2 * h, 3),
            // Past, beyond the window, closed or unplaced: left out.
            order(
                "WO-4",
                "vehicle/b",
                pb::WorkOrderState::Scheduled,
                -10 * h,
                3,
            ),
            order(
                "WO-5",
                "vehicle/b",
                pb::WorkOrderState::Scheduled,
                30 * h,
                3,
            ),
            order("WO-6", "vehicle/a", pb::WorkOrderState::Done, h, 3),
            order("WO-7", "", pb::WorkOrderState::Open, 0, 1),
        ];
        let l = lanes(&orders, 2 * h);
        assert_eq!(l.len(), 2);
        let ids = |t: &str| l[t].iter().map(|b| b.id.as_str()).collect::<Vec<_>>();
        assert_eq!(ids("vehicle/a"), ["WO-1", "WO-2"]);
        assert_eq!(ids("vehicle/b"), ["WO-3"]);
        assert!(l["vehicle/a"][0].in_progress && l["vehicle/a"][1].urgent);
    }
}
