//! File sinks: `ndjson:PATH` (one JSON object per line) and `csv:PATH`
//! (a header, then `entity,measurand,time_ms,value,seq,sent_us`); `-` is
//! standard output. Latency is the time to the buffered writer.

use std::io::Write;
use std::time::Instant;

use super::{Message, Sink, SinkStats};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

pub struct FileSink {
    out: Box<dyn Write + Send>,
    format: Format,
    sent: u64,
    latencies: (Vec<u32>, u64),
    line: Vec<u8>,
}

impl FileSink {
    pub fn open(path: &str, format: Format) -> Result<FileSink, String> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            ))
        } else {
            let f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, f))
        };
        let mut sink = FileSink {
            out,
            format,
            sent: 0,
            latencies: (Vec::new(), 0),
            line: Vec::with_capacity(256),
        };
        if format == Format::Csv {
            sink.out
                .write_all(b"entity,measurand,time_ms,value,seq,sent_us\n")
                .map_err(|e| format!("{path}: {e}"))?;
        }
        Ok(sink)
    }

    fn encode(&mut self, msg: &Message, sent_us: i64) {
        let l = &mut self.line;
        l.clear();
        match self.format {
            Format::Ndjson => {
                let _ = write!(
                    l,
                    "{{\"entity\":\"{}\",\"measurand\":\"{}\",\"value\":",
                    msg.entity,
                    msg.measurand.name()
                );
                if msg.corrupt {
                    l.extend_from_slice(b"\n");
                    return;
                }
                super::json_value(&msg.value, l);
                let _ = writeln!(
                    l,
                    ",\"time_ms\":{},\"seq\":{},\"sent_us\":{sent_us}}}",
                    msg.time.as_ms(),
                    msg.seq
                );
            }
            Format::Csv => {
                let mut value = Vec::new();
                super::json_value(&msg.value, &mut value);
                let value = String::from_utf8_lossy(&value);
                let value = if msg.corrupt {
                    "\u{fffd}".into()
                } else if value.contains([',', '"']) {
                    format!("\"{}\"", value.replace('"', "\"\""))
                } else {
                    value.into_owned()
                };
                let _ = writeln!(
                    l,
                    "{},{},{},{value},{},{sent_us}",
                    msg.entity,
                    msg.measurand.name(),
                    msg.time.as_ms(),
                    msg.seq
                );
            }
        }
    }
}

impl Sink for FileSink {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        for msg in batch {
            let t = Instant::now();
            self.encode(msg, super::unix_us());
            self.out.write_all(&self.line).map_err(|e| e.to_string())?;
            self.sent += 1;
            let (samples, seen) = &mut self.latencies;
            super::sample(samples, seen, t.elapsed().as_micros() as u64);
        }
        Ok(())
    }

    async fn flush(&mut self, _: std::time::Duration) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            sent: self.sent,
            errors: 0,
            inflight: 0,
        }
    }

    fn latencies_us(&self) -> Vec<u32> {
        self.latencies.0.clone()
    }
}
