//! The default topic scheme, for devices written for the twin:
//!
//! - `twin/<kind>/<name>/<measurand>` with a bare value (`21.5`, `true`)
//!   or a JSON object `{"value": …, "time_ms": …, "unit": …, "seq": …}`
//!   (`time` as RFC 3339 text instead of `time_ms` also reads; a
//!   `sent_us` stamp, Unix µs, gives the feed's end-to-end latency);
//! - `twin/<kind>/<name>` with a SenML pack whose names are measurands;
//! - `twin/senml` with a SenML pack whose names are `kind/name/measurand`.
//!
//! The prefix (`twin`) is configurable.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::reading::{self, Clock, Decoded, Malformed, Reading, Target, TimeFormat, q};
use crate::{senml, units};

/// Decodes a message on the default scheme under `prefix`; `None` when the
/// topic is not under it.
pub fn decode(
    prefix: &str,
    topic: &str,
    payload: &[u8],
    clock: &Clock,
) -> Option<Result<Decoded, Malformed>> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let levels: Vec<&str> = rest.split('/').collect();
    let mut out = Decoded::default();
    let result = match levels.as_slice() {
        ["senml"] => {
            reading::json(payload).and_then(|pack| senml::decode(&pack, None, clock, &mut out))
        }
        [kind, name] => Target::new(kind, name).and_then(|t| {
            let pack = reading::json(payload)?;
            senml::decode(&pack, Some(&Arc::new(t)), clock, &mut out)
        }),
        [kind, name, m] => Target::new(kind, name).and_then(|t| {
            let m = reading::measurand(m)?;
            out.readings.push(single(Arc::new(t), m, payload, clock)?);
            Ok(())
        }),
        _ => Err(Malformed::new(
            "bad_topic",
            format!(
                "`{}` is not {prefix}/KIND/NAME/MEASURAND, {prefix}/KIND/NAME or {prefix}/senml",
                q(topic)
            ),
        )),
    };
    Some(result.map(|()| out))
}

/// One reading: a bare value, or a JSON object with `value` and optional
/// `time_ms` (or `time`), `unit` and `seq`.
fn single(
    target: Arc<Target>,
    m: twin_core::Measurand,
    payload: &[u8],
    clock: &Clock,
) -> Result<Reading, Malformed> {
    let text = reading::text(payload)?;
    if !text.trim_start().starts_with('{') {
        return Ok(Reading {
            target,
            measurand: m,
            value: reading::bare_value(m, text)?,
            time: None,
            seq: 0,
            sent_us: None,
        });
    }
    let json = reading::json(payload)?;
    let v = json
        .get("value")
        .ok_or_else(|| Malformed::new("bad_payload", "the JSON object has no `value`"))?;
    let v = match (json.get("unit"), v.as_f64()) {
        (Some(Json::String(u)), Some(x)) => Json::from(units::convert(x, u, m)?),
        (Some(u), _) if !u.is_string() => {
            return Err(Malformed::new("bad_payload", "`unit` is not a text"));
        }
        _ => v.clone(),
    };
    let time = match (json.get("time_ms"), json.get("time")) {
        (Some(t), _) => Some(TimeFormat::TwinMs.read(t, clock)?),
        (None, Some(t)) => Some(TimeFormat::Rfc3339.read(t, clock)?),
        (None, None) => None,
    };
    let seq = match json.get("seq") {
        None => 0,
        Some(s) => s
            .as_u64()
            .ok_or_else(|| Malformed::new("bad_payload", "`seq` is not a whole number ≥ 0"))?,
    };
    Ok(Reading {
        target,
        measurand: m,
        value: reading::value(m, &v)?,
        time,
        seq,
        sent_us: json.get("sent_us").and_then(Json::as_i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{Measurand as M, SimTime, Value};

    fn clock() -> Clock {
        Clock {
            now: SimTime::hours(2),
            epoch_unix_ms: 0,
        }
    }

    fn one(topic: &str, payload: &str) -> Result<Reading, Malformed> {
        let d = decode("twin", topic, payload.as_bytes(), &clock()).expect("under the prefix")?;
        assert!(d.bad.is_empty(), "{:?}", d.bad);
        Ok(d.readings.into_iter().next().expect("one reading"))
    }

    #[test]
    fn bare_and_json_payloads() {
        let r = one("twin/sensor/probe-1/soil_moisture", "23.5").unwrap();
        assert_eq!(
            (r.target.name.as_str(), r.measurand),
            ("probe-1", M::SoilMoisture)
        );
        assert_eq!((r.value, r.time, r.seq), (Value::Number(23.5), None, 0));
        let r = one(
            "twin/sensor/probe-1/temperature",
            r#"{"value": 300.15, "unit": "K", "time_ms": 5000, "seq": 9}"#,
        )
        .unwrap();
        assert!(matches!(r.value, Value::Number(x) if (x - 27.0).abs() < 1e-9));
        assert_eq!((r.time, r.seq), (Some(SimTime(5000)), 9));
        let r = one(
            "twin/machine/m-1/running",
            r#"{"value": true, "time": "1970-01-01T00:00:10Z"}"#,
        )
        .unwrap();
        assert_eq!(
            (r.value, r.time),
            (Value::Flag(true), Some(SimTime(10_000)))
        );
    }

    #[test]
    fn senml_on_an_entity_topic_and_on_the_pack_topic() {
        let d = decode(
            "twin",
            "twin/sensor/probe-1",
            br#"[{"n":"soil_moisture","v":20},{"n":"battery","v":80}]"#,
            &clock(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.readings.len(), 2);
        let d = decode(
            "twin",
            "twin/senml",
            br#"[{"bn":"sensor/a/","n":"soil_moisture","v":20},{"bn":"sensor/b/","n":"battery","v":80}]"#,
            &clock(),
        )
        .unwrap()
        .unwrap();
        let names: Vec<_> = d.readings.iter().map(|r| r.target.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn hostile_messages_name_what_is_wrong() {
        let reason = |t: &str, p: &str| one(t, p).unwrap_err().reason;
        assert_eq!(reason("twin/sensor/p/soil_moisture", "wet"), "bad_value");
        assert_eq!(
            reason("twin/sensor/p/warp_factor", "1"),
            "unknown_measurand"
        );
        assert_eq!(reason("twin/robot/p/soil_moisture", "1"), "bad_entity");
        assert_eq!(reason("twin/a/b/c/d", "1"), "bad_topic");
        assert_eq!(
            reason("twin/sensor/p/soil_moisture", "{\"value\": 1"),
            "bad_json"
        );
        assert_eq!(
            reason("twin/sensor/p/soil_moisture", "{\"v\": 1}"),
            "bad_payload"
        );
        assert_eq!(
            reason(
                "twin/sensor/p/soil_moisture",
                r#"{"value": 1, "unit": "furlong"}"#
            ),
            "wrong_unit"
        );
        assert_eq!(
            reason("twin/sensor/p/soil_moisture", r#"{"value": 1, "seq": -1}"#),
            "bad_payload"
        );
        assert!(decode("twin", "other/x", b"1", &clock()).is_none());
        let e = decode(
            "twin",
            "twin/sensor/p/soil_moisture",
            &[0xff, 0xfe],
            &clock(),
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(e.reason, "bad_payload");
    }
}
