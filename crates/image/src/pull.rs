//! `pull`: an image from a registry into the store, its layers into snapshots.
//!
//! Each layer is downloaded once and streamed, as it arrives, through one
//! blocking task that tees the bytes into the blob store (hashed, verified,
//! committed atomically) while it decompresses and unpacks them into the
//! layer's snapshot: no second read of the blob. Layers download in parallel.
//! A per-layer lock file (flock) makes a concurrent pull of the same layer, in
//! this process or another, wait and then reuse it instead of downloading it
//! again. The catalog entry is written last: a killed pull leaves at most
//! temp files and temp directories, which the next open sweeps.

use crate::digest::Digest;
use crate::layer::{self, Compression, UnpackOptions};
use crate::manifest::{
    layer_compression, select_manifest, ImageConfig, ImageManifest, Manifest, Platform,
};
use crate::reference::Reference;
use crate::registry::{Client, Repo};
use crate::service::Images;
use crate::snapshot::{chain_ids, CreateError, Snapshots};
use crate::store::{IngestWriter, Store};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Registry(Box<crate::registry::Error>),
    #[error("{0}")]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("{0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("layer {digest}: {err}")]
    Layer {
        digest: Digest,
        err: layer::LayerError,
    },
    #[error("layer {digest}: unsupported media type {media_type:?}")]
    MediaType { digest: Digest, media_type: String },
    #[error("image config {digest}: {what}")]
    Config { digest: Digest, what: String },
    #[error("layer {digest}: unpacked content has diff id {got}, the image config says {want}")]
    DiffId {
        digest: Digest,
        want: Digest,
        got: String,
    },
    #[error("layer {digest}: download: {what}")]
    Download { digest: Digest, what: String },
    #[error("pull: {0}")]
    Internal(String),
}

impl From<crate::registry::Error> for PullError {
    fn from(e: crate::registry::Error) -> Self {
        PullError::Registry(Box::new(e))
    }
}

/// What a pull reports as it goes (Docker's plain progress lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// `latest: Pulling from library/busybox`
    Start {
        tag: String,
        repository: String,
    },
    LayerWaiting(Digest),
    LayerExists(Digest),
    LayerBytes {
        digest: Digest,
        done: u64,
        total: u64,
    },
    LayerDone(Digest),
    /// The manifest digest that was pulled.
    Digest(Digest),
    /// Whether anything new was downloaded.
    Finished {
        downloaded: bool,
    },
}

#[derive(Clone)]
pub struct PullOptions {
    pub platform: Platform,
    /// Layers downloaded at once.
    pub parallel: usize,
    /// Called for every progress event.
    pub progress: Arc<dyn Fn(PullEvent) + Send + Sync>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            parallel: 3,
            progress: Arc::new(|_| {}),
        }
    }
}

/// The registry API host and repository of a reference.
pub fn repo_of(r: &Reference) -> Repo {
    Repo::new(r.api_host(), r.repository.clone())
}

/// Pull `reference`; returns the image ID (config digest).
pub async fn pull(
    images: &mut Images,
    client: &Client,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<Digest, PullError> {
    let repo = repo_of(reference);
    let progress = opts.progress.clone();
    progress(PullEvent::Start {
        tag: reference
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_else(|| reference.tag_or_latest().to_string()),
        repository: reference.repository.clone(),
    });
    let top = client
        .get_manifest(&repo, &reference.manifest_reference())
        .await?;
    let (manifest_bytes, manifest_media_type, manifest_digest) =
        match Manifest::from_json(&top.bytes, Some(&top.media_type))? {
            Manifest::Image(_) => (
                top.bytes.to_vec(),
                top.media_type.clone(),
                top.digest.clone(),
            ),
            Manifest::Index(index) => {
                let desc = select_manifest(&index, &opts.platform)?;
                let m = client.get_manifest(&repo, &desc.digest.to_string()).await?;
                (m.bytes.to_vec(), m.media_type.clone(), m.digest.clone())
            }
        };
    let manifest = ImageManifest::from_json(&manifest_bytes)?;
    let store = images.store.clone();
    // The config: small, fetched whole, verified against its descriptor.
    let config_desc = &manifest.config;
    if config_desc.size > 16 << 20 {
        return Err(PullError::Config {
            digest: config_desc.digest.clone(),
            what: format!("declared size {} is over 16 MiB", config_desc.size),
        });
    }
    let config_bytes = if store.exists(&config_desc.digest)? {
        store.read_to_vec(&config_desc.digest, 16 << 20)?
    } else {
        let bytes = client
            .get_blob(&repo, &config_desc.digest)
            .await?
            .bytes()
            .await
            .map_err(|e| PullError::Download {
                digest: config_desc.digest.clone(),
                what: e.to_string(),
            })?;
        store.ingest(
            &bytes[..],
            Some(&config_desc.digest),
            Some(config_desc.size),
        )?;
        bytes
    };
    let config = ImageConfig::from_json(&config_bytes)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(PullError::Config {
            digest: config_desc.digest.clone(),
            what: format!(
                "{} diff ids for {} layers",
                config.rootfs.diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    let snapshots = Arc::new(Snapshots::open(images.root().join("snapshots"))?);
    let limit = Arc::new(tokio::sync::Semaphore::new(opts.parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, desc) in manifest.layers.iter().enumerate() {
        let compression =
            layer_compression(&desc.media_type).ok_or_else(|| PullError::MediaType {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
            })?;
        let job = LayerJob {
            index: i,
            repo: repo.clone(),
            client: client.clone(),
            store: store.clone(),
            snapshots: snapshots.clone(),
            digest: desc.digest.clone(),
            size: desc.size,
            diff_id: config.rootfs.diff_ids[i].clone(),
            chain: chains[i].clone(),
            compression,
            progress: progress.clone(),
        };
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire().await;
            let index = job.index;
            job.run().await.map(|o| (index, o))
        });
    }
    let mut downloaded = false;
    let mut deferred = Vec::new();
    let mut first_err = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok((i, o))) => {
                downloaded |= o != LayerOutcome::Existed;
                if o == LayerOutcome::Deferred {
                    deferred.push(i);
                }
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                first_err.get_or_insert(PullError::Internal(e.to_string()));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    // Layers that hardlink into lower ones, bottom first: every layer below
    // each is in place now.
    deferred.sort_unstable();
    if !deferred.is_empty() {
        let layers: Vec<(Digest, u64, Compression)> = manifest
            .layers
            .iter()
            .map(|d| {
                let c = layer_compression(&d.media_type).unwrap_or(Compression::None);
                (d.digest.clone(), d.size, c)
            })
            .collect();
        let (store, snapshots, diff_ids, chains) = (
            store.clone(),
            snapshots.clone(),
            config.rootfs.diff_ids.clone(),
            chains.clone(),
        );
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || -> Result<(), PullError> {
            for i in deferred {
                unpack_with_lowers(&store, &snapshots, &layers, &diff_ids, &chains, i)?;
                progress(PullEvent::LayerDone(layers[i].0.clone()));
            }
            Ok(())
        })
        .await
        .map_err(|e| PullError::Internal(e.to_string()))??;
    }
    // Everything is in place: record the manifest, then the image.
    let manifest_digest_stored = store.put_bytes(&manifest_bytes)?;
    debug_assert_eq!(manifest_digest_stored, manifest_digest);
    let size: u64 = chains
        .iter()
        .map(|c| crate::service::dir_size(&snapshots.path(c)))
        .sum();
    let rec = crate::catalog::ImageRecord {
        id: config_desc.digest.clone(),
        manifest: manifest_digest.clone(),
        manifest_media_type,
        size,
        created: config.created.clone().unwrap_or_default(),
    };
    let name = match (&reference.tag, &reference.digest) {
        (_, Some(_)) => reference.to_string(),
        (Some(_), None) => reference.to_string(),
        (None, None) => reference
            .with_tag("latest")
            .map(|r| r.to_string())
            .unwrap_or_default(),
    };
    let existing = images.catalog.resolve_name(&name)?;
    images.catalog.add(&rec, &[name])?;
    // Where these blobs live, for a later push to another repository there.
    let mut blobs: Vec<Digest> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    blobs.push(config_desc.digest.clone());
    images
        .catalog
        .add_blob_sources(&repo.registry, &repo.name, &blobs)?;
    progress(PullEvent::Digest(top.digest.clone()));
    progress(PullEvent::Finished {
        downloaded: downloaded || existing.as_ref() != Some(&rec.id),
    });
    Ok(rec.id)
}

/// What a layer job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LayerOutcome {
    /// Snapshot and blob were there already.
    Existed,
    /// Downloaded and unpacked.
    Downloaded,
    /// Downloaded into the store, but the layer hardlinks to a file of a
    /// lower layer, which was not unpacked yet: unpacked again from the
    /// store once every lower layer is in place.
    Deferred,
}

struct LayerJob {
    /// The layer's position (0: the bottom layer).
    index: usize,
    repo: Repo,
    client: Client,
    store: Store,
    snapshots: Arc<Snapshots>,
    digest: Digest,
    size: u64,
    diff_id: Digest,
    chain: Digest,
    compression: Compression,
    progress: Arc<dyn Fn(PullEvent) + Send + Sync>,
}

impl LayerJob {
    async fn run(self) -> Result<LayerOutcome, PullError> {
        // Wait for anyone else pulling this layer, then decide.
        let lock_path = self.snapshots.lock_path(&self.chain);
        let lock = tokio::task::spawn_blocking(move || crate::snapshot::lock_file(&lock_path))
            .await
            .map_err(|e| PullError::Internal(e.to_string()))??;
        if self.snapshots.exists(&self.chain) && self.store.exists(&self.digest)? {
            (self.progress)(PullEvent::LayerExists(self.digest.clone()));
            drop(lock);
            return Ok(LayerOutcome::Existed);
        }
        (self.progress)(PullEvent::LayerWaiting(self.digest.clone()));
        let mut blob = self.client.get_blob(&self.repo, &self.digest).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        let (digest, size, diff_id, chain, compression) = (
            self.digest.clone(),
            self.size,
            self.diff_id.clone(),
            self.chain.clone(),
            self.compression,
        );
        let lowers_pending = self.index > 0;
        let worker = tokio::task::spawn_blocking(move || -> Result<bool, PullError> {
            let writer = store.writer(Some(&digest), Some(size))?;
            let mut tee = Tee {
                rx,
                writer: Some(writer),
                cur: bytes::Bytes::new(),
            };
            let opts = UnpackOptions {
                expected_blob_digest: Some(digest.to_string()),
                max_size: Some(size),
                lowers_pending,
                ..Default::default()
            };
            let made = snapshots.create_holding_lock(&chain, |dir| {
                unpack_checked(&mut tee, compression, dir, &opts, &digest, &diff_id)
            });
            let deferred = match made {
                Ok(_) => false,
                Err(CreateError::Fill(PullError::Layer {
                    err: layer::LayerError::NeedsLowerLayers { .. },
                    ..
                })) => true,
                Err(CreateError::Snapshot(s)) => return Err(s.into()),
                Err(CreateError::Fill(e)) => return Err(e),
            };
            // Whatever unpacking did not need (or all of it, when the snapshot
            // existed already) still goes into the store.
            let mut sink = std::io::sink();
            std::io::copy(&mut tee, &mut sink).map_err(|e| PullError::Download {
                digest: digest.clone(),
                what: e.to_string(),
            })?;
            tee.writer.take().expect("writer").commit()?;
            Ok(deferred)
        });
        let mut done = 0u64;
        let mut last_report = 0u64;
        loop {
            let chunk = blob.chunk().await.map_err(|e| PullError::Download {
                digest: self.digest.clone(),
                what: e.to_string(),
            });
            let chunk = match chunk {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    drop(tx);
                    let _ = worker.await;
                    return Err(e);
                }
            };
            done += chunk.len() as u64;
            if tx.send(chunk).await.is_err() {
                // The worker stopped early (an error): it tells us why.
                break;
            }
            if done - last_report >= 1 << 20 {
                last_report = done;
                (self.progress)(PullEvent::LayerBytes {
                    digest: self.digest.clone(),
                    done,
                    total: self.size,
                });
            }
        }
        drop(tx);
        let deferred = worker
            .await
            .map_err(|e| PullError::Internal(e.to_string()))??;
        drop(lock);
        if deferred {
            return Ok(LayerOutcome::Deferred);
        }
        (self.progress)(PullEvent::LayerDone(self.digest.clone()));
        Ok(LayerOutcome::Downloaded)
    }
}

/// Unpack one layer into `dir` and check its diff ID.
fn unpack_checked(
    reader: impl Read,
    compression: Compression,
    dir: &Path,
    opts: &UnpackOptions,
    digest: &Digest,
    diff_id: &Digest,
) -> Result<(), PullError> {
    let u =
        layer::unpack(reader, Some(compression), dir, opts).map_err(|err| PullError::Layer {
            digest: digest.clone(),
            err,
        })?;
    if u.diff_id != diff_id.to_string() {
        return Err(PullError::DiffId {
            digest: digest.clone(),
            want: diff_id.clone(),
            got: u.diff_id,
        });
    }
    Ok(())
}

/// Unpack stored layer `i` with every layer below it as lower directories
/// (they are all in place), unless its snapshot exists by now.
fn unpack_with_lowers(
    store: &Store,
    snapshots: &Snapshots,
    layers: &[(Digest, u64, Compression)],
    diff_ids: &[Digest],
    chains: &[Digest],
    i: usize,
) -> Result<(), PullError> {
    let (digest, size, compression) = &layers[i];
    let opts = UnpackOptions {
        expected_blob_digest: Some(digest.to_string()),
        max_size: Some(*size),
        lower_dirs: (0..i).rev().map(|j| snapshots.path(&chains[j])).collect(),
        ..Default::default()
    };
    let blob = store.open_blob(digest)?;
    match snapshots.create(&chains[i], |dir| {
        unpack_checked(
            std::io::BufReader::new(&blob),
            *compression,
            dir,
            &opts,
            digest,
            &diff_ids[i],
        )
    }) {
        Ok(_) => Ok(()),
        Err(CreateError::Snapshot(s)) => Err(s.into()),
        Err(CreateError::Fill(e)) => Err(e),
    }
}

/// A blocking reader over the download's chunks that copies every byte it
/// hands out into the store's writer.
struct Tee {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    writer: Option<IngestWriter>,
    cur: bytes::Bytes,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => {
                    if let Some(w) = self.writer.as_mut() {
                        w.push(&c).map_err(std::io::Error::other)?;
                    }
                    self.cur = c;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::ImportOptions;
    use crate::registry::tests::distribution::{Registry, RegistryAuth};
    use crate::registry::tests::support::test_config;
    use std::sync::Mutex;

    /// Import a busybox rootfs into `root` and push it to `reg` as `name:tag`.
    async fn push_busybox(dir: &std::path::Path, reg: &Registry, name: &str, tag: &str) -> Digest {
        let rootfs = dir.join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = dir.join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let mut src = Images::open(&dir.join("src")).unwrap();
        let id = src
            .import(
                std::fs::File::open(&tar).unwrap(),
                None,
                &ImportOptions::default(),
            )
            .unwrap();
        let rec = src.catalog.get(&id).unwrap().unwrap();
        let (m, _) = src.load(&rec).unwrap();
        let client = Client::new(test_config()).unwrap();
        let repo = Repo::new(reg.host.clone(), name);
        for d in [&m.config.digest, &m.layers[0].digest] {
            let bytes = src.store.read_to_vec(d, 1 << 30).unwrap();
            client.upload_blob_bytes(&repo, d, bytes).await.unwrap();
        }
        let mbytes = src.store.read_to_vec(&rec.manifest, 1 << 20).unwrap();
        client
            .put_manifest(&repo, tag, crate::manifest::OCI_MANIFEST, mbytes)
            .await
            .unwrap();
        id
    }

    fn recording() -> (PullOptions, Arc<Mutex<Vec<PullEvent>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let e = events.clone();
        let opts = PullOptions {
            progress: Arc::new(move |ev| e.lock().unwrap().push(ev)),
            ..Default::default()
        };
        (opts, events)
    }

    /// Push an image of the given layer tars (gzip'd) as `name:tag`; returns
    /// the image ID.
    async fn push_layers(reg: &Registry, name: &str, tag: &str, tars: &[Vec<u8>]) -> Digest {
        let client = Client::new(test_config()).unwrap();
        let repo = Repo::new(reg.host.clone(), name);
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for t in tars {
            let gz = crate::layer::tests::gzip(t);
            let d = Digest::of(&gz);
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": d.to_string(), "size": gz.len()}));
            diff_ids.push(Digest::of(t).to_string());
            client.upload_blob_bytes(&repo, &d, gz).await.unwrap();
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids}}))
        .unwrap();
        let cd = Digest::of(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": crate::manifest::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cd.to_string(), "size": config.len()},
            "layers": layers}))
        .unwrap();
        client.upload_blob_bytes(&repo, &cd, config).await.unwrap();
        client
            .put_manifest(&repo, tag, crate::manifest::OCI_MANIFEST, manifest)
            .await
            .unwrap();
        cd
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn layers_hardlinking_into_lower_layers_unpack_while_pulled_in_parallel() {
        use crate::layer::tests::Tar;
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        // Layer 0 adds usr/bin/tool; layer 1 hardlinks to it and to its own
        // file; layer 2 links to what layer 1 linked, and to a file that
        // layer 1 replaced.
        let mut l0 = Tar::new();
        l0.dir("usr", 0o755)
            .dir("usr/bin", 0o755)
            .file("usr/bin/tool", 0o755, b"tool v1")
            .file("etc-motd", 0o644, b"old motd");
        let mut l1 = Tar::new();
        l1.dir("usr", 0o755)
            .dir("usr/bin", 0o755)
            .hardlink("usr/bin/alias", "usr/bin/tool")
            .file("own", 0o600, b"own")
            .hardlink("own-link", "own")
            .file("etc-motd", 0o644, b"new motd");
        let mut l2 = Tar::new();
        l2.hardlink("alias2", "usr/bin/alias")
            .hardlink("motd-link", "etc-motd");
        let tars = [l0.finish(), l1.finish(), l2.finish()];
        let id = push_layers(&reg, "skiff/links", "1", &tars).await;

        let d = tempfile::tempdir().unwrap();
        let client = Client::new(test_config()).unwrap();
        let r = Reference::parse(&format!("{}/skiff/links:1", reg.host)).unwrap();
        let mut imgs = Images::open(&d.path().join("dst")).unwrap();
        let (opts, events) = recording();
        assert_eq!(pull(&mut imgs, &client, &r, &opts).await.unwrap(), id);
        let mut dirs = imgs.layer_dirs(&id).unwrap();
        dirs.reverse(); // bottom first
        let read = |l: usize, p: &str| std::fs::read_to_string(dirs[l].join(p)).unwrap();
        assert_eq!(read(1, "usr/bin/alias"), "tool v1");
        assert_eq!(read(2, "alias2"), "tool v1");
        assert_eq!(read(2, "motd-link"), "new motd");
        use std::os::unix::fs::MetadataExt;
        let ino = |l: usize, p: &str| std::fs::metadata(dirs[l].join(p)).unwrap().ino();
        assert_eq!(ino(1, "own"), ino(1, "own-link"));
        // Every layer reported done once; nothing left behind in the store.
        let done = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, PullEvent::LayerDone(_)))
            .count();
        assert_eq!(done, 3);
        let leftovers: Vec<_> = std::fs::read_dir(imgs.root().join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // A link to a file no layer has still fails, naming the entry.
        let mut bad = Tar::new();
        bad.hardlink("dangling", "no/such/file");
        let tars = [tars[0].clone(), bad.finish()];
        push_layers(&reg, "skiff/links", "bad", &tars).await;
        let r = Reference::parse(&format!("{}/skiff/links:bad", reg.host)).unwrap();
        let mut other = Images::open(&d.path().join("other")).unwrap();
        let e = pull(&mut other, &client, &r, &Default::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dangling") && e.contains("does not exist"),
            "{e}"
        );
        assert!(other.catalog.list().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pull_from_a_real_registry_then_again() {
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let id = push_busybox(d.path(), &reg, "skiff/busybox", "v1").await;
        let client = Client::new(test_config()).unwrap();
        let r = Reference::parse(&format!("{}/skiff/busybox:v1", reg.host)).unwrap();
        let mut imgs = Images::open(&d.path().join("dst")).unwrap();
        let (opts, events) = recording();
        assert_eq!(pull(&mut imgs, &client, &r, &opts).await.unwrap(), id);
        let dirs = imgs.layer_dirs(&id).unwrap();
        assert!(dirs[0].join("bin/busybox").is_file());
        assert_eq!(
            imgs.store.list().unwrap().len(),
            3,
            "layer, config, manifest"
        );
        assert_eq!(imgs.resolve(&r.to_string()).unwrap(), id);
        assert!(events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, PullEvent::LayerDone(_))));
        // again: nothing is downloaded
        let (opts, events) = recording();
        pull(&mut imgs, &client, &r, &opts).await.unwrap();
        let ev = events.lock().unwrap();
        assert!(ev.iter().any(|e| matches!(e, PullEvent::LayerExists(_))));
        assert!(ev.contains(&PullEvent::Finished { downloaded: false }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_pulls_download_each_layer_once() {
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let id = push_busybox(d.path(), &reg, "skiff/bb2", "latest").await;
        let client = Client::new(test_config()).unwrap();
        let r = Reference::parse(&format!("{}/skiff/bb2", reg.host)).unwrap();
        let root = d.path().join("dst");
        let mut a = Images::open(&root).unwrap();
        let mut b = Images::open(&root).unwrap();
        let (oa, ea) = recording();
        let (ob, eb) = recording();
        let (ra, rb) = tokio::join!(
            pull(&mut a, &client, &r, &oa),
            pull(&mut b, &client, &r, &ob)
        );
        assert_eq!(ra.unwrap(), id);
        assert_eq!(rb.unwrap(), id);
        let done = |ev: &Arc<Mutex<Vec<PullEvent>>>| {
            ev.lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, PullEvent::LayerDone(_)))
                .count()
        };
        assert_eq!(done(&ea) + done(&eb), 1, "the layer was downloaded twice");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_tag_is_a_clear_error_and_stores_nothing() {
        let Some(reg) = Registry::start(RegistryAuth::None) else {
            return;
        };
        let d = tempfile::tempdir().unwrap();
        let client = Client::new(test_config()).unwrap();
        let r = Reference::parse(&format!("{}/skiff/none:nope", reg.host)).unwrap();
        let mut imgs = Images::open(&d.path().join("dst")).unwrap();
        let e = pull(&mut imgs, &client, &r, &PullOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("skiff/none"), "{e}");
        assert!(imgs.list().unwrap().is_empty());
        assert!(imgs.store.list().unwrap().is_empty());
    }
}
