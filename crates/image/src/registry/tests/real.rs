//! Tests against a real registry (Debian's `docker-registry`): pushing and
//! pulling an image, blob existence, cross-repository mounts, chunked and
//! monolithic uploads with good and bad sources, htpasswd basic auth and
//! token auth with an in-test token server.

use std::io::Cursor;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::distribution::{token_server, Registry, RegistryAuth, TokenSigner, ISSUER, SERVICE};
use super::support::test_config;
use crate::digest::Digest;
use crate::registry::{
    AuthError, BlobError, Client, Config, Credentials, Error, ManifestError, Repo, UploadError,
    UploadMode, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST,
};

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// A one-file layer tar of about `size` bytes.
fn make_layer(size: usize) -> Vec<u8> {
    let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "hello.bin", content.as_slice())
        .unwrap();
    b.into_inner().unwrap()
}

/// A small image: config, one layer, and the manifest naming them.
struct Image {
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest: Vec<u8>,
}

impl Image {
    fn new(manifest_media_type: &str) -> Image {
        let layer = make_layer(3000);
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": [Digest::of(&layer).to_string()] },
            "config": { "Cmd": ["/hello"] },
        })
        .to_string()
        .into_bytes();
        let (config_type, layer_type) = if manifest_media_type == MEDIA_TYPE_DOCKER_MANIFEST {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar",
            )
        } else {
            (CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE)
        };
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_media_type,
            "config": { "mediaType": config_type, "digest": Digest::of(&config), "size": config.len() },
            "layers": [{ "mediaType": layer_type, "digest": Digest::of(&layer), "size": layer.len() }],
        })
        .to_string()
        .into_bytes();
        Image {
            config,
            layer,
            manifest,
        }
    }

    /// Pushes the blobs (config from memory, layer streamed) and the
    /// manifest under `tag`.
    async fn push(&self, client: &Client, repo: &Repo, tag: &str, media_type: &str) -> Digest {
        let cd = Digest::of(&self.config);
        let ld = Digest::of(&self.layer);
        if client.blob_exists(repo, &cd).await.unwrap().is_none() {
            client
                .upload_blob_bytes(repo, &cd, self.config.clone())
                .await
                .unwrap();
        }
        if client.blob_exists(repo, &ld).await.unwrap().is_none() {
            let reader = Cursor::new(self.layer.clone());
            client
                .upload_blob(repo, &ld, self.layer.len() as u64, reader)
                .await
                .unwrap();
        }
        client
            .put_manifest(repo, tag, media_type, self.manifest.clone())
            .await
            .unwrap()
    }
}

async fn read_all(client: &Client, repo: &Repo, digest: &Digest) -> Vec<u8> {
    let mut reader = client.get_blob(repo, digest).await.unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn push_then_pull_by_tag_and_by_digest() {
    let Some(reg) = Registry::start(RegistryAuth::None) else {
        return;
    };
    let client = Client::new(test_config()).unwrap();
    let repo = Repo::new(&reg.host, "skiff/hello");
    let image = Image::new(MEDIA_TYPE_OCI_MANIFEST);
    let ld = Digest::of(&image.layer);

    assert_eq!(client.blob_exists(&repo, &ld).await.unwrap(), None);
    let digest = image
        .push(&client, &repo, "v1", MEDIA_TYPE_OCI_MANIFEST)
        .await;
    assert_eq!(digest, Digest::of(&image.manifest));
    assert_eq!(
        client.blob_exists(&repo, &ld).await.unwrap(),
        Some(image.layer.len() as u64)
    );

    for reference in ["v1".to_owned(), digest.to_string()] {
        let m = client.get_manifest(&repo, &reference).await.unwrap();
        assert_eq!(&m.bytes[..], &image.manifest[..], "{reference}");
        assert_eq!(m.media_type, MEDIA_TYPE_OCI_MANIFEST);
        assert_eq!(m.digest, digest);
        let info = client
            .head_manifest(&repo, &reference)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.digest.as_ref(), Some(&digest));
        assert_eq!(info.size, Some(image.manifest.len() as u64));
    }

    // Blobs come back byte for byte, as a reader, in chunks, or from an offset.
    assert_eq!(read_all(&client, &repo, &ld).await, image.layer);
    let config = client
        .get_blob(&repo, &Digest::of(&image.config))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(config, image.config);
    let mut tail = Vec::new();
    let mut r = client.get_blob_range(&repo, &ld, 1000).await.unwrap();
    assert_eq!(r.size(), Some(image.layer.len() as u64 - 1000));
    while let Some(c) = r.chunk().await.unwrap() {
        tail.extend_from_slice(&c);
    }
    assert_eq!(tail, image.layer[1000..]);

    // A Docker schema 2 manifest keeps its media type.
    let docker = Image::new(MEDIA_TYPE_DOCKER_MANIFEST);
    docker
        .push(&client, &repo, "docker", MEDIA_TYPE_DOCKER_MANIFEST)
        .await;
    let m = client.get_manifest(&repo, "docker").await.unwrap();
    assert_eq!(m.media_type, MEDIA_TYPE_DOCKER_MANIFEST);
    assert_eq!(&m.bytes[..], &docker.manifest[..]);

    // What is not there says so.
    let err = client.get_manifest(&repo, "nope").await.unwrap_err();
    assert!(
        matches!(err, Error::Manifest(ManifestError::NotFound { .. })),
        "{err}"
    );
    assert!(err.is_not_found());
    assert!(
        err.to_string().contains(&reg.host) && err.to_string().contains("skiff/hello:nope"),
        "{err}"
    );
    assert_eq!(client.head_manifest(&repo, "nope").await.unwrap(), None);
    let missing = Digest::of(b"missing");
    let err = client.get_blob(&repo, &missing).await.unwrap_err();
    assert!(
        matches!(err, Error::Blob(BlobError::NotFound { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(&missing.to_string()), "{err}");
    let err = client.get_manifest(&repo, "bad tag").await.unwrap_err();
    assert!(
        matches!(err, Error::Manifest(ManifestError::InvalidReference { .. })),
        "{err}"
    );
    // Pushing under a digest that is not the manifest's is refused locally.
    let err = client
        .put_manifest(
            &repo,
            &missing.to_string(),
            MEDIA_TYPE_OCI_MANIFEST,
            image.manifest.clone(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Manifest(ManifestError::PushDigestMismatch { .. })
        ),
        "{err}"
    );
    // A manifest naming blobs the registry lacks is rejected with its codes.
    let other = Image::new(MEDIA_TYPE_OCI_MANIFEST);
    let mut v: serde_json::Value = serde_json::from_slice(&other.manifest).unwrap();
    v["layers"][0]["digest"] = serde_json::json!(missing.to_string());
    let err = client
        .put_manifest(&repo, "broken", MEDIA_TYPE_OCI_MANIFEST, v.to_string())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MANIFEST_BLOB_UNKNOWN"), "{err}");
}

#[tokio::test]
async fn chunked_uploads_and_sources_that_do_not_match() {
    let Some(reg) = Registry::start(RegistryAuth::None) else {
        return;
    };
    let chunked = Client::new(Config {
        upload_mode: UploadMode::Chunked { chunk_size: 1000 },
        ..test_config()
    })
    .unwrap();
    let monolithic = Client::new(test_config()).unwrap();
    let repo = Repo::new(&reg.host, "skiff/chunks");

    // 4567 bytes: four full chunks and a partial one.
    let blob: Vec<u8> = (0..4567u32).map(|i| (i % 256) as u8).collect();
    let d = Digest::of(&blob);
    chunked
        .upload_blob(&repo, &d, blob.len() as u64, Cursor::new(blob.clone()))
        .await
        .unwrap();
    assert_eq!(chunked.blob_exists(&repo, &d).await.unwrap(), Some(4567));
    assert_eq!(read_all(&chunked, &repo, &d).await, blob);

    // Exactly one chunk, from memory; and the empty blob.
    let one: Vec<u8> = vec![9; 1000];
    chunked
        .upload_blob_bytes(&repo, &Digest::of(&one), one.clone())
        .await
        .unwrap();
    assert_eq!(read_all(&chunked, &repo, &Digest::of(&one)).await, one);
    let empty = Digest::of(b"");
    chunked
        .upload_blob(&repo, &empty, 0, Cursor::new(Vec::new()))
        .await
        .unwrap();
    assert_eq!(chunked.blob_exists(&repo, &empty).await.unwrap(), Some(0));

    // Sources that do not match what the caller said are never committed,
    // in either mode.
    let data: Vec<u8> = vec![1; 2500];
    let right = Digest::of(&data);
    let wrong = Digest::of(b"something else");
    for client in [&chunked, &monolithic] {
        let err = client
            .upload_blob(&repo, &right, 2400, Cursor::new(data.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Upload(UploadError::SizeMismatch {
                    expected: 2400,
                    more: true,
                    ..
                })
            ),
            "{err}"
        );
        let err = client
            .upload_blob(&repo, &right, 2600, Cursor::new(data.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Upload(UploadError::SizeMismatch {
                    expected: 2600,
                    actual: 2500,
                    more: false,
                    ..
                })
            ),
            "{err}"
        );
        let err = client
            .upload_blob(&repo, &wrong, 2500, Cursor::new(data.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Upload(UploadError::DigestMismatch { .. })),
            "{err}"
        );
        assert!(
            err.to_string().contains(&wrong.to_string()) && err.to_string().contains(&reg.host),
            "{err}"
        );
        assert_eq!(client.blob_exists(&repo, &right).await.unwrap(), None);
        assert_eq!(client.blob_exists(&repo, &wrong).await.unwrap(), None);
    }
    let err = monolithic
        .upload_blob_bytes(&repo, &wrong, data.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Upload(UploadError::DigestMismatch { .. })),
        "{err}"
    );

    // The same data with the right digest and size goes through.
    monolithic
        .upload_blob(&repo, &right, 2500, Cursor::new(data.clone()))
        .await
        .unwrap();
    assert_eq!(read_all(&monolithic, &repo, &right).await, data);
}

#[tokio::test]
async fn cross_repository_mount() {
    let Some(reg) = Registry::start(RegistryAuth::None) else {
        return;
    };
    let client = Client::new(test_config()).unwrap();
    let a = Repo::new(&reg.host, "team/a");
    let b = a.sibling("team/b");
    let blob = make_layer(100);
    let d = Digest::of(&blob);
    client
        .upload_blob_bytes(&a, &d, blob.clone())
        .await
        .unwrap();
    assert_eq!(client.blob_exists(&b, &d).await.unwrap(), None);
    assert!(client.mount_blob(&b, &d, "team/a").await.unwrap());
    assert_eq!(
        client.blob_exists(&b, &d).await.unwrap(),
        Some(blob.len() as u64)
    );
    assert_eq!(read_all(&client, &b, &d).await, blob);
    // Nothing to mount: fall back to an upload.
    let absent = Digest::of(b"absent");
    assert!(!client.mount_blob(&b, &absent, "team/a").await.unwrap());
    let err = client.mount_blob(&b, &d, "Bad/Name").await.unwrap_err();
    assert!(
        matches!(err, Error::Upload(UploadError::InvalidMountSource { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn htpasswd_basic_auth() {
    let auth = RegistryAuth::Htpasswd {
        user: "alice".into(),
        password: "s3cret".into(),
    };
    let Some(reg) = Registry::start(auth) else {
        return;
    };
    let repo = Repo::new(&reg.host, "private/app");
    let host = reg.host.clone();
    let good = Client::new(test_config().with_credentials(move |r: &str| {
        (r == host).then(|| Credentials::basic("alice", "s3cret"))
    }))
    .unwrap();
    let image = Image::new(MEDIA_TYPE_OCI_MANIFEST);
    let digest = image
        .push(&good, &repo, "v1", MEDIA_TYPE_OCI_MANIFEST)
        .await;
    assert_eq!(
        &good.get_manifest(&repo, "v1").await.unwrap().bytes[..],
        &image.manifest[..]
    );
    assert_eq!(
        read_all(&good, &repo, &Digest::of(&image.layer)).await,
        image.layer
    );

    let bad = Client::new(
        test_config().with_credentials(|_: &str| Some(Credentials::basic("alice", "wrong"))),
    )
    .unwrap();
    let err = bad
        .get_manifest(&repo, &digest.to_string())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(AuthError::CredentialsRejected { .. })),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&reg.host) && msg.contains("private/app") && msg.contains("alice"),
        "{msg}"
    );
    // Later requests fail the same way, without a first anonymous try.
    let err = bad
        .blob_exists(&repo, &Digest::of(&image.layer))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(AuthError::CredentialsRejected { .. })),
        "{err}"
    );

    let anonymous = Client::new(test_config()).unwrap();
    let err = anonymous.get_manifest(&repo, "v1").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::CredentialsRequired {
                scheme: "Basic",
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&reg.host), "{err}");
}

#[tokio::test]
async fn token_auth_with_a_token_server() {
    let signer = Arc::new(TokenSigner::new());
    let tokens = token_server(Arc::clone(&signer), "bob", "hunter2").await;
    let auth = RegistryAuth::Token {
        realm: format!("{}/token", tokens.url()),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        cert_pem: signer.cert_pem.clone(),
    };
    let Some(reg) = Registry::start(auth) else {
        return;
    };
    let src = Repo::new(&reg.host, "team/src");
    let dst = src.sibling("team/dst");
    let client = Client::new(
        test_config().with_credentials(|_: &str| Some(Credentials::basic("bob", "hunter2"))),
    )
    .unwrap();

    let image = Image::new(MEDIA_TYPE_OCI_MANIFEST);
    let digest = image
        .push(&client, &src, "v1", MEDIA_TYPE_OCI_MANIFEST)
        .await;
    let push_scope =
        |r: &super::support::Req| r.query("scope") == ["repository:team/src:pull,push"];
    assert_eq!(tokens.count(push_scope), 1, "{:#?}", tokens.requests());

    // Pulls get a pull token once, then use the cache.
    for reference in ["v1", &digest.to_string()] {
        let m = client.get_manifest(&src, reference).await.unwrap();
        assert_eq!(&m.bytes[..], &image.manifest[..]);
    }
    assert_eq!(
        read_all(&client, &src, &Digest::of(&image.layer)).await,
        image.layer
    );
    let pull_scope = |r: &super::support::Req| r.query("scope") == ["repository:team/src:pull"];
    assert_eq!(tokens.count(pull_scope), 1, "{:#?}", tokens.requests());
    assert!(tokens
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_some()));

    // A mount asks for push on the target and pull on the source.
    let ld = Digest::of(&image.layer);
    assert!(client.mount_blob(&dst, &ld, "team/src").await.unwrap());
    let mount_req = tokens
        .requests()
        .into_iter()
        .find(|r| r.query("scope").len() == 2)
        .expect("a token request for the mount");
    let mut scopes = mount_req.query("scope");
    scopes.sort();
    assert_eq!(
        scopes,
        ["repository:team/dst:pull,push", "repository:team/src:pull"]
    );
    assert_eq!(
        client.blob_exists(&dst, &ld).await.unwrap(),
        Some(image.layer.len() as u64)
    );
    assert_eq!(client.auth_state().cached_tokens(), 4);

    // Wrong password: the token server says no.
    let wrong = Client::new(
        test_config().with_credentials(|_: &str| Some(Credentials::basic("bob", "nope"))),
    )
    .unwrap();
    let err = wrong.get_manifest(&src, "v1").await.unwrap_err();
    assert!(
        matches!(err, Error::Auth(AuthError::TokenDenied { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("bob") && err.to_string().contains(&reg.host),
        "{err}"
    );

    // Anonymous: a token without access, which the registry refuses.
    let anonymous = Client::new(test_config()).unwrap();
    let err = anonymous.get_manifest(&src, "v1").await.unwrap_err();
    assert!(
        matches!(err, Error::Auth(AuthError::TokenRejected { .. })),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&reg.host) && msg.contains("team/src"), "{msg}");
}
