//! What a build adds to the image store: a layer made from a writable
//! overlay directory, and an image from its configuration and layers.

use crate::catalog::ImageRecord;
use crate::digest::Digest;
use crate::layer::diff::write_layer_tar;
use crate::manifest::{
    Descriptor, ImageConfig, ImageManifest, OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST,
};
use crate::service::{Images, ImagesError};
use crate::snapshot::chain_ids;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, ImagesError>;

/// A layer a build step made.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub snapshot: PathBuf,
}

impl Images {
    /// The unmounted overlay upper directory `upper` becomes a layer on top
    /// of `parents` (the diff IDs below it): its tar goes into the blob
    /// store uncompressed (so the blob's digest is the diff ID and nothing is
    /// compressed until a push needs it), and the directory itself becomes
    /// the layer's snapshot, moved rather than unpacked again (an upper
    /// directory and an unpacked layer share overlayfs's format). It must be
    /// on the store's file system. None, and `upper` left alone, when it
    /// holds nothing.
    pub fn layer_from_dir(&self, upper: &Path, parents: &[Digest]) -> Result<Option<NewLayer>> {
        layer_from_dir(&self.store, &self.snapshots, upper, parents)
    }

    /// Record an image made of `config` and `layers` (which must be in the
    /// store), named `names`; `size` is what `images` shows. Returns its ID.
    pub fn add_image(
        &mut self,
        config: &ImageConfig,
        layers: Vec<Descriptor>,
        names: &[String],
        size: u64,
    ) -> Result<Digest> {
        let (config_digest, manifest_digest, _) =
            store_config_and_manifest(&self.store, config, layers)?;
        let rec = ImageRecord {
            id: config_digest.clone(),
            manifest: manifest_digest,
            manifest_media_type: OCI_MANIFEST.into(),
            size,
            created: config.created.clone().unwrap_or_default(),
        };
        let names = names
            .iter()
            .map(|n| crate::reference::Reference::parse(n).map(|r| full_name(&r)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.catalog.add(&rec, &names)?;
        Ok(config_digest)
    }
}

const CHUNK: usize = 256 * 1024;

/// A writer that hands its bytes, in chunks, to another thread.
struct Pipe {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Pipe {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self.tx.as_ref().ok_or(std::io::ErrorKind::BrokenPipe)?;
        tx.send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    /// Send what is left and close the channel.
    fn finish(&mut self) -> std::io::Result<()> {
        let r = self.send();
        self.tx = None;
        r
    }
}

impl std::io::Write for Pipe {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Store `config` and an OCI manifest of it and `layers`: (config digest,
/// manifest digest, manifest size).
pub(crate) fn store_config_and_manifest(
    store: &crate::store::Store,
    config: &ImageConfig,
    layers: Vec<Descriptor>,
) -> std::result::Result<(Digest, Digest, u64), crate::store::StoreError> {
    let config_bytes = serde_json::to_vec(config).expect("config serializes");
    let config_digest = store.put_bytes(&config_bytes)?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(OCI_CONFIG, config_digest.clone(), config_bytes.len() as u64),
        layers,
        subject: None,
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    let manifest_digest = store.put_bytes(&manifest_bytes)?;
    Ok((config_digest, manifest_digest, manifest_bytes.len() as u64))
}

/// [`Images::layer_from_dir`] on a store and snapshots of their own.
pub fn layer_from_dir(
    store: &crate::store::Store,
    snapshots: &crate::snapshot::Snapshots,
    upper: &Path,
    parents: &[Digest],
) -> Result<Option<NewLayer>> {
    let Some(blob) = layer_blob(store, upper, parents)? else {
        return Ok(None);
    };
    Ok(Some(blob.adopt(snapshots, upper)?))
}

/// A layer's blob stored, its directory not yet a snapshot.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

impl LayerBlob {
    /// Move `upper` (unmounted, used by no mount) into the snapshots.
    pub fn adopt(self, snapshots: &crate::snapshot::Snapshots, upper: &Path) -> Result<NewLayer> {
        let snapshot = snapshots.adopt(&self.chain_id, upper)?;
        Ok(NewLayer {
            descriptor: self.descriptor,
            diff_id: self.diff_id,
            chain_id: self.chain_id,
            snapshot,
        })
    }
}

/// The blob of the layer `upper` holds (on top of `parents`), stored; the
/// directory stays where it is, readable by mounts that use it meanwhile
/// (a thread stores a layer while the build goes on). None when empty.
pub fn layer_blob(
    store: &crate::store::Store,
    upper: &Path,
    parents: &[Digest],
) -> Result<Option<LayerBlob>> {
    let io = |op: &'static str| {
        let path = upper.to_path_buf();
        move |source| {
            ImagesError::Store(crate::store::StoreError::Io {
                op,
                path: path.clone(),
                source,
            })
        }
    };
    if std::fs::read_dir(upper)
        .map_err(io("read"))?
        .next()
        .is_none()
    {
        return Ok(None);
    }
    // Two cores: this thread walks the directory and reads its files
    // into the tar stream, another hashes and writes it.
    let writer = store.writer(None, None)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let written = std::thread::scope(|s| {
        let sink = s.spawn(
            move || -> std::result::Result<_, crate::store::StoreError> {
                let mut w = writer;
                for chunk in rx {
                    w.push(&chunk)?;
                }
                Ok(w)
            },
        );
        let mut pipe = Pipe {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
        };
        let tarred = write_layer_tar(upper, &|_| false, &mut pipe).and_then(|()| pipe.finish());
        drop(pipe);
        let w = sink.join().expect("the layer writer panicked");
        (tarred, w)
    });
    let w = match written {
        (_, Err(e)) => return Err(e.into()),
        (Err(e), _) => return Err(io("write a layer of")(e)),
        (Ok(()), Ok(w)) => w,
    };
    let (digest, size) = w.commit()?;
    let mut diff_ids = parents.to_vec();
    diff_ids.push(digest.clone());
    let chain_id = chain_ids(&diff_ids).pop().expect("a layer");
    Ok(Some(LayerBlob {
        descriptor: Descriptor::new(OCI_LAYER_TAR, digest.clone(), size),
        diff_id: digest,
        chain_id,
    }))
}

/// A name as the catalog keeps it: `latest` when no tag or digest is given.
pub(crate) fn full_name(r: &crate::reference::Reference) -> String {
    if r.tag.is_none() && r.digest.is_none() {
        r.with_tag("latest")
            .map(|r| r.to_string())
            .unwrap_or_else(|_| r.to_string())
    } else {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ImageConfig;

    #[test]
    fn an_upper_dir_becomes_a_layer_and_its_snapshot() {
        let d = tempfile::tempdir().unwrap();
        let mut images = Images::open(&d.path().join("root")).unwrap();
        let upper = images.root().join("upper");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/motd"), "hi\n").unwrap();
        let layer = images.layer_from_dir(&upper, &[]).unwrap().unwrap();
        assert!(!upper.exists(), "the dir was moved, not copied");
        assert_eq!(
            std::fs::read_to_string(layer.snapshot.join("etc/motd")).unwrap(),
            "hi\n"
        );
        // The blob is the uncompressed tar: its digest is the diff ID.
        assert_eq!(layer.descriptor.digest, layer.diff_id);
        assert_eq!(layer.descriptor.media_type, OCI_LAYER_TAR);
        let blob = images.store.read_to_vec(&layer.diff_id, 1 << 20).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&blob[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["etc/", "etc/motd"]);
        // An empty upper dir makes no layer.
        std::fs::create_dir_all(&upper).unwrap();
        assert!(images.layer_from_dir(&upper, &[]).unwrap().is_none());
        // An image of it is listed, named, and its layer dirs are the snapshot.
        let config = ImageConfig {
            rootfs: crate::manifest::RootFs {
                kind: "layers".into(),
                diff_ids: vec![layer.diff_id.clone()],
            },
            ..Default::default()
        };
        let id = images
            .add_image(
                &config,
                vec![layer.descriptor.clone()],
                &["built:1".into()],
                3,
            )
            .unwrap();
        assert_eq!(images.resolve("built:1").unwrap(), id);
        assert_eq!(images.layer_dirs(&id).unwrap(), vec![layer.snapshot]);
    }
}
