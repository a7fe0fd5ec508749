//! The status bar: the link, simulated time, speed and event rate.

use egui::{Color32, RichText};

use crate::format;
use crate::model::Twin;
use crate::net::Link;

pub fn show(ui: &mut egui::Ui, link: &Link, twin: &Twin) {
    ui.horizontal(|ui| {
        let (colour, text) = match link {
            Link::Connected { url } => (
                Color32::from_rgb(40, 180, 90),
                format!("Connected to {url}"),
            ),
            Link::Connecting { url, attempt } => (
                Color32::from_rgb(240, 180, 0),
                if *attempt > 1 {
                    format!("Connecting to {url} (attempt {attempt})…")
                } else {
                    format!("Connecting to {url}…")
                },
            ),
            Link::Down {
                url,
                reason,
                retry_in,
            } => (
                Color32::from_rgb(220, 40, 40),
                format!(
                    "Disconnected from {url}: {reason}; retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ),
            ),
        };
        let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 5.0, colour);
        ui.label(text);
        if let Some(s) = &twin.sim {
            ui.separator();
            ui.label(format!("sim {}", format::sim_time(s.time_ms)));
            ui.separator();
            ui.label(if s.paused {
                RichText::new("paused").strong()
            } else {
                RichText::new(format!("clock {}", s.clock))
            });
            ui.separator();
            ui.label(format!("{:.0} events/s", twin.event_rate));
        }
        ui.separator();
        ui.label(format!("{} entities", twin.items.len()));
    });
}
