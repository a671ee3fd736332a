//! `push`: an image from the store to a registry. Blobs the registry already
//! has are skipped (HEAD); a layer known to be in another repository of the
//! same registry (pulled from or pushed there before) is mounted from it; the
//! others stream from the store, several at once; the manifest goes last, so
//! the registry never holds a manifest whose blobs are missing.

use crate::digest::Digest;
use crate::pull::repo_of;
use crate::reference::Reference;
use crate::registry::Client;
use crate::service::Images;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Registry(Box<crate::registry::Error>),
    #[error("{0}")]
    Images(#[from] crate::service::ImagesError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("opening blob {digest}: {err}")]
    Open { digest: Digest, err: std::io::Error },
    #[error("push: {0}")]
    Internal(String),
}

impl From<crate::registry::Error> for PushError {
    fn from(e: crate::registry::Error) -> Self {
        PushError::Registry(Box::new(e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `The push refers to repository [host/name]`
    Start {
        repository: String,
    },
    BlobExists(Digest),
    /// `Mounted from library/busybox`: the registry copied the layer from
    /// another repository it holds.
    BlobMounted {
        digest: Digest,
        from: String,
    },
    /// Upload progress of a layer (about every MiB).
    BlobBytes {
        digest: Digest,
        done: u64,
        total: u64,
    },
    BlobPushed(Digest),
    /// `TAG: digest: sha256:... size: N`
    Done {
        tag: String,
        digest: Digest,
        size: u64,
    },
}

/// Push the local image `source` (a name or ID) as `target`.
pub async fn push(
    images: &Images,
    client: &Client,
    source: &str,
    target: &Reference,
    progress: Arc<dyn Fn(PushEvent) + Send + Sync>,
) -> Result<Digest, PushError> {
    let id = images.resolve(source)?;
    let rec = images
        .catalog
        .get(&id)
        .map_err(crate::service::ImagesError::from)?
        .ok_or_else(|| crate::service::ImagesError::NoSuchImage(source.into()))?;
    let (manifest, _) = images.load(&rec)?;
    let bytes = images.store.read_to_vec(&rec.manifest, 4 << 20)?;
    push_manifest(
        images,
        client,
        target,
        &manifest,
        bytes,
        &rec.manifest_media_type,
        progress,
    )
    .await
}

/// Push the blobs `manifest` names (all in the store) and then `bytes`
/// (the manifest, of type `media_type`) as `target`.
pub async fn push_manifest(
    images: &Images,
    client: &Client,
    target: &Reference,
    manifest: &crate::manifest::ImageManifest,
    bytes: Vec<u8>,
    media_type: &str,
    progress: Arc<dyn Fn(PushEvent) + Send + Sync>,
) -> Result<Digest, PushError> {
    let repo = repo_of(target);
    progress(PushEvent::Start {
        repository: format!("{}/{}", target.registry, target.repository),
    });
    // (digest, size, is a layer): Docker reports layers only, not the config.
    let mut blobs: Vec<(Digest, u64, bool)> = manifest
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size, true))
        .collect();
    blobs.push((manifest.config.digest.clone(), manifest.config.size, false));
    let all: Vec<Digest> = blobs.iter().map(|b| b.0.clone()).collect();
    let limit = Arc::new(tokio::sync::Semaphore::new(3));
    let mut tasks = tokio::task::JoinSet::new();
    for (digest, size, is_layer) in blobs {
        // Up to three other repositories of this registry that hold the layer.
        let sources: Vec<String> = if is_layer {
            images
                .catalog
                .blob_sources(&digest, &repo.registry)
                .map_err(crate::service::ImagesError::from)?
                .into_iter()
                .filter(|r| *r != repo.name)
                .take(3)
                .collect()
        } else {
            Vec::new()
        };
        let (client, repo, store, progress, limit) = (
            client.clone(),
            repo.clone(),
            images.store.clone(),
            progress.clone(),
            limit.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire().await;
            if client.blob_exists(&repo, &digest).await?.is_some() {
                if is_layer {
                    progress(PushEvent::BlobExists(digest));
                }
                return Ok::<(), PushError>(());
            }
            for from in sources {
                // A refused or failed mount is not an error: upload instead.
                if let Ok(true) = client.mount_blob(&repo, &digest, &from).await {
                    progress(PushEvent::BlobMounted { digest, from });
                    return Ok(());
                }
            }
            let path = store.blob_path(&digest);
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|err| PushError::Open {
                    digest: digest.clone(),
                    err,
                })?;
            let body = Counting {
                inner: file,
                done: 0,
                reported: 0,
                total: size,
                digest: digest.clone(),
                progress: if is_layer {
                    Some(progress.clone())
                } else {
                    None
                },
            };
            client.upload_blob(&repo, &digest, size, body).await?;
            if is_layer {
                progress(PushEvent::BlobPushed(digest));
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => return Err(PushError::Internal(e.to_string())),
        }
    }
    let tag = target.manifest_reference();
    let size = bytes.len() as u64;
    let digest = client.put_manifest(&repo, &tag, media_type, bytes).await?;
    images
        .catalog
        .add_blob_sources(&repo.registry, &repo.name, &all)
        .map_err(crate::service::ImagesError::from)?;
    progress(PushEvent::Done {
        tag: target.tag_or_latest().to_string(),
        digest: digest.clone(),
        size,
    });
    Ok(digest)
}

/// Counts the bytes read from a blob file and reports upload progress.
struct Counting {
    inner: tokio::fs::File,
    done: u64,
    reported: u64,
    total: u64,
    digest: Digest,
    progress: Option<Arc<dyn Fn(PushEvent) + Send + Sync>>,
}

impl tokio::io::AsyncRead for Counting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.done += n;
        if self.done - self.reported >= 1 << 20 || (n > 0 && self.done == self.total) {
            self.reported = self.done;
            if let Some(p) = &self.progress {
                p(PushEvent::BlobBytes {
                    digest: self.digest.clone(),
                    done: self.done,
                    total: self.total,
                });
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::ImportOptions;
    use crate::registry::tests::distribution::{Registry, RegistryAuth};
    use crate::registry::tests::support::test_config;
    use std::sync::Mutex;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn push_then_pull_round_trip_and_skip_existing_blobs() {
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let rootfs = d.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = d.path().join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let mut src = Images::open(&d.path().join("src")).unwrap();
        let id = src
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("bb"),
                &ImportOptions::default(),
            )
            .unwrap();
        let client = Client::new(test_config()).unwrap();
        let target = Reference::parse(&format!("{}/skiff/pushed:v2", reg.host)).unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let e = events.clone();
        let progress: Arc<dyn Fn(PushEvent) + Send + Sync> =
            Arc::new(move |ev| e.lock().unwrap().push(ev));
        let digest = push(&src, &client, "bb", &target, progress.clone())
            .await
            .unwrap();
        assert_eq!(
            events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, PushEvent::BlobPushed(_)))
                .count(),
            1
        );
        // pushing again uploads nothing
        events.lock().unwrap().clear();
        push(&src, &client, "bb", &target, progress).await.unwrap();
        assert_eq!(
            events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, PushEvent::BlobExists(_)))
                .count(),
            1
        );
        // pull into another root by digest gives the same image
        let mut dst = Images::open(&d.path().join("dst")).unwrap();
        let by_digest = Reference::parse(&format!("{}/skiff/pushed@{digest}", reg.host)).unwrap();
        let got = crate::pull::pull(&mut dst, &client, &by_digest, &Default::default())
            .await
            .unwrap();
        assert_eq!(got, id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn push_to_another_repository_mounts_known_layers() {
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let rootfs = d.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = d.path().join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let mut src = Images::open(&d.path().join("src")).unwrap();
        let id = src
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("bb"),
                &ImportOptions::default(),
            )
            .unwrap();
        let client = Client::new(test_config()).unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let e = events.clone();
        let progress: Arc<dyn Fn(PushEvent) + Send + Sync> =
            Arc::new(move |ev| e.lock().unwrap().push(ev));
        let first = Reference::parse(&format!("{}/team/base:1", reg.host)).unwrap();
        push(&src, &client, "bb", &first, progress.clone())
            .await
            .unwrap();
        let layer = src
            .load(&src.catalog.get(&id).unwrap().unwrap())
            .unwrap()
            .0
            .layers[0]
            .digest
            .clone();

        // The layer is in team/base now: a push to team/app mounts it.
        events.lock().unwrap().clear();
        let second = Reference::parse(&format!("{}/team/app:1", reg.host)).unwrap();
        let pushed = push(&src, &client, "bb", &second, progress.clone())
            .await
            .unwrap();
        let manifest = src.catalog.get(&id).unwrap().unwrap().manifest;
        assert_eq!(
            *events.lock().unwrap(),
            vec![
                PushEvent::Start {
                    repository: format!("{}/team/app", reg.host)
                },
                PushEvent::BlobMounted {
                    digest: layer.clone(),
                    from: "team/base".into()
                },
                PushEvent::Done {
                    tag: "1".into(),
                    digest: pushed,
                    size: src.store.size(&manifest).unwrap(),
                }
            ]
        );
        // What was mounted pulls back as the same image.
        let mut dst = Images::open(&d.path().join("dst")).unwrap();
        let got = crate::pull::pull(&mut dst, &client, &second, &Default::default())
            .await
            .unwrap();
        assert_eq!(got, id);

        // A source the registry does not have the layer in (it was deleted
        // there, or the record is stale): the mount is refused, the layer
        // is uploaded.
        let mut fresh = Images::open(&d.path().join("fresh")).unwrap();
        fresh
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("bb"),
                &ImportOptions::default(),
            )
            .unwrap();
        fresh
            .catalog
            .add_blob_sources(&reg.host, "team/nowhere", std::slice::from_ref(&layer))
            .unwrap();
        events.lock().unwrap().clear();
        let third = Reference::parse(&format!("{}/team/third:1", reg.host)).unwrap();
        push(&fresh, &client, "bb", &third, progress).await.unwrap();
        let ev = events.lock().unwrap();
        assert!(ev.contains(&PushEvent::BlobPushed(layer.clone())), "{ev:?}");
        assert!(
            !ev.iter()
                .any(|e| matches!(e, PushEvent::BlobMounted { .. })),
            "{ev:?}"
        );
    }
}
