//! # twin-viewer: the desktop viewer
//!
//! An eframe/egui application that shows and drives a running twin, talking
//! to it only over gRPC (it never links the runtime). The map draws with its own
//! Web-Mercator [`projection`], so it needs no tile server and works offline.
//!
//! For now this crate holds the projection and viewport arithmetic; the app,
//! its panels and the gRPC client come with the viewer issue.

pub mod projection;
