//! A reading decoded from a message, before the twin looks its entity up:
//! which entity (and how to create it if the map allows), which measurand,
//! the value, when, and the source's sequence number.
//!
//! Decoding never trusts the message: every failure is a [`Malformed`]
//! with a short reason (counted per feed) and a detail naming what was
//! wrong (logged with the topic).

use std::sync::Arc;

use serde_json::Value as Json;
use twin_core::value::ValueType;
use twin_core::{EntityId, Kind, Measurand, SimTime, Value};

/// Most readings one message may carry (a SenML pack, a JSON object).
pub const MAX_READINGS: usize = 10_000;

/// Why a message or a reading in it could not be decoded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Malformed {
    /// A short stable name (`bad_json`, `unknown_measurand`, …).
    pub reason: &'static str,
    pub detail: String,
}

impl Malformed {
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Malformed {
        Malformed {
            reason,
            detail: detail.into(),
        }
    }
}

/// The entity a reading is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub kind: Kind,
    /// Local name (`probe-07` of `sensor/probe-07`).
    pub name: String,
    /// How to create it if the twin does not know it; `None`: refuse.
    pub create: Option<Create>,
}

impl Target {
    /// Parses `kind/name`, checking both.
    pub fn parse(s: &str) -> Result<Target, Malformed> {
        let (kind, name) = s
            .split_once('/')
            .ok_or_else(|| Malformed::new("bad_entity", format!("`{}` is not KIND/NAME", q(s))))?;
        Target::new(kind, name)
    }

    pub fn new(kind: &str, name: &str) -> Result<Target, Malformed> {
        let kind: Kind = kind
            .parse()
            .map_err(|e: twin_core::id::IdError| Malformed::new("bad_entity", e.to_string()))?;
        if name.is_empty() || name.len() > twin_core::id::MAX_NAME || name.contains('/') {
            return Err(Malformed::new(
                "bad_entity",
                format!(
                    "entity name `{}` must be 1 to {} bytes without `/`",
                    q(name),
                    twin_core::id::MAX_NAME
                ),
            ));
        }
        Ok(Target {
            kind,
            name: name.to_string(),
            create: None,
        })
    }

    pub fn id(&self) -> EntityId {
        EntityId::of(self.kind, &self.name)
    }
}

/// What a map says to create for an entity the twin does not know.
#[derive(Clone, Debug, PartialEq)]
pub struct Create {
    pub subtype: String,
    /// What the new entity is attached to or lies in (a sensor to its zone).
    pub relation: Option<twin_core::Relation>,
    /// The relation target's local name, recorded in the process's name
    /// table only when the entity is created: a message alone must not
    /// grow that table.
    pub related: Option<String>,
}

/// One reading of one measurand.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub target: Arc<Target>,
    pub measurand: Measurand,
    pub value: Value,
    /// `None`: when it arrives (the twin's clock).
    pub time: Option<SimTime>,
    pub seq: u64,
    /// When the sender sent it, Unix µs (a load generator's stamp): the
    /// feed measures end-to-end latency from it.
    pub sent_us: Option<i64>,
}

/// What one message decoded to: its readings, and the parts of it that
/// could not be read (the rest is kept).
#[derive(Debug, Default)]
pub struct Decoded {
    pub readings: Vec<Reading>,
    pub bad: Vec<Malformed>,
}

/// At most 64 characters of untrusted text, for messages.
pub fn q(s: &str) -> String {
    twin_core::id::quoted(s)
}

/// The measurand named `name`.
pub fn measurand(name: &str) -> Result<Measurand, Malformed> {
    name.parse()
        .map_err(|_| Malformed::new("unknown_measurand", format!("no measurand `{}`", q(name))))
}

/// How timestamps in payloads relate to the twin's clock: simulated time
/// counts milliseconds from the scenario's epoch, a live site's from the
/// Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    /// The twin's time now.
    pub now: SimTime,
    /// The Unix time of the twin's time zero, ms.
    pub epoch_unix_ms: i64,
}

impl Clock {
    /// Twin time of a Unix time in ms.
    pub fn from_unix_ms(&self, ms: i64) -> SimTime {
        SimTime(ms.saturating_sub(self.epoch_unix_ms))
    }
}

/// How a timestamp is written in a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Milliseconds of twin time (as `time_ms` in the API).
    TwinMs,
    UnixMs,
    /// Seconds since the Unix epoch, fractions allowed.
    UnixS,
    /// RFC 3339 text, e.g. `2026-05-01T12:00:00Z`.
    Rfc3339,
}

impl TimeFormat {
    pub fn read(self, v: &Json, clock: &Clock) -> Result<SimTime, Malformed> {
        let bad =
            |what: &str| Malformed::new("bad_time", format!("{} is not {what}", q(&v.to_string())));
        let number = || {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|x| x.is_finite() && x.abs() < 1e17)
        };
        Ok(match self {
            TimeFormat::TwinMs => SimTime(number().ok_or_else(|| bad("a time in ms"))? as i64),
            TimeFormat::UnixMs => {
                clock.from_unix_ms(number().ok_or_else(|| bad("a Unix time in ms"))? as i64)
            }
            TimeFormat::UnixS => {
                let s = number()
                    .filter(|s| s.abs() < 1e14)
                    .ok_or_else(|| bad("a Unix time in seconds"))?;
                clock.from_unix_ms((s * 1000.0).round() as i64)
            }
            TimeFormat::Rfc3339 => {
                let text = v.as_str().ok_or_else(|| bad("an RFC 3339 time"))?;
                let t: jiff::Timestamp = text
                    .parse()
                    .map_err(|e| Malformed::new("bad_time", format!("`{}`: {e}", q(text))))?;
                clock.from_unix_ms(t.as_millisecond())
            }
        })
    }
}

/// The value of `m` in a JSON value: a number (or numeric text), a flag
/// (`true`, `false`, 0 or 1), a text, or a point (`[lon, lat]` or
/// `{"lon":…, "lat":…}`), as the measurand's type asks.
pub fn value(m: Measurand, v: &Json) -> Result<Value, Malformed> {
    let wrong = |expected: &str| {
        Malformed::new(
            "bad_value",
            format!("{m}: expected {expected}, got {}", q(&v.to_string())),
        )
    };
    let number = || {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    match m.value_type() {
        ValueType::Number => number().map(Value::Number).ok_or_else(|| wrong("a number")),
        ValueType::Flag => match v {
            Json::Bool(b) => Ok(Value::Flag(*b)),
            _ => match number() {
                Some(x) if x == 0.0 || x == 1.0 => Ok(Value::Flag(x == 1.0)),
                _ => Err(wrong("true, false, 0 or 1")),
            },
        },
        ValueType::Text => match v {
            Json::String(s) if s.len() <= 256 => Ok(Value::Text(s.as_str().into())),
            _ => Err(wrong("a text of at most 256 bytes")),
        },
        ValueType::Point => {
            let (lon, lat) = match v {
                Json::Array(a) if a.len() == 2 => (a[0].as_f64(), a[1].as_f64()),
                Json::Object(o) => (
                    o.get("lon").and_then(Json::as_f64),
                    o.get("lat").and_then(Json::as_f64),
                ),
                _ => (None, None),
            };
            match (lon, lat) {
                (Some(lon), Some(lat)) => Ok(Value::Point { lon, lat }),
                _ => Err(wrong("[lon, lat]")),
            }
        }
        ValueType::Interval | ValueType::Forecast => Err(Malformed::new(
            "bad_value",
            format!("{m} is a {} and cannot come from a feed", m.value_type()),
        )),
    }
}

/// The value in a plain-text payload (`21.5`, `true`, a word for a text
/// measurand).
pub fn bare_value(m: Measurand, text: &str) -> Result<Value, Malformed> {
    let text = text.trim();
    let json = match text {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        _ => match text.parse::<f64>() {
            Ok(x) => serde_json::Number::from_f64(x)
                .map(Json::Number)
                .ok_or_else(|| {
                    Malformed::new("bad_value", format!("{m}: `{}` is not finite", q(text)))
                })?,
            Err(_) => Json::String(text.to_string()),
        },
    };
    value(m, &json)
}

/// Follows a dotted path (`data.pm25`, `values.0`) into a JSON value.
pub fn field<'a>(root: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(root, |v, key| match v {
        Json::Object(o) => o.get(key),
        Json::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Parses a payload as JSON.
pub fn json(payload: &[u8]) -> Result<Json, Malformed> {
    serde_json::from_slice(payload).map_err(|e| Malformed::new("bad_json", e.to_string()))
}

/// A payload as text.
pub fn text(payload: &[u8]) -> Result<&str, Malformed> {
    std::str::from_utf8(payload).map_err(|_| Malformed::new("bad_payload", "payload is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock {
            now: SimTime::hours(5),
            epoch_unix_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn times_in_every_format() {
        let c = clock();
        assert_eq!(
            TimeFormat::TwinMs.read(&Json::from(1500), &c),
            Ok(SimTime(1500))
        );
        assert_eq!(
            TimeFormat::UnixMs.read(&Json::from(1_700_000_001_000i64), &c),
            Ok(SimTime(1000))
        );
        assert_eq!(
            TimeFormat::UnixS.read(&Json::from(1_700_000_002.5), &c),
            Ok(SimTime(2500))
        );
        let rfc = jiff::Timestamp::from_millisecond(1_700_000_003_000)
            .unwrap()
            .to_string();
        assert_eq!(
            TimeFormat::Rfc3339.read(&Json::from(rfc), &c),
            Ok(SimTime(3000))
        );
        let e = TimeFormat::Rfc3339
            .read(&Json::from("yesterday"), &c)
            .unwrap_err();
        assert_eq!(e.reason, "bad_time");
        assert!(TimeFormat::UnixS.read(&Json::from(1e300), &c).is_err());
    }

    #[test]
    fn values_follow_the_measurand_type() {
        use Measurand as M;
        assert_eq!(
            bare_value(M::Temperature, " 21.5\n"),
            Ok(Value::Number(21.5))
        );
        assert_eq!(bare_value(M::PumpOn, "1"), Ok(Value::Flag(true)));
        assert_eq!(bare_value(M::PumpOn, "false"), Ok(Value::Flag(false)));
        assert_eq!(bare_value(M::PumpOn, "2").unwrap_err().reason, "bad_value");
        assert_eq!(
            bare_value(M::Temperature, "warm").unwrap_err().reason,
            "bad_value"
        );
        assert_eq!(
            bare_value(M::Temperature, "NaN").unwrap_err().reason,
            "bad_value"
        );
        assert_eq!(
            value(M::Position, &serde_json::json!([2.35, 48.85])),
            Ok(Value::Point {
                lon: 2.35,
                lat: 48.85
            })
        );
        assert_eq!(
            value(M::Temperature, &serde_json::json!("19.25")),
            Ok(Value::Number(19.25))
        );
        assert!(value(M::Rul, &serde_json::json!(3)).is_err());
    }

    #[test]
    fn fields_by_dotted_path() {
        let v = serde_json::json!({"a": {"b": [1, {"c": 7}]}});
        assert_eq!(field(&v, "a.b.1.c"), Some(&Json::from(7)));
        assert_eq!(field(&v, "a.x"), None);
        assert_eq!(field(&v, "a.b.9"), None);
    }

    #[test]
    fn targets_are_checked() {
        assert_eq!(Target::parse("sensor/p-1").unwrap().name, "p-1");
        assert_eq!(Target::parse("robot/p-1").unwrap_err().reason, "bad_entity");
        assert_eq!(Target::parse("sensor").unwrap_err().reason, "bad_entity");
        assert!(Target::new("sensor", &"x".repeat(300)).is_err());
    }
}
