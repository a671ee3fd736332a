//! Manifests: fetching them by tag or digest, verified against what was asked
//! for and what the registry claims, and pushing them.
//!
//! A fetched manifest's bytes are hashed. The digest must equal the
//! reference when the reference is a digest, and the `Docker-Content-Digest`
//! header when the registry sends one; otherwise the registry is lying (or
//! something between corrupted the bytes) and the manifest is refused. Bodies
//! larger than [`MAX_MANIFEST_SIZE`] are refused before they are read whole.

use std::fmt;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::auth::Scope;
use super::client::{header_lossy, read_limited, Client, Error, ReadLimitError, Request};
use super::Repo;
use crate::digest::Digest;

/// OCI image index.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2).
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The media types asked for when fetching a manifest, indexes first.
pub const MANIFEST_ACCEPT: [&str; 4] = [
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_DOCKER_MANIFEST,
];

/// The largest manifest fetched or pushed (4 MiB, as registries cap them).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;

/// The name `Docker-Content-Digest` header.
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// Errors about manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The reference is neither a tag nor a sha256 digest.
    #[error("invalid manifest reference {reference:?} for {registry}/{repository}: expected a tag or sha256:<64 hex>")]
    InvalidReference {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The reference as given.
        reference: String,
    },
    /// The registry has no such manifest (or repository).
    #[error("manifest {repository}:{reference} not found on registry {registry}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
    },
    /// The manifest is larger than [`MAX_MANIFEST_SIZE`].
    #[error("manifest {repository}:{reference} on registry {registry} is larger than the {limit}-byte limit")]
    TooLarge {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
        /// The limit.
        limit: usize,
    },
    /// The bytes do not hash to the digest that was asked for.
    #[error(
        "registry {registry} lies: it returned a manifest for {repository}@{requested} whose \
         content has digest {actual}"
    )]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest asked for.
        requested: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// The bytes do not hash to the registry's own `Docker-Content-Digest`.
    #[error(
        "registry {registry} lies: for {repository}:{reference} its Docker-Content-Digest says \
         {claimed} but the content has digest {actual}"
    )]
    HeaderDigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
        /// The digest the header claims.
        claimed: Digest,
        /// The digest of the bytes received (or pushed).
        actual: Digest,
    },
    /// The `Docker-Content-Digest` header is not a sha256 digest.
    #[error("registry {registry} sent an unusable Docker-Content-Digest {value:?} for {repository}:{reference}")]
    InvalidHeaderDigest {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
        /// The header's value.
        value: String,
    },
    /// Pushing under a digest reference that is not the digest of the bytes.
    #[error("cannot push a manifest to {registry}/{repository}@{reference}: its content has digest {actual}")]
    PushDigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest reference given.
        reference: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
    /// The body could not be read.
    #[error("reading manifest {repository}:{reference} from registry {registry} failed: {source}")]
    Read {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest.
        reference: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
}

/// A tag or a digest: what `/v2/NAME/manifests/REFERENCE` takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManifestRef {
    /// A tag, `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl ManifestRef {
    /// Parses `s`: a digest if it has a `:`, else a tag.
    pub fn parse(s: &str) -> Option<ManifestRef> {
        if s.contains(':') {
            return Digest::parse(s).ok().map(ManifestRef::Digest);
        }
        let b = s.as_bytes();
        let valid = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        valid.then(|| ManifestRef::Tag(s.to_owned()))
    }

    /// The digest, if this is one.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            ManifestRef::Digest(d) => Some(d),
            ManifestRef::Tag(_) => None,
        }
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(t) => f.write_str(t),
            ManifestRef::Digest(d) => write!(f, "{d}"),
        }
    }
}

/// A fetched manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bytes as the registry sent them (what the digest covers).
    pub bytes: Bytes,
    /// The media type: the `Content-Type`, or the manifest's own `mediaType`
    /// when the header is missing or generic.
    pub media_type: String,
    /// The digest of `bytes` (verified as described in the module docs).
    pub digest: Digest,
}

/// What a `HEAD` of a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// `Docker-Content-Digest`, if sent (not verifiable without the bytes).
    pub digest: Option<Digest>,
    /// `Content-Type`, if sent.
    pub media_type: Option<String>,
    /// `Content-Length`, if sent.
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct MediaTypeProbe {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

impl Client {
    fn manifest_ref(&self, repo: &Repo, reference: &str) -> Result<ManifestRef, Error> {
        ManifestRef::parse(reference).ok_or_else(|| {
            ManifestError::InvalidReference {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                reference: reference.to_owned(),
            }
            .into()
        })
    }

    fn manifest_request(
        &self,
        repo: &Repo,
        method: Method,
        r: &ManifestRef,
    ) -> Result<Request, Error> {
        let url = self.repo_url(repo, &format!("manifests/{r}"))?;
        Ok(Request::new(method, url).header(ACCEPT, &MANIFEST_ACCEPT.join(", ")))
    }

    /// Fetches the manifest `reference` (a tag or a digest) of `repo`,
    /// verified against the digest asked for and the registry's
    /// `Docker-Content-Digest`, and at most [`MAX_MANIFEST_SIZE`] bytes.
    pub async fn get_manifest(&self, repo: &Repo, reference: &str) -> Result<Manifest, Error> {
        let r = self.manifest_ref(repo, reference)?;
        let mut req = self.manifest_request(repo, Method::GET, &r)?;
        let mut resp = self.send(repo, &Scope::pull(&repo.name), &mut req).await?;
        let err_ctx = |e: ManifestErrorKind| e.into_error(repo, &r);
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(err_ctx(ManifestErrorKind::NotFound)),
            _ => return Err(self.unexpected(repo, Method::GET, resp).await),
        }
        let claimed = header_digest(repo, &r, resp.headers())?;
        let content_type = header_lossy(resp.headers(), CONTENT_TYPE.as_str());
        let bytes = match read_limited(&mut resp, MAX_MANIFEST_SIZE).await {
            Ok(b) => Bytes::from(b),
            Err(ReadLimitError::TooLarge) => return Err(err_ctx(ManifestErrorKind::TooLarge)),
            Err(ReadLimitError::Read(source)) => {
                return Err(err_ctx(ManifestErrorKind::Read(source)))
            }
        };
        let actual = Digest::of(&bytes);
        if let ManifestRef::Digest(requested) = &r {
            if *requested != actual {
                return Err(ManifestError::DigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    requested: requested.clone(),
                    actual,
                }
                .into());
            }
        }
        if let Some(claimed) = claimed {
            if claimed != actual {
                return Err(ManifestError::HeaderDigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    reference: r.to_string(),
                    claimed,
                    actual,
                }
                .into());
            }
        }
        let media_type = media_type_of(content_type.as_deref(), &bytes);
        Ok(Manifest {
            bytes,
            media_type,
            digest: actual,
        })
    }

    /// Asks whether manifest `reference` of `repo` exists, and its digest,
    /// media type and size as the registry reports them (`HEAD`). `None`
    /// when the registry answers 404.
    pub async fn head_manifest(
        &self,
        repo: &Repo,
        reference: &str,
    ) -> Result<Option<ManifestInfo>, Error> {
        let r = self.manifest_ref(repo, reference)?;
        let mut req = self.manifest_request(repo, Method::HEAD, &r)?;
        let resp = self.send(repo, &Scope::pull(&repo.name), &mut req).await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.unexpected(repo, Method::HEAD, resp).await),
        }
        let headers = resp.headers();
        Ok(Some(ManifestInfo {
            digest: header_digest(repo, &r, headers)?,
            media_type: header_lossy(headers, CONTENT_TYPE.as_str()).map(|t| strip_params(&t)),
            size: headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
        }))
    }

    /// Pushes `bytes` as manifest `reference` (a tag or the digest of
    /// `bytes`) of `repo` with `media_type`, and returns its digest. The
    /// blobs it names must already be in the repository.
    pub async fn put_manifest(
        &self,
        repo: &Repo,
        reference: &str,
        media_type: &str,
        bytes: impl Into<Bytes>,
    ) -> Result<Digest, Error> {
        let bytes = bytes.into();
        let r = self.manifest_ref(repo, reference)?;
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(ManifestErrorKind::TooLarge.into_error(repo, &r));
        }
        let digest = Digest::of(&bytes);
        if let ManifestRef::Digest(d) = &r {
            if *d != digest {
                return Err(ManifestError::PushDigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    reference: d.clone(),
                    actual: digest,
                }
                .into());
            }
        }
        let url = self.repo_url(repo, &format!("manifests/{r}"))?;
        let mut req = Request::new(Method::PUT, url)
            .header(CONTENT_TYPE, media_type)
            .body(bytes);
        let resp = self.send(repo, &Scope::push(&repo.name), &mut req).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(repo, Method::PUT, resp).await);
        }
        if let Some(claimed) = header_digest(repo, &r, resp.headers())? {
            if claimed != digest {
                return Err(ManifestError::HeaderDigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    reference: r.to_string(),
                    claimed,
                    actual: digest,
                }
                .into());
            }
        }
        Ok(digest)
    }
}

/// Errors that need only the repository and reference for context.
enum ManifestErrorKind {
    NotFound,
    TooLarge,
    Read(reqwest::Error),
}

impl ManifestErrorKind {
    fn into_error(self, repo: &Repo, r: &ManifestRef) -> Error {
        let registry = repo.registry.clone();
        let repository = repo.name.clone();
        let reference = r.to_string();
        match self {
            ManifestErrorKind::NotFound => ManifestError::NotFound {
                registry,
                repository,
                reference,
            },
            ManifestErrorKind::TooLarge => ManifestError::TooLarge {
                registry,
                repository,
                reference,
                limit: MAX_MANIFEST_SIZE,
            },
            ManifestErrorKind::Read(source) => ManifestError::Read {
                registry,
                repository,
                reference,
                source,
            },
        }
        .into()
    }
}

/// The `Docker-Content-Digest` of `headers`, parsed.
pub(crate) fn header_digest(
    repo: &Repo,
    r: &impl fmt::Display,
    headers: &reqwest::header::HeaderMap,
) -> Result<Option<Digest>, Error> {
    let Some(value) = header_lossy(headers, DOCKER_CONTENT_DIGEST) else {
        return Ok(None);
    };
    Digest::parse(value.trim()).map(Some).map_err(|_| {
        ManifestError::InvalidHeaderDigest {
            registry: repo.registry.clone(),
            repository: repo.name.clone(),
            reference: r.to_string(),
            value,
        }
        .into()
    })
}

/// `type/subtype` without `; parameters`.
fn strip_params(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The media type of a manifest: its `Content-Type` unless that is missing
/// or generic JSON/text, else its `mediaType` field, else the header, else
/// `application/octet-stream`.
fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    let header = content_type.map(strip_params).filter(|t| !t.is_empty());
    let generic = matches!(
        header.as_deref(),
        None | Some("application/json" | "text/plain" | "application/octet-stream")
    );
    if generic {
        if let Ok(MediaTypeProbe {
            media_type: Some(t),
        }) = serde_json::from_slice(bytes)
        {
            if !t.is_empty() {
                return t;
            }
        }
    }
    header.unwrap_or_else(|| "application/octet-stream".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            ManifestRef::parse("latest"),
            Some(ManifestRef::Tag("latest".into()))
        );
        assert_eq!(
            ManifestRef::parse("_v1.0-rc"),
            Some(ManifestRef::Tag("_v1.0-rc".into()))
        );
        let d = Digest::of(b"x");
        assert_eq!(
            ManifestRef::parse(&d.to_string()),
            Some(ManifestRef::Digest(d.clone()))
        );
        assert_eq!(
            ManifestRef::parse(&d.to_string()).unwrap().to_string(),
            d.to_string()
        );
        for bad in [
            "",
            ".x",
            "-x",
            "a/b",
            "sha256:abc",
            "sha512:00",
            &"a".repeat(129),
            "a b",
        ] {
            assert_eq!(ManifestRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn media_types() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#;
        assert_eq!(
            media_type_of(
                Some("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8"),
                body
            ),
            MEDIA_TYPE_DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(Some("application/json"), body),
            MEDIA_TYPE_OCI_INDEX
        );
        assert_eq!(media_type_of(None, body), MEDIA_TYPE_OCI_INDEX);
        assert_eq!(media_type_of(None, b"{}"), "application/octet-stream");
        assert_eq!(media_type_of(Some("text/plain"), b"[]"), "text/plain");
    }
}
