//! Plans from the planners (irrigation): those waiting or under way first,
//! then the closed, newest first, each with its water and its reason. When
//! there are none, the twin's reason is shown rather than a blank list.

use twin_proto::v1 as pb;

use crate::format;
use crate::model::Twin;

/// The plans in the order the panel lists them.
pub fn ordered(plans: &[pb::Plan]) -> Vec<&pb::Plan> {
    let mut out: Vec<&pb::Plan> = plans.iter().collect();
    out.sort_by_key(|p| {
        let closed = matches!(p.state(), pb::PlanState::Done | pb::PlanState::Cancelled);
        (closed, if closed { -p.end_ms } else { p.start_ms })
    });
    out
}

pub fn show(ui: &mut egui::Ui, twin: &Twin) -> Option<String> {
    let Some(list) = &twin.plans else {
        ui.weak("Asking the twin for its plans…");
        return None;
    };
    if list.plans.is_empty() {
        ui.label("No plans.");
        if !list.empty_reason.is_empty() {
            ui.weak(&list.empty_reason);
        }
        return None;
    }
    let running = list
        .plans
        .iter()
        .filter(|p| p.state() == pb::PlanState::Running)
        .count();
    let waiting = list
        .plans
        .iter()
        .filter(|p| p.state() == pb::PlanState::Waiting)
        .count();
    let water: f64 = list.plans.iter().map(|p| p.water_m3).sum();
    ui.label(format!(
        "{running} watering, {waiting} held for rain; {water:.1} m³ planned in the {} plans listed",
        list.plans.len()
    ));
    ui.separator();
    let mut chosen = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("plans")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in ["plan", "parcel", "state", "water", "when / why"] {
                    ui.strong(h);
                }
                ui.end_row();
                for p in ordered(&list.plans) {
                    ui.label(&p.id);
                    if ui.link(&p.entity).clicked() {
                        chosen = Some(p.entity.clone());
                    }
                    ui.label(crate::state_text::plan(p.state()));
                    ui.label(format!("{:.1} mm · {:.1} m³", p.water_mm, p.water_m3));
                    ui.label(format!(
                        "{} – {}: {}",
                        format::sim_time(p.start_ms),
                        format::sim_time(p.end_ms),
                        p.reason
                    ));
                    ui.end_row();
                }
            });
    });
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(id: &str, state: pb::PlanState, start: i64, end: i64) -> pb::Plan {
        pb::Plan {
            id: id.into(),
            state: state as i32,
            start_ms: start,
            end_ms: end,
            ..Default::default()
        }
    }

    #[test]
    fn open_plans_come_first_then_the_newest_closed() {
        let plans = vec![
            plan("PL-1", pb::PlanState::Done, 0, 10),
            plan("PL-2", pb::PlanState::Running, 20, 30),
            plan("PL-3", pb::PlanState::Cancelled, 5, 40),
            plan("PL-4", pb::PlanState::Waiting, 15, 15),
        ];
        let ids: Vec<&str> = ordered(&plans).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["PL-4", "PL-2", "PL-3", "PL-1"]);
    }
}
