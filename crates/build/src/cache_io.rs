//! The build cache beyond one store (`--cache-to`, `--cache-from`): cache
//! entries written as an OCI image manifest whose config lists the steps'
//! keys and states and whose layers are the blobs those states hold. A
//! directory in the OCI image layout (`type=local`) and a manifest in a
//! registry (`type=registry`, carried by the engine) hold the same thing,
//! so a CI machine reuses a cache another one pushed.
//!
//! An imported entry is used only when the store has no entry of its own
//! for the step; its blobs are fetched then (only those the store lacks),
//! checked against their digests and unpacked into snapshots, and the entry
//! becomes the store's.

use crate::error::{BuildError, Result};
use crate::state::State;
use serde::{Deserialize, Serialize};
use skiff_image::digest::Digest;
use skiff_image::manifest::{Descriptor, ImageIndex, ImageManifest, OCI_INDEX, OCI_MANIFEST};
use skiff_image::service::Images;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The media type of the cache's config blob.
pub const CACHE_CONFIG: &str = "application/vnd.skiff.build.cache.config.v1+json";

/// The config blob: every exported step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CacheConfig {
    pub entries: Vec<CacheRecord>,
}

/// One step: its key, the image state after it, its layer's size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    pub key: String,
    pub state: State,
    pub size: u64,
}

/// Where an imported cache's blobs come from.
pub trait BlobSource: Send + Sync {
    /// Write blob `d` to `out`.
    fn copy(&self, d: &Descriptor, out: &mut dyn Write) -> std::result::Result<(), String>;
}

/// A cache to take steps from (`--cache-from`).
pub struct Imported {
    /// What it is, for messages (`type=local,src=DIR`).
    pub name: String,
    entries: HashMap<String, CacheRecord>,
    source: Box<dyn BlobSource>,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("name", &self.name)
            .field("entries", &self.entries.len())
            .finish()
    }
}

fn invalid(name: &str, what: impl std::fmt::Display) -> BuildError {
    BuildError::Cache(format!("{name}: {what}"))
}

/// The manifest of an exported cache: `manifest_bytes` names `config`.
pub fn parse_manifest(name: &str, bytes: &[u8]) -> Result<ImageManifest> {
    let m: ImageManifest =
        serde_json::from_slice(bytes).map_err(|e| invalid(name, format!("manifest: {e}")))?;
    if m.config.media_type != CACHE_CONFIG {
        return Err(invalid(
            name,
            format!(
                "not a build cache (its config is {:?}, not {CACHE_CONFIG})",
                m.config.media_type
            ),
        ));
    }
    Ok(m)
}

impl Imported {
    /// A cache whose config blob is `config` (checked against the
    /// manifest's descriptor) and whose blobs come from `source`.
    pub fn new(
        name: String,
        manifest: &ImageManifest,
        config: &[u8],
        source: Box<dyn BlobSource>,
    ) -> Result<Imported> {
        if Digest::of(config) != manifest.config.digest {
            return Err(invalid(&name, "its config does not match its digest"));
        }
        let c: CacheConfig =
            serde_json::from_slice(config).map_err(|e| invalid(&name, format!("config: {e}")))?;
        // Only blobs the manifest lists may be fetched.
        let listed: std::collections::HashSet<&Digest> =
            manifest.layers.iter().map(|l| &l.digest).collect();
        for r in &c.entries {
            if r.state.layers.len() != r.state.config.rootfs.diff_ids.len() {
                return Err(invalid(
                    &name,
                    format!("entry {}: layers and diff ids differ", r.key),
                ));
            }
            if let Some(l) = r.state.layers.iter().find(|l| !listed.contains(&l.digest)) {
                return Err(invalid(
                    &name,
                    format!("entry {}: blob {} is not in it", r.key, l.digest),
                ));
            }
        }
        Ok(Imported {
            name,
            entries: c.entries.into_iter().map(|r| (r.key.clone(), r)).collect(),
            source,
        })
    }

    /// A directory in the OCI image layout (`type=local,src=DIR`); None when
    /// it holds no cache yet (`index.json` is missing).
    pub fn from_layout(dir: &Path) -> Result<Option<Imported>> {
        let name = format!("type=local,src={}", dir.display());
        let index = match std::fs::read(dir.join("index.json")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(invalid(&name, format!("index.json: {e}"))),
        };
        let index: ImageIndex = serde_json::from_slice(&index)
            .map_err(|e| invalid(&name, format!("index.json: {e}")))?;
        let m = index
            .manifests
            .first()
            .ok_or_else(|| invalid(&name, "index.json lists no manifest"))?;
        let source = Layout(dir.to_path_buf());
        let read = |d: &Descriptor| -> Result<Vec<u8>> {
            if d.size > 64 << 20 {
                return Err(invalid(&name, format!("blob {} is too large", d.digest)));
            }
            let mut v = Vec::new();
            source.copy(d, &mut v).map_err(|e| invalid(&name, e))?;
            Ok(v)
        };
        let manifest = parse_manifest(&name, &read(m)?)?;
        let config = read(&manifest.config)?;
        Imported::new(name.clone(), &manifest, &config, Box::new(source)).map(Some)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state after step `key`, its blobs and snapshots made present in
    /// `images`; None when this cache lacks the step.
    pub fn take(&self, images: &Images, key: &str) -> Result<Option<(State, u64)>> {
        let Some(r) = self.entries.get(key) else {
            return Ok(None);
        };
        let chains = r.state.chains();
        for (i, l) in r.state.layers.iter().enumerate() {
            if !images.store.exists(&l.digest)? {
                let mut w = images.store.writer(Some(&l.digest), Some(l.size))?;
                let mut sink = WriterSink(&mut w, None);
                let copied = self.source.copy(l, &mut sink);
                if let Some(e) = sink.1 {
                    return Err(invalid(&self.name, format!("blob {}: {e}", l.digest)));
                }
                copied.map_err(|e| invalid(&self.name, format!("blob {}: {e}", l.digest)))?;
                w.commit()
                    .map_err(|e| invalid(&self.name, format!("blob {}: {e}", l.digest)))?;
            }
            skiff_image::archive::unpack_layer(
                images,
                &l.digest,
                &r.state.config.rootfs.diff_ids[i],
                &chains[i],
            )
            .map_err(|e| invalid(&self.name, format!("layer {}: {e}", l.digest)))?;
        }
        Ok(Some((r.state.clone(), r.size)))
    }
}

/// A store's ingest writer as an `io::Write` (its error kept aside).
struct WriterSink<'a>(
    &'a mut skiff_image::store::IngestWriter,
    Option<skiff_image::store::StoreError>,
);

impl Write for WriterSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.push(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let msg = e.to_string();
                self.1 = Some(e);
                Err(std::io::Error::other(msg))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Blobs of an OCI image layout directory.
struct Layout(PathBuf);

impl Layout {
    fn blob(&self, d: &Digest) -> PathBuf {
        self.0
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }
}

impl BlobSource for Layout {
    fn copy(&self, d: &Descriptor, out: &mut dyn Write) -> std::result::Result<(), String> {
        let path = self.blob(&d.digest);
        let f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // One byte past the declared size is enough to tell a lie.
        std::io::copy(&mut f.take(d.size + 1), out)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A cache to write (`--cache-to`): its manifest, config and the blobs
/// its layers name (in the store).
#[derive(Debug, Clone)]
pub struct Exported {
    pub manifest: ImageManifest,
    pub manifest_bytes: Vec<u8>,
    pub config: Vec<u8>,
}

/// The cache entries `keys` of `images`, as a cache to write. Keys the
/// store has no (complete) entry for are left out.
pub fn export(images: &Images, keys: &[String]) -> Result<Exported> {
    let mut entries = Vec::new();
    let mut blobs: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !seen.insert(k) {
            continue;
        }
        let Some(e) = images.catalog.cache_get(k)? else {
            continue;
        };
        let Ok(state) = serde_json::from_str::<State>(&e.state) else {
            continue;
        };
        if !state.complete(images) {
            continue;
        }
        for l in &state.layers {
            blobs.entry(l.digest.clone()).or_insert_with(|| l.clone());
        }
        entries.push(CacheRecord {
            key: k.clone(),
            state,
            size: e.size,
        });
    }
    let config = serde_json::to_vec(&CacheConfig { entries }).expect("a cache config serializes");
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(CACHE_CONFIG, Digest::of(&config), config.len() as u64),
        layers: blobs.into_values().collect(),
        subject: None,
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    Ok(Exported {
        manifest,
        manifest_bytes,
        config,
    })
}

/// Write `e` into the OCI image layout directory `dir` (`type=local`):
/// the blobs it lacks, then `index.json` naming the new manifest, replaced
/// in one rename (a reader sees the old cache or the new one).
pub fn write_layout(images: &Images, e: &Exported, dir: &Path) -> Result<()> {
    let name = format!("type=local,dest={}", dir.display());
    let fail = |what: &str, p: &Path, err: std::io::Error| {
        invalid(&name, format!("{what} {}: {err}", p.display()))
    };
    let layout = Layout(dir.to_path_buf());
    let put =
        |d: &Digest, write: &dyn Fn(&mut std::fs::File) -> std::io::Result<()>| -> Result<()> {
            let path = layout.blob(d);
            if path.exists() {
                return Ok(());
            }
            let parent = path.parent().expect("a blob path has a parent");
            std::fs::create_dir_all(parent).map_err(|err| fail("creating", parent, err))?;
            let tmp = parent.join(format!(".tmp-{}-{}", d.hex(), std::process::id()));
            let written = std::fs::File::create(&tmp)
                .and_then(|mut f| write(&mut f).and_then(|()| f.sync_all()))
                .and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(err) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(fail("writing", &path, err));
            }
            Ok(())
        };
    for l in &e.manifest.layers {
        put(&l.digest, &|f| {
            let mut src = images
                .store
                .open_blob(&l.digest)
                .map_err(std::io::Error::other)?;
            std::io::copy(&mut src, f).map(|_| ())
        })?;
    }
    put(&e.manifest.config.digest, &|f| f.write_all(&e.config))?;
    let mdigest = Digest::of(&e.manifest_bytes);
    put(&mdigest, &|f| f.write_all(&e.manifest_bytes))?;
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        artifact_type: None,
        manifests: vec![Descriptor::new(
            OCI_MANIFEST,
            mdigest,
            e.manifest_bytes.len() as u64,
        )],
        subject: None,
        annotations: Default::default(),
    };
    let files = [
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        (
            "index.json",
            serde_json::to_vec(&index).expect("an index serializes"),
        ),
    ];
    for (file, bytes) in files {
        let path = dir.join(file);
        let tmp = dir.join(format!(".tmp-{file}-{}", std::process::id()));
        let written = std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail("writing", &path, err));
        }
    }
    Ok(())
}
