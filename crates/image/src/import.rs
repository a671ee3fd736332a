//! `import`: a root filesystem tarball becomes a one-layer image.
//!
//! The tarball streams once through a hash (the layer's diff id) and a gzip
//! encoder into the blob store; the stored layer is then unpacked into its
//! snapshot, and a config and an OCI manifest are written next to it.

use crate::digest::{Digest, DigestReader};
use crate::layer::{self, Compression, UnpackOptions};
use crate::manifest::{
    ContainerConfig, Descriptor, History, ImageConfig, ImageManifest, Platform, RootFs,
    OCI_LAYER_TAR_GZIP,
};
use crate::snapshot::{chain_ids, CreateError, Snapshots};
use crate::store::Store;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("import: reading the tarball: {0}")]
    Read(std::io::Error),
    #[error("import: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("import: {0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("import: the tarball is not a valid layer: {0}")]
    Layer(#[from] layer::LayerError),
    #[error("import: unpacked layer has diff id {got}, expected {want}")]
    DiffId { want: Digest, got: String },
}

/// What the new image is made of.
#[derive(Debug, Clone)]
pub struct Imported {
    pub manifest: Digest,
    pub manifest_size: u64,
    pub config: Digest,
    pub layer: Digest,
    pub diff_id: Digest,
    pub chain_id: Digest,
    /// The snapshot directory (an overlay lower dir).
    pub snapshot: PathBuf,
}

/// Options of an import: the container defaults and history entry of the image.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub config: ContainerConfig,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    pub comment: Option<String>,
}

/// A layer stored and unpacked: what `import` and `commit` build on.
struct StoredLayer {
    digest: Digest,
    size: u64,
    diff_id: Digest,
    chain_id: Digest,
    snapshot: PathBuf,
}

/// Stream the uncompressed layer tar `tar` once through a hash (its diff ID)
/// and gzip into the store, then unpack it into the snapshot of its chain
/// (`parents`: the diff IDs below it; `lower`: their snapshots, topmost
/// first). A layer that does not unpack leaves no blob behind.
fn store_layer(
    store: &Store,
    snapshots: &Snapshots,
    tar: impl Read,
    parents: &[Digest],
    lower: Vec<PathBuf>,
) -> Result<StoredLayer, ImportError> {
    let mut input = DigestReader::new(tar);
    let writer = store.writer(None, None)?;
    let mut gz = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
    std::io::copy(&mut input, &mut gz).map_err(ImportError::Read)?;
    let writer = gz.finish().map_err(ImportError::Read)?;
    let (digest, size) = writer.commit()?;
    let (_, diff_id, _) = input.finish();

    let mut diff_ids = parents.to_vec();
    diff_ids.push(diff_id.clone());
    let chain_id = chain_ids(&diff_ids).pop().expect("a layer");
    let blob = store.open_blob(&digest)?;
    let unpack_opts = UnpackOptions {
        expected_blob_digest: Some(digest.to_string()),
        lower_dirs: lower,
        ..Default::default()
    };
    let snapshot = snapshots
        .create(&chain_id, |dir| -> Result<(), ImportError> {
            let u = layer::unpack(blob, Some(Compression::Gzip), dir, &unpack_opts)?;
            if u.diff_id != diff_id.to_string() {
                return Err(ImportError::DiffId {
                    want: diff_id.clone(),
                    got: u.diff_id,
                });
            }
            Ok(())
        })
        .map_err(|e| match e {
            CreateError::Snapshot(s) => ImportError::Snapshot(s),
            CreateError::Fill(f) => f,
        });
    match snapshot {
        Ok(snapshot) => Ok(StoredLayer {
            digest,
            size,
            diff_id,
            chain_id,
            snapshot,
        }),
        Err(e) => {
            // A blob that does not unpack is no layer of any image: drop it.
            let _ = store.delete(&digest);
            Err(e)
        }
    }
}

/// Import an uncompressed tar stream of a root filesystem.
pub fn import_tar(
    store: &Store,
    snapshots: &Snapshots,
    tar: impl Read,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    let top = store_layer(store, snapshots, tar, &[], Vec::new())?;

    let platform = Platform::host();
    let history = History {
        created: opts.created.clone(),
        created_by: Some("skiff import".into()),
        comment: opts.comment.clone(),
        ..Default::default()
    };
    let config = ImageConfig {
        created: opts.created.clone(),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: Some(opts.config.clone()),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![top.diff_id.clone()],
        },
        history: vec![history],
        ..Default::default()
    };
    store_image(store, &config, Vec::new(), top)
}

/// Store `config` and the manifest of `layers` plus the new layer `top`.
fn store_image(
    store: &Store,
    config: &ImageConfig,
    mut layers: Vec<Descriptor>,
    top: StoredLayer,
) -> Result<Imported, ImportError> {
    layers.push(Descriptor::new(
        OCI_LAYER_TAR_GZIP,
        top.digest.clone(),
        top.size,
    ));
    let (config_digest, manifest_digest, manifest_size) =
        crate::built::store_config_and_manifest(store, config, layers)?;
    Ok(Imported {
        manifest: manifest_digest,
        manifest_size,
        config: config_digest,
        layer: top.digest,
        diff_id: top.diff_id,
        chain_id: top.chain_id,
        snapshot: top.snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_rootfs_becomes_an_image() {
        let d = tempfile::tempdir().unwrap();
        let rootfs = d.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tarball = d.path().join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tarball);
        let store = Store::open(d.path().join("store")).unwrap();
        let snaps = Snapshots::open(d.path().join("snapshots")).unwrap();
        let opts = ImportOptions {
            config: ContainerConfig {
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let img = import_tar(
            &store,
            &snaps,
            std::fs::File::open(&tarball).unwrap(),
            &opts,
        )
        .unwrap();
        // diff id = sha256 of the tarball
        assert_eq!(
            img.diff_id.to_string(),
            skiff_testkit::sha256_digest(&tarball)
        );
        let m =
            ImageManifest::from_json(&store.read_to_vec(&img.manifest, 1 << 20).unwrap()).unwrap();
        assert_eq!(m.layers[0].digest, img.layer);
        let cfg: ImageConfig =
            serde_json::from_slice(&store.read_to_vec(&img.config, 1 << 20).unwrap()).unwrap();
        assert_eq!(cfg.rootfs.diff_ids, vec![img.diff_id.clone()]);
        assert_eq!(cfg.os, "linux");
        // the snapshot holds the unpacked rootfs with modes and links
        let bb = img.snapshot.join("bin/busybox");
        assert_eq!(
            std::fs::read(&bb).unwrap(),
            std::fs::read(rootfs.join("bin/busybox")).unwrap()
        );
        assert_eq!(
            std::fs::read_link(img.snapshot.join("bin/sh")).unwrap(),
            std::path::Path::new("busybox")
        );
        // importing the same tarball again reuses blob and snapshot
        let again = import_tar(
            &store,
            &snaps,
            std::fs::File::open(&tarball).unwrap(),
            &opts,
        )
        .unwrap();
        assert_eq!(again.chain_id, img.chain_id);
        assert_eq!(snaps.list().unwrap().len(), 1);
    }

    #[test]
    fn garbage_is_refused_and_leaves_no_snapshot() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path().join("store")).unwrap();
        let snaps = Snapshots::open(d.path().join("snapshots")).unwrap();
        let junk = vec![0x42u8; 10_000];
        let e = import_tar(&store, &snaps, &junk[..], &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("not a valid layer"), "{e}");
        assert!(snaps.list().unwrap().is_empty());
        assert!(
            store.list().unwrap().is_empty(),
            "the refused layer stayed in the store"
        );
    }
}

/// What `commit` puts on top of its parent image.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's container defaults.
    pub config: ContainerConfig,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// The history entry's `created_by` (the container's command).
    pub created_by: String,
    /// RFC 3339.
    pub created: String,
    /// The container's ID.
    pub container: Option<String>,
}

/// A new image: `parent`'s layers and one more, the uncompressed layer tar
/// `tar` (what a container changed). `lower` are the parent's snapshot
/// directories, topmost first.
pub fn commit_tar(
    store: &Store,
    snapshots: &Snapshots,
    parent: (&ImageManifest, &ImageConfig),
    lower: Vec<PathBuf>,
    tar: impl Read,
    opts: &CommitOptions,
) -> Result<Imported, ImportError> {
    let (pm, pc) = parent;
    let top = store_layer(store, snapshots, tar, &pc.rootfs.diff_ids, lower)?;
    let mut diff_ids = pc.rootfs.diff_ids.clone();
    diff_ids.push(top.diff_id.clone());
    let mut config = pc.clone();
    config.created = Some(opts.created.clone());
    config.author = opts.author.clone();
    config.config = Some(opts.config.clone());
    config.container = opts.container.clone();
    config.rootfs.diff_ids = diff_ids;
    config.history.push(History {
        created: Some(opts.created.clone()),
        created_by: Some(opts.created_by.clone()),
        author: opts.author.clone(),
        comment: opts.comment.clone(),
        ..Default::default()
    });
    // Docker's layer media types become their OCI names (the same bytes).
    let layers: Vec<Descriptor> = pm
        .layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if l.media_type == crate::manifest::DOCKER_LAYER_TAR_GZIP {
                l.media_type = OCI_LAYER_TAR_GZIP.into();
            }
            l
        })
        .collect();
    store_image(store, &config, layers, top)
}

/// An image config made of `--change` lines only (`import`).
pub fn config_from_changes(changes: &[String]) -> Result<crate::manifest::ContainerConfig, String> {
    let mut c = crate::manifest::ContainerConfig::default();
    apply_changes(&mut c, changes)?;
    Ok(c)
}

/// Apply `--change` lines to an image config (`import`, `commit`): the
/// Dockerfile instructions Docker takes there, CMD, ENTRYPOINT, ENV,
/// EXPOSE, LABEL, ONBUILD, USER, VOLUME and WORKDIR. A line may hold
/// several (one per line).
pub fn apply_changes(
    c: &mut crate::manifest::ContainerConfig,
    changes: &[String],
) -> Result<(), String> {
    for ch in changes
        .iter()
        .flat_map(|c| c.lines())
        .filter(|l| !l.trim().is_empty())
    {
        let (inst, rest) = ch
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((ch.trim(), ""));
        let rest = rest.trim();
        let bad = |why: &str| format!("--change {ch:?}: {why}");
        let json_list = || -> Option<Result<Vec<String>, String>> {
            rest.starts_with('[')
                .then(|| serde_json::from_str(rest).map_err(|e| bad(&e.to_string())))
        };
        let exec_or_shell = || -> Result<Vec<String>, String> {
            json_list().unwrap_or_else(|| Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()]))
        };
        let words = || -> Result<Vec<String>, String> {
            let w = split_words(rest).map_err(|e| bad(&e))?;
            if w.is_empty() {
                return Err(bad(&format!(
                    "{} requires at least one argument",
                    inst.to_ascii_uppercase()
                )));
            }
            Ok(w)
        };
        let pairs = |legacy_space: bool| -> Result<Vec<(String, String)>, String> {
            let w = words()?;
            if legacy_space && !w[0].contains('=') {
                // `ENV KEY value with spaces`
                let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                return Ok(vec![(k.to_string(), v.trim().to_string())]);
            }
            w.into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                    _ => Err(bad(&format!("{kv:?} is not KEY=value"))),
                })
                .collect()
        };
        match inst.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(exec_or_shell()?),
            "ENTRYPOINT" => c.entrypoint = Some(exec_or_shell()?),
            "ENV" => {
                for (k, v) in pairs(true)? {
                    c.env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    c.env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                for (k, v) in pairs(false)? {
                    c.labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                for p in words()? {
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    c.exposed_ports.insert(p, Default::default());
                }
            }
            "VOLUME" => {
                let v = match json_list() {
                    Some(l) => l?,
                    None => words()?,
                };
                for v in v {
                    c.volumes.insert(v, Default::default());
                }
            }
            "ONBUILD" => c
                .on_build
                .get_or_insert_with(Vec::new)
                .push(rest.to_string()),
            "WORKDIR" => c.working_dir = Some(rest.into()),
            "USER" => c.user = Some(rest.into()),
            other => return Err(format!("{other} is not a valid change command")),
        }
    }
    Ok(())
}

/// Words separated by spaces, double or single quotes keeping spaces in
/// (and removed), a backslash escaping the next character.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                quote = Some(ch);
                in_word = true;
            }
            (_, '\\') if quote != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unmatched quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod change_tests {
    #[test]
    fn changes_become_config_fields() {
        let c = super::config_from_changes(&[
            r#"CMD ["sh","-c","echo hi"]"#.into(),
            "ENTRYPOINT run.sh".into(),
            "ENV A 1".into(),
            "env B=2".into(),
            "WORKDIR /srv".into(),
            "USER nobody".into(),
        ])
        .unwrap();
        assert_eq!(c.cmd.unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "run.sh"]);
        assert_eq!(c.env, ["A=1", "B=2"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        let e = super::config_from_changes(&["RUN true".into()]).unwrap_err();
        assert_eq!(e, "RUN is not a valid change command");
    }

    #[test]
    fn docker_s_other_change_commands() {
        let mut c = super::config_from_changes(&["ENV A=1 B=2".into()]).unwrap();
        super::apply_changes(
            &mut c,
            &[
                "ENV A=3".into(),
                "EXPOSE 80 53/udp\nLABEL a=b \"c d\"='e f' g=\"h i\"".into(),
                "VOLUME /data /logs".into(),
                r#"VOLUME ["/j"]"#.into(),
                "ONBUILD RUN echo hi".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.env, ["B=2", "A=3"]);
        let ports: Vec<&str> = c.exposed_ports.keys().map(String::as_str).collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let labels: Vec<(&str, &str)> = c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(labels, [("a", "b"), ("c d", "e f"), ("g", "h i")]);
        let vols: Vec<&str> = c.volumes.keys().map(String::as_str).collect();
        assert_eq!(vols, ["/data", "/j", "/logs"]);
        assert_eq!(c.on_build.unwrap(), ["RUN echo hi"]);
        for bad in ["LABEL novalue", "EXPOSE", "LABEL a=\"open"] {
            assert!(super::config_from_changes(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
