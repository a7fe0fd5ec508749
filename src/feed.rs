//! `twin feed`: a recorded series replayed into a running twin by time, as
//! a live feed would bring it. Rows of a CSV or NDJSON file become readings
//! through a map (`twin_feed::table`); NDJSON in the load generator's own
//! shape needs none. Readings go to the twin's `Ingest` in batches, paced
//! by their timestamps (`--speed xN`) or as fast as the twin takes them
//! (`--speed max`); `--shift` moves the series so that it starts at the
//! twin's clock now.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use serde::Serialize;
use twin_core::{ClockMode, SimTime};
use twin_feed::sink::grpc::{BATCH, GrpcSink};
use twin_feed::sink::{self, Message, Sink};
use twin_feed::table::{CsvRow, JsonRow, TableMap, native_line};
use twin_feed::{Clock, Malformed};
use twin_proto::client::Connect;
use twin_proto::v1 as pb;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The series: a .csv, or a .ndjson/.jsonl file.
    file: PathBuf,
    /// How its rows map to readings (TOML; see `twin_feed::table`). NDJSON
    /// in the shape `twin loadgen --sink ndjson:` writes needs none.
    #[arg(long)]
    map: Option<PathBuf>,
    /// Pace: `xN` replays N times faster than recorded, `real` as recorded,
    /// `max` as fast as the twin takes it.
    #[arg(long, default_value = "max", value_parser = ClockMode::parse)]
    speed: ClockMode,
    /// The twin's gRPC address.
    #[arg(long, env = "TWIN_GRPC", default_value = "http://127.0.0.1:50051")]
    grpc: String,
    /// Bearer token (a `write` role at least).
    #[arg(long, env = "TWIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Move the series in time so that its first reading is at the
    /// twin's clock now.
    #[arg(long)]
    shift: bool,
    /// Stop after this many readings.
    #[arg(long)]
    limit: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What a replay did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub rows: u64,
    pub readings: u64,
    pub malformed: u64,
    /// Readings the twin refused (out of order, unknown entity, …).
    pub refused: u64,
    /// The first row that could not be read, and why.
    pub first_malformed: Option<String>,
    /// The first reading the twin refused, and why.
    pub first_refused: Option<String>,
    pub seconds: f64,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub fn main(args: Args) -> Result<()> {
    let rt = crate::tokio_runtime()?;
    let r = rt.block_on(run(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{} rows, {} readings sent in {:.1} s: {} malformed, {} refused by the twin",
            r.rows, r.readings, r.seconds, r.malformed, r.refused,
        );
        for (what, first) in [
            ("malformed", &r.first_malformed),
            ("refused", &r.first_refused),
        ] {
            if let Some(p) = first {
                println!("first {what}: {p}");
            }
        }
    }
    Ok(())
}

/// The rows of the file, as messages, in file order.
struct Rows {
    lines: Box<dyn Iterator<Item = std::result::Result<Vec<Message>, Malformed>>>,
}

impl Rows {
    fn open(args: &Args, clock: Clock) -> Result<Rows> {
        let path = &args.file;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let map = args.map.as_deref().map(TableMap::load).transpose()?;
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut seq = 0u64;
        let lines: Box<dyn Iterator<Item = _>> = match (ext, map) {
            ("csv", Some(map)) => {
                let mut r = csv::ReaderBuilder::new()
                    .delimiter(map.delimiter)
                    .flexible(true)
                    .from_reader(file);
                let header = r.headers()?.clone();
                for c in map.columns() {
                    if !header.iter().any(|h| h.trim() == c) {
                        return Err(format!(
                            "{}: no column `{c}` (the map reads it)",
                            path.display()
                        )
                        .into());
                    }
                }
                Box::new(r.into_records().map(move |rec| {
                    let rec = rec.map_err(|e| Malformed::new("bad_row", e.to_string()))?;
                    let row = CsvRow {
                        header: &header,
                        record: &rec,
                    };
                    map.messages(&row, &clock, &mut seq)
                }))
            }
            ("csv", None) => return Err("a CSV file needs --map".into()),
            ("ndjson" | "jsonl" | "json", map) => {
                let columns: Vec<String> = map
                    .as_ref()
                    .map(|m| m.columns().map(String::from).collect())
                    .unwrap_or_default();
                let mut reader = std::io::BufReader::new(file);
                let lines = std::iter::from_fn(move || bounded_line(&mut reader));
                Box::new(lines.filter_map(move |line| {
                    let line = match line {
                        Ok(l) if l.iter().all(u8::is_ascii_whitespace) => return None,
                        Ok(l) => l,
                        Err(e) => return Some(Err(Malformed::new("bad_row", e.to_string()))),
                    };
                    seq += 1;
                    Some(match &map {
                        None => native_line(&line, seq - 1).map(|m| vec![m]),
                        Some(map) => twin_feed::reading::json(&line).and_then(|json| {
                            let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
                            map.messages(&JsonRow::new(json, &cols), &clock, &mut seq)
                        }),
                    })
                }))
            }
            _ => {
                return Err(format!(
                    "{}: expected a .csv, .ndjson or .jsonl file",
                    path.display()
                )
                .into());
            }
        };
        Ok(Rows { lines })
    }
}

/// Longest NDJSON line read, bytes: a file without line breaks must not
/// be read into memory whole.
const MAX_LINE: usize = 1 << 20;

/// The next line of `r` (without its break); a longer one than
/// [`MAX_LINE`] is skipped to its end and reported.
fn bounded_line(r: &mut impl BufRead) -> Option<std::io::Result<Vec<u8>>> {
    use std::io::Read;
    let mut line = Vec::new();
    match r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
    {
        Ok(0) => None,
        Ok(_) if line.len() > MAX_LINE && line.last() != Some(&b'\n') => {
            // Skip the rest of the line, a buffer at a time.
            loop {
                let (done, used) = match r.fill_buf() {
                    Ok([]) => (true, 0),
                    Ok(buf) => match buf.iter().position(|b| *b == b'\n') {
                        Some(i) => (true, i + 1),
                        None => (false, buf.len()),
                    },
                    Err(e) => return Some(Err(e)),
                };
                r.consume(used);
                if done {
                    break;
                }
            }
            Some(Err(std::io::Error::other(format!(
                "a line longer than {MAX_LINE} bytes"
            ))))
        }
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            Some(Ok(line))
        }
        Err(e) => Some(Err(e)),
    }
}

pub async fn run(args: &Args) -> Result<Report> {
    // The file and its map are checked before the twin is called.
    Rows::open(
        args,
        Clock {
            now: SimTime::ZERO,
            epoch_unix_ms: 0,
        },
    )?;
    let mut client = Connect {
        url: args.grpc.clone(),
        token: args.token.clone(),
        ..Connect::default()
    }
    .connect()
    .await?;
    let status = client.get_simulation(pb::Empty {}).await?.into_inner();
    let clock = Clock {
        now: SimTime(status.time_ms),
        epoch_unix_ms: status.epoch_unix_ms,
    };
    let factor = match args.speed {
        ClockMode::AsFastAsPossible => None,
        ClockMode::RealTime => Some(1.0),
        ClockMode::Accelerated(f) => Some(f),
        ClockMode::Stepped => return Err("--speed: xN, real or max".into()),
    };
    let mut sink = GrpcSink::connect(&args.grpc, args.token.clone()).await?;
    let mut rows = Rows::open(args, clock)?;
    let mut r = Report::default();
    let start = Instant::now();
    let mut first: Option<SimTime> = None;
    let mut shift = SimTime::ZERO;
    let mut batch: Vec<Message> = Vec::with_capacity(BATCH);
    for row in rows.lines.by_ref() {
        r.rows += 1;
        let mut msgs = match row {
            Ok(m) => m,
            Err(e) => {
                r.malformed += 1;
                r.first_malformed
                    .get_or_insert_with(|| format!("row {}: {e}", r.rows));
                continue;
            }
        };
        for m in &mut msgs {
            let t0 = *first.get_or_insert_with(|| {
                if args.shift {
                    shift = clock.now - m.time;
                }
                m.time
            });
            if let Some(f) = factor {
                let secs = ((m.time - t0).as_ms().max(0) as f64 / 1000.0) / f;
                sink::hold(&mut sink, &mut batch, sink::due(start, secs)).await?;
            }
            m.time = m.time + shift;
        }
        batch.extend(msgs);
        if batch.len() >= BATCH {
            sink.send(&batch).await?;
            batch.clear();
        }
        if args
            .limit
            .is_some_and(|l| sink.stats().sent + batch.len() as u64 >= l)
        {
            break;
        }
    }
    sink.send(&batch).await?;
    sink.flush(Duration::from_secs(60)).await?;
    let s = sink.stats();
    r.readings = s.sent;
    r.refused = s.errors;
    r.first_refused = sink.first_error();
    r.seconds = start.elapsed().as_secs_f64();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_whole_or_skipped_when_too_long() {
        let mut text = b"{\"a\":1}\n".to_vec();
        text.extend(vec![b'x'; MAX_LINE + 10]);
        text.extend(b"\nlast");
        let mut r = std::io::Cursor::new(text);
        assert_eq!(bounded_line(&mut r).unwrap().unwrap(), b"{\"a\":1}");
        let e = bounded_line(&mut r).unwrap().unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        assert_eq!(bounded_line(&mut r).unwrap().unwrap(), b"last");
        assert!(bounded_line(&mut r).is_none());
    }
}
