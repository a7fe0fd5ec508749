//! The recording format: the ordered input log of a run, with state hashes.
//!
//! A recording is what a runtime was given — entity records, observation
//! batches, commands, clock ticks — in the order it was given them, plus, every
//! few steps, a hash of what the runtime had made of them. Re-driving a fresh
//! runtime with the same inputs in lockstep must reproduce every hash; the
//! first hash that differs names where a replay diverged.
//!
//! The file is a magic header followed by blocks. Each block is
//! `[length u32][checksum u64][payload]` (little-endian), the payload a
//! postcard-encoded [`Block`] and the checksum its xxh3. A reader
//! checks every checksum, so a damaged file is refused at the offset of the
//! first bad block instead of being replayed wrongly.

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::id::EntityId;
use crate::observation::Observation;
use crate::state::EntityRecord;
use crate::time::SimTime;

const MAGIC: &[u8; 8] = b"TWINREC1";
/// Largest block a reader accepts: a bound against a corrupted length.
const MAX_BLOCK: u32 = 512 << 20;

/// One block of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Block {
    /// What was recorded, first in every file.
    Header(Header),
    /// Entities created before the inputs that follow.
    Create {
        at: SimTime,
        records: Vec<EntityRecord>,
    },
    /// A batch of observations ingested during step `step`.
    Observations {
        step: u64,
        observations: Vec<Observation>,
    },
    /// A batch of commands applied during step `step`.
    Commands { step: u64, commands: Vec<Command> },
    /// The runtime's periodic upkeep at `now`.
    Tick { step: u64, now: SimTime },
    /// The end of step `step`, at simulated time `now`.
    Step { step: u64, now: SimTime },
    /// What the runtime had made of every input so far.
    Hash(StateHash),
    /// The recording ended cleanly.
    End { steps: u64 },
    /// The inference models the run hosted, right after the header when
    /// there are any: their `[[inference]]` entries as JSON and the files
    /// they read, so that a replay hosts the same models.
    Inference {
        entries: String,
        files: Vec<(String, String)>,
    },
    /// The planners the run hosted, right after the header (and the
    /// models) when there are any: their `[[planning]]` entries as JSON.
    Planning { entries: String },
    /// What the planners did at the tick of step `step`, written after
    /// it: the schedules they solved (by planner, each as postcard bytes),
    /// which a replay hands back rather than solving again, and the
    /// commands they decided, which the replay's must equal.
    Planned {
        step: u64,
        schedules: Vec<(String, Vec<u8>)>,
        commands: Vec<Command>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The scenario's name and seed, for people reading the file.
    pub scenario: String,
    pub seed: u64,
    /// Simulated time of the first input.
    pub start: SimTime,
    /// Steps between state hashes.
    pub hash_every: u64,
}

/// The runtime's state after step `step`: its event log (count and hash) and,
/// for every entity by id, the hash of its record and of its own events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateHash {
    pub step: u64,
    pub now: SimTime,
    pub events: u64,
    pub event_log: u64,
    pub entities: Vec<EntityHash>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityHash {
    pub id: EntityId,
    pub state: u64,
    pub events: u64,
}

impl StateHash {
    /// Where `self` (replayed) first differs from `recorded`: the first entity
    /// in id order whose state or events differ, or the event log as a whole
    /// (an entity missing on one side, events without an entity).
    pub fn divergence(&self, recorded: &StateHash) -> Option<Divergence> {
        if self == recorded {
            return None;
        }
        let mut ours = self.entities.iter().peekable();
        let mut theirs = recorded.entities.iter().peekable();
        loop {
            match (ours.peek(), theirs.peek()) {
                (None, None) => break,
                (Some(a), Some(b)) if a.id == b.id => {
                    if a.state != b.state {
                        return Some(Divergence::State(a.id));
                    }
                    if a.events != b.events {
                        return Some(Divergence::Events(a.id));
                    }
                    ours.next();
                    theirs.next();
                }
                (Some(a), Some(b)) => return Some(Divergence::Missing(a.id.min(b.id))),
                (Some(a), None) => return Some(Divergence::Missing(a.id)),
                (None, Some(b)) => return Some(Divergence::Missing(b.id)),
            }
        }
        Some(Divergence::EventLog {
            replayed: self.events,
            recorded: recorded.events,
        })
    }
}

/// What differs at a diverging hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// The entity's record differs.
    State(EntityId),
    /// The entity's record agrees but the events it emitted do not.
    Events(EntityId),
    /// The entity exists on one side only.
    Missing(EntityId),
    EventLog {
        replayed: u64,
        recorded: u64,
    },
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::State(e) => write!(f, "entity {e} has another state"),
            Divergence::Events(e) => write!(f, "entity {e} emitted other events"),
            Divergence::Missing(e) => write!(f, "entity {e} exists on one side only"),
            Divergence::EventLog { replayed, recorded } => write!(
                f,
                "the event log differs ({replayed} events replayed, {recorded} recorded)"
            ),
        }
    }
}

/// A digest of one entity's record (its serialised form).
pub fn record_hash(record: &EntityRecord) -> u64 {
    let bytes = postcard::to_stdvec(record).expect("records always serialise");
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a twin recording (bad magic at offset 0)")]
    NotARecording,
    #[error("corrupt block at offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
}

/// Writes blocks to a file.
pub struct Writer {
    out: BufWriter<std::fs::File>,
    buf: Vec<u8>,
    offset: u64,
}

impl Writer {
    pub fn create(path: &Path) -> Result<Writer, RecordingError> {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        out.write_all(MAGIC)?;
        Ok(Writer {
            out,
            buf: Vec::new(),
            offset: MAGIC.len() as u64,
        })
    }

    pub fn write(&mut self, block: &Block) -> Result<(), RecordingError> {
        self.buf.clear();
        let payload = postcard::to_extend(block, std::mem::take(&mut self.buf))
            .map_err(|e| io::Error::other(e.to_string()))?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_BLOCK)
            .ok_or_else(|| io::Error::other("block too large for a recording"))?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&checksum(&payload).to_le_bytes())?;
        self.out.write_all(&payload)?;
        self.offset += 12 + payload.len() as u64;
        self.buf = payload;
        Ok(())
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn finish(mut self) -> Result<(), RecordingError> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(())
    }
}

fn checksum(payload: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(payload)
}

/// Reads and checks blocks from a file, in order.
pub struct Reader<R> {
    input: R,
    offset: u64,
    buf: Vec<u8>,
}

impl Reader<io::BufReader<std::fs::File>> {
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        Reader::new(io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(path)?,
        ))
    }
}

impl<R: Read> Reader<R> {
    pub fn new(mut input: R) -> Result<Self, RecordingError> {
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| RecordingError::NotARecording)?;
        if &magic != MAGIC {
            return Err(RecordingError::NotARecording);
        }
        Ok(Reader {
            input,
            offset: MAGIC.len() as u64,
            buf: Vec::new(),
        })
    }

    /// Offset of the next block.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next block, `None` at a clean end of file.
    pub fn next_block(&mut self) -> Result<Option<Block>, RecordingError> {
        let at = self.offset;
        let corrupt = |reason: String| RecordingError::Corrupt { offset: at, reason };
        let mut head = [0u8; 12];
        match read_full(&mut self.input, &mut head)? {
            0 => return Ok(None),
            12 => {}
            n => return Err(corrupt(format!("truncated block header ({n} of 12 bytes)"))),
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let sum = u64::from_le_bytes(head[4..].try_into().expect("8 bytes"));
        if len > MAX_BLOCK {
            return Err(corrupt(format!("block length {len} is beyond any block")));
        }
        self.buf.resize(len as usize, 0);
        let got = read_full(&mut self.input, &mut self.buf)?;
        if got < len as usize {
            return Err(corrupt(format!("truncated block ({got} of {len} bytes)")));
        }
        if checksum(&self.buf) != sum {
            return Err(corrupt("checksum mismatch".into()));
        }
        let block = postcard::from_bytes(&self.buf)
            .map_err(|e| corrupt(format!("undecodable block: {e}")))?;
        self.offset += 12 + len as u64;
        Ok(Some(block))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Kind;
    use crate::measurand::Measurand;

    fn blocks() -> Vec<Block> {
        let e = EntityId::of(Kind::Sensor, "s1");
        vec![
            Block::Header(Header {
                scenario: "t".into(),
                seed: 1,
                start: SimTime::ZERO,
                hash_every: 1,
            }),
            Block::Observations {
                step: 0,
                observations: vec![Observation::number(
                    e,
                    SimTime::secs(1),
                    Measurand::Temperature,
                    20.5,
                )],
            },
            Block::Hash(StateHash {
                step: 0,
                now: SimTime::secs(1),
                events: 3,
                event_log: 42,
                entities: vec![EntityHash {
                    id: e,
                    state: 7,
                    events: 8,
                }],
            }),
            Block::End { steps: 1 },
        ]
    }

    fn write(path: &Path) -> Vec<u64> {
        let mut w = Writer::create(path).unwrap();
        let mut offsets = Vec::new();
        for b in blocks() {
            offsets.push(w.offset());
            w.write(&b).unwrap();
        }
        w.finish().unwrap();
        offsets
    }

    fn read_all(path: &Path) -> Result<Vec<Block>, RecordingError> {
        let mut r = Reader::open(path)?;
        let mut out = Vec::new();
        while let Some(b) = r.next_block()? {
            out.push(b);
        }
        Ok(out)
    }

    #[test]
    fn blocks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        write(&path);
        assert_eq!(read_all(&path).unwrap(), blocks());
    }

    #[test]
    fn damage_is_refused_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let offsets = write(&path);
        let clean = std::fs::read(&path).unwrap();
        // Flip a byte inside the observation block's payload.
        let mut bytes = clean.clone();
        bytes[offsets[1] as usize + 20] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let e = read_all(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("corrupt block at offset {}: checksum mismatch", offsets[1])
        );
        // Cut the file inside the last block.
        std::fs::write(&path, &clean[..clean.len() - 2]).unwrap();
        let e = read_all(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "corrupt block at offset {}: truncated",
                offsets[3]
            )),
            "{e}"
        );
        std::fs::write(&path, b"hello world").unwrap();
        assert!(matches!(
            read_all(&path),
            Err(RecordingError::NotARecording)
        ));
    }

    #[test]
    fn divergence_names_the_first_differing_entity() {
        let (a, b) = (
            EntityId::of(Kind::Sensor, "a"),
            EntityId::of(Kind::Sensor, "b"),
        );
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let h = |x, y, ev| StateHash {
            step: 5,
            now: SimTime::ZERO,
            events: 2,
            event_log: 9,
            entities: vec![
                EntityHash {
                    id: lo,
                    state: x,
                    events: 1,
                },
                EntityHash {
                    id: hi,
                    state: y,
                    events: ev,
                },
            ],
        };
        assert_eq!(h(1, 2, 3).divergence(&h(1, 2, 3)), None);
        assert_eq!(
            h(1, 3, 3).divergence(&h(1, 2, 3)),
            Some(Divergence::State(hi))
        );
        assert_eq!(
            h(0, 3, 3).divergence(&h(1, 2, 3)),
            Some(Divergence::State(lo))
        );
        assert_eq!(
            h(1, 2, 4).divergence(&h(1, 2, 3)),
            Some(Divergence::Events(hi))
        );
        let mut other_log = h(1, 2, 3);
        other_log.event_log = 10;
        assert!(matches!(
            other_log.divergence(&h(1, 2, 3)),
            Some(Divergence::EventLog { .. })
        ));
    }
}
