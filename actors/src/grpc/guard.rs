//! The layer every call passes before its service: the token and its role
//! ([`auth`](super::auth)), and a deadline.
//!
//! Why a tower layer rather than a tonic interceptor: an interceptor does
//! not see which method is called, and cannot bound how long the handler
//! takes. Health checks pass unguarded, so that a load balancer needs no
//! token. The deadline is the server's `--deadline` or the client's
//! `grpc-timeout`, whichever is sooner; it bounds the time to the response
//! (for a stream, to its start), and a call past it gets
//! `DEADLINE_EXCEEDED` while the others go on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::Status;
use tower::{Layer, Service};

use super::auth::Tokens;

#[derive(Clone)]
pub struct GuardLayer {
    pub tokens: Tokens,
    pub deadline: Duration,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    layer: GuardLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path();
        if path.starts_with("/grpc.health.v1.Health/") {
            return Box::pin(inner.call(req));
        }
        match self.layer.tokens.authorize(req.headers(), path) {
            Ok(client) => {
                req.extensions_mut().insert(client);
            }
            Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
        }
        let deadline =
            grpc_timeout(req.headers()).map_or(self.layer.deadline, |t| t.min(self.layer.deadline));
        let call = inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(deadline, call).await {
                Ok(response) => response,
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "no answer within the call's deadline of {} ms",
                    deadline.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// The client's `grpc-timeout` header: at most 8 digits and a unit
/// (gRPC over HTTP/2); `None` when absent or malformed.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_and_malformed_ones_are_ignored() {
        let of = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().unwrap());
            grpc_timeout(&h)
        };
        assert_eq!(of("250m"), Some(Duration::from_millis(250)));
        assert_eq!(of("2S"), Some(Duration::from_secs(2)));
        assert_eq!(
            of("99999999H"),
            Some(Duration::from_secs(99_999_999 * 3600))
        );
        for bad in ["", "m", "123456789m", "12x", "-1S", "1.5S"] {
            assert_eq!(of(bad), None, "{bad}");
        }
    }
}
