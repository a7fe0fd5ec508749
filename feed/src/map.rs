//! A feed map (`--mqtt-map map.toml`, `twin feed --map`): how messages of
//! other shapes become readings. Each `[[topic]]` matches topics by a
//! pattern whose `{captures}` name whole levels, builds the entity's name
//! from them, and reads one or more measurands from the payload by field
//! path, with unit conversion and the timestamp's format:
//!
//! ```toml
//! [[topic]]
//! pattern = "greencity/{zone}/{sensor}/data"
//! entity = "sensor/{zone}-{sensor}"
//! time = { field = "ts", format = "rfc3339" }
//! on_unknown = "create"          # or "refuse" (the default)
//! subtype = "air-station"
//! attach_to = "zone/{zone}"
//! reading = [
//!   { measurand = "temperature", field = "temperature" },
//!   { measurand = "pm25", field = "sds011.pm25", unit = "ug/m3" },
//! ]
//! ```
//!
//! Topics no pattern matches fall to the default scheme ([`crate::scheme`])
//! unless `default_scheme = false`. Everything is checked when the map is
//! loaded: captures used but not declared, unknown measurands, units that
//! do not convert.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;
use twin_core::{Measurand, Relation};

use crate::reading::{self, Clock, Create, Decoded, Malformed, Reading, Target, TimeFormat, q};
use crate::{scheme, senml, units};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "yes")]
    default_scheme: bool,
    #[serde(default = "twin")]
    prefix: String,
    #[serde(default)]
    topic: Vec<TopicSpec>,
}

fn yes() -> bool {
    true
}
fn twin() -> String {
    "twin".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicSpec {
    pattern: String,
    entity: String,
    #[serde(default)]
    payload: PayloadKind,
    time: Option<TimeSpec>,
    seq: Option<String>,
    #[serde(default)]
    on_unknown: OnUnknown,
    subtype: Option<String>,
    attach_to: Option<String>,
    lies_in: Option<String>,
    #[serde(default)]
    reading: Vec<ReadingSpec>,
}

#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum PayloadKind {
    /// A JSON object; each reading names its field.
    #[default]
    Json,
    /// A bare value: one reading, no field.
    Number,
    /// A SenML pack whose names are measurands of the topic's entity.
    Senml,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum OnUnknown {
    #[default]
    Refuse,
    Create,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeSpec {
    field: String,
    format: TimeFormat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingSpec {
    measurand: String,
    field: Option<String>,
    unit: Option<String>,
    scale: Option<f64>,
    offset: Option<f64>,
}

/// A loaded, checked map.
#[derive(Debug)]
pub struct Map {
    pub default_scheme: bool,
    pub prefix: String,
    routes: Vec<Route>,
}

#[derive(Debug)]
enum Level {
    Literal(String),
    Capture,
    /// `+`: any one level.
    Any,
    /// `#`: the rest.
    Rest,
}

/// Text with `{capture}` holes.
#[derive(Debug)]
struct Template(Vec<Piece>);

#[derive(Debug)]
enum Piece {
    Text(String),
    Capture(usize),
}

impl Template {
    fn parse(text: &str, captures: &[String], what: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("{what} `{text}`: `{{` without `}}`"))?;
            let name = &rest[open + 1..open + close];
            let i = captures.iter().position(|c| c == name).ok_or_else(|| {
                format!("{what} `{text}`: no capture `{{{name}}}` in the pattern")
            })?;
            pieces.push(Piece::Capture(i));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    fn fill(&self, values: &[&str]) -> String {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::Capture(i) => s.push_str(values[*i]),
            }
        }
        s
    }

    /// The text when it has no holes.
    fn fixed(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Route {
    pattern: Vec<Level>,
    filter: String,
    entity: Template,
    payload: PayloadKind,
    time: Option<(String, TimeFormat)>,
    seq: Option<String>,
    create: Option<(String, Option<(bool, Template)>)>,
    readings: Vec<Measure>,
}

#[derive(Debug)]
struct Measure {
    measurand: Template,
    field: Option<String>,
    unit: Option<String>,
    scale: f64,
    offset: f64,
}

impl Map {
    /// The map in `path`.
    pub fn load(path: &std::path::Path) -> Result<Map, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Map::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The default scheme alone, under `twin/`.
    pub fn default_scheme() -> Map {
        Map {
            default_scheme: true,
            prefix: twin(),
            routes: Vec::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Map, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if file.prefix.is_empty() || file.prefix.contains(['+', '#']) {
            return Err(format!(
                "prefix `{}`: expected a topic level without wildcards",
                file.prefix
            ));
        }
        let routes = file
            .topic
            .into_iter()
            .enumerate()
            .map(|(i, t)| Route::new(t).map_err(|e| format!("topic[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Map {
            default_scheme: file.default_scheme,
            prefix: file.prefix,
            routes,
        })
    }

    /// The topic filters to subscribe to.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut filters: Vec<String> = self.routes.iter().map(|r| r.filter.clone()).collect();
        if self.default_scheme {
            filters.push(format!("{}/#", self.prefix));
        }
        filters.dedup();
        filters
    }

    /// Decodes one message.
    pub fn decode(&self, topic: &str, payload: &[u8], clock: &Clock) -> Result<Decoded, Malformed> {
        for route in &self.routes {
            if let Some(values) = route.matches(topic) {
                return route.decode(&values, payload, clock);
            }
        }
        if self.default_scheme
            && let Some(result) = scheme::decode(&self.prefix, topic, payload, clock)
        {
            return result;
        }
        Err(Malformed::new(
            "no_route",
            format!("no pattern of the map matches `{}`", q(topic)),
        ))
    }
}

impl Route {
    fn new(t: TopicSpec) -> Result<Route, String> {
        let mut captures = Vec::new();
        let mut pattern = Vec::new();
        let levels: Vec<&str> = t.pattern.split('/').collect();
        for (i, level) in levels.iter().enumerate() {
            pattern.push(match *level {
                "+" => Level::Any,
                "#" if i + 1 == levels.len() => Level::Rest,
                l if l.starts_with('{') && l.ends_with('}') && l.len() > 2 => {
                    captures.push(l[1..l.len() - 1].to_string());
                    Level::Capture
                }
                l if l.contains(['{', '}', '+', '#']) => {
                    return Err(format!(
                        "pattern `{}`: level `{l}` mixes a capture or wildcard with text (a capture is a whole level)",
                        t.pattern
                    ));
                }
                l => Level::Literal(l.to_string()),
            });
        }
        let filter = pattern
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Capture | Level::Any => "+",
                Level::Rest => "#",
            })
            .collect::<Vec<_>>()
            .join("/");
        let entity = Template::parse(&t.entity, &captures, "entity")?;
        if let Some(fixed) = entity.fixed() {
            Target::parse(fixed).map_err(|e| format!("entity: {}", e.detail))?;
        }
        let create = match t.on_unknown {
            OnUnknown::Refuse => None,
            OnUnknown::Create => {
                let subtype = t.subtype.clone().unwrap_or_default();
                let relation = match (&t.attach_to, &t.lies_in) {
                    (Some(_), Some(_)) => {
                        return Err("give attach_to or lies_in, not both".into());
                    }
                    (Some(a), None) => Some((true, Template::parse(a, &captures, "attach_to")?)),
                    (None, Some(l)) => Some((false, Template::parse(l, &captures, "lies_in")?)),
                    (None, None) => None,
                };
                Some((subtype, relation))
            }
        };
        if t.reading.is_empty() && t.payload != PayloadKind::Senml {
            return Err("no [[topic.reading]]: nothing to read".into());
        }
        if t.payload == PayloadKind::Number && t.reading.len() != 1 {
            return Err("payload = \"number\" carries one reading".into());
        }
        let readings = t
            .reading
            .into_iter()
            .map(|r| Measure::new(r, &captures, t.payload))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Route {
            pattern,
            filter,
            entity,
            payload: t.payload,
            time: t.time.map(|t| (t.field, t.format)),
            seq: t.seq,
            create,
            readings,
        })
    }

    /// The captured levels when `topic` matches.
    fn matches<'t>(&self, topic: &'t str) -> Option<Vec<&'t str>> {
        let mut values = Vec::new();
        let mut levels = topic.split('/');
        for p in &self.pattern {
            match p {
                Level::Rest => return Some(values),
                _ => {
                    let level = levels.next()?;
                    match p {
                        Level::Literal(l) if l != level => return None,
                        Level::Capture => {
                            if level.is_empty() {
                                return None;
                            }
                            values.push(level);
                        }
                        _ => {}
                    }
                }
            }
        }
        levels.next().is_none().then_some(values)
    }

    fn target(&self, values: &[&str]) -> Result<Target, Malformed> {
        let mut target = Target::parse(&self.entity.fill(values))?;
        if let Some((subtype, relation)) = &self.create {
            let (relation, related) = match relation {
                Some((attached, t)) => {
                    let to = Target::parse(&t.fill(values))?;
                    let id = to.id();
                    let r = if *attached {
                        Relation::AttachedTo(id)
                    } else {
                        Relation::LiesIn(id)
                    };
                    (Some(r), Some(to.name))
                }
                None => (None, None),
            };
            target.create = Some(Create {
                subtype: subtype.clone(),
                relation,
                related,
            });
        }
        Ok(target)
    }

    fn decode(&self, values: &[&str], payload: &[u8], clock: &Clock) -> Result<Decoded, Malformed> {
        let target = Arc::new(self.target(values)?);
        let mut out = Decoded::default();
        match self.payload {
            PayloadKind::Senml => {
                senml::decode(&reading::json(payload)?, Some(&target), clock, &mut out)?;
            }
            PayloadKind::Number => {
                let m = self.readings[0].measurand(values)?;
                let text = reading::text(payload)?;
                let value = match text.trim().parse::<f64>() {
                    Ok(x) => reading::value(m, &Json::from(self.readings[0].convert(x, m)?))?,
                    Err(_) => reading::bare_value(m, text)?,
                };
                out.readings.push(Reading {
                    target,
                    measurand: m,
                    value,
                    time: None,
                    seq: 0,
                    sent_us: None,
                });
            }
            PayloadKind::Json => {
                let json = reading::json(payload)?;
                let time = match &self.time {
                    Some((field, format)) => Some(format.read(
                        reading::field(&json, field).ok_or_else(|| {
                            Malformed::new("bad_time", format!("no field `{field}`"))
                        })?,
                        clock,
                    )?),
                    None => None,
                };
                let seq = match &self.seq {
                    Some(field) => reading::field(&json, field)
                        .and_then(Json::as_u64)
                        .ok_or_else(|| {
                            Malformed::new(
                                "bad_payload",
                                format!("`{field}` is not a sequence number"),
                            )
                        })?,
                    None => 0,
                };
                for r in &self.readings {
                    match r.read(&json, values) {
                        Ok(Some((measurand, value))) => out.readings.push(Reading {
                            target: target.clone(),
                            measurand,
                            value,
                            time,
                            seq,
                            sent_us: None,
                        }),
                        // A device may leave a field out (a sensor warming up).
                        Ok(None) => {}
                        Err(e) => out.bad.push(e),
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Measure {
    fn new(r: ReadingSpec, captures: &[String], payload: PayloadKind) -> Result<Measure, String> {
        let measurand = Template::parse(&r.measurand, captures, "measurand")?;
        let fixed = match measurand.fixed() {
            Some(name) => Some(reading::measurand(name).map_err(|e| e.detail)?),
            None => None,
        };
        if payload == PayloadKind::Json && r.field.is_none() {
            return Err(format!("reading `{}`: no field", r.measurand));
        }
        if r.unit.is_some() && (r.scale.is_some() || r.offset.is_some()) {
            return Err(format!(
                "reading `{}`: give unit or scale/offset, not both",
                r.measurand
            ));
        }
        if let (Some(u), Some(m)) = (&r.unit, fixed) {
            units::conversion(u, m)
                .map_err(|e| format!("reading `{}`: {}", r.measurand, e.detail))?;
        }
        let (scale, offset) = (r.scale.unwrap_or(1.0), r.offset.unwrap_or(0.0));
        if !(scale.is_finite() && offset.is_finite()) {
            return Err(format!(
                "reading `{}`: scale and offset must be finite",
                r.measurand
            ));
        }
        Ok(Measure {
            measurand,
            field: r.field,
            unit: r.unit,
            scale,
            offset,
        })
    }

    fn measurand(&self, values: &[&str]) -> Result<Measurand, Malformed> {
        reading::measurand(&self.measurand.fill(values))
    }

    fn convert(&self, x: f64, m: Measurand) -> Result<f64, Malformed> {
        match &self.unit {
            Some(u) => units::convert(x, u, m),
            None => Ok(x * self.scale + self.offset),
        }
    }

    /// This reading from a JSON payload; `None` when its field is absent.
    fn read(
        &self,
        json: &Json,
        values: &[&str],
    ) -> Result<Option<(Measurand, twin_core::Value)>, Malformed> {
        let m = self.measurand(values)?;
        let Some(v) = self.field.as_deref().and_then(|f| reading::field(json, f)) else {
            return Ok(None);
        };
        let v = match v.as_f64() {
            Some(x) => Json::from(self.convert(x, m)?),
            None => v.clone(),
        };
        Ok(Some((m, reading::value(m, &v)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{EntityId, Kind, SimTime, Value};

    const GREENCITY: &str = include_str!("../../examples/feeds/greencity.toml");

    fn clock() -> Clock {
        Clock {
            now: SimTime::hours(1),
            epoch_unix_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_seed_003_message_reads_every_measurand() {
        let map = Map::parse(GREENCITY).unwrap();
        assert_eq!(
            map.subscriptions(),
            ["greencity/+/+/data", "plant/+/+/+", "twin/#"]
        );
        let payload = br#"{"ts": "2023-11-14T22:14:20Z", "n": 17,
            "dht22": {"temperature": 68.0, "humidity": 41.5},
            "sds011": {"pm25": 12.5}}"#;
        let d = map
            .decode("greencity/north/esp-3/data", payload, &clock())
            .unwrap();
        assert!(d.bad.is_empty(), "{:?}", d.bad);
        let got: Vec<_> = d
            .readings
            .iter()
            .map(|r| (r.measurand, r.value.clone()))
            .collect();
        assert_eq!(got.len(), 3, "pm10 is absent from the payload: {got:?}");
        assert!(
            matches!(got[0], (Measurand::Temperature, Value::Number(t)) if (t - 20.0).abs() < 1e-9)
        );
        assert_eq!(got[1], (Measurand::Humidity, Value::Number(41.5)));
        assert_eq!(got[2], (Measurand::Pm25, Value::Number(12.5)));
        let r = &d.readings[0];
        assert_eq!((r.time, r.seq), (Some(SimTime(60_000)), 17));
        assert_eq!(
            (r.target.kind, r.target.name.as_str()),
            (Kind::Sensor, "north-esp-3")
        );
        let create = r.target.create.as_ref().unwrap();
        assert_eq!(create.subtype, "air-station");
        assert_eq!(
            create.relation,
            Some(Relation::AttachedTo(EntityId::of(Kind::Zone, "north")))
        );
    }

    #[test]
    fn captures_may_name_the_measurand_and_topics_fall_back_to_the_scheme() {
        let map = Map::parse(GREENCITY).unwrap();
        let d = map
            .decode("plant/hall-2/press-1/vibration_rms", b"2500", &clock())
            .unwrap();
        assert_eq!(d.readings[0].measurand, Measurand::VibrationRms);
        assert_eq!(d.readings[0].value, Value::Number(2.5));
        assert!(d.readings[0].target.create.is_none());
        let e = map
            .decode("plant/hall-2/press-1/warp", b"1", &clock())
            .unwrap_err();
        assert_eq!(e.reason, "unknown_measurand");
        let d = map
            .decode("twin/sensor/x/humidity", b"50", &clock())
            .unwrap();
        assert_eq!(d.readings[0].target.name, "x");
        assert_eq!(
            map.decode("elsewhere/x", b"1", &clock())
                .unwrap_err()
                .reason,
            "no_route"
        );
        // A pattern's level count must match exactly.
        assert_eq!(
            map.decode("greencity/north/esp-3/data/extra", b"{}", &clock())
                .unwrap_err()
                .reason,
            "no_route"
        );
    }

    #[test]
    fn bad_maps_are_refused_naming_the_fault() {
        let bad = |text: &str, needle: &str| {
            let e = Map::parse(text).unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        bad(
            "[[topic]]\npattern = \"a/{x}\"\nentity = \"sensor/{y}\"\nreading = [{measurand = \"pm25\", field = \"v\"}]",
            "no capture `{y}`",
        );
        bad(
            "[[topic]]\npattern = \"a/{x}\"\nentity = \"sensor/{x}\"\nreading = [{measurand = \"warp\", field = \"v\"}]",
            "no measurand `warp`",
        );
        bad(
            "[[topic]]\npattern = \"a/{x}\"\nentity = \"sensor/{x}\"\nreading = [{measurand = \"pm25\", field = \"v\", unit = \"K\"}]",
            "does not convert",
        );
        bad(
            "[[topic]]\npattern = \"a/x{x}\"\nentity = \"sensor/{x}\"\nreading = [{measurand = \"pm25\", field = \"v\"}]",
            "whole level",
        );
        bad(
            "[[topic]]\npattern = \"a\"\nentity = \"robot/a\"\nreading = []",
            "unknown entity kind",
        );
        bad("colour = 3", "unknown field");
    }
}
