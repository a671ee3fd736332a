//! Volumes and the mounts of a container: named and anonymous volumes (data
//! under `<root>/volumes/<name>/_data`, as Docker keeps it), bind mounts and
//! tmpfs, from `-v`, `--mount` and `--tmpfs` as Docker parses them.

use crate::model::{Container, MountPoint};
use crate::{io_err, Engine, Error, Result};
use rusqlite::params;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME).
    pub anonymous: bool,
}

/// Docker's rule for volume names.
pub fn check_volume_name(name: &str) -> Result<()> {
    let ok = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Parse `-v SRC:DST[:OPTS]` or `-v DST` (an anonymous volume).
pub fn parse_volume_flag(v: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = v.split(':').collect();
    let bad = || Error::Invalid(format!("invalid volume specification: '{v}'"));
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] if d.starts_with('/') => (*s, *d, ""),
        [s, d] if !s.starts_with('/') => (*s, *d, ""),
        [d, o] if d.starts_with('/') => ("", *d, *o),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(bad()),
    };
    if !dst.starts_with('/') {
        let kind = if src.starts_with('/') {
            "bind"
        } else {
            "volume"
        };
        return Err(Error::Invalid(format!(
            "invalid volume specification: '{v}': invalid mount config for type \"{kind}\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    if dst == "/" && src.is_empty() {
        return Err(bad());
    }
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" | "z" | "Z" | "private" | "rprivate" | "nocopy" => {}
            _ => return Err(Error::Invalid(format!("invalid mode: {o}"))),
        }
    }
    let kind = if src.is_empty() {
        "volume"
    } else if src.starts_with('/') {
        "bind"
    } else {
        check_volume_name(src)?;
        "volume"
    };
    Ok(MountPoint {
        kind: kind.into(),
        source: src.into(),
        target: clean_target(dst),
        read_only,
        options: String::new(),
        create_host_path: kind == "bind",
        mode: if !opts.is_empty() {
            opts.to_string()
        } else if kind == "volume" {
            "z".into()
        } else {
            String::new()
        },
        from_mount_flag: false,
    })
}

/// Parse `--mount type=bind|volume|tmpfs,source=,target=,readonly,...`.
pub fn parse_mount_flag(v: &str) -> Result<MountPoint> {
    let mut m = MountPoint {
        kind: "volume".into(),
        from_mount_flag: true,
        ..Default::default()
    };
    let mut tmpfs_opts = Vec::new();
    for field in v.split(',') {
        let (k, val) = match field.split_once('=') {
            Some((k, val)) => (k.trim(), Some(val.trim())),
            None => (field.trim(), None),
        };
        match (k, val) {
            ("type", Some(t)) if matches!(t, "bind" | "volume" | "tmpfs") => m.kind = t.into(),
            ("type", Some(t)) => {
                return Err(Error::Invalid(format!(
                    "invalid mount config for type \"{t}\": mount type unknown"
                )))
            }
            ("source" | "src", Some(s)) => m.source = s.into(),
            ("target" | "destination" | "dst", Some(t)) => m.target = clean_target(t),
            ("readonly" | "ro", None) => m.read_only = true,
            ("readonly" | "ro", Some(b)) => m.read_only = matches!(b, "1" | "true"),
            ("tmpfs-size", Some(s)) => tmpfs_opts.push(format!("size={s}")),
            ("tmpfs-mode", Some(s)) => tmpfs_opts.push(format!("mode={s}")),
            ("bind-propagation" | "consistency" | "volume-nocopy", _) => {}
            _ => {
                return Err(Error::Invalid(format!(
                "invalid argument \"{v}\" for \"--mount\" flag: unexpected key '{k}' in '{field}'"
            )))
            }
        }
    }
    if m.target.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid argument \"{v}\" for \"--mount\" flag: target is required"
        )));
    }
    match m.kind.as_str() {
        "bind" if !m.source.starts_with('/') => {
            return Err(Error::Invalid(format!(
                "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                m.source
            )))
        }
        "volume" if !m.source.is_empty() => {
            if m.source.len() < 2 {
                return Err(Error::Invalid(
                    "volume name is too short, names should be at least two alphanumeric characters"
                        .into(),
                ));
            }
            check_volume_name(&m.source)?;
            m.mode = "z".into();
        }
        "tmpfs" if !m.source.is_empty() => {
            return Err(Error::Invalid(
                "invalid mount config for type \"tmpfs\": field Source must not be specified"
                    .into(),
            ))
        }
        "tmpfs" => m.options = tmpfs_opts.join(","),
        _ => {}
    }
    Ok(m)
}

/// Parse `--tmpfs /path[:opts]`.
pub fn parse_tmpfs_flag(v: &str) -> Result<MountPoint> {
    let (t, opts) = v.split_once(':').unwrap_or((v, ""));
    if !t.starts_with('/') {
        return Err(Error::Invalid(format!(
            "invalid mount path: '{t}' mount path must be absolute"
        )));
    }
    Ok(MountPoint {
        kind: "tmpfs".into(),
        target: clean_target(t),
        options: opts.into(),
        ..Default::default()
    })
}

fn clean_target(t: &str) -> String {
    let trimmed = t.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    }
}

impl Engine {
    /// The directory holding volume `name`'s data.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.paths.root.join("volumes").join(name).join("_data")
    }

    /// `volume create` (an existing volume of that name is returned as is).
    pub fn volume_create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume> {
        Ok(self.volume_make(name, labels, anonymous)?.0)
    }

    /// [`volume_create`](Self::volume_create), and whether this call made it
    /// (two concurrent creates of one name: one makes it).
    fn volume_make(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(Volume, bool)> {
        let name = match name {
            Some(n) => {
                check_volume_name(n)?;
                n.to_string()
            }
            None => crate::names::new_id(),
        };
        if let Some(v) = self.volume_get(&name)? {
            return Ok((v, false));
        }
        let data = self.volume_data(&name);
        std::fs::create_dir_all(&data).map_err(io_err("creating", &data))?;
        let v = Volume {
            name,
            created: crate::time::now(),
            labels,
            anonymous,
        };
        let made = self
            .store
            .conn()?
            .execute(
                "INSERT OR IGNORE INTO volumes (name, created, labels, anonymous) VALUES (?1, ?2, ?3, ?4)",
                params![
                    v.name,
                    v.created,
                    serde_json::to_string(&v.labels).expect("labels"),
                    v.anonymous
                ],
            )
            .map_err(|e| self.store.err(e))?
            > 0;
        if !made {
            let v = self.volume_get(&v.name)?.ok_or_else(|| {
                Error::not_found(
                    crate::Object::Volume,
                    format!("get {}: no such volume", v.name),
                )
            })?;
            return Ok((v, false));
        }
        let _ = self
            .store
            .add_event("volume", "create", &v.name, &json!({"driver": "local"}));
        Ok((v, true))
    }

    pub fn volume_get(&self, name: &str) -> Result<Option<Volume>> {
        use rusqlite::OptionalExtension;
        self.store
            .conn()?
            .query_row(
                "SELECT name, created, labels, anonymous FROM volumes WHERE name = ?1",
                params![name],
                |r| {
                    Ok(Volume {
                        name: r.get(0)?,
                        created: r.get(1)?,
                        labels: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                        anonymous: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.store.err(e).into())
    }

    pub fn volume_list(&self) -> Result<Vec<Volume>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name")
            .map_err(|e| self.store.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(Volume {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    labels: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                    anonymous: r.get(3)?,
                })
            })
            .map_err(|e| self.store.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.store.err(e).into())
    }

    /// `volume ls`: the volumes `f` selects (`dangling`, `name` by
    /// substring, `label`, `driver`).
    pub fn volumes(&self, f: &crate::filters::Filters) -> Result<Vec<Volume>> {
        f.check_keys(&["dangling", "name", "label", "driver"])?;
        let dangling = f.bool_value("dangling")?;
        let mut out = Vec::new();
        for v in self.volume_list()? {
            let keep = f.matches("name", |n| v.name.contains(n))
                && f.matches("driver", |d| d == "local")
                && f.match_labels(&v.labels)
                && match dangling {
                    Some(d) => self.volume_users(&v.name)?.is_empty() == d,
                    None => true,
                };
            if keep {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// IDs of the containers using volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .filter(|c| {
                c.host
                    .mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == name)
            })
            .map(|c| c.id)
            .collect())
    }

    /// `volume rm`: refused while a container uses it; a missing volume is
    /// an error unless `force`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        if self.volume_get(name)?.is_none() {
            if force {
                return Ok(());
            }
            return Err(Error::not_found(
                crate::Object::Volume,
                format!("get {name}: no such volume"),
            ));
        }
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.paths.root.join("volumes").join(name);
        // The record first: a half-removed directory is never a volume.
        self.store
            .conn()?
            .execute("DELETE FROM volumes WHERE name = ?1", params![name])
            .map_err(|e| self.store.err(e))?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        let _ = self
            .store
            .add_event("volume", "destroy", name, &json!({"driver": "local"}));
        Ok(())
    }

    /// `volume prune`: every volume no container uses; returns the names and
    /// the bytes freed.
    pub fn volume_prune(&self) -> Result<(Vec<String>, u64)> {
        let mut gone = Vec::new();
        let mut bytes = 0;
        for v in self.volume_list()? {
            if self.volume_users(&v.name)?.is_empty() {
                bytes += dir_size(&self.volume_data(&v.name));
                self.volume_remove(&v.name, false)?;
                gone.push(v.name);
            }
        }
        Ok((gone, bytes))
    }

    /// Docker's `volume inspect` JSON.
    pub fn volume_inspect(&self, v: &Volume) -> Value {
        // Whole seconds, as Docker shows a volume's creation.
        let created = match crate::time::parse_rfc3339_nanos(&v.created) {
            Some(n) => format!("{}Z", &crate::time::rfc3339_nanos(n)[..19]),
            None => v.created.clone(),
        };
        let empty = if v.anonymous { Value::Null } else { json!({}) };
        json!({
            "CreatedAt": created,
            "Driver": "local",
            "Labels": if v.labels.is_empty() { empty.clone() } else { json!(v.labels) },
            "Mountpoint": self.volume_data(&v.name),
            "Name": v.name,
            "Options": empty,
            "Scope": "local",
        })
    }

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
                    copy_up(&rootfs.join(m.target.trim_start_matches('/')), &data)?;
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
    copy_tree(from, to).map_err(|e| Error::Io {
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

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue; // devices, fifos, sockets: not copied
        }
        std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// Bytes in the files under `p`.
pub fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// Where container path `p` is on the host: in a volume or bind mount that
/// covers it, else below the rootfs (symlinks resolved as the container
/// sees them, never leaving its root).
pub(crate) fn host_path(engine: &Engine, c: &Container, rootfs: &Path, p: &str) -> Result<PathBuf> {
    use skiff_runtime::rootfs::resolve::resolve_in_root;
    let best = c
        .host
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs")
        .filter(|m| p == m.target || p.starts_with(&format!("{}/", m.target.trim_end_matches('/'))))
        .max_by_key(|m| m.target.len());
    let (base, rest) = match best {
        Some(m) => {
            let base = if m.kind == "volume" {
                engine.volume_data(&m.source)
            } else {
                PathBuf::from(&m.source)
            };
            (base, p[m.target.len()..].to_string())
        }
        None => (rootfs.to_path_buf(), p.to_string()),
    };
    let rest = if rest.is_empty() {
        "/".to_string()
    } else {
        rest
    };
    resolve_in_root(&base, &rest, None).map_err(|e| Error::Invalid(format!("{p}: {e}")))
}

/// Copy `from` (a file, directory or symlink) to `to`, recursively; owners
/// kept when `owner` is None, else set to it.
pub(crate) fn copy_any(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let md = std::fs::symlink_metadata(from)?;
    let ft = md.file_type();
    // Never write through a symlink at the destination: it may point
    // anywhere on the host (it was made inside a container). Replace it.
    if std::fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(to)?;
    }
    if ft.is_dir() {
        if !to.exists() {
            std::fs::create_dir(to)?;
        }
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_any(&e.path(), &to.join(e.file_name()), owner)?;
        }
    } else if ft.is_symlink() {
        let _ = std::fs::remove_file(to);
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
    } else if ft.is_file() {
        std::fs::copy(from, to)?;
    } else {
        return Ok(());
    }
    let (uid, gid) = owner.unwrap_or((md.uid(), md.gid()));
    std::os::unix::fs::lchown(to, Some(uid), Some(gid))?;
    if !ft.is_symlink() {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    Ok(())
}

impl Engine {
    /// Run `f` with the container's root filesystem mounted (it is while the
    /// container runs; a stopped container's is mounted for the call).
    pub fn with_rootfs<T>(&self, c: &Container, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let dir = self.paths.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let running = matches!(
            c.state.status,
            crate::model::Status::Running | crate::model::Status::Paused
        );
        if running {
            return f(&rootfs);
        }
        crate::mount::mount_rootfs(&self.paths, c, &dir).map_err(Error::Internal)?;
        let r = f(&rootfs);
        crate::mount::unmount(&rootfs);
        r
    }

    /// `cp CONTAINER:SRC DEST`, Docker's rules: a directory is copied into
    /// an existing directory, or becomes DEST; `SRC/.` copies the contents.
    pub fn copy_out(&self, what: &str, src: &str, dest: &Path, follow: bool) -> Result<()> {
        self.with_source(what, src, follow, |from| {
            let target = cp_target(src, from, dest)?;
            copy_any(from, &target, Some((0, 0)))
                .map_err(|e| Error::Internal(format!("copying {src}: {e}")))
        })
    }

    /// `cp CONTAINER:SRC -`: SRC as a tar stream, its entries named after
    /// SRC's last component (`.` for `SRC/.`); symlinks stay symlinks.
    pub fn copy_out_tar(
        &self,
        what: &str,
        src: &str,
        follow: bool,
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        self.with_source(what, src, follow, |from| {
            let name = if src.ends_with("/.") || src.trim_end_matches('/').is_empty() {
                std::ffi::OsString::from(".")
            } else {
                from.file_name().unwrap_or_default().to_os_string()
            };
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            let md = std::fs::symlink_metadata(from);
            let r = match md {
                Ok(m) if m.is_dir() => tar.append_dir_all(&name, from),
                _ => tar.append_path_with_name(from, &name),
            };
            r.and_then(|_| tar.finish())
                .map_err(|e| Error::Internal(format!("copying {src}: {e}")))
        })
    }

    /// Run `f` on the host path of the container's `src`, which must exist.
    /// The last component is not followed (a symlink is copied as one)
    /// unless `follow` (-L).
    fn with_source(
        &self,
        what: &str,
        src: &str,
        follow: bool,
        f: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let c = self.find(what).map_err(|_| {
            Error::not_found(
                crate::Object::Container,
                format!("No such container:path: {what}:{src}"),
            )
        })?;
        self.with_rootfs(&c, |rootfs| {
            let trimmed = src.trim_end_matches('/');
            let from = match (
                follow,
                Path::new(trimmed).parent(),
                Path::new(trimmed).file_name(),
            ) {
                (false, Some(parent), Some(name)) if trimmed != "/" && !trimmed.ends_with("/.") => {
                    host_path(self, &c, rootfs, &parent.to_string_lossy())?.join(name)
                }
                _ => host_path(self, &c, rootfs, src)?,
            };
            if std::fs::symlink_metadata(&from).is_err() {
                return Err(Error::not_found(
                    crate::Object::Path,
                    format!("No such container:path: {what}:{src}"),
                ));
            }
            f(&from)
        })
    }

    /// `cp - CONTAINER:DEST`: a tar stream unpacked into the directory DEST
    /// with the unpacker image layers use, so no entry lands outside it
    /// whatever its paths and symlinks say; owners come from the archive.
    pub fn copy_in_tar(&self, input: &mut dyn std::io::Read, what: &str, dest: &str) -> Result<()> {
        let c = self.find(what).map_err(|_| {
            Error::not_found(
                crate::Object::Container,
                format!("No such container:path: {what}:/"),
            )
        })?;
        self.with_rootfs(&c, |rootfs| {
            let to = host_path(self, &c, rootfs, dest).map_err(|_| {
                Error::not_found(
                    crate::Object::Path,
                    format!("Could not find the file {dest} in container {what}"),
                )
            })?;
            if !to.is_dir() {
                return Err(Error::Invalid(format!(
                    "destination \"{what}:{dest}\" must be a directory"
                )));
            }
            skiff_image::layer::unpack(input, None, &to, &Default::default())
                .map(|_| ())
                .map_err(|e| Error::Internal(format!("extracting to {dest}: {e}")))
        })
    }

    /// `cp SRC CONTAINER:DEST`; copied files belong to root unless `archive`.
    pub fn copy_in(&self, src: &Path, what: &str, dest: &str, archive: bool) -> Result<()> {
        let c = self.find(what).map_err(|_| {
            Error::not_found(
                crate::Object::Container,
                format!("No such container:path: {what}:/"),
            )
        })?;
        if std::fs::symlink_metadata(src).is_err() {
            return Err(Error::Invalid(format!(
                "stat {}: no such file or directory",
                src.display()
            )));
        }
        self.with_rootfs(&c, |rootfs| {
            let parent = Path::new(dest)
                .parent()
                .map(|p| p.to_string_lossy().into_owned());
            let to = match host_path(self, &c, rootfs, dest) {
                Ok(p) => p,
                Err(e) => match parent {
                    // DEST does not exist: its parent must.
                    Some(p) => host_path(self, &c, rootfs, &p)
                        .map(|pp| pp.join(Path::new(dest).file_name().unwrap_or_default()))
                        .map_err(|_| e)?,
                    None => return Err(e),
                },
            };
            let target = cp_target(&src.to_string_lossy(), src, &to).map_err(|_| {
                Error::not_found(
                    crate::Object::Path,
                    format!(
                        "Could not find the file {dest} in container {what}: no such directory"
                    ),
                )
            })?;
            let owner = (!archive).then_some((0, 0));
            copy_any(src, &target, owner)
                .map_err(|e| Error::Internal(format!("copying to {dest}: {e}")))
        })
    }
}

/// Where `from` (given as `src`) lands for destination `dest`.
fn cp_target(src: &str, from: &Path, dest: &Path) -> Result<PathBuf> {
    let src_is_dir = std::fs::metadata(from).map(|m| m.is_dir()).unwrap_or(false);
    let contents_only = src.ends_with("/.");
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => {
            if contents_only {
                Ok(dest.to_path_buf())
            } else {
                Ok(dest.join(from.file_name().unwrap_or_default()))
            }
        }
        Ok(_) if src_is_dir => Err(Error::Invalid(format!(
            "cannot copy a directory to a file: {}",
            dest.display()
        ))),
        Ok(_) => Ok(dest.to_path_buf()),
        Err(_) if dest.to_string_lossy().ends_with('/') && !src_is_dir => Err(Error::Invalid(
            format!("destination directory {} does not exist", dest.display()),
        )),
        Err(_) => {
            let parent = dest.parent().unwrap_or(Path::new("/"));
            if !parent.as_os_str().is_empty() && !parent.exists() {
                return Err(Error::Invalid(format!(
                    "destination directory {} does not exist",
                    parent.display()
                )));
            }
            Ok(dest.to_path_buf())
        }
    }
}
