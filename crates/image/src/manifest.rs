//! Serde types for image manifests: OCI image-spec 1.1 and Docker image
//! manifest v2 schema 2, which share one JSON shape and differ in media
//! types.
//!
//! - [`ImageIndex`]: an OCI index or a Docker manifest list, one manifest
//!   per platform; [`select_manifest`] picks the one for a [`Platform`].
//! - [`ImageManifest`]: a config blob and the layers.
//! - [`ImageConfig`]: the config blob: platform, rootfs diff IDs, history
//!   and the container defaults (`Env`, `Cmd`, ...).
//!
//! Parsing is tolerant: unknown fields are ignored, and JSON `null` where a
//! list or map is expected reads as empty (Docker writes `"Env": null`).
//! A document that is not JSON, or says it is something else in its
//! `mediaType`, gets an error that names what was expected.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::Digest;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip-compressed tar.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd-compressed tar.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer, tar (deprecated in 1.1, still seen).
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable layer, tar+gzip (deprecated in 1.1).
pub const OCI_LAYER_NONDIST_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable layer, tar+zstd (deprecated in 1.1).
pub const OCI_LAYER_NONDIST_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// OCI 1.1 empty descriptor (`{}`), used as the config of artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 1 manifest (signed), not supported; named for errors.
pub const DOCKER_MANIFEST_SCHEMA1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker container config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip-compressed tar.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker foreign layer (e.g. Windows base layers), gzip-compressed tar.
pub const DOCKER_FOREIGN_LAYER_TAR_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// The media types of indexes, for `Accept` headers and checks.
pub const INDEX_MEDIA_TYPES: &[&str] = &[OCI_INDEX, DOCKER_MANIFEST_LIST];
/// The media types of image manifests.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[OCI_MANIFEST, DOCKER_MANIFEST];
/// The media types of image configs.
pub const CONFIG_MEDIA_TYPES: &[&str] = &[OCI_CONFIG, DOCKER_CONFIG];

/// Errors from parsing manifests and platforms and from selecting one.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The document is not valid JSON of the expected shape.
    #[error("invalid {expected}: {source}")]
    Json {
        /// What was being parsed, e.g. "image index".
        expected: &'static str,
        /// The JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The document's `mediaType` is not one the caller asked for.
    #[error("expected {expected} ({}), got mediaType {found:?}", allowed.join(" or "))]
    WrongMediaType {
        /// What was being parsed.
        expected: &'static str,
        /// The media types accepted.
        allowed: &'static [&'static str],
        /// The media type found.
        found: String,
    },
    /// The document's `schemaVersion` is not 2.
    #[error("invalid {expected}: schemaVersion is {found}, expected 2")]
    SchemaVersion {
        /// What was being parsed.
        expected: &'static str,
        /// The version found.
        found: u32,
    },
    /// A platform string is not `os/arch[/variant]`.
    #[error("invalid platform {input:?}: {reason}")]
    InvalidPlatform {
        /// The string as given.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// No manifest in an index is for the wanted platform.
    #[error("no manifest for platform {wanted} in the image index (available: {available})")]
    NoMatchingPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms the index offers, comma-separated.
        available: String,
    },
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, ManifestError>;

/// Reads JSON `null` as the type's default.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The JSON object `{}` that Docker uses as the value of port and volume
/// sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A reference to a blob: what it is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced blob.
    pub media_type: String,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// The platform, in index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Other places to fetch the blob from (foreign layers).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    /// OCI 1.1: the artifact type, for artifact manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// OCI 1.1: the blob's content inline, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
            urls: Vec::new(),
            artifact_type: None,
            data: None,
        }
    }
}

pub use crate::layer::Compression;

/// The compression of a layer media type, or `None` if it is not a layer
/// type skiff knows.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR => Some(Compression::None),
        OCI_LAYER_TAR_GZIP
        | OCI_LAYER_NONDIST_TAR_GZIP
        | DOCKER_LAYER_TAR_GZIP
        | DOCKER_FOREIGN_LAYER_TAR_GZIP => Some(Compression::Gzip),
        OCI_LAYER_TAR_ZSTD | OCI_LAYER_NONDIST_TAR_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// An OCI image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_INDEX`] or [`DOCKER_MANIFEST_LIST`]; may be absent in OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1: the artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// One manifest per platform (and possibly attestations).
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// OCI 1.1: the manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// Parses an index, checking `schemaVersion` and `mediaType`.
    pub fn from_json(bytes: &[u8]) -> Result<ImageIndex> {
        parse_checked("image index", INDEX_MEDIA_TYPES, bytes)
    }
}

/// An OCI image manifest or Docker v2 schema 2 manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_MANIFEST`] or [`DOCKER_MANIFEST`]; may be absent in OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1: the artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// OCI 1.1: the manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// Parses a manifest, checking `schemaVersion` and `mediaType`.
    pub fn from_json(bytes: &[u8]) -> Result<ImageManifest> {
        parse_checked("image manifest", MANIFEST_MEDIA_TYPES, bytes)
    }

    /// Whether the config is a container image config (not an artifact).
    pub fn is_image(&self) -> bool {
        CONFIG_MEDIA_TYPES.contains(&self.config.media_type.as_str())
    }
}

/// Either kind of manifest a registry may answer a manifest request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A multi-platform index.
    Index(Box<ImageIndex>),
    /// A single-platform manifest.
    Image(Box<ImageManifest>),
}

impl Manifest {
    /// Parses an index or manifest. The kind comes from the document's
    /// `mediaType`, else from `content_type` (the HTTP header, parameters
    /// allowed), else from its shape (`manifests` or `config`).
    pub fn from_json(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest> {
        const WHAT: &str = "image index or manifest";
        const ALLOWED: &[&str] = &[
            OCI_INDEX,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            DOCKER_MANIFEST,
        ];

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
            #[serde(default)]
            config: Option<serde_json::Value>,
        }
        let probe: Probe = parse_json(WHAT, bytes)?;
        let header_type = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| ALLOWED.contains(c));
        let kind = match probe.media_type.as_deref().or(header_type) {
            Some(t) if INDEX_MEDIA_TYPES.contains(&t) => true,
            Some(t) if MANIFEST_MEDIA_TYPES.contains(&t) => false,
            Some(t) => {
                return Err(ManifestError::WrongMediaType {
                    expected: WHAT,
                    allowed: ALLOWED,
                    found: t.to_owned(),
                })
            }
            None if probe.manifests.is_some() => true,
            None if probe.config.is_some() => false,
            None => {
                return Err(ManifestError::WrongMediaType {
                    expected: WHAT,
                    allowed: ALLOWED,
                    found: String::new(),
                })
            }
        };
        if kind {
            ImageIndex::from_json(bytes).map(|i| Manifest::Index(Box::new(i)))
        } else {
            ImageManifest::from_json(bytes).map(|m| Manifest::Image(Box::new(m)))
        }
    }
}

fn parse_json<'a, T: Deserialize<'a>>(expected: &'static str, bytes: &'a [u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| ManifestError::Json { expected, source })
}

/// Parses `bytes` as `T` after checking its `mediaType` (if any) and
/// `schemaVersion`, so a document of another kind is named as such rather
/// than reported as a missing field.
fn parse_checked<T: for<'de> Deserialize<'de>>(
    expected: &'static str,
    allowed: &'static [&'static str],
    bytes: &[u8],
) -> Result<T> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        media_type: Option<String>,
    }
    let header: Header = parse_json(expected, bytes)?;
    if let Some(t) = header.media_type {
        if !allowed.contains(&t.as_str()) {
            return Err(ManifestError::WrongMediaType {
                expected,
                allowed,
                found: t,
            });
        }
    }
    match header.schema_version {
        Some(2) | None => parse_json(expected, bytes),
        Some(found) => Err(ManifestError::SchemaVersion { expected, found }),
    }
}

/// An image config blob (OCI config or Docker container config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was created, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture in Go's spelling (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The container an image was committed from (Docker's `container`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The layers' uncompressed digests.
    #[serde(default)]
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn from_json(bytes: &[u8]) -> Result<ImageConfig> {
        parse_json("image config", bytes)
    }

    /// The platform the image is for.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            os_features: Vec::new(),
            features: Vec::new(),
        }
    }
}

/// Container defaults in an image config (Docker's field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user`, `uid`, `user:group` or `uid:gid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `KEY=value` pairs.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The entrypoint; `None` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The command or entrypoint arguments; `None` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Ports, as `80/tcp` keys.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// Volume mount points, as keys.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Empty>,
    /// The signal that stops the container (`SIGTERM`, `15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker's health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Docker's `SHELL` (for `RUN` and `CMD` in shell form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Docker's `ONBUILD` triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
}

/// Docker's `HEALTHCHECK`. Durations are nanoseconds; 0 means inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `[]` inherit, `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", cmd]`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time after which a check is failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Grace period after start.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The layers of the root file system, as uncompressed digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed digest of each layer, base first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One step of the image's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer (ENV, CMD, ...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// A platform: OS, CPU architecture and variant, in Go's spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, `arm`, `386`, ...).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version (Windows).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(
        default,
        rename = "os.features",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// CPU variant (`v6`, `v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Reserved by the spec.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub features: Vec<String>,
}

impl Platform {
    /// A platform from its parts, normalized (see [`Platform::parse`]).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let (architecture, variant) = normalize_arch(architecture, variant.unwrap_or(""));
        Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
            ..Platform::default()
        }
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`.
    /// Architecture aliases are normalized (`x86_64` to `amd64`, `aarch64`
    /// to `arm64`, `armhf` to `arm/v7`, ...).
    pub fn parse(s: &str) -> Result<Platform> {
        let err = |reason| ManifestError::InvalidPlatform {
            input: s.to_owned(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(err("expected os/arch or os/arch/variant"));
        }
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(err(
                "each part must be non-empty letters, digits, '_', '-' or '.'",
            ));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }

    /// The platform of this host (`linux/amd64`, `linux/arm64/v8`, ...).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, default_variant(arch))
    }

    /// Whether a manifest for `self` can serve a request for `wanted`: same
    /// OS and architecture, and the same variant if `wanted` names one (an
    /// entry without a variant has its architecture's default: `arm64` is
    /// `v8`, `arm` is `v7`).
    pub fn matches(&self, wanted: &Platform) -> bool {
        let have = Platform::new(&self.os, &self.architecture, self.variant.as_deref());
        let want = Platform::new(&wanted.os, &wanted.architecture, wanted.variant.as_deref());
        if have.os != want.os || have.architecture != want.architecture {
            return false;
        }
        match &want.variant {
            None => true,
            Some(v) => {
                let have_v = have
                    .variant
                    .as_deref()
                    .or(default_variant(&have.architecture));
                have_v == Some(v.as_str())
            }
        }
    }
}

/// Normalizes architecture aliases and variant spellings the way
/// containerd does, without filling in a default variant.
fn normalize_arch(arch: &str, variant: &str) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let (a, v): (&str, &str) = match (arch.as_str(), variant.as_str()) {
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v),
        ("i386" | "i686" | "386", v) => ("386", v),
        ("aarch64" | "arm64", "8" | "v8.0") => ("arm64", "v8"),
        ("aarch64" | "arm64", "9" | "9.0" | "v9.0") => ("arm64", "v9"),
        ("aarch64" | "arm64", v) => ("arm64", v),
        ("armhf", _) => ("arm", "v7"),
        ("armel", _) => ("arm", "v6"),
        ("arm", "5") => ("arm", "v5"),
        ("arm", "6") => ("arm", "v6"),
        ("arm", "7") => ("arm", "v7"),
        ("arm", "8") => ("arm", "v8"),
        (a, v) => (a, v),
    };
    (a.to_owned(), (!v.is_empty()).then(|| v.to_owned()))
}

/// The variant an architecture means when none is named.
fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Platform> {
        Platform::parse(s)
    }
}

/// The entry of `index` for `platform`: the first with the same OS and
/// architecture, and the same variant if `platform` names one.
pub fn select_manifest<'a>(index: &'a ImageIndex, platform: &Platform) -> Result<&'a Descriptor> {
    index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
        .ok_or_else(|| {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                // Attestation manifests carry unknown/unknown.
                .filter(|p| p.os != "unknown" || p.architecture != "unknown")
                .map(|p| p.to_string())
                .collect();
            ManifestError::NoMatchingPlatform {
                wanted: platform.to_string(),
                available: if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                },
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn index_json() -> String {
        format!(
            r#"{{
  "schemaVersion": 2,
  "mediaType": "{DOCKER_MANIFEST_LIST}",
  "manifests": [
    {{"mediaType": "{DOCKER_MANIFEST}", "digest": "{}", "size": 528,
      "platform": {{"architecture": "amd64", "os": "linux"}}}},
    {{"mediaType": "{DOCKER_MANIFEST}", "digest": "{}", "size": 528,
      "platform": {{"architecture": "arm", "os": "linux", "variant": "v6"}}}},
    {{"mediaType": "{DOCKER_MANIFEST}", "digest": "{}", "size": 528,
      "platform": {{"architecture": "arm", "os": "linux", "variant": "v7"}}}},
    {{"mediaType": "{DOCKER_MANIFEST}", "digest": "{}", "size": 528,
      "platform": {{"architecture": "arm64", "os": "linux", "variant": "v8"}}}},
    {{"mediaType": "{OCI_MANIFEST}", "digest": "{}", "size": 566,
      "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}},
      "platform": {{"architecture": "unknown", "os": "unknown"}}}}
  ]
}}"#,
            d('a'),
            d('b'),
            d('c'),
            d('d'),
            d('e')
        )
    }

    #[test]
    fn index_parse_and_select() {
        let index = ImageIndex::from_json(index_json().as_bytes()).unwrap();
        assert_eq!(index.manifests.len(), 5);
        let pick = |s: &str| {
            select_manifest(&index, &Platform::parse(s).unwrap())
                .map(|desc| desc.digest.to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), d('a'));
        assert_eq!(pick("linux/x86_64").unwrap(), d('a'));
        assert_eq!(pick("linux/arm64").unwrap(), d('d'));
        assert_eq!(pick("linux/arm64/v8").unwrap(), d('d'));
        assert_eq!(pick("linux/arm/v7").unwrap(), d('c'));
        assert_eq!(pick("linux/armel").unwrap(), d('b'));
        let e = pick("linux/s390x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no manifest for platform linux/s390x in the image index (available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8)"
        );
        assert!(pick("windows/amd64").is_err());
        assert!(pick("linux/arm/v5").is_err());

        // Round trip keeps what it knows.
        let again: ImageIndex =
            serde_json::from_slice(&serde_json::to_vec(&index).unwrap()).unwrap();
        assert_eq!(again, index);
    }

    #[test]
    fn arm64_without_variant_matches_v8() {
        let json = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
            d('f')
        );
        let index = ImageIndex::from_json(json.as_bytes()).unwrap();
        assert!(index.media_type.is_none());
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(
            select_manifest(&index, &p).unwrap().digest.to_string(),
            d('f')
        );
    }

    #[test]
    fn manifest_parse_and_wrong_media_type() {
        let json = format!(
            r#"{{
  "schemaVersion": 2,
  "mediaType": "{OCI_MANIFEST}",
  "config": {{"mediaType": "{OCI_CONFIG}", "digest": "{}", "size": 1469}},
  "layers": [
    {{"mediaType": "{OCI_LAYER_TAR_GZIP}", "digest": "{}", "size": 3370706}},
    {{"mediaType": "{DOCKER_FOREIGN_LAYER_TAR_GZIP}", "digest": "{}", "size": 5,
      "urls": ["https://example.com/layer"]}}
  ],
  "annotations": {{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}},
  "somethingNew": [1, 2, 3]
}}"#,
            d('1'),
            d('2'),
            d('3')
        );
        let m = ImageManifest::from_json(json.as_bytes()).unwrap();
        assert!(m.is_image());
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[1].urls, ["https://example.com/layer"]);
        assert_eq!(
            layer_compression(&m.layers[0].media_type),
            Some(Compression::Gzip)
        );
        assert_eq!(
            layer_compression(OCI_LAYER_TAR_ZSTD),
            Some(Compression::Zstd)
        );
        assert_eq!(layer_compression(OCI_LAYER_TAR), Some(Compression::None));
        assert_eq!(layer_compression(OCI_CONFIG), None);

        // The same document is not an index.
        let e = ImageIndex::from_json(json.as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "expected image index ({OCI_INDEX} or {DOCKER_MANIFEST_LIST}), got mediaType \"{OCI_MANIFEST}\""
            )),
            "{e}"
        );
        // And an index is not a manifest.
        let e = ImageManifest::from_json(index_json().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("expected image manifest"), "{e}");

        let e = ImageManifest::from_json(b"<html>rate limited</html>").unwrap_err();
        assert!(e.to_string().starts_with("invalid image manifest: "), "{e}");
        let e = ImageIndex::from_json(b"{\"schemaVersion\": 1, \"manifests\": []}").unwrap_err();
        assert!(
            e.to_string().contains("schemaVersion is 1, expected 2"),
            "{e}"
        );
        let bad_digest = json.replace(&d('2'), "sha256:nothex");
        let e = ImageManifest::from_json(bad_digest.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("invalid digest"), "{e}");
    }

    #[test]
    fn any_manifest_detection() {
        let idx = index_json();
        assert!(matches!(
            Manifest::from_json(idx.as_bytes(), None).unwrap(),
            Manifest::Index(_)
        ));
        let bare = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{}","size":2}},"layers":[]}}"#,
            d('9')
        );
        assert!(matches!(
            Manifest::from_json(
                bare.as_bytes(),
                Some(&format!("{DOCKER_MANIFEST}; charset=utf-8"))
            )
            .unwrap(),
            Manifest::Image(_)
        ));
        assert!(matches!(
            Manifest::from_json(bare.as_bytes(), None).unwrap(),
            Manifest::Image(_)
        ));
        let schema1 =
            format!(r#"{{"schemaVersion":1,"mediaType":"{DOCKER_MANIFEST_SCHEMA1_SIGNED}"}}"#);
        let e = Manifest::from_json(schema1.as_bytes(), None).unwrap_err();
        assert!(
            e.to_string().contains("expected image index or manifest"),
            "{e}"
        );
        assert!(e.to_string().contains("prettyjws"), "{e}");
        assert!(Manifest::from_json(b"not json", None)
            .unwrap_err()
            .to_string()
            .starts_with("invalid image index or manifest: "));
    }

    #[test]
    fn docker_config_with_nulls() {
        let json = format!(
            r#"{{
  "architecture": "amd64",
  "os": "linux",
  "created": "2024-05-01T10:00:00.123Z",
  "author": "someone",
  "docker_version": "24.0.7",
  "container_config": {{"Cmd": ["/bin/sh"]}},
  "config": {{
    "Hostname": "",
    "User": "1000:1000",
    "Env": ["PATH=/usr/bin:/bin"],
    "Entrypoint": null,
    "Cmd": ["sh"],
    "WorkingDir": "/app",
    "Labels": null,
    "ExposedPorts": {{"80/tcp": {{}}}},
    "Volumes": {{"/data": {{}}}},
    "StopSignal": "SIGQUIT",
    "OnBuild": null,
    "Healthcheck": {{"Test": ["CMD-SHELL", "true"], "Interval": 30000000000, "Retries": 3}}
  }},
  "rootfs": {{"type": "layers", "diff_ids": ["{}", "{}"]}},
  "history": [
    {{"created": "2024-05-01T10:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "}},
    {{"created": "2024-05-01T10:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true, "comment": "c"}}
  ]
}}"#,
            d('4'),
            d('5')
        );
        let c = ImageConfig::from_json(json.as_bytes()).unwrap();
        assert_eq!(c.platform().to_string(), "linux/amd64");
        assert_eq!(c.author.as_deref(), Some("someone"));
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user.as_deref(), Some("1000:1000"));
        assert_eq!(cc.env, ["PATH=/usr/bin:/bin"]);
        assert_eq!(cc.entrypoint, None);
        assert_eq!(cc.cmd.as_deref(), Some(&["sh".to_owned()][..]));
        assert_eq!(cc.working_dir.as_deref(), Some("/app"));
        assert!(cc.labels.is_empty());
        assert!(cc.exposed_ports.contains_key("80/tcp"));
        assert!(cc.volumes.contains_key("/data"));
        assert_eq!(cc.stop_signal.as_deref(), Some("SIGQUIT"));
        let hc = cc.healthcheck.as_ref().unwrap();
        assert_eq!((hc.interval, hc.retries), (30_000_000_000, 3));
        assert_eq!(c.rootfs.kind, "layers");
        assert_eq!(c.rootfs.diff_ids.len(), 2);
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer && !c.history[0].empty_layer);
        assert_eq!(c.history[1].comment.as_deref(), Some("c"));

        let out = serde_json::to_string(&c).unwrap();
        assert!(out.contains(r#""ExposedPorts":{"80/tcp":{}}"#), "{out}");
        assert!(!out.contains("Labels"), "{out}");
        assert_eq!(ImageConfig::from_json(out.as_bytes()).unwrap(), c);

        let e = ImageConfig::from_json(b"[1,2]").unwrap_err();
        assert!(e.to_string().starts_with("invalid image config: "), "{e}");
    }

    #[test]
    fn platform_parse_display_host() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(Platform::parse("linux/aarch64/8").unwrap(), p);
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/armhf").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/arm/7").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(Platform::parse("linux/arm").unwrap().variant, None);
        assert_eq!("linux/386".parse::<Platform>().unwrap().architecture, "386");
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            let e = Platform::parse(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid platform {bad:?}")),
                "{e}"
            );
        }
        let host = Platform::host();
        assert_eq!(host.os, std::env::consts::OS);
        assert!(!host.architecture.is_empty());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(host.to_string(), "linux/amd64");
        #[cfg(target_arch = "aarch64")]
        assert_eq!(host.to_string(), "linux/arm64/v8");
    }
}
