//! # twin-viewer: the desktop viewer
//!
//! An eframe/egui application that shows and drives a running twin, talking
//! to it only over gRPC (it never links the runtime): [`net`] keeps the
//! session on a thread of its own, [`model`] holds what it learnt, and the
//! [`app`] draws the [`map`], the [`inspector`] and the [`panels`] from it
//! each frame. The map draws with its own Web-Mercator [`projection`], so it
//! needs no tile server and works offline.

pub mod app;
pub mod bench;
pub mod colors;
pub mod format;
pub mod inspector;
pub mod map;
pub mod model;
pub mod net;
pub mod panels;
pub mod projection;
pub mod settings;
pub mod state_text;

pub use app::App;
pub use settings::Settings;
