//! A client for the OCI distribution API (Docker registry v2): pulling and
//! pushing manifests and blobs.
//!
//! [`Client`] speaks to any number of registries. Which ones get plain HTTP,
//! which credentials to use, timeouts, retries and the upload mode come from
//! a [`Config`]. Every call names a [`Repo`]: the registry host (as it serves
//! the API, e.g. `registry-1.docker.io` for `docker.io`) and the repository.
//!
//! - Pull: [`Client::get_manifest`] (digest-verified, size-capped),
//!   [`Client::head_manifest`], [`Client::get_blob`] and
//!   [`Client::get_blob_range`] (a [`BlobReader`] that follows redirects to
//!   storage).
//! - Push: [`Client::blob_exists`], [`Client::mount_blob`],
//!   [`Client::upload_blob`] (monolithic or chunked), [`Client::put_manifest`].
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge: a
//! registry is first spoken to anonymously; `Basic` challenges are answered
//! with the credentials of the [`CredentialProvider`]; `Bearer` challenges
//! with a token fetched from the realm, cached per registry and scope.
//!
//! What this client checks: manifests against the requested digest and the
//! registry's `Docker-Content-Digest`, uploads against the digest and size the
//! caller gave. What it leaves to the caller: blob downloads stream through
//! unverified, because the caller hashes them on the way into its store
//! (see [`BlobReader`]).

mod auth;
mod blob;
mod client;
mod config;
mod manifest;
mod retry;
mod tls;
mod upload;

#[cfg(test)]
pub(crate) mod tests;

pub use auth::AuthError;
pub use blob::{BlobError, BlobReader};
pub use client::{Client, Error};
pub use config::Config;
pub use config::{
    ConfigError, CredentialProvider, Credentials, RegistryConfig, RetryPolicy, UploadMode,
};
pub use manifest::{
    Manifest, ManifestError, ManifestInfo, ManifestRef, MANIFEST_ACCEPT, MAX_MANIFEST_SIZE,
    MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
};
pub use upload::UploadError;

use std::fmt;

/// A repository on a registry: where a request goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repo {
    /// The registry host, with its port if any, as it serves the API:
    /// `registry-1.docker.io`, `localhost:5000`, `[::1]:5000`. Credentials
    /// are looked up by this string.
    pub registry: String,
    /// The repository path, e.g. `library/busybox`.
    pub name: String,
}

impl Repo {
    /// A repository `name` on `registry`. Both are checked when a request is
    /// made: the registry must be a host with an optional port, the name
    /// lowercase path components of `[a-z0-9._-]`.
    pub fn new(registry: impl Into<String>, name: impl Into<String>) -> Repo {
        Repo {
            registry: registry.into(),
            name: name.into(),
        }
    }

    /// The same registry, another repository (for cross-repository mounts).
    pub fn sibling(&self, name: impl Into<String>) -> Repo {
        Repo::new(self.registry.clone(), name)
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}
