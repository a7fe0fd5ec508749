//! Conversions between the wire messages and the twin-core vocabulary.
//!
//! Incoming messages are checked here, with errors that name the field at
//! fault (`observations[3].unit`), so the server maps every bad item to its
//! own `INVALID_ARGUMENT` or per-item error without looking inside.

use geo::{Coord, LineString};
use twin_core::id::quoted;
use twin_core::state::{ControlView, KindState, ZoneShape};
use twin_core::value::{Estimate, Path};
use twin_core::{
    Action, Command, EntityId, EntityRecord, Event, EventBody, EventType, Kind, Measurand,
    Observation, Quality, Relation, SimTime, Source, Value,
};

use crate::state;
use crate::v1 as pb;

/// A field of a request that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, e.g. `observations[3].unit`.
    pub field: String,
    /// A short code, e.g. `wrong_unit`.
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error, its field named inside `parent` (`value` inside
    /// `observations[3]` is `observations[3].value`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub fn kind_to_pb(k: Kind) -> pb::Kind {
    match k {
        Kind::Parcel => pb::Kind::Parcel,
        Kind::Machine => pb::Kind::Machine,
        Kind::Sensor => pb::Kind::Sensor,
        Kind::Vehicle => pb::Kind::Vehicle,
        Kind::Zone => pb::Kind::Zone,
    }
}

pub fn kind_from_pb(k: pb::Kind) -> Option<Kind> {
    match k {
        pb::Kind::Unspecified => None,
        pb::Kind::Parcel => Some(Kind::Parcel),
        pb::Kind::Machine => Some(Kind::Machine),
        pb::Kind::Sensor => Some(Kind::Sensor),
        pb::Kind::Vehicle => Some(Kind::Vehicle),
        pb::Kind::Zone => Some(Kind::Zone),
    }
}

/// An entity id from its "kind/name" form; `field` names it in errors. The
/// name is not recorded: the twin knows the names of the entities it holds.
pub fn entity_id(s: &str, field: &str) -> Result<EntityId, FieldError> {
    EntityId::parse_id(s).map_err(|e| {
        FieldError::new(
            field,
            "invalid_argument",
            format!(
                "`{}` is not an entity id such as machine/pump-01: {e}",
                quoted(s)
            ),
        )
    })
}

pub fn measurand(s: &str, field: &str) -> Result<Measurand, FieldError> {
    s.parse().map_err(|_| {
        FieldError::new(
            field,
            "invalid_argument",
            format!("`{}` is not a measurand (see GetMeasurands)", quoted(s)),
        )
    })
}

pub fn value_to_pb(v: &Value) -> pb::Value {
    use pb::value::Kind as V;
    let kind = match v {
        Value::Number(x) => V::Number(*x),
        Value::Flag(b) => V::Flag(*b),
        Value::Point { lon, lat } => V::Point(pb::Point {
            lon: *lon,
            lat: *lat,
        }),
        Value::Text(t) => V::Text(t.to_string()),
        Value::Interval(e) => V::Interval(estimate_to_pb(e)),
        Value::Forecast(p) => V::Forecast(pb::Forecast {
            step_ms: p.step_ms,
            points: p.points.iter().map(estimate_to_pb).collect(),
        }),
    };
    pb::Value { kind: Some(kind) }
}

pub fn value_from_pb(v: Option<&pb::Value>, field: &str) -> Result<Value, FieldError> {
    use pb::value::Kind as V;
    let kind = v
        .and_then(|v| v.kind.as_ref())
        .ok_or_else(|| FieldError::new(field, "invalid_argument", "no value given"))?;
    Ok(match kind {
        V::Number(x) => Value::Number(*x),
        V::Flag(b) => Value::Flag(*b),
        V::Point(p) => Value::Point {
            lon: p.lon,
            lat: p.lat,
        },
        V::Text(t) => Value::text(t),
        V::Interval(e) => Value::Interval(Box::new(estimate_from_pb(e))),
        V::Forecast(f) => Value::Forecast(Box::new(Path {
            step_ms: f.step_ms,
            points: f.points.iter().map(estimate_from_pb).collect(),
        })),
    })
}

fn estimate_to_pb(e: &Estimate) -> pb::Estimate {
    pb::Estimate {
        value: e.value,
        low: e.low,
        high: e.high,
    }
}

fn estimate_from_pb(e: &pb::Estimate) -> Estimate {
    Estimate {
        value: e.value,
        low: e.low,
        high: e.high,
    }
}

fn quality_from_pb(q: pb::Quality) -> Quality {
    match q {
        pb::Quality::Ok => Quality::Ok,
        pb::Quality::Uncertain => Quality::Uncertain,
        pb::Quality::Bad => Quality::Bad,
        pb::Quality::Stale => Quality::Stale,
        pb::Quality::Stuck => Quality::Stuck,
        pb::Quality::OutOfRange => Quality::OutOfRange,
    }
}

/// An observation from the wire. The unit, when given, must be the
/// measurand's. An error names the field relative to the observation
/// (`unit`), for the caller to place with [`FieldError::within`] (ingest
/// converts a million a second: no field path is written unless something
/// is wrong).
pub fn observation_from_pb(o: &pb::Observation) -> Result<Observation, FieldError> {
    let entity = entity_id(&o.entity, "entity")?;
    let m = measurand(&o.measurand, "measurand")?;
    if !o.unit.is_empty() && o.unit != m.unit() {
        return Err(FieldError::new(
            "unit",
            "wrong_unit",
            format!("{m} is in `{}`, not `{}`", m.unit(), o.unit),
        ));
    }
    let value = value_from_pb(o.value.as_ref(), "value")?;
    Ok(Observation {
        entity,
        time: SimTime(o.time_ms),
        measurand: m,
        value,
        quality: quality_from_pb(pb::Quality::try_from(o.quality).unwrap_or(pb::Quality::Ok)),
        source: Source::Grpc,
        seq: o.seq,
    })
}

pub fn observation_to_pb(o: &Observation) -> pb::Observation {
    pb::Observation {
        entity: o.entity.to_string(),
        time_ms: o.time.as_ms(),
        measurand: o.measurand.name().to_string(),
        value: Some(value_to_pb(&o.value)),
        unit: o.measurand.unit().to_string(),
        quality: state::quality(o.quality) as i32,
        seq: o.seq,
    }
}

pub fn command_from_pb(c: &pb::Command, at: &str, now: SimTime) -> Result<Command, FieldError> {
    use pb::command::Action as A;
    let entity = entity_id(&c.entity, &format!("{at}.entity"))?;
    let action = match &c.action {
        Some(A::SetDesired(s)) => Action::SetDesired {
            measurand: measurand(&s.measurand, &format!("{at}.set_desired.measurand"))?,
            value: value_from_pb(s.value.as_ref(), &format!("{at}.set_desired.value"))?,
        },
        Some(A::BeginMaintenance(_)) => Action::BeginMaintenance,
        Some(A::EndMaintenance(_)) => Action::EndMaintenance,
        Some(A::WorkOrder(w)) => crate::workorder::change_from_pb(w, &format!("{at}.work_order"))?,
        Some(A::Remind(r)) => {
            if r.message.len() > Action::MAX_MESSAGE {
                return Err(FieldError::new(
                    format!("{at}.remind.message"),
                    "invalid_argument",
                    format!(
                        "{} bytes, more than {}",
                        r.message.len(),
                        Action::MAX_MESSAGE
                    ),
                ));
            }
            Action::Remind {
                measurand: measurand(&r.measurand, &format!("{at}.remind.measurand"))?,
                message: (!r.message.is_empty()).then(|| r.message.as_str().into()),
            }
        }
        Some(A::SetLimits(l)) => {
            let m = measurand(&l.measurand, &format!("{at}.set_limits.measurand"))?;
            let limits = l
                .limits
                .as_ref()
                .map(|x| twin_core::measurand::AlarmLimits {
                    warning: x.warning,
                    critical: x.critical,
                    falling: x.falling,
                });
            if let Some(x) = &limits {
                twin_core::measurand::check_limits(x, m.valid_range()).map_err(|e| {
                    FieldError::new(format!("{at}.set_limits.limits"), "invalid_argument", e)
                })?;
            }
            Action::SetLimits {
                measurand: m,
                limits,
            }
        }
        None => {
            return Err(FieldError::new(
                format!("{at}.action"),
                "invalid_argument",
                "no action given",
            ));
        }
    };
    Ok(Command {
        entity,
        time: if c.time_ms == 0 {
            now
        } else {
            SimTime(c.time_ms)
        },
        action,
    })
}

/// A command as the wire carries it (a plan's commands).
pub fn command_to_pb(c: &Command) -> pb::Command {
    use pb::command::Action as A;
    let action = match &c.action {
        Action::SetDesired { measurand, value } => A::SetDesired(pb::SetDesired {
            measurand: measurand.name().to_string(),
            value: Some(value_to_pb(value)),
        }),
        Action::BeginMaintenance => A::BeginMaintenance(pb::Empty {}),
        Action::EndMaintenance => A::EndMaintenance(pb::Empty {}),
        Action::WorkOrder {
            order,
            state,
            technician,
        } => A::WorkOrder(crate::workorder::change_to_pb(*order, *state, *technician)),
        Action::Remind { measurand, message } => A::Remind(pb::Remind {
            measurand: measurand.name().to_string(),
            message: message.as_deref().unwrap_or_default().to_string(),
        }),
        Action::SetLimits { measurand, limits } => A::SetLimits(pb::SetLimits {
            measurand: measurand.name().to_string(),
            limits: limits.as_ref().map(limits_to_pb),
        }),
    };
    pb::Command {
        entity: c.entity.to_string(),
        time_ms: c.time.as_ms(),
        action: Some(action),
    }
}

pub fn event_type_to_pb(t: EventType) -> pb::EventType {
    match t {
        EventType::Created => pb::EventType::Created,
        EventType::StateChanged => pb::EventType::StateChanged,
        EventType::DesiredChanged => pb::EventType::DesiredChanged,
        EventType::ThresholdCrossed => pb::EventType::ThresholdCrossed,
        EventType::StatusChanged => pb::EventType::StatusChanged,
        EventType::AlertRaised => pb::EventType::AlertRaised,
        EventType::AlertCleared => pb::EventType::AlertCleared,
        EventType::AnomalyDetected => pb::EventType::AnomalyDetected,
        EventType::RulBelow => pb::EventType::RulBelow,
        EventType::WorkOrderChanged => pb::EventType::WorkOrderChanged,
    }
}

pub fn event_type_from_pb(t: pb::EventType) -> Option<EventType> {
    Some(match t {
        pb::EventType::Unspecified => return None,
        pb::EventType::Created => EventType::Created,
        pb::EventType::StateChanged => EventType::StateChanged,
        pb::EventType::DesiredChanged => EventType::DesiredChanged,
        pb::EventType::ThresholdCrossed => EventType::ThresholdCrossed,
        pb::EventType::StatusChanged => EventType::StatusChanged,
        pb::EventType::AlertRaised => EventType::AlertRaised,
        pb::EventType::AlertCleared => EventType::AlertCleared,
        pb::EventType::AnomalyDetected => EventType::AnomalyDetected,
        pb::EventType::RulBelow => EventType::RulBelow,
        pb::EventType::WorkOrderChanged => EventType::WorkOrderChanged,
    })
}

pub fn severity_to_pb(s: twin_core::Severity) -> pb::Severity {
    match s {
        twin_core::Severity::Info => pb::Severity::Info,
        twin_core::Severity::Warning => pb::Severity::Warning,
        twin_core::Severity::Critical => pb::Severity::Critical,
    }
}

/// The snake-case name serde gives a unit-like enum value (`"running"`), or
/// the inner one of a one-field wrapper (`{"machine": "running"}`).
pub fn event_to_pb(e: &Event) -> pb::Event {
    event_to_pb_named(e, e.entity.to_string())
}

/// [`event_to_pb`] with the entity's id already written out (a watcher of a
/// few entities writes each id once, not once per event).
pub fn event_to_pb_named(e: &Event, entity: String) -> pb::Event {
    let mut out = pb::Event {
        time_ms: e.time.as_ms(),
        entity,
        r#type: event_type_to_pb(e.body.event_type()) as i32,
        ..Default::default()
    };
    match &e.body {
        EventBody::Created => {}
        EventBody::StateChanged { measurand, value }
        | EventBody::DesiredChanged { measurand, value } => {
            out.measurand = measurand.name().to_string();
            out.value = Some(value_to_pb(value));
        }
        EventBody::ThresholdCrossed {
            measurand,
            limit,
            value,
            rising,
        } => {
            out.measurand = measurand.name().to_string();
            out.value = Some(value_to_pb(&Value::Number(*value)));
            out.limit = *limit;
            out.rising = *rising;
        }
        EventBody::StatusChanged { from, to } => {
            out.from_status = Some(state::status(from));
            out.to_status = Some(state::status(to));
        }
        EventBody::AlertRaised {
            alert,
            severity,
            measurand,
            message,
        } => {
            out.alert_id = alert.0;
            out.severity = severity_to_pb(*severity) as i32;
            out.measurand = measurand.name().to_string();
            out.message = message.to_string();
        }
        EventBody::AlertCleared { alert } => out.alert_id = alert.0,
        EventBody::AnomalyDetected {
            measurand,
            score,
            model,
        } => {
            out.measurand = measurand.name().to_string();
            out.value = Some(value_to_pb(&Value::Number(*score)));
            out.model = model.to_string();
        }
        EventBody::RulBelow {
            rul,
            threshold,
            model,
        } => {
            out.measurand = twin_core::Measurand::Rul.name().to_string();
            out.value = Some(value_to_pb(&Value::Number(*rul)));
            out.limit = *threshold;
            out.model = model.to_string();
        }
        EventBody::WorkOrderChanged {
            order,
            state,
            technician,
        } => {
            out.work_order = Some(crate::workorder::change_to_pb(*order, *state, *technician));
        }
    }
    out
}

pub fn relation_to_pb(r: &Relation) -> pb::Relation {
    pb::Relation {
        r#type: state::relation_type(r) as i32,
        target: r.target().to_string(),
    }
}

fn ring(line: &LineString<f64>) -> pb::Polygon {
    pb::Polygon {
        ring: line
            .coords()
            .map(|c: &Coord<f64>| pb::Point { lon: c.x, lat: c.y })
            .collect(),
    }
}

/// Where an entity is: its own shape (parcel, zone) or its position reading.
pub fn geometry(r: &EntityRecord) -> Option<pb::Geometry> {
    use pb::geometry::Shape;
    let shape = match &r.state {
        KindState::Parcel(p) => p
            .polygon
            .as_ref()
            .map(|p| Shape::Polygon(ring(p.exterior()))),
        KindState::Zone(z) => z.shape.as_ref().map(|shape| match shape {
            ZoneShape::Polygon(p) => Shape::Polygon(ring(p.exterior())),
            ZoneShape::Circle { centre, radius_m } => Shape::Circle(pb::Circle {
                centre: Some(pb::Point {
                    lon: centre.x(),
                    lat: centre.y(),
                }),
                radius_m: *radius_m,
            }),
        }),
        _ => None,
    };
    shape
        .or_else(|| {
            r.common
                .readings
                .iter()
                .find(|x| x.measurand == Measurand::Position)
                .and_then(|x| match x.value {
                    Value::Point { lon, lat } => Some(Shape::Point(pb::Point { lon, lat })),
                    _ => None,
                })
        })
        .map(|shape| pb::Geometry { shape: Some(shape) })
}

fn control_to_pb(c: &ControlView) -> pb::Control {
    pb::Control {
        measurand: c.measurand.name().to_string(),
        desired: Some(value_to_pb(&c.desired)),
        desired_at_ms: c.desired_since.as_ms(),
        reported: c.reported.as_ref().map(value_to_pb),
        in_sync: c.in_sync,
    }
}

pub fn entity_to_pb(r: &EntityRecord) -> pb::Entity {
    let id = r.id();
    pb::Entity {
        id: format!("{}/{}", id.kind(), r.name),
        kind: kind_to_pb(id.kind()) as i32,
        name: r.name.clone(),
        subtype: r.common.subtype.to_string(),
        updated_ms: r.common.updated.as_ms(),
        readings: r
            .common
            .readings
            .iter()
            .map(|x| pb::Reading {
                measurand: x.measurand.name().to_string(),
                value: Some(value_to_pb(&x.value)),
                time_ms: x.time.as_ms(),
                quality: state::quality(x.quality) as i32,
                level: state::alarm_level(x.level) as i32,
                provenance: r
                    .inferred
                    .provenance_of(x.measurand)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect(),
        controls: r.common.control_views().iter().map(control_to_pb).collect(),
        relations: r.common.relations().iter().map(relation_to_pb).collect(),
        tags: r.common.tags().iter().map(|t| t.to_string()).collect(),
        limits: r
            .common
            .extras
            .as_ref()
            .map(|e| {
                e.limits
                    .iter()
                    .map(|(m, l)| pb::OwnLimits {
                        measurand: m.name().to_string(),
                        limits: Some(limits_to_pb(l)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        geometry: geometry(r),
        state: Some(state::kind_state(&r.state)),
    }
}

pub fn measurand_info(m: Measurand) -> pb::MeasurandInfo {
    let (min, max) = m.valid_range();
    pb::MeasurandInfo {
        name: m.name().to_string(),
        unit: m.unit().to_string(),
        value_type: m.value_type().to_string(),
        min,
        max,
        commandable: m.commandable(),
        forecast_of: m
            .forecast_of()
            .map_or_else(String::new, |f| f.name().to_string()),
        alarm: m.alarm().as_ref().map(limits_to_pb),
        declared: m.is_declared(),
    }
}

fn limits_to_pb(l: &twin_core::measurand::AlarmLimits) -> pb::AlarmLimits {
    pb::AlarmLimits {
        warning: l.warning,
        critical: l.critical,
        falling: l.falling,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(unit: &str, value: Option<pb::Value>) -> pb::Observation {
        pb::Observation {
            entity: "sensor/t-1".into(),
            time_ms: 5,
            measurand: "temperature".into(),
            value,
            unit: unit.into(),
            quality: 0,
            seq: 1,
        }
    }

    #[test]
    fn observations_round_trip_and_bad_fields_are_named() {
        let o = observation_from_pb(&obs("°C", Some(value_to_pb(&Value::Number(20.5))))).unwrap();
        assert_eq!(o.entity, EntityId::parse("sensor/t-1").unwrap());
        assert_eq!(
            observation_to_pb(&o).value,
            Some(value_to_pb(&Value::Number(20.5)))
        );
        let e = observation_from_pb(&obs("°F", Some(value_to_pb(&Value::Number(1.0)))))
            .map_err(|e| e.within("o[2]"))
            .unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("o[2].unit", "wrong_unit"));
        let e = observation_from_pb(&obs("", None))
            .map_err(|e| e.within("o[1]"))
            .unwrap_err();
        assert_eq!(e.field, "o[1].value");
        let mut bad = obs("", Some(value_to_pb(&Value::Number(1.0))));
        bad.measurand = "temprature".into();
        assert_eq!(
            observation_from_pb(&bad)
                .map_err(|e| e.within("o[0]"))
                .unwrap_err()
                .field,
            "o[0].measurand"
        );
        bad.entity = "robot/r2".into();
        assert_eq!(
            observation_from_pb(&bad)
                .map_err(|e| e.within("o[0]"))
                .unwrap_err()
                .field,
            "o[0].entity"
        );
    }
}
