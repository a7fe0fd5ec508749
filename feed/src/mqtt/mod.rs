//! MQTT, both ways: the broker's address and client options shared by the
//! feed in ([`subscribe`]) and the load generator's sink.

pub mod session;
pub mod subscribe;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// Where a broker listens: `mqtt://HOST:PORT` or `mqtts://HOST:PORT`
/// (TLS). The port defaults to 1883 and 8883.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
        {
            (false, r)
        } else {
            return Err(format!(
                "`{url}`: expected mqtt://HOST:PORT or mqtts://HOST:PORT"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("`{url}`: port `{p}` is not a number 1-65535"))?;
                (h, port)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(format!("`{url}`: no host or port"));
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
            tls,
        })
    }

    pub fn url(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls { "mqtts" } else { "mqtt" },
            self.host,
            self.port
        )
    }
}

/// How to reach a broker: address, identity, TLS trust and credentials.
#[derive(Clone, Debug)]
pub struct Connection {
    pub endpoint: Endpoint,
    pub client_id: String,
    /// PEM file of the CAs to trust with `mqtts://` (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// From `TWIN_MQTT_USER` and `TWIN_MQTT_PASSWORD`.
    pub credentials: Option<(String, String)>,
    pub keep_alive: Duration,
}

impl Connection {
    pub fn new(url: &str, client_id: &str) -> Result<Connection, String> {
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(format!("client id `{client_id}`: 1 to 128 bytes"));
        }
        Ok(Connection {
            endpoint: Endpoint::parse(url)?,
            client_id: client_id.to_string(),
            ca_file: None,
            credentials: credentials_from_env(),
            keep_alive: Duration::from_secs(30),
        })
    }

    /// rumqttc's options; `incoming_max` bounds one received packet.
    pub fn options(&self, incoming_max: usize) -> Result<MqttOptions, String> {
        let mut o = MqttOptions::new(&self.client_id, &self.endpoint.host, self.endpoint.port);
        o.set_keep_alive(self.keep_alive);
        o.set_max_packet_size(incoming_max, 1 << 20);
        if let Some((user, password)) = &self.credentials {
            o.set_credentials(user, password);
        }
        if let Some(t) = self.transport()? {
            o.set_transport(t);
        }
        Ok(o)
    }

    /// The same options for MQTT 5.
    pub fn options_v5(&self, incoming_max: usize) -> Result<rumqttc::v5::MqttOptions, String> {
        let mut o =
            rumqttc::v5::MqttOptions::new(&self.client_id, &self.endpoint.host, self.endpoint.port);
        o.set_keep_alive(self.keep_alive);
        o.set_max_packet_size(Some(incoming_max as u32));
        if let Some((user, password)) = &self.credentials {
            o.set_credentials(user, password);
        }
        if let Some(t) = self.transport()? {
            o.set_transport(t);
        }
        Ok(o)
    }

    /// TLS over TCP for `mqtts://`; `None`: plain TCP.
    fn transport(&self) -> Result<Option<Transport>, String> {
        if !self.endpoint.tls {
            return Ok(None);
        }
        let tls = tls_config(self.ca_file.as_deref())?;
        Ok(Some(Transport::Tls(TlsConfiguration::Rustls(Arc::new(
            tls,
        )))))
    }
}

fn credentials_from_env() -> Option<(String, String)> {
    let user = std::env::var("TWIN_MQTT_USER").ok()?;
    Some((
        user,
        std::env::var("TWIN_MQTT_PASSWORD").unwrap_or_default(),
    ))
}

/// A TLS client configuration (ring) trusting `ca_file`'s certificates, or
/// the system's.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--mqtt-ca {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "--mqtt-ca {}: no certificate in it",
                    path.display()
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("--mqtt-ca {}: {e}", path.display()))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// The wait before the `attempt`-th reconnection: doubling from 250 ms up
/// to 30 s, each drawn between half and all of it (jitter, so that many
/// clients cut off together do not return together).
pub fn backoff(attempt: u32) -> Duration {
    let full = 250u64.saturating_mul(1 << attempt.min(7)).min(30_000);
    let r = getrandom::u64().unwrap_or(0);
    Duration::from_millis(full / 2 + r % (full / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_default_ports() {
        let e = Endpoint::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 1884, false));
        assert_eq!(
            Endpoint::parse("mqtts://broker.example").unwrap().port,
            8883
        );
        assert_eq!(Endpoint::parse("mqtt://[::1]:1883").unwrap().host, "::1");
        assert!(Endpoint::parse("http://x").is_err());
        assert!(Endpoint::parse("mqtt://x:99999").is_err());
        assert!(Endpoint::parse("mqtt://:1883").is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for _ in 0..50 {
            let first = backoff(0).as_millis();
            assert!((125..=250).contains(&first), "{first}");
            let late = backoff(20).as_millis();
            assert!((15_000..=30_000).contains(&late), "{late}");
        }
    }
}
