//! Settings of the registry client: per-registry transport (plain HTTP or
//! HTTPS), credentials, timeouts, retries and the blob upload mode.
//!
//! Plain HTTP is used, as Docker does, for `localhost`, `127.0.0.0/8` and
//! `::1` (any port) and for registries marked [`RegistryConfig::insecure`];
//! every other registry is spoken to over HTTPS, verified against the
//! system's certificate store plus [`Config::root_certificates_pem`].

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

/// Errors from turning a [`Config`] into a working HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An extra root certificate is not valid PEM.
    #[error("root certificate #{index} of the registry client config is not valid PEM: {source}")]
    InvalidCertificate {
        /// Its position in [`Config::root_certificates_pem`].
        index: usize,
        /// What the PEM reader said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The TLS settings could not be made.
    #[error("cannot set up the registry client's TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be built (e.g. the TLS library failed).
    #[error("cannot build the registry HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// What a registry is told about who is asking.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal access token), sent with
    /// `Basic` challenges and to token realms.
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in Docker's config.json),
    /// exchanged at the token realm with `grant_type=refresh_token`.
    IdentityToken(String),
}

impl Credentials {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Where credentials come from: asked with the registry host of a [`Repo`]
/// (e.g. `localhost:5000`) each time a challenge needs them.
///
/// Any `Fn(&str) -> Option<Credentials>` closure is a provider.
///
/// [`Repo`]: super::Repo
pub trait CredentialProvider: Send + Sync {
    /// The credentials for `registry`, or `None` to stay anonymous.
    fn credentials(&self, registry: &str) -> Option<Credentials>;
}

impl<F> CredentialProvider for F
where
    F: Fn(&str) -> Option<Credentials> + Send + Sync,
{
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        self(registry)
    }
}

/// Settings for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Speak plain HTTP to it (Docker's "insecure registry").
    pub insecure: bool,
}

/// When and how often transient failures are retried: connection errors,
/// timeouts, 5xx answers (but 501 and 505) and 429. A 4xx answer never is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, whatever the doubling says.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// How [`Client::upload_blob`] sends a blob.
///
/// [`Client::upload_blob`]: super::Client::upload_blob
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// `POST` a session, then one `PUT ?digest=` streaming the whole blob.
    /// The stream cannot be replayed, so a transient failure of the `PUT`
    /// is returned rather than retried.
    Monolithic,
    /// `POST` a session, one `PATCH` with `Content-Range` per chunk of at
    /// most `chunk_size` bytes (each held in memory and retried on transient
    /// failures), then an empty `PUT ?digest=`.
    Chunked {
        /// Bytes per `PATCH`; 0 is taken as 1.
        chunk_size: usize,
    },
}

/// Settings of a [`Client`](super::Client).
#[derive(Clone)]
pub struct Config {
    /// Per-registry settings, keyed by registry host as in [`Repo`](super::Repo).
    pub registries: HashMap<String, RegistryConfig>,
    /// Where credentials come from; `None` means always anonymous.
    pub credentials: Option<Arc<dyn CredentialProvider>>,
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// The longest a whole small request may take: manifests, `HEAD`s,
    /// tokens, upload sessions. Blob transfers are not bounded by it.
    pub request_timeout: Duration,
    /// For blob downloads: the longest wait for the answer's headers, and
    /// then between two pieces of its body. (Blob uploads have no timeout
    /// but the connect timeout and TCP keepalive: a slow link may take long
    /// to send a layer.)
    pub read_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// How [`Client::upload_blob`](super::Client::upload_blob) sends blobs.
    pub upload_mode: UploadMode,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Honour `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment.
    pub use_env_proxy: bool,
    /// Extra PEM root certificates trusted for HTTPS registries and realms,
    /// on top of the system's store.
    pub root_certificates_pem: Vec<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            registries: HashMap::new(),
            credentials: None,
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            upload_mode: UploadMode::Monolithic,
            user_agent: concat!("skiff/", env!("CARGO_PKG_VERSION")).to_owned(),
            use_env_proxy: true,
            root_certificates_pem: Vec::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("registries", &self.registries)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<provider>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retry", &self.retry)
            .field("upload_mode", &self.upload_mode)
            .field("user_agent", &self.user_agent)
            .field("use_env_proxy", &self.use_env_proxy)
            .field("root_certificates_pem", &self.root_certificates_pem.len())
            .finish()
    }
}

impl Config {
    /// Marks `registry` insecure: plain HTTP.
    pub fn insecure_registry(mut self, registry: impl Into<String>) -> Config {
        self.registries.entry(registry.into()).or_default().insecure = true;
        self
    }

    /// Sets the credential provider.
    pub fn with_credentials(mut self, provider: impl CredentialProvider + 'static) -> Config {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// Whether `registry` is spoken to over plain HTTP: it is marked
    /// insecure, or its host is `localhost`, in `127.0.0.0/8` or `::1`.
    pub fn uses_plain_http(&self, registry: &str) -> bool {
        self.registries.get(registry).is_some_and(|r| r.insecure) || is_loopback_host(registry)
    }

    /// The credentials for `registry`, if a provider gives any.
    pub(crate) fn credentials_for(&self, registry: &str) -> Option<Credentials> {
        self.credentials
            .as_ref()
            .and_then(|p| p.credentials(registry))
    }

    /// The HTTP client these settings describe.
    pub fn http_client(&self) -> Result<reqwest::Client, ConfigError> {
        use rustls::pki_types::pem::PemObject;
        let mut extra = Vec::new();
        for (index, pem) in self.root_certificates_pem.iter().enumerate() {
            let invalid = |source| ConfigError::InvalidCertificate { index, source };
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            if certs.is_empty() {
                return Err(invalid(rustls::pki_types::pem::Error::NoItemsFound));
            }
            extra.extend(certs);
        }
        let tls = super::tls::client_config(extra).map_err(ConfigError::Tls)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(10))
            .tls_backend_preconfigured(tls);
        if !self.use_env_proxy {
            builder = builder.no_proxy();
        }
        builder.build().map_err(ConfigError::HttpClient)
    }
}

/// Whether the host part of `host[:port]` is `localhost`, an IPv4 loopback
/// address or `[::1]`.
pub(crate) fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, _)) => return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback()),
            None => return false,
        }
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_get_plain_http() {
        let c = Config::default();
        for h in [
            "localhost",
            "localhost:5000",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.3.4.5:443",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(c.uses_plain_http(h), "{h}");
        }
        for h in [
            "registry-1.docker.io",
            "example.com:5000",
            "10.0.0.1:5000",
            "[::2]:5000",
            "[::1",
            "localhost.example.com",
        ] {
            assert!(!c.uses_plain_http(h), "{h}");
        }
    }

    #[test]
    fn insecure_registries_get_plain_http() {
        let c = Config::default().insecure_registry("myreg.lan:5000");
        assert!(c.uses_plain_http("myreg.lan:5000"));
        assert!(!c.uses_plain_http("myreg.lan"));
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let s = format!("{:?}", Credentials::basic("alice", "hunter2"));
        assert!(s.contains("alice") && !s.contains("hunter2"), "{s}");
        let s = format!("{:?}", Credentials::IdentityToken("tok".into()));
        assert!(!s.contains("tok\""), "{s}");
    }

    #[test]
    fn closures_are_providers() {
        let c = Config::default()
            .with_credentials(|reg: &str| (reg == "r:1").then(|| Credentials::basic("u", "p")));
        assert_eq!(c.credentials_for("r:1"), Some(Credentials::basic("u", "p")));
        assert_eq!(c.credentials_for("r:2"), None);
    }
}
