//! The [`Client`], its [`Error`], and the request machinery every API call
//! goes through: URLs of the `/v2/` API, authentication on `401`, retries of
//! transient failures, and registry error bodies turned into messages.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;

use super::auth::{self, AuthError, AuthState, Authorization, Challenge, Scope};
use super::blob::BlobError;
use super::config::{Config, ConfigError};
use super::manifest::ManifestError;
use super::retry;
use super::upload::UploadError;
use super::Repo;

/// Errors of the registry client. Each names the registry and, where one is
/// involved, the repository, digest or URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry host is not `host[:port]`.
    #[error("invalid registry host {registry:?}: expected host[:port]")]
    InvalidRegistry {
        /// The registry as given.
        registry: String,
    },
    /// The repository name is not lowercase `[a-z0-9._-]` components.
    #[error("invalid repository name {repository:?} for registry {registry}")]
    InvalidRepository {
        /// The registry host.
        registry: String,
        /// The name as given.
        repository: String,
    },
    /// The request failed below HTTP (after any retries).
    #[error("{method} {url} (registry {registry}) failed: {source}")]
    Http {
        /// The registry host.
        registry: String,
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// No answer came in time (after any retries).
    #[error("{method} {url} (registry {registry}): no answer within {after:?}")]
    Timeout {
        /// The registry host.
        registry: String,
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// How long was waited.
        after: Duration,
    },
    /// The registry answered with a status the operation does not expect.
    #[error(
        "registry {registry} answered {status} to {method} {url} (repository {repository}){detail}"
    )]
    Status {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The registry's error codes and messages, `: CODE (message)`, or
        /// empty.
        detail: String,
    },
    /// The registry sent a header this client cannot make sense of.
    #[error("registry {registry} sent an invalid {header} header {value:?} in answer to {url}")]
    InvalidHeader {
        /// The registry host.
        registry: String,
        /// The request URL.
        url: String,
        /// The header's name.
        header: &'static str,
        /// Its value, lossily decoded.
        value: String,
    },
    /// The configuration could not be turned into a client.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A manifest could not be fetched or pushed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A blob could not be fetched.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A blob could not be uploaded or mounted.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl Error {
    /// The HTTP status behind the error, if the registry answered one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            Error::Manifest(ManifestError::NotFound { .. })
            | Error::Blob(BlobError::NotFound { .. }) => Some(StatusCode::NOT_FOUND),
            _ => None,
        }
    }

    /// Whether the manifest, blob or repository does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}

/// A client of OCI/Docker registries. Cheap to clone; clones share the
/// connection pool and the token cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: Config,
    auth: AuthState,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The body of a [`Request`].
pub(crate) enum ReqBody {
    Empty,
    /// Can be sent again (retries, auth).
    Bytes(Bytes),
    /// Sent once; `None` after that.
    Stream(Option<reqwest::Body>),
}

/// Which timeout bounds a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// The whole exchange, body included: `Config::request_timeout`.
    Total,
    /// Only the wait for the answer's headers: `Config::read_timeout` (the
    /// body is then read by a `BlobReader`, which has its own).
    Headers,
    /// None (uploads, whose body may take long to send).
    None,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    Http(reqwest::Error),
    /// No answer's headers within this long (`Timeout::Headers`).
    NoAnswer(Duration),
}

/// One HTTP request, kept so it can be sent again.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: ReqBody,
    pub(crate) timeout: Timeout,
    /// Sent whatever the URL (token requests); registry requests get theirs
    /// from the challenge flow instead.
    pub(crate) auth: Option<Authorization>,
}

impl Request {
    pub(crate) fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: ReqBody::Empty,
            timeout: Timeout::Total,
            auth: None,
        }
    }

    pub(crate) fn header_static(mut self, name: &'static str, value: &'static str) -> Request {
        self.headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        self
    }

    /// Adds a header; a value a header cannot carry is dropped (callers
    /// pass validated values).
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = ReqBody::Bytes(body.into());
        self
    }

    pub(crate) fn stream(mut self, body: reqwest::Body) -> Request {
        self.body = ReqBody::Stream(Some(body));
        self.timeout = Timeout::None;
        self
    }

    pub(crate) fn timeout(mut self, timeout: Timeout) -> Request {
        self.timeout = timeout;
        self
    }

    fn can_resend(&self) -> bool {
        !matches!(self.body, ReqBody::Stream(_))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl Client {
    /// A client with `config`.
    pub fn new(config: Config) -> Result<Client, Error> {
        let http = config.http_client()?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config,
                auth: AuthState::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn auth_state(&self) -> &AuthState {
        &self.inner.auth
    }

    /// `http(s)://REGISTRY/`, the scheme per [`Config::uses_plain_http`].
    pub(crate) fn base_url(&self, registry: &str) -> Result<Url, Error> {
        let bad = || Error::InvalidRegistry {
            registry: registry.to_owned(),
        };
        if registry.is_empty()
            || registry.bytes().any(|b| {
                matches!(b, b'/' | b'@' | b'?' | b'#' | b'\\' | b'%') || b <= b' ' || b >= 0x7f
            })
        {
            return Err(bad());
        }
        let scheme = if self.config().uses_plain_http(registry) {
            "http"
        } else {
            "https"
        };
        let url = Url::parse(&format!("{scheme}://{registry}/")).map_err(|_| bad())?;
        if url.host_str().is_none() || !url.username().is_empty() {
            return Err(bad());
        }
        Ok(url)
    }

    /// `BASE/v2/NAME/TAIL` for `repo`; `tail` must already be URL-safe.
    pub(crate) fn repo_url(&self, repo: &Repo, tail: &str) -> Result<Url, Error> {
        let base = self.base_url(&repo.registry)?;
        if !is_valid_repository(&repo.name) {
            return Err(Error::InvalidRepository {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
            });
        }
        base.join(&format!("v2/{}/{tail}", repo.name))
            .map_err(|_| Error::InvalidRepository {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
            })
    }

    /// Sends `req` for `repo` needing `scope`, authenticating as the
    /// registry demands and retrying transient failures. Any status but 401
    /// is returned for the caller to judge.
    pub(crate) async fn send(
        &self,
        repo: &Repo,
        scope: &Scope,
        req: &mut Request,
    ) -> Result<Response, Error> {
        let registry = repo.registry.as_str();
        let state = self.auth_state();
        // What to send up front: a cached token, or what the registry's
        // last challenge asks for. `fresh` is set to what was just obtained:
        // a 401 to that is final.
        let mut fresh: Option<Authorization> = None;
        let mut authz = match state.challenge(registry) {
            Some(Challenge::Bearer { .. }) => state.token(registry, scope),
            Some(Challenge::Basic) | None => None,
        };
        if authz.is_none() {
            if let Some(ch) = state.challenge(registry) {
                let a = self.authorize(repo, scope, &ch).await?;
                authz = Some(a.clone());
                fresh = Some(a);
            }
        }
        loop {
            let resp = self.execute(repo, req, authz.as_ref()).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if let Some(a) = fresh {
                return Err(match a {
                    Authorization::Basic { username, .. } => AuthError::CredentialsRejected {
                        registry: registry.to_owned(),
                        repository: repo.name.clone(),
                        username,
                    },
                    Authorization::Bearer { realm, .. } => AuthError::TokenRejected {
                        registry: registry.to_owned(),
                        repository: repo.name.clone(),
                        realm,
                        scope: scope.key(),
                    },
                }
                .into());
            }
            let Some(challenge) = auth::pick_challenge(resp.headers()) else {
                return Err(AuthError::BadChallenge {
                    registry: registry.to_owned(),
                    repository: repo.name.clone(),
                    challenge: auth::challenge_text(resp.headers()),
                }
                .into());
            };
            if !req.can_resend() {
                return Err(AuthError::ChallengeDuringStream {
                    registry: registry.to_owned(),
                    repository: repo.name.clone(),
                }
                .into());
            }
            // Remembered for later requests, but without the scope: that
            // one was about this request only.
            state.learn(registry, challenge.without_scope());
            state.forget_token(registry, scope);
            let a = self.authorize(repo, scope, &challenge).await?;
            authz = Some(a.clone());
            fresh = Some(a);
        }
    }

    /// Sends `req` with `authz` when it goes to `repo`'s registry itself
    /// (not to storage it redirected to, nor elsewhere), retrying transient
    /// failures.
    async fn execute(
        &self,
        repo: &Repo,
        req: &mut Request,
        authz: Option<&Authorization>,
    ) -> Result<Response, Error> {
        let base = self.base_url(&repo.registry)?;
        let same_origin = req.url.scheme() == base.scheme()
            && req.url.host_str() == base.host_str()
            && req.url.port_or_known_default() == base.port_or_known_default();
        let authz = if same_origin { authz } else { None };
        self.execute_with(req, authz).await.map_err(|e| match e {
            SendError::Http(source) => Error::Http {
                registry: repo.registry.clone(),
                method: req.method.clone(),
                url: req.url.to_string(),
                source,
            },
            SendError::NoAnswer(after) => Error::Timeout {
                registry: repo.registry.clone(),
                method: req.method.clone(),
                url: req.url.to_string(),
                after,
            },
        })
    }

    /// Sends `req` with its own `auth` only, wherever it goes (token
    /// requests), retrying transient failures.
    pub(crate) async fn execute_plain(&self, req: &mut Request) -> Result<Response, SendError> {
        self.execute_with(req, None).await
    }

    async fn execute_with(
        &self,
        req: &mut Request,
        authz: Option<&Authorization>,
    ) -> Result<Response, SendError> {
        let policy = &self.config().retry;
        let mut retry = 0;
        loop {
            let mut b = self
                .inner
                .http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(a) = req.auth.as_ref().or(authz) {
                b = a.apply(b);
            }
            if req.timeout == Timeout::Total {
                b = b.timeout(self.config().request_timeout);
            }
            b = match &mut req.body {
                ReqBody::Empty => b,
                ReqBody::Bytes(bytes) => b.body(bytes.clone()),
                ReqBody::Stream(s) => b.body(
                    s.take()
                        .unwrap_or_else(|| reqwest::Body::from(Bytes::new())),
                ),
            };
            let can_retry = retry < policy.max_retries && req.can_resend();
            let sent = if req.timeout == Timeout::Headers {
                let limit = self.config().read_timeout;
                match tokio::time::timeout(limit, b.send()).await {
                    Ok(r) => r.map_err(SendError::Http),
                    Err(_) => Err(SendError::NoAnswer(limit)),
                }
            } else {
                b.send().await.map_err(SendError::Http)
            };
            match sent {
                Ok(resp) if can_retry && retry::is_transient_status(resp.status()) => {
                    let wait = retry::delay(policy, retry, Some(resp.headers()));
                    drop(resp);
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(SendError::Http(e)) if can_retry && retry::is_transient_error(&e) => {
                    tokio::time::sleep(retry::delay(policy, retry, None)).await;
                }
                Err(SendError::NoAnswer(_)) if can_retry => {
                    tokio::time::sleep(retry::delay(policy, retry, None)).await;
                }
                Err(e) => return Err(e),
            }
            retry += 1;
        }
    }

    /// The error for an answer the operation did not expect, with the
    /// registry's error codes when its body has them.
    pub(crate) async fn unexpected(
        &self,
        repo: &Repo,
        method: Method,
        mut resp: Response,
    ) -> Error {
        let status = resp.status();
        let url = resp.url().to_string();
        let body = read_limited(&mut resp, 16 << 10).await.unwrap_or_default();
        let mut detail = String::new();
        if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(&body) {
            for (i, e) in parsed.errors.iter().enumerate() {
                detail.push_str(if i == 0 { ": " } else { "; " });
                detail.push_str(&e.code);
                if !e.message.is_empty() {
                    detail.push_str(&format!(" ({})", e.message));
                }
            }
        }
        Error::Status {
            registry: repo.registry.clone(),
            repository: repo.name.clone(),
            method,
            url,
            status,
            detail,
        }
    }
}

/// Reads the body of `resp`, failing once it passes `limit` bytes.
pub(crate) async fn read_limited(
    resp: &mut Response,
    limit: usize,
) -> Result<Vec<u8>, ReadLimitError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadLimitError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadLimitError::Read)? {
        if out.len() + chunk.len() > limit {
            return Err(ReadLimitError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Why [`read_limited`] stopped.
#[derive(Debug)]
pub(crate) enum ReadLimitError {
    TooLarge,
    Read(reqwest::Error),
}

impl fmt::Display for ReadLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadLimitError::TooLarge => f.write_str("the body is too large"),
            ReadLimitError::Read(e) => write!(f, "reading the body failed: {e}"),
        }
    }
}

/// A header of `resp` as a string, for errors.
pub(crate) fn header_lossy(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Whether `name` is a repository path: `/`-separated components of
/// lowercase letters, digits and `._-`, starting and ending with a letter or
/// digit, at most 255 characters in all.
pub(crate) fn is_valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b.iter().all(|&x| {
                    x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-')
                })
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["busybox", "library/busybox", "a/b-c/d_e.f", "x__y", "0"] {
            assert!(is_valid_repository(ok), "{ok}");
        }
        for bad in [
            "", "A", "a//b", "/a", "a/", "a/../b", "a/.b", "a?b", "a b", "-a", "a%2f",
        ] {
            assert!(!is_valid_repository(bad), "{bad}");
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn client_and_futures_are_send() {
        let c = Client::new(Config::default()).unwrap();
        let r = Repo::new("localhost:5000", "a");
        let d = crate::digest::Digest::of(b"");
        assert_send(&c);
        assert_send(&c.get_manifest(&r, "latest"));
        assert_send(&c.get_blob(&r, &d));
        assert_send(&c.blob_exists(&r, &d));
        assert_send(&c.mount_blob(&r, &d, "b"));
        assert_send(&c.upload_blob(&r, &d, 0, tokio::io::empty()));
        assert_send(&c.upload_blob_bytes(&r, &d, Vec::new()));
        assert_send(&c.put_manifest(&r, "latest", "x", Vec::new()));
        fn reader_is_send(r: &super::super::BlobReader) {
            assert_send(r);
        }
        let _ = reader_is_send;
    }

    #[test]
    fn urls() {
        let c = Client::new(Config::default()).unwrap();
        let r = Repo::new("localhost:5000", "a/b");
        assert_eq!(
            c.repo_url(&r, "manifests/latest").unwrap().as_str(),
            "http://localhost:5000/v2/a/b/manifests/latest"
        );
        let r = Repo::new("registry.example.com", "x");
        assert_eq!(
            c.repo_url(&r, "blobs/uploads/").unwrap().as_str(),
            "https://registry.example.com/v2/x/blobs/uploads/"
        );
        assert_eq!(
            c.base_url("[::1]:5000").unwrap().as_str(),
            "http://[::1]:5000/"
        );
        for bad in ["", "a/b", "user@host", "host:port:x", "a b", "host?x"] {
            assert!(
                matches!(c.base_url(bad), Err(Error::InvalidRegistry { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            c.repo_url(&Repo::new("localhost", "A"), "x"),
            Err(Error::InvalidRepository { .. })
        ));
    }
}
