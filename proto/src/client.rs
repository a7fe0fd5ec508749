//! A small Rust client: connect to a twin with a token, over plain HTTP/2 or
//! TLS. The viewer and the benchmarks use it; so can any Rust program.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

use crate::v1::twin_client::TwinClient;

/// Adds `authorization: Bearer TOKEN` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: Option<&str>) -> Result<Bearer, ClientError> {
        token
            .map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| ClientError::Token)
            })
            .transpose()
            .map(Bearer)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(h) = &self.0 {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    }
}

/// A connected client.
pub type Client = TwinClient<InterceptedService<Channel, Bearer>>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a URL such as http://127.0.0.1:50051")]
    Url(String),
    #[error("the token is not printable ASCII")]
    Token,
    #[error("cannot connect: {0}")]
    Connect(String),
}

/// How to connect.
#[derive(Clone, Debug, Default)]
pub struct Connect {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    pub token: Option<String>,
    /// PEM of the CA that signed the server's certificate (for https).
    pub ca_pem: Option<Vec<u8>>,
    /// Name the server's certificate is for, when it differs from the host.
    pub domain: Option<String>,
}

impl Connect {
    pub fn endpoint(&self) -> Result<Endpoint, ClientError> {
        let mut e = Endpoint::from_shared(self.url.clone())
            .map_err(|_| ClientError::Url(self.url.clone()))?;
        if let Some(ca) = &self.ca_pem {
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
            if let Some(d) = &self.domain {
                tls = tls.domain_name(d.clone());
            }
            e = e
                .tls_config(tls)
                .map_err(|e| ClientError::Connect(e.to_string()))?;
        }
        Ok(e)
    }

    pub async fn connect(&self) -> Result<Client, ClientError> {
        let channel = self
            .endpoint()?
            .connect()
            .await
            .map_err(|e| ClientError::Connect(format!("{}: {e}", self.url)))?;
        self.with_channel(channel)
    }

    /// A client on an existing channel (several clients can share one).
    pub fn with_channel(&self, channel: Channel) -> Result<Client, ClientError> {
        Ok(
            TwinClient::with_interceptor(channel, Bearer::new(self.token.as_deref())?)
                .max_decoding_message_size(64 << 20),
        )
    }
}
