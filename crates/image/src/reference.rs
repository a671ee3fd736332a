//! Image references (`busybox`, `localhost:5000/x/y:1.0`, `repo@sha256:...`)
//! parsed and normalized the way Docker does it.
//!
//! A reference is `[registry/]repository[:tag][@digest]`:
//!
//! - the first `/`-separated component is a registry when it contains `.` or
//!   `:` or is `localhost`; otherwise the registry is `docker.io`;
//! - on `docker.io`, a one-component repository gets `library/` in front,
//!   and `index.docker.io` is spelled `docker.io`;
//! - repository components are lowercase `[a-z0-9]+` joined by `.`, `_`, `__`
//!   or a run of `-`; the whole name is at most 255 characters;
//! - a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! - a digest is `sha256:` and 64 lowercase hex digits.
//!
//! A reference with neither tag nor digest means `:latest`; [`Reference`]
//! keeps the tag as written (`None`) and its full string form adds `:latest`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// The registry that names without a registry part refer to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The host that serves the registry API for [`DEFAULT_REGISTRY`].
pub const DEFAULT_REGISTRY_API_HOST: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest stands for.
pub const DEFAULT_TAG: &str = "latest";
/// Longest name (registry and repository as written) Docker accepts.
pub const NAME_MAX_LEN: usize = 255;
/// Longest tag Docker accepts.
pub const TAG_MAX_LEN: usize = 128;

/// Errors from parsing a reference. Each names the input and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The input is empty.
    #[error("invalid reference \"\": the reference is empty")]
    Empty,
    /// The repository has an uppercase letter.
    #[error("invalid reference {input:?}: repository name must be lowercase")]
    Uppercase {
        /// The whole input.
        input: String,
    },
    /// The repository is missing (e.g. `localhost:5000/`).
    #[error("invalid reference {input:?}: the repository name is missing")]
    MissingRepository {
        /// The whole input.
        input: String,
    },
    /// A repository path component breaks the grammar.
    #[error(
        "invalid reference {input:?}: path component {component:?} at offset {offset} is invalid: {reason}"
    )]
    InvalidComponent {
        /// The whole input.
        input: String,
        /// The offending component (may be empty).
        component: String,
        /// Its byte offset in the input.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The registry part is not a host name, IPv4 or `[IPv6]`, with an
    /// optional numeric port.
    #[error("invalid reference {input:?}: invalid registry {registry:?}: {reason}")]
    InvalidRegistry {
        /// The whole input.
        input: String,
        /// The registry part.
        registry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The tag breaks the grammar.
    #[error(
        "invalid reference {input:?}: invalid tag {tag:?} at offset {offset}: a tag is up to 128 of [A-Za-z0-9_.-] and must not start with '.' or '-'"
    )]
    InvalidTag {
        /// The whole input.
        input: String,
        /// The tag as written.
        tag: String,
        /// Its byte offset in the input.
        offset: usize,
    },
    /// The digest part is invalid.
    #[error("invalid reference {input:?}: {source}")]
    InvalidDigest {
        /// The whole input.
        input: String,
        /// Why the digest is invalid.
        #[source]
        source: DigestError,
    },
    /// The name is longer than [`NAME_MAX_LEN`].
    #[error("invalid reference {input:?}: repository name is {len} characters, longer than the maximum of 255")]
    NameTooLong {
        /// The whole input.
        input: String,
        /// The name's length.
        len: usize,
    },
    /// The whole input is 64 hex digits, which would be ambiguous with an
    /// image ID.
    #[error("invalid reference {input:?}: a repository name cannot be a 64-character hexadecimal string (use the image ID instead)")]
    HexName {
        /// The whole input.
        input: String,
    },
}

type Result<T> = std::result::Result<T, ReferenceError>;

/// A normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry, e.g. `docker.io` or `localhost:5000`.
    pub registry: String,
    /// The repository path, e.g. `library/busybox`.
    pub repository: String,
    /// The tag as written, if any.
    pub tag: Option<String>,
    /// The digest, if any; when present it decides what is pulled.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes `s`; see the module docs for the grammar.
    pub fn parse(s: &str) -> Result<Reference> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::HexName { input: s.into() });
        }

        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::parse(d).map_err(|source| ReferenceError::InvalidDigest {
                    input: s.into(),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };

        // A ':' after the last '/' starts the tag; one before it is a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                if !is_valid_tag(tag) {
                    return Err(ReferenceError::InvalidTag {
                        input: s.into(),
                        tag: tag.into(),
                        offset: at + 1,
                    });
                }
                (&rest[..at], Some(tag.to_owned()))
            }
            None => (rest, None),
        };

        if name.len() > NAME_MAX_LEN {
            return Err(ReferenceError::NameTooLong {
                input: s.into(),
                len: name.len(),
            });
        }

        let (registry, repo, repo_offset) = match name.split_once('/') {
            Some((first, remainder)) if looks_like_registry(first) => {
                check_registry(s, first)?;
                (first, remainder, first.len() + 1)
            }
            _ => (DEFAULT_REGISTRY, name, 0),
        };
        check_repository(s, repo, repo_offset)?;

        let mut registry = registry.to_owned();
        let mut repository = repo.to_owned();
        if registry == "index.docker.io" {
            registry = DEFAULT_REGISTRY.into();
        }
        if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            repository.insert_str(0, "library/");
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as `docker images` shows it: without `docker.io/` and
    /// `library/` (`busybox`, `user/app`, `localhost:5000/x/y`).
    pub fn familiar(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_owned(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar name with the tag and digest as written
    /// (`busybox`, `busybox:1.36`, `user/app@sha256:...`).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar();
        self.push_tag_and_digest(&mut s, false);
        s
    }

    /// The tag, or `latest` when none was written.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// What to ask the registry's `/v2/<name>/manifests/<reference>` for:
    /// the digest if there is one, else the tag (or `latest`).
    pub fn manifest_reference(&self) -> String {
        match &self.digest {
            Some(d) => d.to_string(),
            None => self.tag_or_latest().to_owned(),
        }
    }

    /// The same name with `tag` (validated); the digest is kept.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !is_valid_tag(tag) {
            return Err(ReferenceError::InvalidTag {
                input: format!("{}:{tag}", self.name()),
                tag: tag.into(),
                offset: self.name().len() + 1,
            });
        }
        Ok(Reference {
            tag: Some(tag.into()),
            ..self.clone()
        })
    }

    /// The same name and tag, pinned to `digest`.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The host (and port) that serves the registry API:
    /// `registry-1.docker.io` for `docker.io`, else the registry itself.
    pub fn api_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            DEFAULT_REGISTRY_API_HOST
        } else {
            &self.registry
        }
    }

    /// Whether Docker talks plain HTTP to this registry without being told:
    /// `localhost`, `127.0.0.0/8` and `::1`, any port.
    pub fn is_insecure_by_default(&self) -> bool {
        let host = registry_host(&self.registry);
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
        }
        host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
    }

    fn push_tag_and_digest(&self, s: &mut String, default_tag: bool) {
        match (&self.tag, &self.digest) {
            (Some(t), _) => {
                s.push(':');
                s.push_str(t);
            }
            (None, None) if default_tag => {
                s.push(':');
                s.push_str(DEFAULT_TAG);
            }
            _ => {}
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
    }
}

/// The full form: `docker.io/library/busybox:latest`, with `:latest` added
/// when there is neither tag nor digest.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_and_digest(&mut s, true);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Docker's rule for whether the first component names a registry.
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

/// The registry without its port.
fn registry_host(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(end) => &registry[..=end],
            None => registry,
        };
    }
    registry.split_once(':').map_or(registry, |(h, _)| h)
}

fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn check_registry(input: &str, registry: &str) -> Result<()> {
    let err = |reason| ReferenceError::InvalidRegistry {
        input: input.into(),
        registry: registry.into(),
        reason,
    };
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(err("unclosed '[' around an IPv6 address"));
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(err("not a valid IPv6 address between '[' and ']'"));
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return Err(err("expected ':port' after ']'")),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(err("the host name is empty"));
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        if !host.split('.').all(component_ok) {
            return Err(err(
                "host name components are letters, digits and inner '-', separated by single '.'",
            ));
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the port must be a number"));
        }
    }
    Ok(())
}

fn check_repository(input: &str, repo: &str, base: usize) -> Result<()> {
    if repo.is_empty() {
        return Err(ReferenceError::MissingRepository {
            input: input.into(),
        });
    }
    if repo.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase {
            input: input.into(),
        });
    }
    let mut offset = base;
    for component in repo.split('/') {
        if let Err(reason) = check_component(component) {
            return Err(ReferenceError::InvalidComponent {
                input: input.into(),
                component: component.into(),
                offset,
                reason,
            });
        }
        offset += component.len() + 1;
    }
    Ok(())
}

/// `[a-z0-9]+ (sep [a-z0-9]+)*` with `sep` one of `.`, `_`, `__`, `-+`.
fn check_component(c: &str) -> std::result::Result<(), &'static str> {
    const SEPARATORS: &str =
        "components are lowercase letters and digits separated by '.', '_', '__' or dashes";
    if c.is_empty() {
        return Err("empty component (two '/' in a row or a trailing '/')");
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) {
        return Err("must start with a lowercase letter or digit");
    }
    if !alnum(b[b.len() - 1]) {
        return Err("must end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return Err(if sep.bytes().all(|x| matches!(x, b'.' | b'_' | b'-')) {
                SEPARATORS
            } else {
                "only lowercase letters, digits, '.', '_' and '-' are allowed"
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match Reference::parse(s) {
            Ok(r) => panic!("{s:?} parsed as {r}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn docker_hub_normalization() {
        let r = p("busybox");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox");
        assert_eq!(r.familiar_string(), "busybox");
        assert_eq!(r.tag_or_latest(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert!(!r.is_insecure_by_default());

        let r = p("user/app");
        assert_eq!(r.to_string(), "docker.io/user/app:latest");
        assert_eq!(r.familiar(), "user/app");

        assert_eq!(p("docker.io/busybox"), p("busybox"));
        assert_eq!(p("index.docker.io/library/busybox"), p("busybox"));
        assert_eq!(p("library/busybox:1.36").familiar_string(), "busybox:1.36");
        assert_eq!(
            p("ubuntu:22.04").to_string(),
            "docker.io/library/ubuntu:22.04"
        );
        // "localhost:5000" without a slash is the image "localhost", tag 5000.
        let r = p("localhost:5000");
        assert_eq!(
            (r.repository.as_str(), r.tag_or_latest()),
            ("library/localhost", "5000")
        );
    }

    #[test]
    fn registries() {
        let r = p("localhost:5000/x/y:1.0");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "x/y");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.familiar(), "localhost:5000/x/y");
        assert_eq!(r.to_string(), "localhost:5000/x/y:1.0");
        assert_eq!(r.api_host(), "localhost:5000");
        assert!(r.is_insecure_by_default());

        let r = p("127.0.0.1:5000/x");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "x")
        );
        assert!(r.is_insecure_by_default());
        assert!(p("127.3.4.5/x").is_insecure_by_default());
        assert!(p("localhost/x").is_insecure_by_default());
        assert!(p("[::1]:5000/x").is_insecure_by_default());
        assert!(!p("[2001:db8::1]:5000/x").is_insecure_by_default());
        assert!(!p("10.0.0.1:5000/x").is_insecure_by_default());
        assert!(!p("registry.example.com/x").is_insecure_by_default());
        assert!(!p("localhost.example.com/x").is_insecure_by_default());

        let r = p(&format!("registry.example.com/a/b@sha256:{HEX}"));
        assert_eq!(r.registry, "registry.example.com");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().unwrap().hex(), HEX);
        assert_eq!(
            r.to_string(),
            format!("registry.example.com/a/b@sha256:{HEX}")
        );
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
    }

    #[test]
    fn tag_and_digest_both_kept() {
        let r = p(&format!("name:tag@sha256:{HEX}"));
        assert_eq!(r.tag.as_deref(), Some("tag"));
        assert!(r.digest.is_some());
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/name:tag@sha256:{HEX}")
        );
        assert_eq!(r.familiar_string(), format!("name:tag@sha256:{HEX}"));
        assert_eq!(p(&r.to_string()), r);
    }

    #[test]
    fn separators_and_tags() {
        for ok in [
            "a.b/c_d/e__f/g-h/i---j",
            "a0/9z",
            "x:_tag",
            "x:A.b-C_1",
            &format!("x:{}", "t".repeat(128)),
        ] {
            p(ok);
        }
        assert!(err("a/b..c").contains("path component \"b..c\" at offset 2 is invalid"));
        assert!(err("a/b___c").contains("'__'"));
        assert!(err("a/-b").contains("must start with"));
        assert!(err("a/b-").contains("must end with"));
        assert!(err("a//b").contains("empty component"));
        assert!(err("a/b/").contains("empty component"));
        assert!(err("a/b$c").contains("only lowercase letters"));
        assert!(err("x:.tag").contains("invalid tag \".tag\" at offset 2"));
        assert!(err("x:").contains("invalid tag \"\""));
        assert!(err(&format!("x:{}", "t".repeat(129))).contains("invalid tag"));
        assert!(err("x:a+b").contains("invalid tag"));
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(
            err("Busybox"),
            "invalid reference \"Busybox\": repository name must be lowercase"
        );
        assert!(err("MyUser/app").contains("must be lowercase"));
        assert_eq!(err(""), "invalid reference \"\": the reference is empty");
        assert!(err(HEX).contains("64-character hexadecimal"));
        assert!(err("x@sha256:abc").contains("needs 64 hex digits, got 3"));
        assert!(err(&format!("x@sha512:{HEX}{HEX}")).contains("only sha256 is supported"));
        assert!(err("x@latest").contains("invalid digest"));
        assert!(err("localhost:5000/").contains("repository name is missing"));
        assert!(err("local_host.com/x").contains("invalid registry \"local_host.com\""));
        assert!(err("host.com:50a0/x").contains("port must be a number"));
        assert!(err("-host.com/x").contains("invalid registry"));
        assert!(err("[::1/x").contains("invalid registry"));
        assert!(err("[zz::1]:5000/x").contains("IPv6"));
        let long = format!("a/{}", "b".repeat(254));
        assert!(err(&long).contains("256 characters, longer than the maximum of 255"));
        p(&format!("a/{}", "b".repeat(253)));
    }

    #[test]
    fn with_tag_digest_and_serde() {
        let r = p("busybox");
        let t = r.with_tag("1.36").unwrap();
        assert_eq!(t.to_string(), "docker.io/library/busybox:1.36");
        assert!(r
            .with_tag("-x")
            .unwrap_err()
            .to_string()
            .contains("invalid tag \"-x\""));
        let d = t.with_digest(Digest::parse(&format!("sha256:{HEX}")).unwrap());
        assert_eq!(d.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(t.manifest_reference(), "1.36");

        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"docker.io/library/busybox:1.36\"");
        assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Reference>("\"Bad\"").is_err());
    }
}
