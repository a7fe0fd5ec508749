//! SenML packs (RFC 8428, JSON): many readings in one message, each record
//! naming its measurand (after the pack's base name) and carrying its
//! value, unit and time relative to the pack's bases.

use std::sync::Arc;

use serde_json::Value as Json;
use twin_core::SimTime;

use crate::reading::{self, Clock, Decoded, Malformed, Reading, Target, q};
use crate::units;

/// Times below 2^28 s are relative to now (RFC 8428 §4.5.3).
const RELATIVE_BELOW_S: f64 = 268_435_456.0;

/// Decodes a pack. With `entity` (the topic named it), each record's name
/// is a measurand; without, `kind/name/measurand`.
pub fn decode(
    pack: &Json,
    entity: Option<&Arc<Target>>,
    clock: &Clock,
    out: &mut Decoded,
) -> Result<(), Malformed> {
    let records = pack
        .as_array()
        .ok_or_else(|| Malformed::new("bad_senml", "a SenML pack is a JSON array of records"))?;
    if records.len() > reading::MAX_READINGS {
        return Err(Malformed::new(
            "too_many_readings",
            format!(
                "{} records; at most {}",
                records.len(),
                reading::MAX_READINGS
            ),
        ));
    }
    let mut base = Base::default();
    for (i, r) in records.iter().enumerate() {
        match record(r, &mut base, entity, clock) {
            Ok(Some(reading)) => out.readings.push(reading),
            Ok(None) => {}
            Err(mut e) => {
                e.detail = format!("record {i}: {}", e.detail);
                out.bad.push(e);
            }
        }
    }
    Ok(())
}

/// The base fields in force (they carry over to the following records).
#[derive(Default)]
struct Base {
    name: String,
    time: f64,
    unit: Option<String>,
    value: f64,
}

fn record(
    r: &Json,
    base: &mut Base,
    entity: Option<&Arc<Target>>,
    clock: &Clock,
) -> Result<Option<Reading>, Malformed> {
    let r = r
        .as_object()
        .ok_or_else(|| Malformed::new("bad_senml", "a record is a JSON object"))?;
    let num = |key: &str| -> Result<Option<f64>, Malformed> {
        match r.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| Malformed::new("bad_senml", format!("`{key}` is not a number"))),
        }
    };
    let text = |key: &str| -> Result<Option<String>, Malformed> {
        match r.get(key) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Malformed::new(
                "bad_senml",
                format!("`{key}` is not a text"),
            )),
        }
    };
    if let Some(bn) = text("bn")? {
        base.name = bn;
    }
    if let Some(bt) = num("bt")? {
        base.time = bt;
    }
    if let Some(bu) = text("bu")? {
        base.unit = Some(bu);
    }
    if let Some(bv) = num("bv")? {
        base.value = bv;
    }
    let has_value = ["v", "vb", "vs", "vd"].iter().any(|k| r.contains_key(*k));
    if !has_value {
        // A record of bases only.
        return Ok(None);
    }
    let name = format!("{}{}", base.name, text("n")?.unwrap_or_default());
    let (target, m) = match entity {
        Some(t) => (t.clone(), reading::measurand(&name)?),
        None => {
            let (entity, m) = name.rsplit_once('/').ok_or_else(|| {
                Malformed::new(
                    "bad_senml",
                    format!("name `{}` is not KIND/NAME/MEASURAND", q(&name)),
                )
            })?;
            (Arc::new(Target::parse(entity)?), reading::measurand(m)?)
        }
    };
    let value = if let Some(v) = num("v")? {
        let unit = text("u")?.or_else(|| base.unit.clone());
        let v = base.value + v;
        let v = match unit {
            Some(u) => units::convert(v, &u, m)?,
            None => v,
        };
        reading::value(m, &Json::from(v))?
    } else if let Some(vb) = r.get("vb") {
        reading::value(m, vb)?
    } else if let Some(vs) = r.get("vs") {
        reading::value(m, vs)?
    } else {
        return Err(Malformed::new(
            "bad_senml",
            "`vd` (data) values are not read",
        ));
    };
    let t = base.time + num("t")?.unwrap_or(0.0);
    let time = if t == 0.0 {
        None
    } else if t.abs() < RELATIVE_BELOW_S {
        Some(clock.now + SimTime((t * 1000.0).round() as i64))
    } else if t.abs() < 1e14 {
        Some(clock.from_unix_ms((t * 1000.0).round() as i64))
    } else {
        return Err(Malformed::new(
            "bad_time",
            format!("time {t} s is out of range"),
        ));
    };
    Ok(Some(Reading {
        target,
        measurand: m,
        value,
        time,
        seq: 0,
        sent_us: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{Measurand as M, Value};

    fn clock() -> Clock {
        Clock {
            now: SimTime::hours(1),
            epoch_unix_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn bases_names_units_and_times_resolve() {
        let pack = serde_json::json!([
            {"bn": "sensor/probe-1/", "bt": 1_700_000_060.0, "bu": "Cel", "n": "temperature", "v": 21.5},
            {"n": "humidity", "u": "%RH", "v": 40, "t": 60},
            {"n": "temperature", "u": "K", "v": 300.15, "t": 120},
            {"n": "pump_on", "vb": true},
            {"n": "nothing", "v": 1},
            {"n": "humidity", "v": "wet"}
        ]);
        let mut out = Decoded::default();
        decode(&pack, None, &clock(), &mut out).unwrap();
        let got: Vec<_> = out
            .readings
            .iter()
            .map(|r| (r.target.name.as_str(), r.measurand, r.value.clone(), r.time))
            .collect();
        assert_eq!(got.len(), 4, "{got:?} {:?}", out.bad);
        assert_eq!(
            got[0],
            (
                "probe-1",
                M::Temperature,
                Value::Number(21.5),
                Some(SimTime(60_000))
            )
        );
        assert_eq!(
            got[1],
            (
                "probe-1",
                M::Humidity,
                Value::Number(40.0),
                Some(SimTime(120_000))
            )
        );
        match &got[2].2 {
            Value::Number(x) => assert!((x - 27.0).abs() < 1e-9),
            v => panic!("{v:?}"),
        }
        assert_eq!(got[3].2, Value::Flag(true));
        let reasons: Vec<_> = out.bad.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, ["unknown_measurand", "bad_senml"]);
    }

    #[test]
    fn relative_times_count_from_now_and_the_topic_names_the_entity() {
        let t = Arc::new(Target::parse("machine/press-1").unwrap());
        let pack = serde_json::json!([{"n": "vibration_rms", "v": 2.5, "t": -30}]);
        let mut out = Decoded::default();
        decode(&pack, Some(&t), &clock(), &mut out).unwrap();
        assert_eq!(
            out.readings[0].time,
            Some(SimTime::hours(1) - SimTime::secs(30))
        );
        assert_eq!(out.readings[0].target.name, "press-1");
        assert!(decode(&serde_json::json!({"v": 1}), Some(&t), &clock(), &mut out).is_err());
    }
}
