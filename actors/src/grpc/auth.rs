//! Bearer tokens and what each may do.
//!
//! Every call but health carries `authorization: Bearer TOKEN`. A token has
//! one [`Role`]; each method needs one ([`required`]), and a role includes
//! the ones below it. Tokens are compared in constant time against every
//! accepted token, so the time an answer takes says nothing about how much
//! of a guess was right.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::Status;

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Gets, lists, watches, history, events, alerts, work orders, plans
    /// and the simulation's status.
    Read,
    /// Read, and ingest and commands.
    Write,
    /// Everything, including simulation control and loading scenarios.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Read, Role::Write, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("`{s}` is not a role (read, write or admin)"))
    }
}

/// One accepted token: `SECRET` or `SECRET:ROLE` (a token without a role is
/// `admin`). A secret holds no `:` and no white space.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub secret: String,
    pub role: Role,
}

impl Token {
    pub fn new(secret: &str, role: Role) -> Token {
        Token {
            secret: secret.to_string(),
            role,
        }
    }
}

impl FromStr for Token {
    type Err = String;
    fn from_str(spec: &str) -> Result<Token, String> {
        let spec = spec.trim();
        let (secret, role) = match spec.split_once(':') {
            Some((secret, role)) => (secret, role.parse()?),
            None => (spec, Role::Admin),
        };
        if secret.is_empty() {
            return Err("a token's secret is empty".into());
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a token's secret holds white space or control characters".into());
        }
        Ok(Token::new(secret, role))
    }
}

/// Never prints the secret.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(…:{})", self.role)
    }
}

/// The client of an authenticated call: which token it showed (the rate
/// limit counts per token) and that token's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    pub token: usize,
    pub role: Role,
}

/// The accepted tokens.
#[derive(Clone)]
pub struct Tokens(Arc<Vec<Token>>);

impl Tokens {
    pub fn new(tokens: &[Token]) -> Tokens {
        Tokens(Arc::new(tokens.to_vec()))
    }

    /// The client showing `presented`: compared with every token, in time
    /// that depends only on the lengths.
    fn client(&self, presented: &[u8]) -> Option<Client> {
        let mut found = None;
        for (i, t) in self.0.iter().enumerate() {
            if bool::from(t.secret.as_bytes().ct_eq(presented)) {
                found = Some(Client {
                    token: i,
                    role: t.role,
                });
            }
        }
        found
    }

    /// The client calling `path` with these headers, if its token is known
    /// and its role allows the method.
    pub fn authorize(&self, headers: &http::HeaderMap, path: &str) -> Result<Client, Status> {
        let header = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
            Status::unauthenticated("missing `authorization: Bearer TOKEN` header")
        })?;
        let token = header
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or_else(|| {
                Status::unauthenticated("the authorization header is not `Bearer TOKEN`")
            })?
            .trim_ascii();
        let client = self
            .client(token)
            .ok_or_else(|| Status::unauthenticated("invalid token"))?;
        let needed = required(path);
        if client.role < needed {
            return Err(Status::permission_denied(format!(
                "{path} needs the {needed} role; this token's role is {}",
                client.role
            )));
        }
        Ok(client)
    }
}

/// The role a call to `path` needs. A method this table does not name
/// needs `admin`, so that a method added later is closed until placed.
pub fn required(path: &str) -> Role {
    if path.starts_with("/grpc.reflection.") {
        return Role::Read;
    }
    let Some(method) = path.strip_prefix("/twin.v1.Twin/") else {
        return Role::Admin;
    };
    match method {
        "GetEntity" | "ListEntities" | "GetRelations" | "GetMeasurands" | "WatchEntities"
        | "GetHistory" | "ListEvents" | "ListAlerts" | "WatchAlerts" | "ListWorkOrders"
        | "GetWorkOrder" | "ListPlans" | "GetPlan" | "GetSimulation" | "ListScenarios"
        | "ListFeeds" => Role::Read,
        "Ingest" | "SendCommands" => Role::Write,
        _ => Role::Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_with_and_without_a_role() {
        assert_eq!("abc".parse::<Token>(), Ok(Token::new("abc", Role::Admin)));
        assert_eq!(
            "abc:read".parse::<Token>(),
            Ok(Token::new("abc", Role::Read))
        );
        assert_eq!(
            "abc:write".parse::<Token>(),
            Ok(Token::new("abc", Role::Write))
        );
        for bad in ["abc:reed", ":read", "", "a b", "abc:read:x"] {
            assert!(bad.parse::<Token>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_last_matching_token_of_several_is_found() {
        let t = Tokens::new(&[Token::new("a", Role::Read), Token::new("bb", Role::Write)]);
        assert_eq!(t.client(b"bb").map(|c| c.role), Some(Role::Write));
        assert_eq!(t.client(b"a").map(|c| c.token), Some(0));
        assert_eq!(t.client(b"b"), None);
        assert_eq!(t.client(b"bbb"), None);
    }

    #[test]
    fn unknown_methods_need_admin() {
        assert_eq!(required("/twin.v1.Twin/GetEntity"), Role::Read);
        assert_eq!(required("/twin.v1.Twin/Ingest"), Role::Write);
        assert_eq!(required("/twin.v1.Twin/LoadScenario"), Role::Admin);
        assert_eq!(required("/twin.v1.Twin/Future"), Role::Admin);
        assert_eq!(required("/other.Service/X"), Role::Admin);
    }
}
