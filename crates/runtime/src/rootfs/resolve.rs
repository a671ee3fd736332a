//! Resolving a container path (a mount destination, a device path) to a host path
//! below the rootfs, following symlinks the way the container will see them.
//!
//! An absolute symlink is read as the container reads it: relative to the rootfs.
//! A relative symlink whose `..` climbs above the rootfs is refused: no image
//! legitimately needs that, and following it on the host would leave the rootfs.

use super::{Result, RootfsError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// What to create at the end of the path when it does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Dir,
    File,
}

const MAX_LINKS: u32 = 40;

/// Resolve `path` (absolute, as seen in the container) below `rootfs`, creating
/// missing directories (and the final file or directory when `create` says so).
pub fn resolve_in_root(rootfs: &Path, path: &str, create: Option<Create>) -> Result<PathBuf> {
    resolve(rootfs, path, create, false)
}

/// [`resolve_in_root`] as a `chroot` sees the path: a link's `..` above the
/// rootfs stays at its top (as BuildKit reads a build's sources) instead
/// of being refused. Creates nothing.
pub fn resolve_chrooted(rootfs: &Path, path: &str) -> Result<PathBuf> {
    resolve(rootfs, path, None, true)
}

fn resolve(rootfs: &Path, path: &str, create: Option<Create>, clamp: bool) -> Result<PathBuf> {
    let mut cur: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    let mut pending: Vec<std::ffi::OsString> = components(Path::new(path));
    pending.reverse();
    let err = |why: String| RootfsError::Destination {
        dest: path.to_string(),
        why,
    };
    while let Some(c) = pending.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let mut host = rootfs.to_path_buf();
        host.extend(&cur);
        host.push(&c);
        let last = pending.is_empty();
        match std::fs::symlink_metadata(&host) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(err("too many levels of symbolic links".into()));
                }
                let target = std::fs::read_link(&host).map_err(|e| err(e.to_string()))?;
                let mut t = components(&target);
                if target.is_absolute() {
                    cur.clear();
                } else if !clamp {
                    // Check that the link's `..` steps stay inside the rootfs.
                    let mut depth = cur.len() as i64;
                    for part in &t {
                        if part == ".." {
                            depth -= 1;
                            if depth < 0 {
                                let rel: PathBuf = cur.iter().chain([&c]).collect();
                                return Err(err(format!(
                                    "symlink /{} -> {} points out of the rootfs",
                                    rel.display(),
                                    target.display()
                                )));
                            }
                        } else {
                            depth += 1;
                        }
                    }
                }
                t.reverse();
                pending.extend(t);
            }
            Ok(md) => {
                if !last && !md.is_dir() {
                    return Err(err(format!("{} is not a directory", host.display())));
                }
                cur.push(c);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match (last, create) {
                    (false, Some(_)) | (true, Some(Create::Dir)) => {
                        std::fs::create_dir(&host)
                            .or_else(|e| {
                                if e.kind() == std::io::ErrorKind::AlreadyExists {
                                    Ok(())
                                } else {
                                    Err(e)
                                }
                            })
                            .map_err(|e| err(format!("creating {}: {e}", host.display())))?;
                    }
                    (true, Some(Create::File)) => {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(false)
                            .custom_flags(libc::O_NOFOLLOW)
                            .open(&host)
                            .map_err(|e| err(format!("creating {}: {e}", host.display())))?;
                    }
                    (_, None) => {}
                }
                cur.push(c);
            }
            Err(e) => return Err(err(e.to_string())),
        }
    }
    let mut out = rootfs.to_path_buf();
    out.extend(&cur);
    Ok(out)
}

fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn creates_missing_dirs_and_files() {
        let d = tempfile::tempdir().unwrap();
        let p = resolve_in_root(d.path(), "/a/b/c", Some(Create::File)).unwrap();
        assert_eq!(p, d.path().join("a/b/c"));
        assert!(p.is_file());
    }

    #[test]
    fn absolute_link_stays_in_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        symlink("/real", d.path().join("link")).unwrap();
        let p = resolve_in_root(d.path(), "/link/x", Some(Create::Dir)).unwrap();
        assert_eq!(p, d.path().join("real/x"));
        // dot-dot in the path itself is clamped at the root
        let p = resolve_in_root(d.path(), "/../../real", None).unwrap();
        assert_eq!(p, d.path().join("real"));
    }

    #[test]
    fn relative_link_out_of_root_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        symlink("../../../../tmp", d.path().join("etc/evil")).unwrap();
        let e = resolve_in_root(d.path(), "/etc/evil/x", Some(Create::Dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("points out of the rootfs"), "{e}");
        // a relative link that stays inside is fine
        symlink("../etc", d.path().join("etc/up")).unwrap();
        let p = resolve_in_root(d.path(), "/etc/up", None).unwrap();
        assert_eq!(p, d.path().join("etc"));
    }
}
