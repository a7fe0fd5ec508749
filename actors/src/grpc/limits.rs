//! The server's limits: message size, batch size, and a per-client rate of
//! observations. Each refusal is `RESOURCE_EXHAUSTED` with a message saying
//! which limit and its value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tonic::Status;

#[derive(Clone, Debug)]
pub struct LimitConfig {
    /// Largest request message, bytes.
    pub max_message_bytes: usize,
    /// Most items (observations, commands) in one batch.
    pub max_batch: usize,
    /// Observations per second one client may send (burst: one second's worth).
    pub max_obs_per_s: f64,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            max_message_bytes: 16 << 20,
            max_batch: 100_000,
            max_obs_per_s: 5_000_000.0,
        }
    }
}

/// A token bucket per client.
pub struct Limits {
    pub config: LimitConfig,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limits {
    pub fn new(config: LimitConfig) -> Limits {
        Limits {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn check_message(&self, bytes: usize) -> Result<(), Status> {
        if bytes > self.config.max_message_bytes {
            return Err(Status::resource_exhausted(format!(
                "message size limit: {bytes} bytes is over the limit of {} bytes",
                self.config.max_message_bytes
            )));
        }
        Ok(())
    }

    pub fn check_batch(&self, n: usize, what: &str) -> Result<(), Status> {
        if n > self.config.max_batch {
            return Err(Status::resource_exhausted(format!(
                "batch size limit: {n} {what} is over the limit of {} per batch",
                self.config.max_batch
            )));
        }
        Ok(())
    }

    /// Takes `n` observations from `client`'s allowance.
    pub fn take(&self, client: &str, n: usize) -> Result<(), Status> {
        let rate = self.config.max_obs_per_s;
        let mut buckets = self.buckets.lock().expect("limits lock poisoned");
        let now = Instant::now();
        let (tokens, at) = buckets.entry(client.to_string()).or_insert((rate, now));
        *tokens = (*tokens + rate * now.duration_since(*at).as_secs_f64()).min(rate);
        *at = now;
        if (n as f64) > *tokens {
            return Err(Status::resource_exhausted(format!(
                "rate limit: this client may send {rate} observations per second"
            )));
        }
        *tokens -= n as f64;
        Ok(())
    }
}
