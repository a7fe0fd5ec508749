//! Page tokens and request counts: what a client sends back to continue a
//! listing is input like any other, checked before it is used.
//!
//! Tokens are plain text a client must not build: an entity page resumes
//! after an id (its raw value), a history page at a time (`h` and ms), an
//! event page at a position in the log (ms `.` arrival order).

use tonic::Status;
use twin_core::store::EventPos;
use twin_core::{EntityId, SimTime};

/// A count from a request: `default` when 0, refused above `max`.
pub(super) fn bounded(n: u32, default: usize, max: usize, field: &str) -> Result<usize, Status> {
    match n as usize {
        0 => Ok(default),
        n if n > max => Err(Status::invalid_argument(format!(
            "{field}: {n} is over the largest allowed, {max}"
        ))),
        n => Ok(n),
    }
}

fn refused(token: &str) -> Status {
    let shown: String = token.chars().take(64).collect();
    Status::invalid_argument(format!(
        "page_token: `{shown}` is not a token this server gave"
    ))
}

pub(super) fn entity_token(next: Option<EntityId>) -> String {
    next.map(|id| id.raw().to_string()).unwrap_or_default()
}

/// The id a page resumes after (`None`: from the first).
pub(super) fn after_entity(token: &str) -> Result<Option<EntityId>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let raw: u64 = token.parse().map_err(|_| refused(token))?;
    EntityId::from_raw(raw)
        .map(Some)
        .map_err(|_| refused(token))
}

pub(super) fn time_token(next: Option<SimTime>) -> String {
    next.map(|t| format!("h{}", t.as_ms())).unwrap_or_default()
}

/// Where a history page starts: `from`, or a token inside `[from, to)`.
pub(super) fn history_from(token: &str, from: SimTime, to: SimTime) -> Result<SimTime, Status> {
    if token.is_empty() {
        return Ok(from);
    }
    let t = token
        .strip_prefix('h')
        .and_then(|t| t.parse::<i64>().ok())
        .map(SimTime)
        .ok_or_else(|| refused(token))?;
    if t < from || t >= to {
        return Err(refused(token));
    }
    Ok(t)
}

pub(super) fn event_token(next: Option<EventPos>) -> String {
    next.map(|p| format!("{}.{}", p.time.as_ms(), p.seq))
        .unwrap_or_default()
}

/// Where an event page starts: `from`, or a token at or after it.
pub(super) fn events_from(token: &str, from: SimTime) -> Result<EventPos, Status> {
    if token.is_empty() {
        return Ok(EventPos::at(from));
    }
    let (t, seq) = token.split_once('.').ok_or_else(|| refused(token))?;
    let pos = EventPos {
        time: SimTime(t.parse().map_err(|_| refused(token))?),
        seq: seq.parse().map_err(|_| refused(token))?,
    };
    if pos.time < from {
        return Err(refused(token));
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_others_are_refused() {
        let id = EntityId::new(twin_core::Kind::Sensor, "t0");
        assert_eq!(after_entity(&entity_token(Some(id))).unwrap(), Some(id));
        assert_eq!(after_entity("").unwrap(), None);
        for bad in ["x", "0", "-1", "18446744073709551616"] {
            assert!(after_entity(bad).is_err(), "{bad}");
        }
        let (from, to) = (SimTime(1_000), SimTime(2_000));
        let t = time_token(Some(SimTime(1_500)));
        assert_eq!(history_from(&t, from, to).unwrap(), SimTime(1_500));
        for bad in ["h999", "h2000", "1500", "h", "hx"] {
            assert!(history_from(bad, from, to).is_err(), "{bad}");
        }
        let p = EventPos {
            time: SimTime(1_200),
            seq: 7,
        };
        assert_eq!(events_from(&event_token(Some(p)), from).unwrap(), p);
        for bad in ["1200", "999.1", "a.b", "1200.-1"] {
            assert!(events_from(bad, from).is_err(), "{bad}");
        }
    }
}
