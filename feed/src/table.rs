//! Recorded series as readings: the rows of a CSV file (the I-94 traffic,
//! the UCI air quality, a NAB file) or the lines of an NDJSON file, mapped
//! by a TOML file to an entity, a time and measurands:
//!
//! ```toml
//! delimiter = ";"                  # CSV only (default ",")
//! decimal_comma = true             # "2,6" is 2.6
//! missing = ["-200"]               # values that mean "no reading" (as
//!                                  # does an empty cell)
//! entity = "sensor/uci-{station}"  # fixed, or with {column} holes
//! time = { columns = ["Date", "Time"], format = "%d/%m/%Y %H.%M.%S" }
//! reading = [
//!   { measurand = "temperature", column = "T" },
//!   { measurand = "no2", column = "NO2(GT)" },
//! ]
//! ```
//!
//! A time `format` is `rfc3339`, `unix_s`, `unix_ms`, `twin_ms`, or a
//! strftime pattern read as UTC. NDJSON lines name their fields the same
//! way (dotted paths). Without a map, NDJSON lines in the load generator's
//! shape (`entity`, `measurand`, `value`, `time_ms`, `seq`) read as they
//! are, so `twin loadgen --sink ndjson:F` output replays with `twin feed F`.

use serde::Deserialize;
use serde_json::Value as Json;
use twin_core::{EntityId, Measurand, SimTime, Value};

use crate::reading::{self, Clock, Malformed, TimeFormat, q};
use crate::sink::Message;
use crate::units;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default = "comma")]
    delimiter: char,
    #[serde(default)]
    decimal_comma: bool,
    #[serde(default)]
    missing: Vec<String>,
    entity: String,
    time: TimeSpec,
    reading: Vec<ReadingSpec>,
}

fn comma() -> char {
    ','
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeSpec {
    column: Option<String>,
    columns: Option<Vec<String>>,
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingSpec {
    measurand: String,
    column: String,
    unit: Option<String>,
}

/// How rows become readings.
#[derive(Debug)]
pub struct TableMap {
    pub delimiter: u8,
    decimal_comma: bool,
    missing: Vec<String>,
    entity: Vec<Piece>,
    time_columns: Vec<String>,
    time: Time,
    readings: Vec<(Measurand, String, f64, f64)>,
}

#[derive(Debug)]
enum Piece {
    Text(String),
    Column(String),
}

#[derive(Debug)]
enum Time {
    Known(TimeFormat),
    Pattern(String),
}

/// One row's fields, by column name.
pub trait Row {
    fn get(&self, column: &str) -> Option<&str>;
}

impl TableMap {
    pub fn load(path: &std::path::Path) -> Result<TableMap, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        TableMap::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<TableMap, String> {
        let spec: Spec = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if !spec.delimiter.is_ascii() {
            return Err(format!(
                "delimiter `{}`: one ASCII character",
                spec.delimiter
            ));
        }
        let time_columns = match (spec.time.column, spec.time.columns) {
            (Some(c), None) => vec![c],
            (None, Some(cs)) if !cs.is_empty() => cs,
            _ => return Err("time: give `column` or `columns`".into()),
        };
        let time = match spec.time.format.as_str() {
            "rfc3339" => Time::Known(TimeFormat::Rfc3339),
            "unix_s" => Time::Known(TimeFormat::UnixS),
            "unix_ms" => Time::Known(TimeFormat::UnixMs),
            "twin_ms" => Time::Known(TimeFormat::TwinMs),
            p if p.contains('%') => Time::Pattern(p.to_string()),
            p => {
                return Err(format!(
                    "time format `{p}`: rfc3339, unix_s, unix_ms, twin_ms or a strftime pattern"
                ));
            }
        };
        let mut entity = Vec::new();
        let mut rest = spec.entity.as_str();
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("entity `{}`: `{{` without `}}`", spec.entity))?;
            if open > 0 {
                entity.push(Piece::Text(rest[..open].into()));
            }
            entity.push(Piece::Column(rest[open + 1..open + close].into()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            entity.push(Piece::Text(rest.into()));
        }
        if entity.iter().all(|p| matches!(p, Piece::Text(_))) {
            EntityId::parse_id(&spec.entity).map_err(|e| format!("entity: {e}"))?;
        }
        if spec.reading.is_empty() {
            return Err("no reading: nothing to read".into());
        }
        let readings = spec
            .reading
            .into_iter()
            .map(|r| {
                let m = reading::measurand(&r.measurand).map_err(|e| e.detail)?;
                let (scale, offset) = match &r.unit {
                    Some(u) => units::conversion(u, m).map_err(|e| e.detail)?,
                    None => (1.0, 0.0),
                };
                Ok((m, r.column, scale, offset))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TableMap {
            delimiter: spec.delimiter as u8,
            decimal_comma: spec.decimal_comma,
            missing: spec.missing,
            entity,
            time_columns,
            time,
            readings,
        })
    }

    /// The columns the map reads (to check a file's header against).
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.time_columns
            .iter()
            .map(String::as_str)
            .chain(self.readings.iter().map(|r| r.1.as_str()))
            .chain(self.entity.iter().filter_map(|p| match p {
                Piece::Column(c) => Some(c.as_str()),
                Piece::Text(_) => None,
            }))
    }

    /// The readings of one row, numbered from `seq`; missing values are
    /// skipped, bad ones reported.
    pub fn row(
        &self,
        row: &dyn Row,
        clock: &Clock,
        seq: &mut u64,
        out: &mut Vec<Message>,
        bad: &mut Vec<Malformed>,
    ) {
        // A row of empty cells (a file's trailing `;;;;`) is no row.
        if self
            .columns()
            .all(|c| row.get(c).is_none_or(|v| v.trim().is_empty()))
        {
            return;
        }
        let field = |c: &str| {
            row.get(c)
                .ok_or_else(|| Malformed::new("bad_row", format!("no column `{}`", q(c))))
        };
        let entity = self.entity.iter().try_fold(String::new(), |mut s, p| {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::Column(c) => s.push_str(field(c)?.trim()),
            }
            Ok::<_, Malformed>(s)
        });
        let entity = entity.and_then(|e| {
            // Named (not only hashed): the message carries the name.
            EntityId::parse(&e).map_err(|x| Malformed::new("bad_entity", x.to_string()))
        });
        let time = self
            .time_columns
            .iter()
            .map(|c| field(c).map(str::trim))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|parts| self.read_time(&parts.join(" "), clock));
        let (entity, time) = match (entity, time) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => return bad.push(e),
        };
        for (m, column, scale, offset) in &self.readings {
            let raw = match field(column) {
                Ok(r) => r.trim(),
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            // An empty cell is a missing value, as are the map's markers.
            if raw.is_empty() || self.missing.iter().any(|x| x == raw) {
                continue;
            }
            let text = if self.decimal_comma {
                raw.replace(',', ".")
            } else {
                raw.to_string()
            };
            let value = match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Value::Number(x * scale + offset),
                _ => match reading::bare_value(*m, &text) {
                    Ok(v) => v,
                    Err(e) => {
                        bad.push(e);
                        continue;
                    }
                },
            };
            out.push(Message {
                entity,
                measurand: *m,
                time,
                value,
                seq: *seq,
                corrupt: false,
            });
            *seq += 1;
        }
    }

    /// The readings of one row, as [`TableMap::row`] reads them; the
    /// row's first fault when it gave none.
    pub fn messages(
        &self,
        row: &dyn Row,
        clock: &Clock,
        seq: &mut u64,
    ) -> Result<Vec<Message>, Malformed> {
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        self.row(row, clock, seq, &mut out, &mut bad);
        match bad.into_iter().next() {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    fn read_time(&self, text: &str, clock: &Clock) -> Result<SimTime, Malformed> {
        match &self.time {
            Time::Known(f) => {
                let json = match text.parse::<f64>() {
                    Ok(x) => Json::from(x),
                    Err(_) => Json::from(text),
                };
                f.read(&json, clock)
            }
            Time::Pattern(p) => {
                let dt = jiff::civil::DateTime::strptime(p, text).map_err(|e| {
                    Malformed::new(
                        "bad_time",
                        format!("`{}` does not match `{p}`: {e}", q(text)),
                    )
                })?;
                let ts = dt
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .map_err(|e| Malformed::new("bad_time", e.to_string()))?
                    .timestamp();
                Ok(clock.from_unix_ms(ts.as_millisecond()))
            }
        }
    }
}

/// A CSV record with its header.
pub struct CsvRow<'a> {
    pub header: &'a csv::StringRecord,
    pub record: &'a csv::StringRecord,
}

impl Row for CsvRow<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h.trim() == column)?;
        self.record.get(i)
    }
}

/// An NDJSON line: fields by dotted path; numbers and flags as text.
pub struct JsonRow {
    pub json: Json,
    scratch: Vec<(String, String)>,
}

impl JsonRow {
    pub fn new(json: Json, columns: &[&str]) -> JsonRow {
        let scratch = columns
            .iter()
            .filter_map(|c| {
                let v = reading::field(&json, c)?;
                let text = match v {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                };
                Some((c.to_string(), text))
            })
            .collect();
        JsonRow { json, scratch }
    }
}

impl Row for JsonRow {
    fn get(&self, column: &str) -> Option<&str> {
        self.scratch
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }
}

/// A line in the load generator's own NDJSON shape, without a map.
pub fn native_line(line: &[u8], seq: u64) -> Result<Message, Malformed> {
    let json = reading::json(line)?;
    let entity = json
        .get("entity")
        .and_then(Json::as_str)
        .ok_or_else(|| Malformed::new("bad_payload", "no `entity`"))?;
    let entity =
        EntityId::parse(entity).map_err(|e| Malformed::new("bad_entity", e.to_string()))?;
    let m = reading::measurand(
        json.get("measurand")
            .and_then(Json::as_str)
            .ok_or_else(|| Malformed::new("bad_payload", "no `measurand`"))?,
    )?;
    let value = reading::value(
        m,
        json.get("value")
            .ok_or_else(|| Malformed::new("bad_payload", "no `value`"))?,
    )?;
    let time = json
        .get("time_ms")
        .and_then(Json::as_i64)
        .ok_or_else(|| Malformed::new("bad_time", "no `time_ms`"))?;
    Ok(Message {
        entity,
        measurand: m,
        time: SimTime(time),
        value,
        seq: json.get("seq").and_then(Json::as_u64).unwrap_or(seq),
        corrupt: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UCI: &str = r#"
        delimiter = ";"
        decimal_comma = true
        missing = ["-200", ""]
        entity = "sensor/uci-station"
        time = { columns = ["Date", "Time"], format = "%d/%m/%Y %H.%M.%S" }
        reading = [
          { measurand = "temperature", column = "T" },
          { measurand = "no2", column = "NO2(GT)" },
        ]
    "#;

    fn clock() -> Clock {
        Clock {
            now: SimTime(0),
            epoch_unix_ms: 0,
        }
    }

    #[test]
    fn a_uci_row_reads_with_its_decimal_commas_and_missing_values() {
        let map = TableMap::parse(UCI).unwrap();
        let text =
            "Date;Time;NO2(GT);T\n10/03/2004;18.00.00;113;13,6\n10/03/2004;19.00.00;-200;13,3\n";
        let mut r = csv::ReaderBuilder::new()
            .delimiter(map.delimiter)
            .from_reader(text.as_bytes());
        let header = r.headers().unwrap().clone();
        let (mut out, mut bad, mut seq) = (Vec::new(), Vec::new(), 0);
        for rec in r.records() {
            let rec = rec.unwrap();
            map.row(
                &CsvRow {
                    header: &header,
                    record: &rec,
                },
                &clock(),
                &mut seq,
                &mut out,
                &mut bad,
            );
        }
        assert!(bad.is_empty(), "{bad:?}");
        let got: Vec<_> = out.iter().map(|m| (m.measurand, m.value.clone())).collect();
        assert_eq!(
            got,
            [
                (Measurand::Temperature, Value::Number(13.6)),
                (Measurand::No2, Value::Number(113.0)),
                (Measurand::Temperature, Value::Number(13.3)),
            ],
            "the -200 is missing, not a reading"
        );
        let t = jiff::Timestamp::from_second(1_078_941_600).unwrap(); // 2004-03-10T18:00Z
        assert_eq!(out[0].time, SimTime(t.as_millisecond()));
        assert_eq!(out[2].time - out[0].time, SimTime::hours(1));
    }

    #[test]
    fn ndjson_rows_and_the_native_shape() {
        let map = TableMap::parse(
            r#"
            entity = "sensor/{id}"
            time = { column = "ts", format = "unix_s" }
            reading = [{ measurand = "temperature", column = "t.c" }]
            "#,
        )
        .unwrap();
        let cols: Vec<&str> = map.columns().collect();
        let row = JsonRow::new(
            serde_json::json!({"id": "a-1", "ts": 60, "t": {"c": 20.5}}),
            &cols,
        );
        let (mut out, mut bad, mut seq) = (Vec::new(), Vec::new(), 0);
        map.row(&row, &clock(), &mut seq, &mut out, &mut bad);
        assert_eq!(out[0].entity, EntityId::of(twin_core::Kind::Sensor, "a-1"));
        assert_eq!(out[0].time, SimTime(60_000));
        assert_eq!(out[0].value, Value::Number(20.5));
        let m = native_line(
            br#"{"entity":"sensor/a","measurand":"pm25","value":3,"time_ms":5,"seq":9}"#,
            0,
        )
        .unwrap();
        assert_eq!(
            (m.measurand, m.time, m.seq),
            (Measurand::Pm25, SimTime(5), 9)
        );
        assert_eq!(native_line(b"{}", 0).unwrap_err().reason, "bad_payload");
    }

    #[test]
    fn bad_maps_and_rows_are_named() {
        assert!(TableMap::parse("entity = \"sensor/a\"\ntime = { column = \"t\", format = \"someday\" }\nreading = [{ measurand = \"pm25\", column = \"v\" }]").unwrap_err().contains("someday"));
        assert!(TableMap::parse("entity = \"robot/a\"\ntime = { column = \"t\", format = \"unix_s\" }\nreading = [{ measurand = \"pm25\", column = \"v\" }]").unwrap_err().contains("robot"));
        let map = TableMap::parse("entity = \"sensor/a\"\ntime = { column = \"t\", format = \"unix_s\" }\nreading = [{ measurand = \"pm25\", column = \"v\" }]").unwrap();
        let row = JsonRow::new(serde_json::json!({"t": "noon", "v": 1}), &["t", "v"]);
        let (mut out, mut bad, mut seq) = (Vec::new(), Vec::new(), 0);
        map.row(&row, &clock(), &mut seq, &mut out, &mut bad);
        assert_eq!((out.len(), bad[0].reason), (0, "bad_time"));
    }
}
