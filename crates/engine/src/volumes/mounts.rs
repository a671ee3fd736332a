//! A container's mounts: the volumes its mount points name made at create,
//! the OCI mounts it starts with (an empty volume first filled with what
//! the image has at its target: Docker's copy-up), `inspect`'s `Mounts`,
//! and its anonymous volumes removed with it.

use super::parse::clean_target;
use crate::model::{Container, MountPoint};
use crate::{io_err, Engine, Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

impl Engine {
    /// Make the volumes a new container's mounts name (anonymous ones get a
    /// name now), and anonymous volumes for the image's VOLUMEs no mount
    /// covers. Returns the mounts to record and the volumes this call made
    /// (all of them are in `made` also when it fails).
    pub(crate) fn prepare_mounts(
        &self,
        mounts: &[MountPoint],
        image_volumes: &[String],
        made: &mut Vec<String>,
    ) -> Result<Vec<MountPoint>> {
        let mut out = Vec::new();
        let mut targets = std::collections::HashSet::new();
        for m in mounts {
            if !targets.insert(m.target.clone()) {
                return Err(Error::Invalid(format!(
                    "Duplicate mount point: {}",
                    m.target
                )));
            }
            let mut m = m.clone();
            match m.kind.as_str() {
                "volume" => {
                    let anonymous = m.source.is_empty();
                    let (v, new) = self.volume_make(
                        (!anonymous).then_some(m.source.as_str()),
                        BTreeMap::new(),
                        anonymous,
                    )?;
                    if new {
                        made.push(v.name.clone());
                    }
                    m.source = v.name;
                }
                "bind" => {
                    let p = Path::new(&m.source);
                    if !p.exists() {
                        if m.create_host_path {
                            // `-v /host/path:...`: made when the container
                            // starts, so a failed create leaves nothing.
                        } else {
                            return Err(Error::Invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                m.source
                            )));
                        }
                    }
                }
                _ => {}
            }
            out.push(m);
        }
        for t in image_volumes {
            let t = clean_target(t);
            if targets.contains(&t) {
                continue;
            }
            let (v, _) = self.volume_make(None, BTreeMap::new(), true)?;
            made.push(v.name.clone());
            out.push(MountPoint {
                kind: "volume".into(),
                source: v.name,
                target: t,
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// Remove the anonymous volumes of a removed container (`rm -v`, `--rm`).
    pub(crate) fn remove_anonymous_volumes(&self, c: &Container) {
        for m in c.host.mounts.iter().filter(|m| m.kind == "volume") {
            if let Ok(Some(v)) = self.volume_get(&m.source) {
                if v.anonymous
                    && self
                        .volume_users(&v.name)
                        .map(|u| u.is_empty())
                        .unwrap_or(false)
                {
                    let _ = self.volume_remove(&v.name, false);
                }
            }
        }
    }

    /// The OCI mounts for `c`'s mount points; empty volumes are first filled
    /// with what the image has at their target (Docker's copy-up).
    pub(crate) fn oci_mounts(&self, c: &Container, rootfs: &Path) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for m in &c.host.mounts {
            let mut opts: Vec<String> = Vec::new();
            let (typ, source) = match m.kind.as_str() {
                "tmpfs" => {
                    opts.extend(["nosuid", "nodev", "noexec"].map(String::from));
                    opts.extend(
                        m.options
                            .split(',')
                            .filter(|o| !o.is_empty())
                            .map(String::from),
                    );
                    ("tmpfs", "tmpfs".to_string())
                }
                "volume" => {
                    let data = self.volume_data(&m.source);
                    std::fs::create_dir_all(&data).map_err(io_err("creating", &data))?;
                    let data = if m.subpath.is_empty() {
                        copy_up(&rootfs.join(m.target.trim_start_matches('/')), &data)?;
                        data
                    } else {
                        volume_subpath(&data, &m.source, &m.subpath)?
                    };
                    opts.extend(["rbind", "rprivate"].map(String::from));
                    ("bind", data.display().to_string())
                }
                _ => {
                    let p = Path::new(&m.source);
                    if m.create_host_path && !p.exists() {
                        // `-v /host/path:...` makes it, as Docker does.
                        std::fs::create_dir_all(p).map_err(io_err("creating", p))?;
                    }
                    opts.extend(["rbind", "rprivate"].map(String::from));
                    ("bind", m.source.clone())
                }
            };
            if m.read_only {
                opts.push("ro".into());
            }
            out.push(
                json!({"destination": m.target, "type": typ, "source": source, "options": opts}),
            );
        }
        Ok(out)
    }

    /// Docker's `Mounts` of `inspect`.
    pub fn inspect_mounts(&self, c: &Container) -> Value {
        Value::Array(
            c.host
                .mounts
                .iter()
                // Docker lists a tmpfs from --mount, not one from --tmpfs.
                .filter(|m| m.kind != "tmpfs" || m.from_mount_flag)
                .map(|m| match m.kind.as_str() {
                    "tmpfs" => json!({
                        "Type": "tmpfs", "Source": "", "Destination": m.target,
                        "Mode": m.mode, "RW": !m.read_only, "Propagation": "",
                    }),
                    "volume" => json!({
                        "Type": "volume", "Name": m.source,
                        "Source": self.volume_data(&m.source),
                        "Destination": m.target, "Driver": "local", "Mode": m.mode,
                        "RW": !m.read_only, "Propagation": "",
                    }),
                    _ => json!({
                        "Type": "bind", "Source": m.source, "Destination": m.target,
                        "Mode": m.mode, "RW": !m.read_only, "Propagation": "rprivate",
                    }),
                })
                .collect(),
        )
    }
}

/// Copy what the image has at `from` into the empty volume directory `to`
/// (once: a volume with any content is left alone).
fn copy_up(from: &Path, to: &Path) -> Result<()> {
    let empty = std::fs::read_dir(to)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    let Ok(md) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    if !empty || !md.is_dir() {
        return Ok(());
    }
    skiff_image::layer::copy_tree(from, to).map_err(|e| Error::Io {
        op: "copying image content into volume",
        path: to.to_path_buf(),
        err: e,
    })?;
    // The volume's root takes the mode and owner of the image's directory.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode() & 0o7777));
    let _ = std::os::unix::fs::lchown(to, Some(md.uid()), Some(md.gid()));
    Ok(())
}

/// A volume's `subpath` (resolved inside the volume: a link in it cannot
/// lead out), which must exist.
pub(crate) fn volume_subpath(data: &Path, volume: &str, subpath: &str) -> Result<PathBuf> {
    use skiff_runtime::rootfs::resolve::resolve_in_root;
    let p = resolve_in_root(data, subpath, None)
        .map_err(|e| Error::Invalid(format!("volume {volume}: subpath {subpath}: {e}")))?;
    if !p.exists() {
        return Err(Error::Invalid(format!(
            "cannot access path {}: no such file or directory",
            p.display()
        )));
    }
    Ok(p)
}
