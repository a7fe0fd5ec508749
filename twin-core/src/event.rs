//! Events: what the twin publishes when an entity's state changes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::EntityId;
use crate::measurand::Measurand;
use crate::state::Status;
use crate::time::SimTime;
use crate::value::Value;
use crate::workorder::OrderState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Stable id of an alert: one per (entity, measurand) rule, so raising the same
/// alert twice is recognisable and clearing names what is cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertId(pub u64);

impl AlertId {
    pub fn of(entity: EntityId, measurand: Measurand) -> AlertId {
        AlertId(entity.raw() ^ ((measurand as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: SimTime,
    pub entity: EntityId,
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBody {
    /// The entity was created (first activation ever).
    Created,
    /// A reported value changed.
    StateChanged {
        measurand: Measurand,
        value: Value,
    },
    /// A desired value was set by a command.
    DesiredChanged {
        measurand: Measurand,
        value: Value,
    },
    /// A value crossed an alarm limit, in either direction.
    ThresholdCrossed {
        measurand: Measurand,
        limit: f64,
        value: f64,
        rising: bool,
    },
    /// A status (machine status, sensor quality, vehicle status, alert level,
    /// crop health) changed.
    StatusChanged {
        from: Status,
        to: Status,
    },
    AlertRaised {
        alert: AlertId,
        severity: Severity,
        measurand: Measurand,
        message: Arc<str>,
    },
    AlertCleared {
        alert: AlertId,
    },
    /// An inference model found a reading unusual.
    AnomalyDetected {
        measurand: Measurand,
        score: f64,
        /// The model, name/version.
        model: Arc<str>,
    },
    /// The estimated remaining useful life fell below a model's threshold.
    RulBelow {
        rul: f64,
        threshold: f64,
        model: Arc<str>,
    },
    /// A work order on this machine changed state.
    WorkOrderChanged {
        order: u64,
        state: OrderState,
        technician: Option<EntityId>,
    },
}

/// Event types, for subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Created,
    StateChanged,
    DesiredChanged,
    ThresholdCrossed,
    StatusChanged,
    AlertRaised,
    AlertCleared,
    AnomalyDetected,
    RulBelow,
    WorkOrderChanged,
}

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::Created => EventType::Created,
            EventBody::StateChanged { .. } => EventType::StateChanged,
            EventBody::DesiredChanged { .. } => EventType::DesiredChanged,
            EventBody::ThresholdCrossed { .. } => EventType::ThresholdCrossed,
            EventBody::StatusChanged { .. } => EventType::StatusChanged,
            EventBody::AlertRaised { .. } => EventType::AlertRaised,
            EventBody::AlertCleared { .. } => EventType::AlertCleared,
            EventBody::AnomalyDetected { .. } => EventType::AnomalyDetected,
            EventBody::RulBelow { .. } => EventType::RulBelow,
            EventBody::WorkOrderChanged { .. } => EventType::WorkOrderChanged,
        }
    }

    /// Whether the event belongs in the persistent event log. Value updates are
    /// already in the time-series history, so the log keeps the rest.
    pub fn is_notable(&self) -> bool {
        !matches!(self, EventBody::StateChanged { .. })
    }
}

/// The bytes an event is hashed as. A numeric state change, the bulk of any
/// log, is written field by field (a fixed 33 bytes, no serializer); every
/// other event as postcard. Both are functions of the event alone.
fn encode(event: &Event, mut buf: Vec<u8>) -> Vec<u8> {
    if let EventBody::StateChanged {
        measurand,
        value: Value::Number(x),
    } = &event.body
    {
        buf.push(0xff);
        buf.extend_from_slice(&event.time.as_ms().to_le_bytes());
        buf.extend_from_slice(&event.entity.raw().to_le_bytes());
        buf.extend_from_slice(&(*measurand as u16).to_le_bytes());
        buf.extend_from_slice(&x.to_bits().to_le_bytes());
        buf
    } else {
        postcard::to_extend(event, buf).expect("events always serialise")
    }
}

/// A running hash over an ordered event stream: equal hashes mean equal logs.
///
/// It folds in each event's digest ([`EntityChains::push`] computes it), so
/// that the costly part (encoding and hashing the event) is done where the
/// event is made, by each shard on its own thread, and only the ordered
/// fold is left to the thread that merges the shards' streams.
#[derive(Clone)]
pub struct EventLogHash {
    hasher: xxhash_rust::xxh3::Xxh3,
    count: u64,
}

impl Default for EventLogHash {
    fn default() -> Self {
        EventLogHash {
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            count: 0,
        }
    }
}

impl EventLogHash {
    /// Folds in the next event's digest (order-sensitive).
    pub fn push_digest(&mut self, digest: u64) {
        self.hasher.update(&digest.to_le_bytes());
        self.count += 1;
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn digest(&self) -> u64 {
        self.hasher.digest()
    }
}

/// A running hash per entity over its own events, so that where two logs
/// differ can be told by entity. A chain depends only on the order of its
/// entity's events, not on how they interleave with others', so each shard
/// keeps the chains of its own entities.
#[derive(Clone, Default)]
pub struct EntityChains {
    buf: Vec<u8>,
    per_entity: crate::id::IdMap<u64>,
}

impl EntityChains {
    /// Hashes `event` once, folds the digest into its entity's chain and
    /// returns it, for the log's [`EventLogHash::push_digest`].
    pub fn push(&mut self, event: &Event) -> u64 {
        self.buf.clear();
        let bytes = encode(event, std::mem::take(&mut self.buf));
        let digest = xxhash_rust::xxh3::xxh3_64(&bytes);
        self.buf = bytes;
        let h = self.per_entity.entry(event.entity).or_insert(0);
        *h = (h.rotate_left(23) ^ digest).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        digest
    }
    /// The running hash of one entity's events (0 when it has none).
    pub fn get(&self, entity: crate::id::EntityId) -> u64 {
        self.per_entity.get(&entity).copied().unwrap_or(0)
    }
}
