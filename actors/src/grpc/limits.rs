//! The server's limits: message and response size, batch size, a
//! per-token rate of observations, a deadline per call and calls in flight
//! per connection. Each refusal names the limit and its value
//! (`RESOURCE_EXHAUSTED`, or `DEADLINE_EXCEEDED` for the deadline).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::Status;

#[derive(Clone, Debug)]
pub struct LimitConfig {
    /// Largest request message, bytes.
    pub max_message_bytes: usize,
    /// Most items (observations, commands) in one batch.
    pub max_batch: usize,
    /// Observations per second one token may send (burst: one second's
    /// worth); unlimited when not below 2^32.
    pub max_obs_per_s: f64,
    /// Largest response message, bytes: pages stop short of it.
    pub max_response_bytes: usize,
    /// Longest a call may take to answer (a stream: to start).
    pub deadline: Duration,
    /// Calls one connection may have in flight at once; more wait.
    pub concurrency_per_connection: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            max_message_bytes: 16 << 20,
            max_batch: 100_000,
            max_obs_per_s: 5_000_000.0,
            max_response_bytes: 16 << 20,
            deadline: Duration::from_secs(30),
            concurrency_per_connection: 64,
        }
    }
}

/// The limits, and a rate limiter (GCRA) per token.
pub struct Limits {
    pub config: LimitConfig,
    rate: Option<DefaultKeyedRateLimiter<usize>>,
}

impl Limits {
    pub fn new(config: LimitConfig) -> Limits {
        let rate = (config.max_obs_per_s >= 1.0 && config.max_obs_per_s < f64::from(u32::MAX))
            .then(|| NonZeroU32::new(config.max_obs_per_s as u32))
            .flatten()
            .map(|n| RateLimiter::keyed(Quota::per_second(n)));
        Limits { config, rate }
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

    /// Takes `n` observations from the allowance of token `client`.
    pub fn take(&self, client: usize, n: usize) -> Result<(), Status> {
        let (Some(rate), Some(n)) = (&self.rate, NonZeroU32::new(n.min(u32::MAX as usize) as u32))
        else {
            return Ok(());
        };
        match rate.check_key_n(&client, n) {
            Ok(Ok(())) => Ok(()),
            _ => Err(Status::resource_exhausted(format!(
                "rate limit: this client may send {} observations per second",
                self.config.max_obs_per_s
            ))),
        }
    }
}
