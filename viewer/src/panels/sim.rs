//! Simulation controls: pause, resume, speed, step, load a scenario. A live
//! twin (no simulated world) says so instead.

use crate::format;
use crate::model::Twin;
use crate::net::Request;

/// Speeds offered, as the `SetSpeed` clock words.
const SPEEDS: [(&str, &str); 6] = [
    ("real", "real time"),
    ("x10", "×10"),
    ("x60", "×60"),
    ("x600", "×600"),
    ("x3600", "×3600"),
    ("max", "as fast as possible"),
];

pub fn show(ui: &mut egui::Ui, twin: &Twin, chosen_scenario: &mut String) -> Option<Request> {
    let Some(s) = &twin.sim else {
        ui.weak("Waiting for the twin's status…");
        return None;
    };
    let mut req = None;
    ui.label(format!(
        "Scenario: {}",
        if s.scenario.is_empty() {
            "—"
        } else {
            &s.scenario
        }
    ));
    ui.label(format!("Simulated time: {}", format::sim_time(s.time_ms)));
    ui.label(format!(
        "Clock: {}{}",
        s.clock,
        if s.paused { " (paused)" } else { "" }
    ));
    if !s.simulated {
        ui.weak("A live twin: time follows its feeds and cannot be paused here.");
        return None;
    }
    ui.separator();
    ui.horizontal(|ui| {
        if s.paused {
            if ui.button("Resume").clicked() {
                req = Some(Request::Resume);
            }
        } else if ui.button("Pause").clicked() {
            req = Some(Request::Pause);
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Speed:");
        for (clock, label) in SPEEDS {
            if ui.selectable_label(s.clock == clock, label).clicked() {
                req = Some(Request::Speed(clock.into()));
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("Step:");
        for (label, ms) in [("1 min", 60_000), ("10 min", 600_000), ("1 h", 3_600_000)] {
            if ui
                .add_enabled(s.paused, egui::Button::new(label))
                .on_disabled_hover_text("Pause first: a step advances a paused simulation")
                .clicked()
            {
                req = Some(Request::Step(ms));
            }
        }
    });
    ui.separator();
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("")
            .selected_text(if chosen_scenario.is_empty() {
                "scenario…"
            } else {
                chosen_scenario.as_str()
            })
            .show_ui(ui, |ui| {
                for name in &twin.scenarios {
                    ui.selectable_value(chosen_scenario, name.clone(), name);
                }
            });
        if ui
            .add_enabled(!chosen_scenario.is_empty(), egui::Button::new("Load"))
            .clicked()
        {
            req = Some(Request::Load(chosen_scenario.clone()));
        }
    });
    req
}
