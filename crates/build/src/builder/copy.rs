//! COPY and ADD into a mounted root filesystem: Docker's rules for where
//! each source lands, with owners (root, kept, or `--chown`), modes (kept
//! or `--chmod`) and modification times kept.

use crate::context::{Source, Tree};
use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What one COPY writes.
pub struct CopyInto<'a> {
    pub rootfs: &'a Path,
    pub tree: &'a Tree,
    /// Each source with the entries below it (path in the tree, path below the source).
    pub sources: &'a [(Source, Vec<(String, String)>)],
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
    let times = [
        libc::timespec {
            tv_sec: md.atime(),
            tv_nsec: md.atime_nsec(),
        },
        libc::timespec {
            tv_sec: md.mtime(),
            tv_nsec: md.mtime_nsec(),
        },
    ];
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

/// Remove whatever is at `path` unless it is a directory.
fn clear(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Ok(true),
        Ok(_) => std::fs::remove_file(path).map(|()| false),
        Err(_) => Ok(false),
    }
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
        let mut dirs: Vec<(PathBuf, std::fs::Metadata, (u32, u32))> = Vec::new();
        if dir_dest {
            let d = resolve_in_root(self.rootfs, self.dest, Some(Create::Dir))
                .map_err(|e| e.to_string())?;
            if let Some(o) = self.owner {
                let c = cstr(&d);
                // SAFETY: a valid path; changing the owner of a directory we made or copy into.
                unsafe { libc::lchown(c.as_ptr(), o.0, o.1) };
            }
        }
        for (_, entries) in self.sources {
            for (tree_rel, rel) in entries {
                let in_image = if dir_dest {
                    format!("{}/{}", self.dest.trim_end_matches('/'), rel)
                } else {
                    self.dest.to_string()
                };
                let from = self.tree.root.join(tree_rel);
                let md = std::fs::symlink_metadata(&from)
                    .map_err(|e| format!("{}: {e}", from.display()))?;
                let (parent, name) = match in_image.rsplit_once('/') {
                    Some((p, n)) => (if p.is_empty() { "/" } else { p }, n),
                    None => ("/", in_image.as_str()),
                };
                let parent = resolve_in_root(self.rootfs, parent, Some(Create::Dir))
                    .map_err(|e| e.to_string())?;
                let to = parent.join(name);
                let owner = self.owner.unwrap_or(if self.tree.keep_owners {
                    (md.uid(), md.gid())
                } else {
                    (0, 0)
                });
                let ft = md.file_type();
                let err = |e: std::io::Error| format!("copying {rel}: {e}");
                if ft.is_dir() {
                    if !clear(&to).map_err(err)? {
                        std::fs::create_dir(&to).map_err(err)?;
                    }
                    dirs.push((to, md, owner));
                    continue;
                }
                if clear(&to).map_err(err)? {
                    return Err(format!(
                        "cannot replace the directory {in_image} with a file"
                    ));
                }
                if ft.is_file() {
                    let mut r = std::fs::File::open(&from).map_err(err)?;
                    let mut w = std::fs::File::create_new(&to).map_err(err)?;
                    std::io::copy(&mut r, &mut w).map_err(err)?;
                } else if ft.is_symlink() {
                    let t = std::fs::read_link(&from).map_err(err)?;
                    std::os::unix::fs::symlink(t, &to).map_err(err)?;
                } else if ft.is_fifo() {
                    nix::unistd::mkfifo(&to, nix::sys::stat::Mode::from_bits_truncate(0o600))
                        .map_err(|e| err(e.into()))?;
                } else {
                    // Sockets and devices are not copied, as Docker does not.
                    continue;
                }
                set_meta(&to, &md, owner, self.chmod).map_err(err)?;
            }
        }
        // Directories last, deepest first: adding to them moved their times.
        for (to, md, owner) in dirs.iter().rev() {
            set_meta(to, md, *owner, self.chmod).map_err(|e| format!("{}: {e}", to.display()))?;
        }
        Ok(())
    }
}
