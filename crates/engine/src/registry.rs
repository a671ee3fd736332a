//! How the engine reaches registries: which ones are plain HTTP (the
//! config file's `insecure-registries`, the key Docker's daemon.json uses;
//! localhost and 127.0.0.0/8 always), whose credentials (the auth file
//! `login` writes), and the server a `login`/`logout` argument names.

use skiff_image::registry::{Client, Config, Credentials};
use std::path::PathBuf;

/// skiff's config file: `$SKIFF_CONFIG`, else /etc/skiff/config.json.
pub fn config_path() -> PathBuf {
    std::env::var_os("SKIFF_CONFIG")
        .map(Into::into)
        .unwrap_or_else(|| "/etc/skiff/config.json".into())
}

/// Registries reached over plain HTTP, from the config file.
pub fn insecure_registries() -> Vec<String> {
    parse_insecure(&std::fs::read(config_path()).unwrap_or_default())
}

/// The `insecure-registries` list of a daemon.json document.
pub fn parse_insecure(data: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
    v.get("insecure-registries")
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str())
                .map(|s| {
                    s.trim_start_matches("http://")
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A client for registry `host` (its API host), with the credentials of
/// the auth file, or `explicit` ones (`login`); plain HTTP when
/// `tls_verify` is off or the config file lists it.
pub fn client_for(
    host: &str,
    tls_verify: bool,
    explicit: Option<Credentials>,
) -> crate::Result<Client> {
    let mut config = Config::default();
    if !tls_verify || insecure_registries().iter().any(|r| r == host) {
        config = config.insecure_registry(host);
    }
    let file = skiff_image::auth::default_path();
    config = match explicit {
        Some(c) => config.with_credentials(move |_: &str| Some(c.clone())),
        None => config.with_credentials(move |h: &str| skiff_image::auth::lookup(&file, h)),
    };
    Client::new(config).map_err(|e| crate::Error::Internal(format!("registry client: {e}")))
}

/// The registry a `login`/`logout` argument names (Docker Hub when none),
/// and its API host.
pub fn server_name(server: Option<&str>) -> (String, String) {
    let name = server
        .unwrap_or("docker.io")
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .trim_end_matches("/v1")
        .to_string();
    let api = match name.as_str() {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        other => other.to_string(),
    };
    (name, api)
}

#[cfg(test)]
mod tests {
    #[test]
    fn insecure_registries_from_config() {
        let v = super::parse_insecure(
            br#"{"insecure-registries": ["myreg.internal:5000", "http://other:80/"]}"#,
        );
        assert_eq!(v, ["myreg.internal:5000", "other:80"]);
        assert!(super::parse_insecure(b"not json").is_empty());
    }

    #[test]
    fn login_server_names() {
        assert_eq!(
            super::server_name(None),
            ("docker.io".to_string(), "registry-1.docker.io".to_string())
        );
        assert_eq!(
            super::server_name(Some("https://localhost:5000/")).1,
            "localhost:5000"
        );
    }
}
