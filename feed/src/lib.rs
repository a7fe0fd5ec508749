//! # twin-feed: live feeds into the twin
//!
//! Devices, gateways and recorded series reach the twin through here:
//!
//! - [`reading`]: what a message decodes to, and the checks every decoder
//!   shares (values by measurand type, timestamps, field paths);
//! - [`scheme`]: the default topic scheme `twin/<kind>/<name>/<measurand>`
//!   with bare, JSON or SenML ([`senml`]) payloads;
//! - [`map`]: a TOML map for other shapes (topic patterns with captures,
//!   JSON fields, [`units`], timestamp formats, entity templates);
//! - [`apply`]: readings into the runtime, duplicates ([`dedup`]) dropped,
//!   outcomes counted on the runtime's feed board;
//! - [`mqtt`]: the broker connection and the QoS 1 subscription;
//! - [`table`]: recorded series (CSV, NDJSON) mapped to readings;
//! - [`sink`]: where the load generator sends (MQTT, gRPC, files), and
//!   [`faults`] it injects on the way.
//!
//! Nothing here trusts a message: every failure is counted by reason and
//! the feed goes on.

pub mod apply;
pub mod dedup;
pub mod faults;
pub mod map;
pub mod mosquitto;
pub mod mqtt;
pub mod reading;
pub mod scheme;
pub mod senml;
pub mod sink;
pub mod table;
pub mod units;

pub use map::Map;
pub use reading::{Clock, Decoded, Malformed, Reading};
