//! `save` and `load`: images to and from tar archives, in Docker's format
//! (`docker-archive`: manifest.json, config, uncompressed layer tars) and the
//! OCI image layout (`oci-archive`: oci-layout, index.json, blobs/).
//!
//! `load` first unpacks the archive with the layer unpacker (so a hostile
//! archive cannot write outside its temp directory), then checks every digest
//! while it moves blobs into the store; the catalog is written last.

use crate::catalog::ImageRecord;
use crate::digest::{Digest, DigestReader};
use crate::layer::{self, Compression, UnpackOptions};
use crate::manifest::{
    layer_compression, Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform, OCI_CONFIG,
    OCI_INDEX, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP, OCI_LAYER_TAR_ZSTD, OCI_MANIFEST,
};
use crate::reference::Reference;
use crate::service::{familiar, Images, ImagesError};
use crate::snapshot::{chain_ids, CreateError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Images(#[from] ImagesError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("{0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("{0}")]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error("archive: {0}")]
    Layer(#[from] layer::LayerError),
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("archive is neither a docker-archive (manifest.json) nor an oci-archive (index.json)")]
    UnknownFormat,
    #[error("archive: {0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, ArchiveError>;

fn io(
    op: &'static str,
    path: impl std::fmt::Display,
) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_string();
    move |err| ArchiveError::Io { op, path, err }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        match s {
            "docker-archive" | "docker" => Ok(Format::DockerArchive),
            "oci-archive" | "oci" => Ok(Format::OciArchive),
            other => Err(format!(
                "unknown archive format {other:?} (docker-archive or oci-archive)"
            )),
        }
    }
}

fn append(b: &mut tar::Builder<impl Write>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, data)
        .map_err(io("writing archive entry", name))
}

/// Write `images` (names or IDs) to `out` as one archive.
pub fn save(images: &Images, what: &[String], format: Format, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let mut docker_manifest = Vec::new();
    let mut index = ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: Default::default(),
    };
    let mut written = std::collections::HashSet::new();
    for w in what {
        let id = images.resolve(w)?;
        let rec = images
            .catalog
            .get(&id)?
            .ok_or_else(|| ImagesError::NoSuchImage(w.clone()))?;
        let (manifest, config) = images.load(&rec)?;
        // Names to record: the one asked for if it is a name, else all of the image's.
        let names: Vec<String> = match Reference::parse(w) {
            Ok(r) if images.catalog.resolve_name(&r.to_string())?.as_ref() == Some(&id) => {
                vec![r.to_string()]
            }
            _ => images.catalog.names_of(&id)?,
        };
        match format {
            Format::DockerArchive => {
                let cfg_name = format!("{}.json", id.hex());
                if written.insert(cfg_name.clone()) {
                    let bytes = images.store.read_to_vec(&id, 16 << 20)?;
                    append(&mut b, &cfg_name, &bytes)?;
                }
                let mut layers = Vec::new();
                for (l, diff) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
                    let name = format!("{}/layer.tar", diff.hex());
                    if written.insert(name.clone()) {
                        write_uncompressed_layer(images, &mut b, l, &name)?;
                    }
                    layers.push(name);
                }
                docker_manifest.push(serde_json::json!({
                    "Config": cfg_name,
                    "RepoTags": names.iter().map(|n| familiar(n)).collect::<Vec<_>>(),
                    "Layers": layers,
                }));
            }
            Format::OciArchive => {
                let mut blobs = vec![rec.manifest.clone(), manifest.config.digest.clone()];
                blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
                for d in blobs {
                    let name = format!("blobs/sha256/{}", d.hex());
                    if written.insert(name.clone()) {
                        let path = images.store.blob_path(&d);
                        let mut f =
                            std::fs::File::open(&path).map_err(io("opening", path.display()))?;
                        let size = f.metadata().map_err(io("stat", path.display()))?.len();
                        let mut h = tar::Header::new_ustar();
                        h.set_size(size);
                        h.set_mode(0o644);
                        h.set_mtime(0);
                        h.set_cksum();
                        b.append_data(&mut h, &name, &mut f)
                            .map_err(io("writing archive entry", &name))?;
                    }
                }
                let size = images.store.size(&rec.manifest)?;
                let mut desc =
                    Descriptor::new(rec.manifest_media_type.clone(), rec.manifest.clone(), size);
                for n in &names {
                    let mut d = desc.clone();
                    d.annotations
                        .insert("io.containerd.image.name".into(), n.clone());
                    if let Ok(r) = Reference::parse(n) {
                        d.annotations.insert(
                            "org.opencontainers.image.ref.name".into(),
                            r.tag_or_latest().to_string(),
                        );
                    }
                    index.manifests.push(d);
                }
                if names.is_empty() {
                    desc.annotations.clear();
                    index.manifests.push(desc);
                }
            }
        }
    }
    match format {
        Format::DockerArchive => {
            append(
                &mut b,
                "manifest.json",
                &serde_json::to_vec(&docker_manifest).expect("json"),
            )?;
        }
        Format::OciArchive => {
            append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            append(
                &mut b,
                "index.json",
                &serde_json::to_vec(&index).expect("json"),
            )?;
        }
    }
    b.finish().map_err(io("finishing", "archive"))?;
    Ok(())
}

fn write_uncompressed_layer(
    images: &Images,
    b: &mut tar::Builder<impl Write>,
    l: &Descriptor,
    name: &str,
) -> Result<()> {
    let path = images.store.blob_path(&l.digest);
    // The decompressed size is needed up front for the tar header.
    let open = || -> Result<Box<dyn Read>> {
        let f = std::fs::File::open(&path).map_err(io("opening", path.display()))?;
        Ok(match layer_compression(&l.media_type) {
            Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(f)),
            Some(Compression::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(f).map_err(io("reading", path.display()))?,
            ),
            _ => Box::new(f),
        })
    };
    let size =
        std::io::copy(&mut open()?, &mut std::io::sink()).map_err(io("reading", path.display()))?;
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, open()?)
        .map_err(io("writing archive entry", name))
}

/// What `load` added: (names, image ID) per image.
pub type Loaded = Vec<(Vec<String>, Digest)>;

/// Read an archive (either format) from `input` into the store.
pub fn load(images: &mut Images, input: impl Read) -> Result<Loaded> {
    let tmp = images
        .root()
        .join(format!("tmp-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io("creating", tmp.display()))?;
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(tmp.clone());
    layer::unpack(input, None, &tmp, &UnpackOptions::default())?;
    if tmp.join("manifest.json").is_file() {
        load_docker(images, &tmp)
    } else if tmp.join("index.json").is_file() {
        load_oci(images, &tmp)
    } else {
        Err(ArchiveError::UnknownFormat)
    }
}

/// A path inside the unpacked archive, refusing anything that leaves it.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(ArchiveError::Invalid(format!(
            "path {rel:?} leaves the archive"
        )));
    }
    Ok(dir.join(p))
}

fn read_small(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(io("opening", path.display()))?;
    let mut v = Vec::new();
    f.take(16 << 20)
        .read_to_end(&mut v)
        .map_err(io("reading", path.display()))?;
    Ok(v)
}

/// Store a layer file and unpack it into its snapshot; returns its descriptor.
fn add_layer(images: &Images, file: &Path, diff_id: &Digest, chain: &Digest) -> Result<Descriptor> {
    let f = std::fs::File::open(file).map_err(io("opening", file.display()))?;
    let (digest, size) = images.store.ingest(f, None, None)?;
    match unpack_layer(images, &digest, diff_id, chain) {
        Ok(compression) => {
            let media_type = match compression {
                Compression::None => OCI_LAYER_TAR,
                Compression::Gzip => OCI_LAYER_TAR_GZIP,
                Compression::Zstd => OCI_LAYER_TAR_ZSTD,
            };
            Ok(Descriptor::new(media_type, digest, size))
        }
        Err(e) => {
            // A layer that does not unpack (or lies about its diff id) is kept nowhere.
            let _ = images.store.delete(&digest);
            Err(e)
        }
    }
}

/// Unpack the stored layer blob `digest` into the snapshot `chain` (unless
/// it is there), checking that its content is `diff_id`; its compression.
pub fn unpack_layer(
    images: &Images,
    digest: &Digest,
    diff_id: &Digest,
    chain: &Digest,
) -> Result<Compression> {
    let mut head = [0u8; layer::DETECT_LEN];
    {
        let mut f = images.store.open_blob(digest)?;
        let n = f
            .read(&mut head)
            .map_err(io("reading", images.store.blob_path(digest).display()))?;
        head[n..].fill(0);
    }
    let compression = layer::detect(&head);
    if images.snapshots.exists(chain) {
        return Ok(compression);
    }
    let blob = images.store.open_blob(digest)?;
    let made = images.snapshots.create(chain, |dir| -> Result<()> {
        let u = layer::unpack(blob, Some(compression), dir, &UnpackOptions::default())?;
        if u.diff_id != diff_id.to_string() {
            return Err(ArchiveError::Invalid(format!(
                "layer {digest} has diff id {}, its config says {diff_id}",
                u.diff_id
            )));
        }
        Ok(())
    });
    match made {
        Ok(_) => Ok(compression),
        Err(CreateError::Snapshot(s)) => Err(s.into()),
        Err(CreateError::Fill(e)) => Err(e),
    }
}

fn load_docker(images: &mut Images, dir: &Path) -> Result<Loaded> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let entries: Vec<Entry> = serde_json::from_slice(&read_small(&dir.join("manifest.json"))?)
        .map_err(|e| ArchiveError::Invalid(format!("manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let cfg_bytes = read_small(&inside(dir, &e.config)?)?;
        let config = ImageConfig::from_json(&cfg_bytes)?;
        if config.rootfs.diff_ids.len() != e.layers.len() {
            return Err(ArchiveError::Invalid(format!(
                "{}: {} layers for {} diff ids",
                e.config,
                e.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut layers = Vec::new();
        for (i, l) in e.layers.iter().enumerate() {
            layers.push(add_layer(
                images,
                &inside(dir, l)?,
                &config.rootfs.diff_ids[i],
                &chains[i],
            )?);
        }
        let config_digest = images.store.put_bytes(&cfg_bytes)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::new(OCI_CONFIG, config_digest.clone(), cfg_bytes.len() as u64),
            layers,
            subject: None,
            annotations: Default::default(),
        };
        let mbytes = serde_json::to_vec(&manifest).expect("json");
        let mdigest = images.store.put_bytes(&mbytes)?;
        let names = normalize(e.repo_tags.unwrap_or_default())?;
        record(
            images,
            &config_digest,
            &mdigest,
            OCI_MANIFEST,
            &config,
            &chains,
            &names,
        )?;
        out.push((names, config_digest));
    }
    Ok(out)
}

fn normalize(names: Vec<String>) -> Result<Vec<String>> {
    names
        .into_iter()
        .map(|n| {
            Reference::parse(&n)
                .map(|r| r.to_string())
                .map_err(|e| ArchiveError::Invalid(format!("image name in archive: {e}")))
        })
        .collect()
}

fn record(
    images: &mut Images,
    id: &Digest,
    manifest: &Digest,
    media_type: &str,
    config: &ImageConfig,
    chains: &[Digest],
    names: &[String],
) -> Result<()> {
    let size = chains
        .iter()
        .map(|c| crate::service::dir_size(&images.snapshots.path(c)))
        .sum();
    let rec = ImageRecord {
        id: id.clone(),
        manifest: manifest.clone(),
        manifest_media_type: media_type.into(),
        size,
        created: config.created.clone().unwrap_or_default(),
    };
    images.catalog.add(&rec, names)?;
    Ok(())
}

/// Copy a blob of the layout into the store, checking its digest and size.
fn copy_blob(images: &Images, dir: &Path, d: &Descriptor) -> Result<()> {
    let path = inside(
        dir,
        &format!("blobs/{}/{}", d.digest.algorithm().as_str(), d.digest.hex()),
    )?;
    let f = std::fs::File::open(&path).map_err(io("opening", path.display()))?;
    images.store.ingest(f, Some(&d.digest), Some(d.size))?;
    Ok(())
}

fn load_oci(images: &mut Images, dir: &Path) -> Result<Loaded> {
    let index = ImageIndex::from_json(&read_small(&dir.join("index.json"))?)?;
    let platform = Platform::host();
    let mut out = Vec::new();
    for desc in &index.manifests {
        copy_blob(images, dir, desc)?;
        let mbytes = images.store.read_to_vec(&desc.digest, 4 << 20)?;
        // A nested index: take this platform's manifest.
        let (mdesc, mbytes) = if desc.media_type == OCI_INDEX {
            let inner = ImageIndex::from_json(&mbytes)?;
            let d = crate::manifest::select_manifest(&inner, &platform)?.clone();
            copy_blob(images, dir, &d)?;
            let b = images.store.read_to_vec(&d.digest, 4 << 20)?;
            (d, b)
        } else {
            (desc.clone(), mbytes)
        };
        let manifest = ImageManifest::from_json(&mbytes)?;
        copy_blob(images, dir, &manifest.config)?;
        let cfg_bytes = images
            .store
            .read_to_vec(&manifest.config.digest, 16 << 20)?;
        let config = ImageConfig::from_json(&cfg_bytes)?;
        let chains = chain_ids(&config.rootfs.diff_ids);
        if chains.len() != manifest.layers.len() {
            return Err(ArchiveError::Invalid(format!(
                "manifest {} has {} layers for {} diff ids",
                mdesc.digest,
                manifest.layers.len(),
                chains.len()
            )));
        }
        for (i, l) in manifest.layers.iter().enumerate() {
            copy_blob(images, dir, l)?;
            let compression = layer_compression(&l.media_type).ok_or_else(|| {
                ArchiveError::Invalid(format!("layer {}: media type {}", l.digest, l.media_type))
            })?;
            let blob = images.store.open_blob(&l.digest)?;
            let want = config.rootfs.diff_ids[i].clone();
            let made = images.snapshots.create(&chains[i], |d| -> Result<()> {
                let mut r = DigestReader::new(blob);
                let u = layer::unpack(&mut r, Some(compression), d, &UnpackOptions::default())?;
                if u.diff_id != want.to_string() {
                    return Err(ArchiveError::Invalid(format!(
                        "layer {} has diff id {}, its config says {want}",
                        l.digest, u.diff_id
                    )));
                }
                Ok(())
            });
            match made {
                Ok(_) => {}
                Err(CreateError::Snapshot(s)) => return Err(s.into()),
                Err(CreateError::Fill(e)) => return Err(e),
            }
        }
        let name = desc
            .annotations
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| {
                desc.annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains('/') || n.contains(':'))
                    .cloned()
            });
        let names = normalize(name.into_iter().collect())?;
        let media_type = mdesc.media_type.clone();
        record(
            images,
            &manifest.config.digest,
            &mdesc.digest,
            &media_type,
            &config,
            &chains,
            &names,
        )?;
        out.push((names, manifest.config.digest.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::ImportOptions;

    fn source(d: &Path) -> (Images, Digest) {
        let rootfs = d.join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = d.join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let mut imgs = Images::open(&d.join("src")).unwrap();
        let id = imgs
            .import(
                std::fs::File::open(&tar).unwrap(),
                Some("busybox:saved"),
                &ImportOptions::default(),
            )
            .unwrap();
        (imgs, id)
    }

    #[test]
    fn round_trip_in_both_formats() {
        let d = tempfile::tempdir().unwrap();
        let (src, id) = source(d.path());
        for (i, format) in [Format::DockerArchive, Format::OciArchive]
            .into_iter()
            .enumerate()
        {
            let mut buf = Vec::new();
            save(&src, &["busybox:saved".into()], format, &mut buf).unwrap();
            let mut dst = Images::open(&d.path().join(format!("dst{i}"))).unwrap();
            let loaded = load(&mut dst, &buf[..]).unwrap();
            assert_eq!(
                loaded,
                vec![(
                    vec!["docker.io/library/busybox:saved".to_string()],
                    id.clone()
                )],
                "{format:?}"
            );
            let dirs = dst.layer_dirs(&id).unwrap();
            assert!(dirs[0].join("bin/busybox").is_file());
            assert_eq!(dst.resolve("busybox:saved").unwrap(), id);
        }
    }

    #[test]
    fn junk_and_lying_archives_are_refused_and_leave_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut dst = Images::open(&d.path().join("dst")).unwrap();
        // not an archive at all
        assert!(load(&mut dst, &b"hello"[..]).is_err());
        // a docker-archive whose layer does not match its config
        let mut b = tar::Builder::new(Vec::new());
        let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
        append(&mut b, "c.json", cfg).unwrap();
        let mut layer = tar::Builder::new(Vec::new());
        append(&mut layer, "f", b"x").unwrap();
        append(&mut b, "l/layer.tar", &layer.into_inner().unwrap()).unwrap();
        append(
            &mut b,
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":["x:y"],"Layers":["l/layer.tar"]}]"#,
        )
        .unwrap();
        let e = load(&mut dst, &b.into_inner().unwrap()[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("diff id"), "{e}");
        assert!(dst.list().unwrap().is_empty());
        assert!(dst.snapshots.list().unwrap().is_empty());
        assert!(dst.store.list().unwrap().is_empty());
        // a manifest.json pointing outside the archive
        let mut b = tar::Builder::new(Vec::new());
        append(
            &mut b,
            "manifest.json",
            br#"[{"Config":"../../etc/passwd","Layers":[]}]"#,
        )
        .unwrap();
        let e = load(&mut dst, &b.into_inner().unwrap()[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("leaves the archive"), "{e}");
    }
}
