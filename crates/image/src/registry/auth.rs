//! Registry authentication: `WWW-Authenticate` challenges, token scopes,
//! fetching bearer tokens from a realm and caching them.
//!
//! The flow (driven by `Client::send` in `client.rs`): a registry is first
//! spoken to anonymously. A `401` carries a challenge, which is remembered
//! per registry so later requests authenticate up front:
//!
//! - `Basic realm=...`: the credentials of the provider are sent;
//! - `Bearer realm=...,service=...,scope=...`: a token is asked of the realm
//!   (`GET realm?service=..&scope=..`, with basic auth when there are
//!   credentials; an identity token is exchanged with an OAuth2
//!   `POST grant_type=refresh_token` instead) and cached per
//!   (registry, scope) until it expires.
//!
//! Scopes are `repository:NAME:pull` for pulls, `repository:NAME:pull,push`
//! for pushes, plus `repository:OTHER:pull` for cross-repository mounts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use super::client::{Client, Request, SendError};
use super::config::Credentials;
use super::Repo;

/// Errors from authenticating to a registry or its token realm.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The registry wants credentials and the provider has none for it.
    #[error(
        "registry {registry} requires {scheme} authentication for repository {repository}, \
         but no user name and password are configured for {registry}"
    )]
    CredentialsRequired {
        /// The registry host.
        registry: String,
        /// The repository asked for.
        repository: String,
        /// `Basic` or `Bearer`.
        scheme: &'static str,
    },
    /// The registry answered `401` to the provider's basic credentials.
    #[error(
        "registry {registry} rejected the credentials of user {username:?} for repository \
         {repository} (HTTP 401)"
    )]
    CredentialsRejected {
        /// The registry host.
        registry: String,
        /// The repository asked for.
        repository: String,
        /// The user name that was sent.
        username: String,
    },
    /// The registry answered `401` to a token the realm had just issued.
    #[error(
        "registry {registry} refused the token just issued by {realm} for repository \
         {repository} (scope {scope:?}, HTTP 401): the repository may not exist, or these \
         credentials may not give access to it"
    )]
    TokenRejected {
        /// The registry host.
        registry: String,
        /// The repository asked for.
        repository: String,
        /// The token realm.
        realm: String,
        /// The scopes the token was asked for, space-separated.
        scope: String,
    },
    /// A `401` without a challenge this client understands.
    #[error(
        "registry {registry} answered 401 for repository {repository} without a usable \
         WWW-Authenticate challenge ({challenge:?})"
    )]
    BadChallenge {
        /// The registry host.
        registry: String,
        /// The repository asked for.
        repository: String,
        /// The header as sent (empty when missing).
        challenge: String,
    },
    /// A `401` to a request whose streamed body cannot be sent again.
    #[error(
        "registry {registry} asked for authentication in the middle of a streamed upload to \
         repository {repository}"
    )]
    ChallengeDuringStream {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
    },
    /// The realm of a `Bearer` challenge is not an http(s) URL.
    #[error("registry {registry} named an invalid token realm {realm:?}")]
    InvalidRealm {
        /// The registry host.
        registry: String,
        /// The realm as sent.
        realm: String,
    },
    /// The token request could not be made.
    #[error("token request to {realm} for registry {registry} failed: {source}")]
    TokenRequest {
        /// The registry host.
        registry: String,
        /// The token realm.
        realm: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// The realm did not answer in time.
    #[error("token request to {realm} for registry {registry}: no answer within {after:?}")]
    TokenTimeout {
        /// The registry host.
        registry: String,
        /// The token realm.
        realm: String,
        /// How long was waited.
        after: Duration,
    },
    /// The realm refused to issue a token (401 or 403).
    #[error(
        "token server {realm} for registry {registry} denied a token for {scope:?} \
         (HTTP {status}){who}",
        who = match .username { Some(u) => format!(" to user {u:?}: wrong credentials?"), None => " to an anonymous client".to_owned() }
    )]
    TokenDenied {
        /// The registry host.
        registry: String,
        /// The token realm.
        realm: String,
        /// The scopes asked for, space-separated.
        scope: String,
        /// The status the realm answered.
        status: StatusCode,
        /// The user name sent, if any.
        username: Option<String>,
    },
    /// The realm answered with another unexpected status.
    #[error("token server {realm} for registry {registry} answered HTTP {status}")]
    TokenStatus {
        /// The registry host.
        registry: String,
        /// The token realm.
        realm: String,
        /// The status.
        status: StatusCode,
    },
    /// The realm's answer is not a token.
    #[error("token server {realm} for registry {registry} sent an invalid answer: {reason}")]
    InvalidTokenResponse {
        /// The registry host.
        registry: String,
        /// The token realm.
        realm: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A challenge of a `WWW-Authenticate` header this client can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="...",service="...",scope="..."`.
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scopes the registry named (space-separated in the header).
        scope: Vec<String>,
    },
}

impl Challenge {
    /// The same challenge without the scope the registry asked for.
    pub(crate) fn without_scope(&self) -> Challenge {
        match self {
            Challenge::Basic => Challenge::Basic,
            Challenge::Bearer { realm, service, .. } => Challenge::Bearer {
                realm: realm.clone(),
                service: service.clone(),
                scope: Vec::new(),
            },
        }
    }
}

/// What is put in the `Authorization` header.
#[derive(Clone)]
pub(crate) enum Authorization {
    Basic { username: String, password: String },
    Bearer { token: String, realm: String },
}

impl Authorization {
    pub(crate) fn apply(&self, b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Authorization::Basic { username, password } => b.basic_auth(username, Some(password)),
            Authorization::Bearer { token, .. } => b.bearer_auth(token),
        }
    }
}

/// The access a request needs: a sorted set of `repository:NAME:ACTIONS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope(Vec<String>);

impl Scope {
    /// `repository:NAME:pull`.
    pub(crate) fn pull(name: &str) -> Scope {
        Scope(vec![format!("repository:{name}:pull")])
    }

    /// `repository:NAME:pull,push`.
    pub(crate) fn push(name: &str) -> Scope {
        Scope(vec![format!("repository:{name}:pull,push")])
    }

    /// Push to `name`, pull from `from` (a cross-repository mount).
    pub(crate) fn push_mount(name: &str, from: &str) -> Scope {
        let mut s = Scope::push(name);
        if from != name {
            s.0.push(format!("repository:{from}:pull"));
            s.0.sort();
        }
        s
    }

    /// The space-separated form, the cache key.
    pub(crate) fn key(&self) -> String {
        self.0.join(" ")
    }

    /// These scopes plus any in `extra` (a challenge's) not already here.
    fn with(&self, extra: &[String]) -> Vec<String> {
        let mut all = self.0.clone();
        for s in extra {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        all
    }
}

struct CachedToken {
    token: String,
    realm: String,
    valid_until: Instant,
}

/// Per-client memory of challenges and tokens.
#[derive(Default)]
pub(crate) struct AuthState {
    inner: Mutex<AuthInner>,
}

#[derive(Default)]
struct AuthInner {
    challenges: HashMap<String, Challenge>,
    tokens: HashMap<(String, String), CachedToken>,
}

impl AuthState {
    fn lock(&self) -> std::sync::MutexGuard<'_, AuthInner> {
        // Nothing panics while holding the lock, but stay usable if so.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The challenge `registry` last sent.
    pub(crate) fn challenge(&self, registry: &str) -> Option<Challenge> {
        self.lock().challenges.get(registry).cloned()
    }

    /// Remembers the challenge of `registry`.
    pub(crate) fn learn(&self, registry: &str, challenge: Challenge) {
        self.lock()
            .challenges
            .insert(registry.to_owned(), challenge);
    }

    /// A cached token for (registry, scope) that has not expired.
    pub(crate) fn token(&self, registry: &str, scope: &Scope) -> Option<Authorization> {
        let mut inner = self.lock();
        let key = (registry.to_owned(), scope.key());
        match inner.tokens.get(&key) {
            Some(t) if t.valid_until > Instant::now() => Some(Authorization::Bearer {
                token: t.token.clone(),
                realm: t.realm.clone(),
            }),
            Some(_) => {
                inner.tokens.remove(&key);
                None
            }
            None => None,
        }
    }

    fn store_token(&self, registry: &str, scope: &Scope, token: CachedToken) {
        self.lock()
            .tokens
            .insert((registry.to_owned(), scope.key()), token);
    }

    /// Drops the token for (registry, scope), e.g. after the registry
    /// refused it.
    pub(crate) fn forget_token(&self, registry: &str, scope: &Scope) {
        self.lock()
            .tokens
            .remove(&(registry.to_owned(), scope.key()));
    }

    /// How many tokens are cached (for tests).
    #[cfg(test)]
    pub(crate) fn cached_tokens(&self) -> usize {
        self.lock().tokens.len()
    }
}

/// The challenge to answer among the `WWW-Authenticate` headers: `Bearer`
/// if offered (with a realm), else `Basic`, else `None`.
pub(crate) fn pick_challenge(headers: &HeaderMap) -> Option<Challenge> {
    let mut basic = false;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(value) = value.to_str() else { continue };
        for (scheme, params) in parse_challenges(value) {
            if scheme.eq_ignore_ascii_case("bearer") {
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                if let Some(realm) = get("realm") {
                    return Some(Challenge::Bearer {
                        realm,
                        service: get("service"),
                        scope: get("scope")
                            .map(|s| {
                                s.split(' ')
                                    .filter(|s| !s.is_empty())
                                    .map(String::from)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

/// Splits a `WWW-Authenticate` value into challenges: a scheme and its
/// `key=value` parameters, values unquoted. Several challenges may share one
/// header (`Bearer realm="a",scope="x,y", Basic realm="b"`).
pub(crate) fn parse_challenges(header: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return out;
        }
        let end = rest.find([' ', '\t', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if let (Some(value_part), false) = (after.strip_prefix('='), token.is_empty()) {
            // `key=value` of the current challenge (a `token68` if none yet).
            let value_part = value_part.trim_start_matches([' ', '\t']);
            let (value, remainder) = if let Some(q) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &q[end.min(q.len())..])
            } else {
                let e = value_part
                    .find([',', ' ', '\t'])
                    .unwrap_or(value_part.len());
                (value_part[..e].to_owned(), &value_part[e..])
            };
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_owned(), value));
            }
            rest = remainder;
        } else if token.is_empty() {
            // A stray `=`: skip it.
            rest = &rest[1..];
        } else {
            out.push((token.to_owned(), Vec::new()));
            rest = &rest[end..];
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// A token's lifetime when the realm does not say (the token spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

impl Client {
    /// The `Authorization` for `repo` and `scope` under `challenge`: the
    /// provider's basic credentials, or a cached or newly fetched token.
    pub(crate) async fn authorize(
        &self,
        repo: &Repo,
        scope: &Scope,
        challenge: &Challenge,
    ) -> Result<Authorization, AuthError> {
        let creds = self.config().credentials_for(&repo.registry);
        match challenge {
            Challenge::Basic => match creds {
                Some(Credentials::Basic { username, password }) => {
                    Ok(Authorization::Basic { username, password })
                }
                _ => Err(AuthError::CredentialsRequired {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    scheme: "Basic",
                }),
            },
            Challenge::Bearer {
                realm,
                service,
                scope: challenge_scope,
            } => {
                if let Some(auth) = self.auth_state().token(&repo.registry, scope) {
                    return Ok(auth);
                }
                let scopes = scope.with(challenge_scope);
                let cached = self
                    .fetch_token(repo, realm, service.as_deref(), &scopes, creds)
                    .await?;
                let auth = Authorization::Bearer {
                    token: cached.token.clone(),
                    realm: realm.clone(),
                };
                self.auth_state().store_token(&repo.registry, scope, cached);
                Ok(auth)
            }
        }
    }

    /// Asks `realm` for a token covering `scopes`.
    async fn fetch_token(
        &self,
        repo: &Repo,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        creds: Option<Credentials>,
    ) -> Result<CachedToken, AuthError> {
        let registry = repo.registry.as_str();
        let invalid_realm = || AuthError::InvalidRealm {
            registry: registry.to_owned(),
            realm: realm.to_owned(),
        };
        let mut url = Url::parse(realm).map_err(|_| invalid_realm())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid_realm());
        }
        let scope_joined = scopes.join(" ");
        let mut username = None;
        let mut request = match creds {
            Some(Credentials::IdentityToken(refresh)) => {
                username = Some("<identity token>".to_owned());
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", &refresh);
                form.append_pair("client_id", "skiff");
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                if !scope_joined.is_empty() {
                    form.append_pair("scope", &scope_joined);
                }
                Request::new(Method::POST, url)
                    .header_static("content-type", "application/x-www-form-urlencoded")
                    .body(form.finish().into_bytes())
            }
            other => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", s);
                    }
                }
                let mut r = Request::new(Method::GET, url);
                if let Some(Credentials::Basic {
                    username: u,
                    password,
                }) = other
                {
                    username = Some(u.clone());
                    r.auth = Some(Authorization::Basic {
                        username: u,
                        password,
                    });
                }
                r
            }
        };
        let started = Instant::now();
        let mut resp = self
            .execute_plain(&mut request)
            .await
            .map_err(|e| match e {
                SendError::Http(source) => AuthError::TokenRequest {
                    registry: registry.to_owned(),
                    realm: realm.to_owned(),
                    source,
                },
                SendError::NoAnswer(after) => AuthError::TokenTimeout {
                    registry: registry.to_owned(),
                    realm: realm.to_owned(),
                    after,
                },
            })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AuthError::TokenDenied {
                registry: registry.to_owned(),
                realm: realm.to_owned(),
                scope: scope_joined,
                status,
                username,
            });
        }
        if !status.is_success() {
            return Err(AuthError::TokenStatus {
                registry: registry.to_owned(),
                realm: realm.to_owned(),
                status,
            });
        }
        let invalid = |reason: String| AuthError::InvalidTokenResponse {
            registry: registry.to_owned(),
            realm: realm.to_owned(),
            reason,
        };
        let body = super::client::read_limited(&mut resp, 1 << 20)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| invalid(format!("not token JSON: {e}")))?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| invalid("neither \"token\" nor \"access_token\" is set".into()))?;
        if token.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
            return Err(invalid(
                "the token has characters a header cannot carry".into(),
            ));
        }
        let lifetime = parsed
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        // Give up on the token a little early rather than have it expire in
        // flight: a tenth of its life, at most 10 s.
        let margin = (lifetime / 10).min(Duration::from_secs(10));
        Ok(CachedToken {
            token,
            realm: realm.to_owned(),
            valid_until: started + lifetime - margin,
        })
    }
}

/// The `WWW-Authenticate` headers as one string (for error messages).
pub(crate) fn challenge_text(headers: &HeaderMap) -> String {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_bearer_with_commas_in_quotes() {
        let h = headers(&[
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push repository:c:pull""#,
        ]);
        assert_eq!(
            pick_challenge(&h),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: vec![
                    "repository:a/b:pull,push".into(),
                    "repository:c:pull".into()
                ],
            })
        );
    }

    #[test]
    fn parses_basic_and_prefers_bearer() {
        assert_eq!(
            pick_challenge(&headers(&[r#"Basic realm="Registry Realm""#])),
            Some(Challenge::Basic)
        );
        let both =
            headers(&[r#"Basic realm="x", Bearer realm="https://t/token", error="invalid_token""#]);
        assert!(
            matches!(pick_challenge(&both), Some(Challenge::Bearer { ref realm, .. }) if realm == "https://t/token")
        );
        let split = headers(&[r#"Basic realm="x""#, r#"bearer realm=https://t/token"#]);
        assert!(matches!(
            pick_challenge(&split),
            Some(Challenge::Bearer { .. })
        ));
    }

    #[test]
    fn unknown_or_broken_challenges() {
        assert_eq!(pick_challenge(&headers(&[])), None);
        assert_eq!(pick_challenge(&headers(&["Negotiate abc=="])), None);
        assert_eq!(pick_challenge(&headers(&[r#"Bearer service="s""#])), None);
        assert_eq!(
            parse_challenges(r#"Bearer realm="unterminated"#)[0].1[0].1,
            "unterminated"
        );
        let p = parse_challenges(r#"Bearer realm = "a\"b" , service=svc"#);
        assert_eq!(
            p,
            vec![(
                "Bearer".to_owned(),
                vec![
                    ("realm".into(), "a\"b".into()),
                    ("service".into(), "svc".into())
                ]
            )]
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::pull("a/b").key(), "repository:a/b:pull");
        assert_eq!(Scope::push("a").key(), "repository:a:pull,push");
        assert_eq!(
            Scope::push_mount("z", "a").key(),
            "repository:a:pull repository:z:pull,push"
        );
        assert_eq!(Scope::push_mount("z", "z"), Scope::push("z"));
        assert_eq!(
            Scope::pull("a").with(&["repository:a:pull".into(), "registry:catalog:*".into()]),
            vec![
                "repository:a:pull".to_owned(),
                "registry:catalog:*".to_owned()
            ]
        );
    }
}
