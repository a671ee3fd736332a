//! COPY and ADD into a mounted root filesystem: Docker's rules for where
//! each source lands, with owners (root, kept, or `--chown`), modes (kept
//! or `--chmod`) and modification times kept.
//!
//! Through an overlay mount, each file made costs about twice what it costs
//! on the file system below. A directory this copy made (none was there in
//! the layers below, or overlayfs made it opaque over a whiteout) holds
//! nothing but what the copy writes, so what goes below it is written into
//! the mount's upper directory itself, never through the mount. The mount
//! never looks those names up before they exist (no stale negative entry),
//! and the layer is read from the upper directory once it is unmounted.

use crate::context::{Entry, Source, Tree};
use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What one COPY writes.
pub struct CopyInto<'a> {
    pub rootfs: &'a Path,
    /// The upper directory of the overlay mounted at `rootfs` (None when
    /// `rootfs` is a plain directory).
    pub upper: Option<&'a Path>,
    pub tree: &'a Tree,
    /// Each source with the entries below it (path in the tree, path below the source).
    pub sources: &'a [(Source, Vec<Entry>)],
    /// Absolute, as the image sees it.
    pub dest: &'a str,
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<u32>,
    /// The destination is a directory whatever it looks like (ADD of an archive).
    pub force_dir: bool,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path")
}

/// The access and modification times of `md`, for utimensat/futimens.
fn times(md: &std::fs::Metadata) -> [libc::timespec; 2] {
    [
        libc::timespec {
            tv_sec: md.atime(),
            tv_nsec: md.atime_nsec(),
        },
        libc::timespec {
            tv_sec: md.mtime(),
            tv_nsec: md.mtime_nsec(),
        },
    ]
}

fn set_meta(
    path: &Path,
    md: &std::fs::Metadata,
    owner: (u32, u32),
    mode: Option<u32>,
) -> std::io::Result<()> {
    let c = cstr(path);
    // SAFETY: c is a valid NUL-terminated path; lchown does not follow a link.
    if unsafe { libc::lchown(c.as_ptr(), owner.0, owner.1) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if !md.file_type().is_symlink() {
        let m = mode.unwrap_or(md.mode() & 0o7777);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))?;
    }
    let times = times(md);
    // SAFETY: c is a valid path and times points at two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl CopyInto<'_> {
    /// Whether the destination is a directory: it ends in `/`, several
    /// sources or a directory are copied, or it is one in the image.
    fn dest_is_dir(&self) -> bool {
        self.force_dir
            || self.dest.ends_with('/')
            || self.sources.len() > 1
            || self.sources.iter().any(|(s, _)| s.is_dir)
            || resolve_in_root(self.rootfs, self.dest, None)
                .map(|p| p.is_dir())
                .unwrap_or(false)
    }

    pub fn run(&self) -> Result<(), String> {
        let dir_dest = self.dest_is_dir();
        let mut dirs: Vec<DirMeta> = Vec::new();
        // The destination directory, when this copy makes it.
        let mut made: Option<(String, PathBuf)> = None;
        if dir_dest {
            let existed = resolve_in_root(self.rootfs, self.dest, None)
                .is_ok_and(|p| p.symlink_metadata().is_ok());
            let d = resolve_in_root(self.rootfs, self.dest, Some(Create::Dir))
                .map_err(|e| e.to_string())?;
            if let Some(o) = self.owner {
                let c = cstr(&d);
                // SAFETY: a valid path; changing the owner of a directory we made or copy into.
                unsafe { libc::lchown(c.as_ptr(), o.0, o.1) };
            }
            if !existed {
                made = self
                    .in_upper(&d)
                    .map(|u| (self.dest.trim_end_matches('/').to_string(), u));
            }
        }
        let all: Vec<&Entry> = self.sources.iter().flat_map(|(_, e)| e.iter()).collect();
        // A large copy on two threads, each with whole top-level subtrees
        // (a directory is made by the thread that fills it).
        let groups: Vec<Vec<&Entry>> = if all.len() < 512 {
            vec![all]
        } else {
            let top = |e: &Entry| e.rel.split('/').next().unwrap_or_default().to_string();
            let mut names: Vec<String> = all.iter().map(|e| top(e)).collect();
            names.dedup();
            let second: std::collections::HashSet<String> =
                names[names.len() / 2..].iter().cloned().collect();
            let (b, a): (Vec<&Entry>, Vec<&Entry>) =
                all.into_iter().partition(|e| second.contains(&top(e)));
            vec![a, b]
        };
        let made = &made;
        let results: Vec<Result<Vec<DirMeta>, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .iter()
                .map(|g| {
                    s.spawn(move || {
                        let mut parents = Parents {
                            rootfs: self.rootfs,
                            open: HashMap::new(),
                        };
                        if let Some((in_image, upper)) = &made {
                            parents.add(in_image, upper, true)?;
                        }
                        let mut dirs = Vec::new();
                        for e in g {
                            self.copy_entry(e, dir_dest, &mut parents, &mut dirs)?;
                        }
                        Ok(dirs)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a copy thread panicked"))
                .collect()
        });
        for r in results {
            let mut d = r?;
            d.reverse();
            dirs.extend(d);
        }
        // Directories last, deepest first: adding to them moved their times.
        for (to, md, owner) in dirs.iter() {
            set_meta(to, md, *owner, self.chmod).map_err(|e| format!("{}: {e}", to.display()))?;
        }
        Ok(())
    }

    /// Where the path `merged` (below `rootfs`) is in the upper directory.
    fn in_upper(&self, merged: &Path) -> Option<PathBuf> {
        let rel = merged.strip_prefix(self.rootfs).ok()?;
        self.upper.map(|u| u.join(rel))
    }

    /// Copy one entry (a directory is made, and noted in `dirs` for its
    /// times to be set last).
    fn copy_entry(
        &self,
        e: &Entry,
        dir_dest: bool,
        parents: &mut Parents<'_>,
        dirs: &mut Vec<DirMeta>,
    ) -> Result<(), String> {
        let Entry { tree_rel, rel, md } = e;
        let in_image = if dir_dest {
            format!("{}/{}", self.dest.trim_end_matches('/'), rel)
        } else {
            self.dest.to_string()
        };
        let from = self.tree.root.join(tree_rel);
        let (parent, name) = match in_image.rsplit_once('/') {
            Some((p, n)) => (if p.is_empty() { "/" } else { p }, n),
            None => ("/", in_image.as_str()),
        };
        let (parent_host, pfd, direct) = parents.get(parent)?;
        let to = parent_host.join(name);
        let owner = self.owner.unwrap_or(if self.tree.keep_owners {
            (md.uid(), md.gid())
        } else {
            (0, 0)
        });
        let ft = md.file_type();
        let err = |e: std::io::Error| format!("copying {rel}: {e}");
        let cname = CString::new(name).map_err(|_| format!("copying {rel}: a NUL in its name"))?;
        if ft.is_dir() {
            // An existing directory (or a link to one, followed as
            // the image sees it) is copied into; anything else goes.
            // A link is followed through the mount: it may lead anywhere.
            let existing = match std::fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() => Some((to.clone(), direct)),
                Ok(m) => resolve_in_root(self.rootfs, &in_image, None)
                    .ok()
                    .filter(|p| m.file_type().is_symlink() && p.is_dir())
                    .map(|p| (p, false)),
                Err(_) => None,
            };
            let (host, made) = match existing {
                Some(found) => found,
                None => {
                    if std::fs::symlink_metadata(&to).is_ok() {
                        std::fs::remove_file(&to).map_err(err)?;
                    }
                    std::fs::create_dir(&to).map_err(err)?;
                    // Made here: what goes below it goes to the upper directory.
                    match (direct, self.in_upper(&to)) {
                        (false, Some(upper)) => (upper, true),
                        _ => (to.clone(), direct),
                    }
                }
            };
            parents.add(&in_image, &host, made)?;
            dirs.push((host, md.clone(), owner));
            return Ok(());
        }
        if ft.is_file() {
            let times = times(md);
            let fd = create_at(pfd, &cname).map_err(|e| match e.raw_os_error() {
                Some(libc::EISDIR) => {
                    format!("cannot replace the directory {in_image} with a file")
                }
                _ => err(e),
            })?;
            let mut w = std::fs::File::from(fd);
            let mut r = std::fs::File::open(&from).map_err(err)?;
            std::io::copy(&mut r, &mut w).map_err(err)?;
            let mode = self.chmod.unwrap_or(md.mode() & 0o7777);
            let wfd = w.as_raw_fd();
            // SAFETY: wfd is the file we just created and still hold;
            // times points at two timespecs.
            let failed = unsafe {
                libc::fchown(wfd, owner.0, owner.1) != 0
                    || libc::fchmod(wfd, mode) != 0
                    || libc::futimens(wfd, times.as_ptr()) != 0
            };
            if failed {
                return Err(err(std::io::Error::last_os_error()));
            }
            return Ok(());
        }
        if !(ft.is_symlink() || ft.is_fifo()) {
            // Sockets and devices are not copied, as Docker does not.
            return Ok(());
        }
        if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
            return Err(format!(
                "cannot replace the directory {in_image} with a file"
            ));
        }
        let _ = std::fs::remove_file(&to);
        if ft.is_symlink() {
            let t = std::fs::read_link(&from).map_err(err)?;
            std::os::unix::fs::symlink(t, &to).map_err(err)?;
        } else {
            nix::unistd::mkfifo(&to, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(|e| err(e.into()))?;
        }
        set_meta(&to, md, owner, self.chmod).map_err(err)?;
        Ok(())
    }
}

/// A directory copied: where, its source's metadata, its owner.
type DirMeta = (PathBuf, std::fs::Metadata, (u32, u32));

/// The directories files are created in, open, by their path in the image:
/// each is resolved (following the image's links) once. A directory this
/// copy made is kept by its path in the upper directory (`true`).
struct Parents<'a> {
    rootfs: &'a Path,
    open: HashMap<String, (PathBuf, OwnedFd, bool)>,
}

impl Parents<'_> {
    fn get(&mut self, in_image: &str) -> Result<(PathBuf, RawFd, bool), String> {
        if !self.open.contains_key(in_image) {
            let host = resolve_in_root(self.rootfs, in_image, Some(Create::Dir))
                .map_err(|e| e.to_string())?;
            self.add(in_image, &host, false)?;
        }
        let (p, fd, direct) = &self.open[in_image];
        Ok((p.clone(), fd.as_raw_fd(), *direct))
    }

    fn add(&mut self, in_image: &str, host: &Path, direct: bool) -> Result<(), String> {
        let fd = std::fs::File::open(host).map_err(|e| format!("{}: {e}", host.display()))?;
        self.open.insert(
            in_image.to_string(),
            (host.to_path_buf(), OwnedFd::from(fd), direct),
        );
        Ok(())
    }
}

/// Create `name` in the directory `dir` for writing, replacing a file or
/// link there (never following one); EISDIR when a directory is there.
fn create_at(dir: RawFd, name: &CString) -> std::io::Result<OwnedFd> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    for _ in 0..2 {
        // SAFETY: dir is an open directory fd; name is NUL-terminated.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, 0o600) };
        if fd >= 0 {
            // SAFETY: fd is a new descriptor we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
        // SAFETY: as above; removing a non-directory entry of dir.
        if unsafe { libc::unlinkat(dir, name.as_ptr(), 0) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EISDIR) => std::io::Error::from_raw_os_error(libc::EISDIR),
                _ => e,
            });
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::EEXIST))
}
