//! The image operations the CLI (and later the API) call: import, list, tag,
//! remove, inspect. One `Images` value owns the blob store, the snapshots and
//! the catalog under `<root>/image`.

use crate::catalog::{Catalog, CatalogError, ImageRecord};
use crate::digest::Digest;
use crate::import::{import_tar, ImportError, ImportOptions};
use crate::manifest::{ImageConfig, ImageManifest};
use crate::reference::Reference;
use crate::snapshot::{chain_ids, Snapshots};
use crate::store::Store;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    Reference(#[from] crate::reference::ReferenceError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("image {id} is corrupt: {what}")]
    Corrupt { id: String, what: String },
    #[error(
        "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
    )]
    MultipleNames { short: String },
}

type Result<T> = std::result::Result<T, ImagesError>;

pub struct Images {
    root: PathBuf,
    pub store: Store,
    pub snapshots: Snapshots,
    pub catalog: Catalog,
}

/// One line of `rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(Digest),
}

/// One step of an image's history.
#[derive(Debug, Clone)]
pub struct HistoryLine {
    pub created: String,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
}

/// An image with everything `images` and `inspect` show.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub record: ImageRecord,
    pub names: Vec<String>,
}

impl Images {
    pub fn open(root: &Path) -> Result<Images> {
        let dir = root.join("image");
        std::fs::create_dir_all(&dir).map_err(|e| {
            ImagesError::Store(crate::store::StoreError::Io {
                op: "create",
                path: dir.clone(),
                source: e,
            })
        })?;
        Ok(Images {
            store: Store::open(&dir)?,
            snapshots: Snapshots::open(dir.join("snapshots"))?,
            catalog: Catalog::open(&dir.join("images.db"))?,
            root: dir,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `import`: a rootfs tarball becomes an image, optionally named.
    pub fn import(
        &mut self,
        tar: impl Read,
        name: Option<&str>,
        opts: &ImportOptions,
    ) -> Result<Digest> {
        let reference = name.map(Reference::parse).transpose()?;
        let imp = import_tar(&self.store, &self.snapshots, tar, opts)?;
        let unpacked_size = dir_size(&imp.snapshot);
        let rec = ImageRecord {
            id: imp.config.clone(),
            manifest: imp.manifest.clone(),
            manifest_media_type: crate::manifest::OCI_MANIFEST.into(),
            size: unpacked_size,
            created: opts.created.clone().unwrap_or_default(),
        };
        let names: Vec<String> = reference.iter().map(|r| r.to_string()).collect();
        self.catalog.add(&rec, &names)?;
        Ok(imp.config)
    }

    /// `commit`: image `parent` plus the layer tar `tar`, named `name`.
    pub fn commit(
        &mut self,
        parent: &Digest,
        tar: impl Read,
        name: Option<&str>,
        opts: &crate::import::CommitOptions,
    ) -> Result<Digest> {
        let reference = name.map(Reference::parse).transpose()?;
        let rec = self
            .catalog
            .get(parent)?
            .ok_or_else(|| ImagesError::NoSuchImage(parent.to_string()))?;
        let (pm, pc) = self.load(&rec)?;
        let lower = self.layer_dirs(parent)?;
        let imp =
            crate::import::commit_tar(&self.store, &self.snapshots, (&pm, &pc), lower, tar, opts)?;
        let size = rec.size + dir_size(&imp.snapshot);
        let new = ImageRecord {
            id: imp.config.clone(),
            manifest: imp.manifest.clone(),
            manifest_media_type: crate::manifest::OCI_MANIFEST.into(),
            size,
            created: opts.created.clone(),
        };
        let names: Vec<String> = reference.iter().map(crate::built::full_name).collect();
        self.catalog.add(&new, &names)?;
        Ok(imp.config)
    }

    /// Find an image by name (normalized), full ID, or ID prefix.
    pub fn resolve(&self, what: &str) -> Result<Digest> {
        if let Ok(r) = Reference::parse(what) {
            if let Some(id) = self.catalog.resolve_name(&r.to_string())? {
                return Ok(id);
            }
        }
        let found = self.catalog.find_by_id_prefix(what)?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ImagesError::NoSuchImage(what.to_string())),
        }
    }

    pub fn list(&self) -> Result<Vec<ImageInfo>> {
        Ok(self
            .catalog
            .list()?
            .into_iter()
            .map(|(record, names)| ImageInfo { record, names })
            .collect())
    }

    /// `tag SOURCE TARGET`.
    pub fn tag(&mut self, source: &str, target: &str) -> Result<()> {
        let id = self.resolve(source)?;
        let t = Reference::parse(target)?;
        self.catalog.tag(&t.to_string(), &id)?;
        Ok(())
    }

    /// `rmi`: by name, untag (and delete when it was the last name); by ID,
    /// delete (refused without `force` when several names point at it).
    pub fn remove(&mut self, what: &str, force: bool) -> Result<Vec<Removed>> {
        let id = self.resolve(what)?;
        let names = self.catalog.names_of(&id)?;
        let by_name = Reference::parse(what)
            .ok()
            .map(|r| r.to_string())
            .filter(|n| names.contains(n));
        let mut out = Vec::new();
        if let Some(n) = by_name {
            self.catalog.untag(&n)?;
            out.push(Removed::Untagged(familiar(&n)));
            if names.len() > 1 {
                return Ok(out);
            }
        } else {
            if names.len() > 1 && !force {
                return Err(ImagesError::MultipleNames {
                    short: id.hex()[..12].to_string(),
                });
            }
            for n in &names {
                self.catalog.untag(n)?;
                out.push(Removed::Untagged(familiar(n)));
            }
        }
        self.delete_image(&id)?;
        out.push(Removed::Deleted(id));
        Ok(out)
    }

    /// Drop the catalog entry, then blobs and snapshots no other image uses.
    fn delete_image(&mut self, id: &Digest) -> Result<()> {
        let Some(rec) = self.catalog.get(id)? else {
            return Ok(());
        };
        let (manifest, config) = self.load(&rec)?;
        self.catalog.remove(id)?;
        let (in_use_blobs, in_use_chains) = self.in_use()?;
        let mut blobs = vec![rec.manifest.clone(), manifest.config.digest.clone()];
        blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
        for b in blobs.iter().filter(|b| !in_use_blobs.contains(*b)) {
            self.store.delete(b)?;
            self.catalog.forget_blob(b)?;
        }
        for c in chain_ids(&config.rootfs.diff_ids)
            .iter()
            .filter(|c| !in_use_chains.contains(*c))
        {
            self.snapshots.remove(c)?;
        }
        Ok(())
    }

    /// `image prune`: remove images without a name (all images with `all`; no
    /// container uses images yet), then every blob and snapshot no remaining
    /// image references, and leftovers of killed writes. Returns the removed
    /// image IDs and the bytes reclaimed.
    pub fn prune(&mut self, all: bool) -> Result<(Vec<Digest>, u64)> {
        self.prune_keeping(all, &HashSet::new())
    }

    /// [`prune`](Self::prune), keeping the images in `keep` (those that
    /// containers use).
    pub fn prune_keeping(
        &mut self,
        all: bool,
        keep: &HashSet<Digest>,
    ) -> Result<(Vec<Digest>, u64)> {
        let mut removed = Vec::new();
        for (rec, names) in self.catalog.list()? {
            if (all || names.is_empty()) && !keep.contains(&rec.id) {
                for n in &names {
                    self.catalog.untag(n)?;
                }
                self.catalog.remove(&rec.id)?;
                removed.push(rec.id);
            }
        }
        let reclaimed = self.collect()?;
        Ok((removed, reclaimed))
    }

    /// Remove every blob and snapshot no image and no build cache entry
    /// uses, and leftovers of killed writes; the bytes reclaimed.
    pub fn collect(&mut self) -> Result<u64> {
        let (blobs, chains) = self.in_use()?;
        let mut reclaimed = 0;
        for b in self.store.list()? {
            if !blobs.contains(&b) {
                reclaimed += self.store.size(&b).unwrap_or(0);
                self.store.delete(&b)?;
                self.catalog.forget_blob(&b)?;
            }
        }
        for c in self.snapshots.list()? {
            if !chains.contains(&c) {
                reclaimed += dir_size(&self.snapshots.path(&c));
                self.snapshots.remove(&c)?;
            }
        }
        self.store.gc_ingest()?;
        Ok(reclaimed)
    }

    /// Blobs and snapshot chains the recorded images reference (the build
    /// cache left out).
    pub fn used_by_images(&self) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
        let mut blobs = HashSet::new();
        let mut chains = HashSet::new();
        for (rec, _) in self.catalog.list()? {
            if let Ok((m, c)) = self.load(&rec) {
                blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
                chains.extend(chain_ids(&c.rootfs.diff_ids));
            }
        }
        Ok((blobs, chains))
    }

    /// `image history`: (created, created by, layer size, comment, empty layer),
    /// newest first.
    pub fn history(&self, what: &str) -> Result<(Digest, Vec<HistoryLine>)> {
        let id = self.resolve(what)?;
        let rec = self
            .catalog
            .get(&id)?
            .ok_or_else(|| ImagesError::NoSuchImage(what.to_string()))?;
        let (_, config) = self.load(&rec)?;
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut layer = 0;
        let mut out = Vec::new();
        for h in &config.history {
            let size = if h.empty_layer {
                0
            } else {
                let s = chains
                    .get(layer)
                    .map(|c| dir_size(&self.snapshots.path(c)))
                    .unwrap_or(0);
                layer += 1;
                s
            };
            out.push(HistoryLine {
                created: h.created.clone().unwrap_or_default(),
                created_by: h.created_by.clone().unwrap_or_default(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        out.reverse();
        Ok((id, out))
    }

    /// Blobs and snapshot chains that some recorded image references.
    fn in_use(&self) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
        let mut blobs = HashSet::new();
        let mut chains = HashSet::new();
        for (rec, _) in self.catalog.list()? {
            blobs.insert(rec.manifest.clone());
            if let Ok((m, c)) = self.load(&rec) {
                blobs.insert(m.config.digest.clone());
                blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
                chains.extend(chain_ids(&c.rootfs.diff_ids));
            }
        }
        for e in self.catalog.cache_entries()? {
            blobs.extend(e.blobs);
            chains.extend(e.chains);
        }
        Ok((blobs, chains))
    }

    /// Manifest and config of a recorded image.
    pub fn load(&self, rec: &ImageRecord) -> Result<(ImageManifest, ImageConfig)> {
        let corrupt = |what: String| ImagesError::Corrupt {
            id: rec.id.to_string(),
            what,
        };
        let mbytes = self.store.read_to_vec(&rec.manifest, 4 << 20)?;
        let manifest = ImageManifest::from_json(&mbytes).map_err(|e| corrupt(e.to_string()))?;
        let cbytes = self.store.read_to_vec(&manifest.config.digest, 16 << 20)?;
        let config: ImageConfig =
            serde_json::from_slice(&cbytes).map_err(|e| corrupt(format!("config: {e}")))?;
        Ok((manifest, config))
    }

    /// The lower directories of an image, topmost first (for an overlay mount).
    pub fn layer_dirs(&self, id: &Digest) -> Result<Vec<PathBuf>> {
        let rec = self
            .catalog
            .get(id)?
            .ok_or_else(|| ImagesError::NoSuchImage(id.to_string()))?;
        let (_, config) = self.load(&rec)?;
        Ok(self.layer_dirs_of(&config))
    }

    /// [`layer_dirs`](Self::layer_dirs) of an image whose config is loaded.
    pub fn layer_dirs_of(&self, config: &ImageConfig) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = chain_ids(&config.rootfs.diff_ids)
            .iter()
            .map(|c| self.snapshots.path(c))
            .collect();
        dirs.reverse();
        dirs
    }

    /// `image inspect`: Docker's JSON shape for the fields that apply.
    pub fn inspect(&self, what: &str) -> Result<serde_json::Value> {
        let id = self.resolve(what)?;
        let rec = self
            .catalog
            .get(&id)?
            .ok_or_else(|| ImagesError::NoSuchImage(what.to_string()))?;
        let (_, config) = self.load(&rec)?;
        let names = self.catalog.names_of(&id)?;
        let repo_tags: Vec<String> = names.iter().map(|n| familiar(n)).collect();
        let repo_digests: Vec<String> = names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .map(|r| format!("{}@{}", r.familiar(), rec.manifest))
            .collect();
        Ok(serde_json::json!({
            "Id": id.to_string(),
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "Parent": "",
            "Container": config.container.clone().unwrap_or_default(),
            "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
            "Created": config.created.clone().unwrap_or_default(),
            "Author": config.author.clone().unwrap_or_default(),
            "Config": config.config,
            "Architecture": config.architecture,
            "Variant": config.variant,
            "Os": config.os,
            "Size": rec.size,
            "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
            "Descriptor": {"mediaType": rec.manifest_media_type, "digest": rec.manifest,
                "size": self.store.size(&rec.manifest)?},
        }))
    }
}

/// `docker.io/library/busybox:latest` -> `busybox:latest`, as Docker prints names.
pub fn familiar(full: &str) -> String {
    match Reference::parse(full) {
        Ok(r) => match (&r.tag, &r.digest) {
            (Some(t), _) => format!("{}:{t}", r.familiar()),
            (None, Some(d)) => format!("{}@{d}", r.familiar()),
            (None, None) => format!("{}:latest", r.familiar()),
        },
        Err(_) => full.to_string(),
    }
}

/// Bytes used by the files below `dir` (regular files' lengths).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busybox_tar(dir: &Path) -> PathBuf {
        let rootfs = dir.join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = dir.join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        tar
    }

    #[test]
    fn import_tag_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let tar = busybox_tar(d.path());
        let mut imgs = Images::open(&d.path().join("root")).unwrap();
        let id = imgs
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("busybox:imp"),
                &ImportOptions::default(),
            )
            .unwrap();
        assert_eq!(imgs.resolve("busybox:imp").unwrap(), id);
        assert_eq!(imgs.resolve("docker.io/library/busybox:imp").unwrap(), id);
        assert_eq!(imgs.resolve(&id.hex()[..12]).unwrap(), id);
        imgs.tag("busybox:imp", "localhost:5000/bb:v1").unwrap();
        let list = imgs.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].names.len(), 2);
        assert!(list[0].record.size > 1_000_000, "busybox is over 1 MB");
        // removing by ID with two names needs force
        let e = imgs.remove(&id.hex()[..12], false).unwrap_err().to_string();
        assert!(e.contains("must be forced"), "{e}");
        // removing one name only untags
        assert_eq!(
            imgs.remove("localhost:5000/bb:v1", false).unwrap(),
            vec![Removed::Untagged("localhost:5000/bb:v1".into())]
        );
        let dirs = imgs.layer_dirs(&id).unwrap();
        assert!(dirs[0].join("bin/busybox").exists());
        // the last name deletes the image, its blobs and snapshot
        let out = imgs.remove("busybox:imp", false).unwrap();
        assert_eq!(
            out,
            vec![
                Removed::Untagged("busybox:imp".into()),
                Removed::Deleted(id.clone())
            ]
        );
        assert!(imgs.list().unwrap().is_empty());
        assert!(imgs.store.list().unwrap().is_empty());
        assert!(imgs.snapshots.list().unwrap().is_empty());
        let e = imgs.inspect("busybox:imp").unwrap_err().to_string();
        assert_eq!(e, "No such image: busybox:imp");
    }

    #[test]
    fn prune_removes_dangling_images_and_unreferenced_blobs() {
        let d = tempfile::tempdir().unwrap();
        let tar = busybox_tar(d.path());
        let mut imgs = Images::open(&d.path().join("root")).unwrap();
        let id = imgs
            .import(
                std::fs::File::open(&tar).unwrap(),
                None,
                &ImportOptions::default(),
            )
            .unwrap();
        let stray = imgs.store.put_bytes(b"nobody refers to me").unwrap();
        let kept = imgs
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("kept"),
                &ImportOptions {
                    comment: Some("other config".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let (removed, reclaimed) = imgs.prune(false).unwrap();
        assert_eq!(removed, vec![id]);
        assert!(reclaimed > 0);
        assert!(!imgs.store.exists(&stray).unwrap());
        // the named image still has all it needs (it shares the layer)
        assert!(imgs.layer_dirs(&kept).unwrap()[0]
            .join("bin/busybox")
            .exists());
        let (_, hist) = imgs.history("kept").unwrap();
        assert_eq!(hist.len(), 1);
        assert_eq!(hist[0].comment, "other config");
        assert!(hist[0].size > 1_000_000);
    }

    #[test]
    fn inspect_has_docker_fields() {
        let d = tempfile::tempdir().unwrap();
        let tar = busybox_tar(d.path());
        let mut imgs = Images::open(&d.path().join("root")).unwrap();
        let id = imgs
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("bb"),
                &ImportOptions::default(),
            )
            .unwrap();
        let v = imgs.inspect("bb").unwrap();
        assert_eq!(v["Id"], serde_json::json!(id.to_string()));
        assert_eq!(v["RepoTags"], serde_json::json!(["bb:latest"]));
        assert_eq!(v["Os"], serde_json::json!("linux"));
        assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    }
}
