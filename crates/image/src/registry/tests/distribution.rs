//! A real registry for tests: Debian's `docker-registry` (CNCF distribution
//! 2.8) started on a free port of 127.0.0.1 with its storage in a temporary
//! directory, anonymous, with htpasswd basic auth, or with token auth
//! trusting a [`TokenSigner`] whose JWTs an in-test token server issues.
//! The process is killed when the [`Registry`] is dropped.
//!
//! Needs the Debian packages `docker-registry` and (for htpasswd) `apache2-utils`.
//! Without them the tests fail, unless `SKIFF_SKIP_REGISTRY_TESTS=1` says
//! to skip them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder};

use super::support::{b64, b64url, basic_header, FakeServer, Req, Resp};

/// How the registry authenticates clients.
pub enum RegistryAuth {
    None,
    /// htpasswd with one bcrypt user.
    Htpasswd {
        user: String,
        password: String,
    },
    /// Token auth: JWTs from `realm`, for `service`, by `issuer`, signed with
    /// the key of the certificate in `cert_pem`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert_pem: Vec<u8>,
    },
}

/// A running `docker-registry`.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Config, storage and log; removed on drop, after the process ends.
    _dir: tempfile::TempDir,
}

const BINARY: &str = "docker-registry";

/// `None` (skip the test) when `what` is missing and
/// `SKIFF_SKIP_REGISTRY_TESTS=1`; a panic saying what to install otherwise.
fn missing(what: &str) -> Option<Registry> {
    if std::env::var("SKIFF_SKIP_REGISTRY_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped: {what} is not installed and SKIFF_SKIP_REGISTRY_TESTS=1");
        return None;
    }
    panic!(
        "{what} is not installed: `apt-get install docker-registry apache2-utils` \
         (or set SKIFF_SKIP_REGISTRY_TESTS=1 to skip the tests that need it)"
    );
}

fn in_path(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(binary))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

impl Registry {
    /// Starts a registry, or `None` when it is not installed and the tests
    /// are to be skipped.
    pub fn start(auth: RegistryAuth) -> Option<Registry> {
        let Some(binary) = in_path(BINARY) else {
            return missing(BINARY);
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Htpasswd { user, password } => {
                let Some(htpasswd) = in_path("htpasswd") else {
                    return missing("htpasswd (apache2-utils)");
                };
                let out = Command::new(htpasswd)
                    .args(["-nbB", user, password])
                    .output()
                    .expect("run htpasswd");
                assert!(out.status.success(), "htpasswd failed: {out:?}");
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: skiff-test-realm\n    path: {}\n",
                    path.display()
                )
            }
            RegistryAuth::Token {
                realm,
                service,
                issuer,
                cert_pem,
            } => {
                let path = dir.path().join("token-ca.pem");
                std::fs::write(&path, cert_pem).unwrap();
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    path.display()
                )
            }
        };
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let log_path = dir.path().join("registry.log");
        // A port found free may be taken before the registry binds it; try
        // a few.
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: skiff-test-secret\n{auth_yaml}",
                data.display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            let mut child = child;
            if wait_ready(&mut child, port) {
                return Some(Registry {
                    child,
                    host: format!("127.0.0.1:{port}"),
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if !log.contains("address already in use") {
                panic!("docker-registry did not start:\n{log}");
            }
        }
        panic!("docker-registry found no free port");
    }
}

/// Waits until `child` accepts connections on `port` (false if it exits or
/// 15 s pass).
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RSA key and a self-signed certificate for it, to sign registry JWTs
/// (RS256, with the certificate in the `x5c` header).
pub struct TokenSigner {
    key: PKey<Private>,
    cert_der: Vec<u8>,
    pub cert_pem: Vec<u8>,
    serial: AtomicU64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl TokenSigner {
    pub fn new() -> TokenSigner {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "skiff test token issuer")
            .unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        let not_before = Asn1Time::from_unix(now() as i64 - 3600).unwrap();
        b.set_not_before(&not_before).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_cert_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        TokenSigner {
            key,
            cert_der: cert.to_der().unwrap(),
            cert_pem: cert.to_pem().unwrap(),
            serial: AtomicU64::new(0),
        }
    }

    /// A JWT for `subject` granting `access` (`repository:NAME:ACTIONS`
    /// scopes), valid for five minutes.
    pub fn token(&self, issuer: &str, audience: &str, subject: &str, access: &[String]) -> String {
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [b64(&self.cert_der)],
        });
        let access: Vec<_> = access
            .iter()
            .filter_map(|s| {
                let mut p = s.splitn(3, ':');
                let (kind, name, actions) = (p.next()?, p.next()?, p.next()?);
                Some(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect();
        let t = now();
        let claims = serde_json::json!({
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "exp": t + 300,
            "nbf": t - 10,
            "iat": t,
            "jti": format!("skiff-test-{}", self.serial.fetch_add(1, Ordering::Relaxed)),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        signer.update(input.as_bytes()).unwrap();
        let sig = signer.sign_to_vec().unwrap();
        format!("{input}.{}", b64url(&sig))
    }
}

pub const SERVICE: &str = "skiff-test-registry";
pub const ISSUER: &str = "skiff-test-issuer";

/// A token server on 127.0.0.1 at `/token`: user `user` with `password`
/// gets every scope asked for; anonymous clients get a token with no access;
/// wrong credentials get 401.
pub async fn token_server(signer: Arc<TokenSigner>, user: &str, password: &str) -> FakeServer {
    let good = basic_header(user, password);
    let user = user.to_owned();
    FakeServer::start(move |req: &Req| {
        if req.path() != "/token" {
            return Resp::new(404);
        }
        let (subject, access) = match req.header("authorization") {
            Some(h) if h == good => (user.as_str(), req.query("scope")),
            Some(_) => return Resp::new(401).body(r#"{"details":"bad credentials"}"#),
            None => ("", Vec::new()),
        };
        let service = req.query("service");
        if service != [SERVICE] {
            return Resp::new(400).body(format!("unknown service {service:?}"));
        }
        let token = signer.token(ISSUER, SERVICE, subject, &access);
        let body = serde_json::json!({ "token": token, "expires_in": 300 });
        Resp::new(200)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    })
    .await
}
