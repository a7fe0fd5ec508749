//! The side panels and the status bar. Each takes the model and returns
//! what the user asked for, so the app alone talks to the network.

pub mod alerts;
pub mod kpi;
pub mod plans;
pub mod sim;
pub mod status_bar;
pub mod work_orders;

use serde::{Deserialize, Serialize};

/// The left panel's tabs (and `--panel`'s values; `inspector` opens the
/// inspector on the right instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Tab {
    Alerts,
    WorkOrders,
    Plans,
    Kpi,
    Simulation,
    Inspector,
}

impl Tab {
    pub const LEFT: [Tab; 5] = [
        Tab::Alerts,
        Tab::WorkOrders,
        Tab::Plans,
        Tab::Kpi,
        Tab::Simulation,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Alerts => "Alerts",
            Tab::WorkOrders => "Work orders",
            Tab::Plans => "Plans",
            Tab::Kpi => "Overview",
            Tab::Simulation => "Simulation",
            Tab::Inspector => "Inspector",
        }
    }
}
