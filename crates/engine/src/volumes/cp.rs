//! `cp` in and out of a container: its root filesystem mounted for the
//! call, container paths resolved through its volumes and bind mounts
//! without leaving them, and Docker's rules for where a copy lands.

use crate::model::Container;
use crate::{Engine, Error, Result};
use std::path::{Path, PathBuf};

/// Where container path `p` is on the host: in a volume or bind mount that
/// covers it, else below the rootfs (symlinks resolved as the container
/// sees them, never leaving its root).
/// A container path's stat, as the API's `X-Docker-Container-Path-Stat`
/// carries it.
#[derive(Debug, Clone)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    pub mtime: String,
    pub link_target: String,
}

fn host_path(engine: &Engine, c: &Container, rootfs: &Path, p: &str) -> Result<PathBuf> {
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
                engine.volume_data(&m.source).join(&m.subpath)
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
fn copy_any(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
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
    /// container runs; a stopped container's is mounted for the call, under
    /// its start lock: two `cp` at once take turns instead of unmounting it
    /// under each other, and a `start` waits for the `cp`).
    pub fn with_rootfs<T>(&self, c: &Container, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let dir = self.paths.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            let c = self.find(&c.id)?;
            let running = matches!(
                c.state.status,
                crate::model::Status::Running | crate::model::Status::Paused
            );
            if running {
                return f(&rootfs);
            }
            if let Some(_lock) =
                crate::startlock::acquire(&dir).map_err(crate::io_err("locking", &dir))?
            {
                crate::mount::mount_rootfs(&self.paths, &c, &dir, None).map_err(Error::Internal)?;
                let r = f(&rootfs);
                crate::mount::unmount(&rootfs);
                return r;
            }
            // Another `cp` (or a start) holds it: its turn is short.
            if std::time::Instant::now() > deadline {
                return Err(Error::Conflict(format!(
                    "container {} is busy (being started or copied from)",
                    c.name
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(50));
        }
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

    /// What the API's `archive` endpoints tell of the container's `path`
    /// (its last component not followed).
    pub fn path_stat(&self, what: &str, path: &str) -> Result<PathStat> {
        let mut out = None;
        self.with_source(what, path, false, |from| {
            let md = std::fs::symlink_metadata(from)
                .map_err(|e| Error::Internal(format!("stat {path}: {e}")))?;
            use std::os::unix::fs::MetadataExt;
            let ft = md.file_type();
            // Go's os.FileMode: the type bits high, the permissions low.
            let mut mode = md.mode() & 0o777;
            if ft.is_dir() {
                mode |= 1 << 31;
            }
            if ft.is_symlink() {
                mode |= 1 << 27;
            }
            if md.mode() & 0o4000 != 0 {
                mode |= 1 << 23;
            }
            if md.mode() & 0o2000 != 0 {
                mode |= 1 << 22;
            }
            if md.mode() & 0o1000 != 0 {
                mode |= 1 << 20;
            }
            let name = match path.trim_end_matches('/') {
                "" => "/".to_string(),
                p => p.rsplit('/').next().unwrap_or(p).to_string(),
            };
            out = Some(PathStat {
                name,
                size: md.len() as i64,
                mode,
                mtime: crate::time::rfc3339_nanos(md.mtime() * 1_000_000_000 + md.mtime_nsec()),
                link_target: std::fs::read_link(from)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            });
            Ok(())
        })?;
        Ok(out.expect("set by the closure"))
    }

    /// `export`: the container's whole file system as a tar.
    pub fn export(&self, what: &str, out: &mut dyn std::io::Write) -> Result<()> {
        let c = self.find(what)?;
        self.with_rootfs(&c, |rootfs| {
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            tar.append_dir_all(".", rootfs)
                .and_then(|()| tar.finish())
                .map_err(|e| Error::Internal(format!("exporting {}: {e}", c.name)))
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
