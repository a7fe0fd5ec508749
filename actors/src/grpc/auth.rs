//! Bearer-token authentication: every twin.v1 call must carry
//! `authorization: Bearer TOKEN` with a token the server was given.

use std::collections::HashSet;
use std::sync::Arc;

use tonic::{Request, Status};

/// The accepted tokens.
#[derive(Clone)]
pub struct Tokens(pub Arc<HashSet<String>>);

/// The client a request comes from, as the rate limit counts it: its token.
#[derive(Clone)]
pub struct Client(pub String);

impl Tokens {
    /// A tonic interceptor: refuses calls without a valid token and marks the
    /// others with their client.
    pub fn check(&self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let header = req.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing `authorization: Bearer TOKEN` header")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("the authorization header is not `Bearer TOKEN`")
            })?
            .trim()
            .to_string();
        if !self.0.contains(&token) {
            return Err(Status::unauthenticated("invalid token"));
        }
        req.extensions_mut().insert(Client(token));
        Ok(req)
    }
}

/// The client of an authenticated request.
pub fn client_of<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<Client>()
        .map_or_else(String::new, |c| c.0.clone())
}
