//! # twin-actors: the runtime
//!
//! Every entity is a virtual actor: addressed by id, with its own state and its
//! kind's handler, messages handled one at a time in order, activated on first
//! message and passivated to the store when idle. Physically, a few shard
//! actors (actix, one per worker thread) host many entities each in a bevy_ecs
//! `World` and take batches, which is what makes tens of millions of messages
//! per second possible where one actix actor per entity manages a few million.
//!
//! - [`shard`]: the entity host, plain data (no actix), testable alone;
//! - [`shard_actor`]: the actix actor around it, and its messages;
//! - [`runtime`]: starting shards, routing batches, lockstep ordering;
//! - [`bus`]: event fan-out that never waits for a slow subscriber;
//! - [`feeds`]: the counters of live feeds (MQTT, replayed files);
//! - [`listing`]: every entity, resident or passivated, a page at a time.

mod areas;
pub mod bench;
pub mod bus;
pub mod feeds;
pub mod grpc;
pub mod inference;
pub mod journal;
pub mod listing;
pub mod planning;
pub mod priority;
pub mod runtime;
pub mod shard;
pub mod shard_actor;

pub use bus::{Bus, Delivery, EntityDelivery, EntitySubscription, Filter, Subscription};
pub use runtime::{BatchReport, Runtime, RuntimeConfig, RuntimeError};
pub use shard::UnknownPolicy;
