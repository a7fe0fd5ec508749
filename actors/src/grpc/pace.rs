//! How often a watch stream may send.
//!
//! Every message on a watch stream costs the server (and its client) about
//! the same whatever it carries: a wakeup, an encoding, a frame. A stream
//! therefore gathers what arrives between two messages and sends it as one,
//! at least [`MIN_INTERVAL`] apart; and the interval widens with the number of
//! streams open, so that all of them together send at most
//! [`MESSAGES_PER_S`] messages a second. A thousand busy watchers thus cost
//! ingest a bounded share of the machine, whatever their number, and no
//! event is dropped for it: they only arrive in larger batches. An idle
//! stream still sends its first event at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The least time between two messages of one stream: a screen gains
/// nothing from more than twenty updates a second.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// Messages per second of all watch streams together, at most. Measured
/// with `twin bench grpc`: each message costs server and client together
/// tens of microseconds of CPU whatever it carries, so 20,000 a second (a
/// thousand streams at [`MIN_INTERVAL`]) took a fifth of ingest's rate on two
/// cores, and 4,000 about a twentieth.
pub const MESSAGES_PER_S: f64 = 4_000.0;

/// The watch streams open on a server.
#[derive(Clone, Default)]
pub struct WatchPace {
    open: Arc<AtomicUsize>,
}

impl WatchPace {
    /// Counts a new stream for as long as the returned guard lives.
    pub fn open(&self) -> OpenWatch {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenWatch {
            open: self.open.clone(),
        }
    }
}

/// One open watch stream; see [`WatchPace::open`].
pub struct OpenWatch {
    open: Arc<AtomicUsize>,
}

impl OpenWatch {
    /// The least time from this stream's last message to its next one, now.
    pub fn interval(&self) -> Duration {
        interval_for(self.open.load(Ordering::Relaxed))
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn interval_for(streams: usize) -> Duration {
    MIN_INTERVAL.max(Duration::from_secs_f64(streams as f64 / MESSAGES_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_widens_with_the_streams_open_and_narrows_as_they_close() {
        let pace = WatchPace::default();
        let first = pace.open();
        assert_eq!(first.interval(), MIN_INTERVAL);
        let many: Vec<OpenWatch> = (0..999).map(|_| pace.open()).collect();
        // A thousand streams at 4 messages a second each: 4,000 in all.
        assert_eq!(first.interval(), Duration::from_millis(250));
        drop(many);
        assert_eq!(first.interval(), MIN_INTERVAL);
    }
}
