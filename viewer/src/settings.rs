//! What the viewer remembers between runs (through eframe's storage): the
//! address, the layers, the open tab, the theme. Tokens are not stored: a
//! token is a secret, given by `--token` or `TWIN_TOKEN` each time.

use serde::{Deserialize, Serialize};

use crate::map::Layers;
use crate::panels::Tab;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub url: String,
    pub layers: Layers,
    pub tab: Tab,
    pub dark: bool,
    pub min_severity: i32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            url: "http://127.0.0.1:50051".into(),
            layers: Layers::default(),
            tab: Tab::Alerts,
            dark: true,
            min_severity: 0,
        }
    }
}

/// The key settings are saved under.
pub const KEY: &str = "twin-viewer-settings";
