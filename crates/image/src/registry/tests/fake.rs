//! Tests against fake servers on 127.0.0.1: a registry that lies about
//! manifest digests, oversized manifests, retries of transient failures
//! (and none of 4xx), the bearer-token flow and its cache, identity tokens,
//! blob redirects to storage, and registries that ignore ranges.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::support::{basic_header, test_config, FakeServer, Req, Resp};
use crate::digest::Digest;
use crate::registry::{
    AuthError, Client, Credentials, Error, ManifestError, Repo, MAX_MANIFEST_SIZE,
    MEDIA_TYPE_OCI_MANIFEST,
};

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;

#[tokio::test]
async fn a_registry_that_lies_about_manifest_digests() {
    let real = Digest::of(MANIFEST.as_bytes());
    let other = Digest::of(b"another manifest");
    let other_s = other.to_string();
    let real_s = real.to_string();
    let server = FakeServer::start(move |req: &Req| {
        let base = Resp::new(200)
            .header("Content-Type", MEDIA_TYPE_OCI_MANIFEST)
            .body(MANIFEST);
        match req.path() {
            // Whatever digest is asked for, the same bytes come back.
            p if p.starts_with("/v2/r/manifests/sha256:") => base,
            "/v2/r/manifests/wrong-header" => {
                base.header("Docker-Content-Digest", other_s.as_str())
            }
            "/v2/r/manifests/garbage-header" => base.header("Docker-Content-Digest", "sha256:xyz"),
            "/v2/r/manifests/honest" => base.header("Docker-Content-Digest", real_s.as_str()),
            "/v2/r/manifests/huge" => Resp::new(200).body(vec![b' '; MAX_MANIFEST_SIZE + 1]),
            _ => Resp::new(404),
        }
    })
    .await;
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(server.host(), "r");

    let err = client
        .get_manifest(&repo, &other.to_string())
        .await
        .unwrap_err();
    match &err {
        Error::Manifest(ManifestError::DigestMismatch {
            requested, actual, ..
        }) => {
            assert_eq!((requested, actual), (&other, &real));
        }
        e => panic!("{e}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("lies")
            && msg.contains(&server.host())
            && msg.contains(&other.to_string())
            && msg.contains(&real.to_string()),
        "{msg}"
    );

    let err = client
        .get_manifest(&repo, "wrong-header")
        .await
        .unwrap_err();
    match &err {
        Error::Manifest(ManifestError::HeaderDigestMismatch {
            claimed, actual, ..
        }) => {
            assert_eq!((claimed, actual), (&other, &real));
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("r:wrong-header"), "{err}");

    let err = client
        .get_manifest(&repo, "garbage-header")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Manifest(ManifestError::InvalidHeaderDigest { .. })
        ),
        "{err}"
    );

    let err = client.get_manifest(&repo, "huge").await.unwrap_err();
    assert!(
        matches!(err, Error::Manifest(ManifestError::TooLarge { .. })),
        "{err}"
    );

    // Honest answers pass, by tag or by the right digest.
    let m = client.get_manifest(&repo, "honest").await.unwrap();
    assert_eq!(
        (m.digest.clone(), m.media_type.as_str()),
        (real.clone(), MEDIA_TYPE_OCI_MANIFEST)
    );
    assert_eq!(
        client.get_manifest(&repo, &real.to_string()).await.unwrap(),
        m
    );
}

#[tokio::test]
async fn transient_failures_are_retried_but_4xx_never() {
    let hits = Arc::new(Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let h = Arc::clone(&hits);
    let server = FakeServer::start(move |req: &Req| {
        let n = {
            let mut hits = h.lock().unwrap();
            let n = hits.entry(req.path().to_owned()).or_default();
            *n += 1;
            *n
        };
        let ok = Resp::new(200)
            .header("Content-Type", MEDIA_TYPE_OCI_MANIFEST)
            .body(MANIFEST);
        match (req.path(), n) {
            ("/v2/r/manifests/flaky", 1 | 2) => Resp::new(503),
            ("/v2/r/manifests/flaky", _) => ok,
            ("/v2/r/manifests/limited", 1) => Resp::new(429).header("Retry-After", "1"),
            ("/v2/r/manifests/limited", _) => ok,
            ("/v2/r/manifests/down", _) => Resp::new(500)
                .body(r#"{"errors":[{"code":"UNKNOWN","message":"storage on fire"}]}"#),
            ("/v2/r/manifests/bad", _) => Resp::new(400),
            ("/v2/r/manifests/forbidden", _) => Resp::new(403),
            _ => Resp::new(404),
        }
    })
    .await;
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(server.host(), "r");
    let count = |p: &str| {
        hits.lock()
            .unwrap()
            .get(&format!("/v2/r/manifests/{p}"))
            .copied()
            .unwrap_or(0)
    };

    client.get_manifest(&repo, "flaky").await.unwrap();
    assert_eq!(count("flaky"), 3);

    let t = Instant::now();
    client.get_manifest(&repo, "limited").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(count("limited"), 2);

    let err = client.get_manifest(&repo, "down").await.unwrap_err();
    assert_eq!(count("down"), 3, "one try and max_retries = 2 retries");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert!(err.to_string().contains("storage on fire"), "{err}");

    for (tag, status) in [("bad", 400), ("forbidden", 403)] {
        let err = client.get_manifest(&repo, tag).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{err}");
        assert_eq!(count(tag), 1, "{tag} is not retried");
    }
    assert!(client
        .get_manifest(&repo, "missing")
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(count("missing"), 1);
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(format!("127.0.0.1:{port}"), "r");
    let t = Instant::now();
    let err = client.get_manifest(&repo, "latest").await.unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    // Two backoffs of at least 37 ms and 75 ms (50 and 100 less jitter).
    assert!(
        t.elapsed() >= Duration::from_millis(110),
        "{:?}",
        t.elapsed()
    );
}

/// A fake registry that wants `Bearer` tokens from a fake token server.
struct BearerSetup {
    registry: FakeServer,
    tokens: FakeServer,
}

/// The token server issues `tok-N` (valid `expires_in` seconds) to
/// anyone; the registry accepts tokens whose number `accept` likes.
async fn bearer_setup(expires_in: u64, accept: fn(usize) -> bool) -> BearerSetup {
    let issued = Arc::new(AtomicUsize::new(0));
    let tokens = FakeServer::start(move |req: &Req| {
        if req.path() != "/token" {
            return Resp::new(404);
        }
        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
        Resp::new(200).body(
            serde_json::json!({ "access_token": format!("tok-{n}"), "expires_in": expires_in })
                .to_string(),
        )
    })
    .await;
    let realm = format!("{}/token", tokens.url());
    let registry = FakeServer::start(move |req: &Req| {
        let good = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer tok-"))
            .and_then(|n| n.parse().ok())
            .is_some_and(accept);
        if !good {
            let name = req
                .path()
                .trim_start_matches("/v2/")
                .split("/manifests/")
                .next()
                .unwrap_or("");
            return Resp::new(401).header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake",scope="repository:{name}:pull""#),
            );
        }
        Resp::new(200)
            .header("Content-Type", MEDIA_TYPE_OCI_MANIFEST)
            .body(MANIFEST)
    })
    .await;
    BearerSetup { registry, tokens }
}

#[tokio::test]
async fn bearer_tokens_are_fetched_cached_and_renewed() {
    let s = bearer_setup(3600, |_| true).await;
    let client =
        Client::new(test_config().with_credentials(|_: &str| Some(Credentials::basic("u", "p"))))
            .unwrap();
    let repo = Repo::new(s.registry.host(), "a/b");
    for _ in 0..3 {
        client.get_manifest(&repo, "latest").await.unwrap();
    }
    // One anonymous try, then three with the one token.
    assert_eq!(s.tokens.requests().len(), 1);
    let t = &s.tokens.requests()[0];
    assert_eq!(t.method, "GET");
    assert_eq!(t.query("service"), ["fake"]);
    assert_eq!(t.query("scope"), ["repository:a/b:pull"]);
    assert_eq!(
        t.header("authorization"),
        Some(basic_header("u", "p").as_str())
    );
    assert_eq!(s.registry.requests().len(), 4);
    assert_eq!(
        s.registry
            .count(|r| r.header("authorization") == Some("Bearer tok-1")),
        3
    );

    // Another repository is another scope: another token.
    client
        .get_manifest(&repo.sibling("c"), "latest")
        .await
        .unwrap();
    assert_eq!(s.tokens.requests().len(), 2);
    assert_eq!(s.tokens.requests()[1].query("scope"), ["repository:c:pull"]);

    // Short-lived tokens are renewed once expired.
    let s = bearer_setup(1, |_| true).await;
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(s.registry.host(), "x");
    client.get_manifest(&repo, "latest").await.unwrap();
    client.get_manifest(&repo, "latest").await.unwrap();
    assert_eq!(s.tokens.requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.get_manifest(&repo, "latest").await.unwrap();
    assert_eq!(s.tokens.requests().len(), 2);
    assert_eq!(
        s.registry
            .count(|r| r.header("authorization") == Some("Bearer tok-2")),
        1
    );
    // Anonymous token requests carry no Authorization.
    assert!(s
        .tokens
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn a_token_refused_right_after_issue_is_an_error() {
    // The registry accepts only tok-1: a fresh token that is refused is
    // final.
    let s = bearer_setup(3600, |n| n == 1).await;
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(s.registry.host(), "team/app");
    client.get_manifest(&repo, "latest").await.unwrap();
    let err = client
        .get_manifest(&repo.sibling("team/other"), "latest")
        .await
        .unwrap_err();
    match &err {
        Error::Auth(AuthError::TokenRejected {
            registry,
            repository,
            realm,
            scope,
        }) => {
            assert_eq!(registry, &s.registry.host());
            assert_eq!(repository, "team/other");
            assert_eq!(realm, &format!("{}/token", s.tokens.url()));
            assert_eq!(scope, "repository:team/other:pull");
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains(&s.registry.host()) && err.to_string().contains("team/other"));
    // tok-1, cached for team/app, still works without a new token.
    client.get_manifest(&repo, "latest").await.unwrap();
    assert_eq!(s.tokens.requests().len(), 2);
}

#[tokio::test]
async fn identity_tokens_use_the_oauth2_refresh_grant() {
    let tokens = FakeServer::start(|req: &Req| {
        let ok = req.method == "POST"
            && req.form("grant_type") == ["refresh_token"]
            && req.form("refresh_token") == ["refresh-me"]
            && req.form("service") == ["svc"]
            && req.form("scope") == ["repository:r:pull"];
        if ok {
            Resp::new(200).body(r#"{"access_token":"oauth-tok","expires_in":300}"#)
        } else {
            Resp::new(401)
        }
    })
    .await;
    let realm = format!("{}/oauth", tokens.url());
    let registry = FakeServer::start(move |req: &Req| {
        if req.header("authorization") == Some("Bearer oauth-tok") {
            Resp::new(200).body(MANIFEST)
        } else {
            Resp::new(401).header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="svc""#),
            )
        }
    })
    .await;
    let client = Client::new(
        test_config()
            .with_credentials(|_: &str| Some(Credentials::IdentityToken("refresh-me".into()))),
    )
    .unwrap();
    let m = client
        .get_manifest(&Repo::new(registry.host(), "r"), "latest")
        .await
        .unwrap();
    // No Content-Type: the media type comes from the manifest itself.
    assert_eq!(m.media_type, MEDIA_TYPE_OCI_MANIFEST);
    assert_eq!(tokens.requests().len(), 1);
}

#[tokio::test]
async fn blob_redirects_are_followed_without_the_registry_credentials() {
    let blob: Vec<u8> = (0..10_000u32).map(|i| (i % 13) as u8).collect();
    let digest = Digest::of(&blob);
    let stored = blob.clone();
    let storage = FakeServer::start(move |req: &Req| {
        if req.path() != "/bucket/blob" {
            return Resp::new(404);
        }
        // Storage that ignores Range and always sends everything.
        Resp::new(200).body(stored.clone())
    })
    .await;
    let target = format!("{}/bucket/blob?sig=abc", storage.url());
    let good = basic_header("u", "p");
    let registry = FakeServer::start(move |req: &Req| {
        if req.header("authorization") != Some(good.as_str()) {
            return Resp::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        Resp::new(307).header("Location", target.as_str())
    })
    .await;
    let client =
        Client::new(test_config().with_credentials(|_: &str| Some(Credentials::basic("u", "p"))))
            .unwrap();
    let repo = Repo::new(registry.host(), "r");

    let got = client
        .get_blob(&repo, &digest)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, blob);
    // A range the storage ignores: the client drops the bytes before it.
    let mut r = client.get_blob_range(&repo, &digest, 9_990).await.unwrap();
    assert_eq!(r.size(), Some(10));
    let mut tail = Vec::new();
    while let Some(c) = r.chunk().await.unwrap() {
        tail.extend_from_slice(&c);
    }
    assert_eq!(tail, blob[9_990..]);

    assert_eq!(storage.requests().len(), 2);
    assert!(
        storage
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "{:#?}",
        storage.requests()
    );
    assert_eq!(storage.requests()[1].header("range"), Some("bytes=9990-"));
}

/// A server that accepts connections and, to every request, sends
/// `answer` and then nothing more, keeping the connection open a while.
async fn hanging_server(
    answer: &'static [u8],
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(answer).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn stalled_answers_time_out() {
    let config = crate::registry::Config {
        read_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let client = Client::new(config).unwrap();
    let digest = Digest::of(b"x");

    // No headers at all: a timeout, retried like a connection error.
    let (addr, task) = hanging_server(b"").await;
    let repo = Repo::new(addr.to_string(), "r");
    let t = Instant::now();
    let err = client.get_blob(&repo, &digest).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "three tries: {:?}",
        t.elapsed()
    );
    task.abort();

    // Headers and some bytes, then silence: the reader gives up.
    let (addr, task) =
        hanging_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789").await;
    let repo = Repo::new(addr.to_string(), "r");
    let mut reader = client.get_blob(&repo, &digest).await.unwrap();
    assert_eq!(reader.size(), Some(100));
    assert_eq!(&reader.chunk().await.unwrap().unwrap()[..], b"0123456789");
    // A slow consumer is not a stalled registry: the wait starts now.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = Instant::now();
    let err = reader.chunk().await.unwrap_err();
    assert!(
        matches!(err, crate::registry::BlobError::Stalled { .. }),
        "{err}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert!(err.to_string().contains(&digest.to_string()), "{err}");
    task.abort();
}
