//! Registry credentials on disk, in Docker's config.json format:
//! `{"auths": {"HOST": {"auth": base64("user:password")}}}`.
//!
//! `login` and `logout` write skiff's own file (default
//! `$XDG_CONFIG_HOME/skiff/auth.json` or `~/.config/skiff/auth.json`, or
//! `$SKIFF_AUTH_FILE`); lookups read it first, then `~/.docker/config.json`
//! (`$DOCKER_CONFIG/config.json`). Docker Hub is keyed
//! `https://index.docker.io/v1/`, as Docker keys it.

use crate::registry::Credentials;
use base64::Engine;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{path} is not a valid credentials file: {err}")]
    Parse {
        path: PathBuf,
        err: serde_json::Error,
    },
}

const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The key a registry's credentials are stored under.
pub fn key_for(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.into(),
        other => other.to_string(),
    }
}

/// skiff's own credentials file.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_AUTH_FILE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("/root/.config"));
    base.join("skiff").join("auth.json")
}

/// Docker's config file, read as a fallback.
pub fn docker_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

fn read(path: &Path) -> Result<serde_json::Value, AuthFileError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|err| AuthFileError::Parse {
            path: path.into(),
            err,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(err) => Err(AuthFileError::Io {
            op: "reading",
            path: path.into(),
            err,
        }),
    }
}

fn write(path: &Path, v: &serde_json::Value) -> Result<(), AuthFileError> {
    let io = |op, err| AuthFileError::Io {
        op,
        path: path.into(),
        err,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("writing", e))?;
        f.write_all(&serde_json::to_vec_pretty(v).expect("json"))
            .and_then(|_| f.sync_all())
            .map_err(|e| io("writing", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io("replacing", e))
}

/// Store credentials for `registry` in `file`.
pub fn save(file: &Path, registry: &str, user: &str, password: &str) -> Result<(), AuthFileError> {
    let mut v = read(file)?;
    if !v.is_object() {
        v = serde_json::json!({});
    }
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    v["auths"][key_for(registry)] = serde_json::json!({ "auth": token });
    write(file, &v)
}

/// Forget the credentials of `registry`; false when there were none.
pub fn remove(file: &Path, registry: &str) -> Result<bool, AuthFileError> {
    let mut v = read(file)?;
    let removed = v
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(&key_for(registry)))
        .is_some();
    if removed {
        write(file, &v)?;
    }
    Ok(removed)
}

/// Credentials for `registry` from one file.
fn lookup_in(file: &Path, registry: &str) -> Option<Credentials> {
    let v = read(file).ok()?;
    let entry = v.get("auths")?.get(key_for(registry))?;
    if let Some(tok) = entry.get("identitytoken").and_then(|t| t.as_str()) {
        if !tok.is_empty() {
            return Some(Credentials::IdentityToken(tok.into()));
        }
    }
    let auth = entry.get("auth")?.as_str()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials::basic(u, p))
}

/// Check credentials against a registry the way `login` does: a manifest
/// lookup that needs authentication when the registry requires it.
pub async fn check_login(
    client: &crate::registry::Client,
    registry: &str,
) -> Result<(), crate::registry::Error> {
    let repo = crate::registry::Repo::new(registry, "skiff/login-check");
    client.head_manifest(&repo, "latest").await.map(drop)
}

/// Credentials for `registry` (a registry name or API host): skiff's file,
/// then Docker's.
pub fn lookup(skiff_file: &Path, registry: &str) -> Option<Credentials> {
    lookup_in(skiff_file, registry).or_else(|| docker_path().and_then(|p| lookup_in(&p, registry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_lookup_remove() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("auth.json");
        save(&f, "localhost:5000", "alice", "s3:cret").unwrap();
        save(&f, "registry-1.docker.io", "bob", "pw").unwrap();
        match lookup_in(&f, "localhost:5000") {
            Some(Credentials::Basic { username, password }) => {
                assert_eq!((username.as_str(), password.as_str()), ("alice", "s3:cret"))
            }
            other => panic!("{other:?}"),
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert!(v["auths"][DOCKER_HUB_KEY]["auth"].is_string());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(remove(&f, "localhost:5000").unwrap());
        assert!(!remove(&f, "localhost:5000").unwrap());
        assert!(lookup_in(&f, "localhost:5000").is_none());
    }

    #[test]
    fn corrupt_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("auth.json");
        std::fs::write(&f, "{not json").unwrap();
        let e = save(&f, "h", "u", "p").unwrap_err().to_string();
        assert!(e.contains("auth.json") && e.contains("not a valid"), "{e}");
    }
}
