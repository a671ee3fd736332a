//! An image's init layer: the mount points a container of the image needs
//! and the image lacks (`/proc`, `/dev`, `/sys`, `/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`) and Docker's `/etc/mtab ->
//! /proc/mounts`, in a read-only directory shared by every container of
//! the image and mounted as the topmost lower layer of their root
//! filesystems.
//!
//! Docker makes such a layer per container. Made by the runtime in each
//! container's writable layer instead, as before, every start made and every
//! removal freed about ten inodes (the copied-up `/etc` among them), which
//! on a file system that discards freed blocks synchronously or scans past
//! recently freed inodes (ext4 without a journal) cost milliseconds. With
//! the init layer a container that writes nothing leaves its writable layer
//! empty.
//!
//! What the layer holds is invisible except where the image lacked the
//! path: a directory the layer holds because a file is needed in it
//! (`/etc`) takes the image's mode, owner and times; a path the image has
//! (a file, a directory, a symbolic link) is never shadowed. It lives next
//! to the top layer's snapshot (`<snapshots>/<chain>/init`), so it goes
//! with it; it is filled in a temporary directory and renamed into place.

use crate::snapshot::rename_noreplace;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Its name next to the top layer's `fs` directory.
const NAME: &str = "init";

/// Directories made when the image lacks them.
const DIRS: [&str; 3] = ["proc", "dev", "sys"];
/// Empty files made in `/etc` when the image lacks them.
const ETC_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

#[derive(Debug, thiserror::Error)]
pub enum InitLayerError {
    #[error("init layer {path}: {op}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("init layer: {0}")]
    View(#[from] crate::overlay::OverlayError),
    #[error("init layer: {0} is not a snapshot's directory")]
    NotASnapshot(PathBuf),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> InitLayerError + 'a {
    move |err| InitLayerError::Io {
        op,
        path: path.into(),
        err,
    }
}

/// The init layer of the image whose layer directories are `lower`
/// (topmost first, as `Images::layer_dirs` gives them), made if it is not
/// there yet.
pub fn ensure(lower: &[PathBuf]) -> Result<PathBuf, InitLayerError> {
    let top = lower
        .first()
        .and_then(|fs| fs.parent())
        .ok_or_else(|| InitLayerError::NotASnapshot(lower.first().cloned().unwrap_or_default()))?;
    let dir = top.join(NAME);
    if dir.is_dir() {
        return Ok(dir);
    }
    let tmp = top.join(format!("{NAME}-tmp-{}", std::process::id()));
    // A leftover of a killed process that had our pid.
    let _ = std::fs::remove_dir_all(&tmp);
    let made = fill(&tmp, lower).and_then(|()| {
        rename_noreplace(&tmp, &dir).or_else(|e| {
            // Made by another process meanwhile: theirs is as good.
            if dir.is_dir() {
                Ok(())
            } else {
                Err(io("naming", &dir)(e))
            }
        })
    });
    let _ = std::fs::remove_dir_all(&tmp);
    made.map(|()| dir)
}

/// What the image has at `path` (relative), as a container would see it:
/// `None` when it lacks it.
fn lookup(view: &OwnedFd, path: &str) -> Result<Option<nix::sys::stat::FileStat>, std::io::Error> {
    use nix::sys::stat::{fstatat, SFlag};
    match fstatat(view.as_fd(), path, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        // A whiteout in a single bottom layer hides nothing, and shows nothing.
        Ok(st)
            if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
                && st.st_rdev == 0 =>
        {
            Ok(None)
        }
        Ok(st) => Ok(Some(st)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn is_dir(st: &nix::sys::stat::FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn mkdir(path: &Path, mode: u32) -> Result<(), InitLayerError> {
    std::fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(io("creating", path))?;
    // The umask narrowed it.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("setting the mode of", path))
}

/// Fill `tmp` with what the image whose layers are `lower` lacks.
fn fill(tmp: &Path, lower: &[PathBuf]) -> Result<(), InitLayerError> {
    let view = crate::overlay::open_view(lower, tmp)?;
    let look = |p: &str| lookup(&view, p).map_err(io("looking up", &lower[0].join(p)));
    mkdir(tmp, 0o755)?;
    for d in DIRS {
        if look(d)?.is_none() {
            mkdir(&tmp.join(d), 0o755)?;
        }
    }
    // /etc: made when missing (0755, root's, as the runtime makes it), and
    // when it is the image's directory, carrying its mode, owner and times.
    // An /etc that is a link or a file is left to the runtime.
    let etc = look("etc")?;
    if etc.as_ref().is_some_and(|st| !is_dir(st)) {
        return Ok(());
    }
    let mut files = Vec::new();
    for f in ETC_FILES {
        if look(&format!("etc/{f}"))?.is_none() {
            files.push(f);
        }
    }
    let mtab = look("etc/mtab")?.is_none();
    if files.is_empty() && !mtab {
        return Ok(());
    }
    let at = tmp.join("etc");
    mkdir(&at, etc.as_ref().map_or(0o755, |st| st.st_mode & 0o7777))?;
    for f in files {
        let p = at.join(f);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&p)
            .map_err(io("creating", &p))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))
            .map_err(io("setting the mode of", &p))?;
    }
    if mtab {
        let p = at.join("mtab");
        std::os::unix::fs::symlink("/proc/mounts", &p).map_err(io("creating", &p))?;
    }
    if let Some(st) = etc {
        use nix::sys::time::TimeSpec;
        std::os::unix::fs::chown(&at, Some(st.st_uid), Some(st.st_gid))
            .map_err(io("setting the owner of", &at))?;
        // chown clears set-id bits: the mode once more.
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(st.st_mode & 0o7777))
            .map_err(io("setting the mode of", &at))?;
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &at,
            &TimeSpec::new(st.st_atime, st.st_atime_nsec),
            &TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| io("setting the times of", &at)(e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn layer(root: &Path, name: &str) -> PathBuf {
        let fs = root.join(name).join("fs");
        std::fs::create_dir_all(&fs).unwrap();
        fs
    }

    #[test]
    fn holds_what_the_image_lacks_and_keeps_etc_as_the_image_has_it() {
        let d = tempfile::tempdir().unwrap();
        let base = layer(d.path(), "base");
        let top = layer(d.path(), "top");
        std::fs::create_dir(base.join("etc")).unwrap();
        std::fs::write(base.join("etc/hosts"), "image's").unwrap();
        std::fs::create_dir(base.join("proc")).unwrap();
        std::fs::set_permissions(base.join("etc"), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::chown(base.join("etc"), Some(7), Some(8)).unwrap();
        std::fs::write(top.join("marker"), "").unwrap();
        let old = filetime(&base.join("etc"), 1_000_000_000);
        let lower = vec![top.clone(), base.clone()];
        let init = ensure(&lower).unwrap();
        assert_eq!(init, d.path().join("top/init"));
        let mut names: Vec<String> = walk(&init);
        names.sort();
        assert_eq!(
            names,
            [
                "dev",
                "etc",
                "etc/hostname",
                "etc/mtab",
                "etc/resolv.conf",
                "sys"
            ]
        );
        let etc = std::fs::metadata(init.join("etc")).unwrap();
        assert_eq!(
            (etc.mode() & 0o7777, etc.uid(), etc.gid(), etc.mtime()),
            (0o750, 7, 8, old)
        );
        assert_eq!(
            std::fs::read_link(init.join("etc/mtab")).unwrap(),
            Path::new("/proc/mounts")
        );
        // Made once: a second call finds it.
        std::fs::write(init.join("dev/kept"), "").unwrap();
        assert!(ensure(&lower).unwrap().join("dev/kept").exists());
        let leftovers: Vec<_> = std::fs::read_dir(d.path().join("top"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn an_image_with_every_mount_point_gets_an_empty_layer() {
        let d = tempfile::tempdir().unwrap();
        let only = layer(d.path(), "only");
        for p in ["proc", "dev", "sys", "etc"] {
            std::fs::create_dir(only.join(p)).unwrap();
        }
        for f in ["hostname", "hosts", "resolv.conf"] {
            std::fs::write(only.join("etc").join(f), "").unwrap();
        }
        std::os::unix::fs::symlink("elsewhere", only.join("etc/mtab")).unwrap();
        let init = ensure(&[only]).unwrap();
        assert!(walk(&init).is_empty(), "{:?}", walk(&init));
    }

    #[test]
    fn a_deleted_path_in_an_upper_layer_counts_as_lacking() {
        let d = tempfile::tempdir().unwrap();
        let base = layer(d.path(), "base");
        let top = layer(d.path(), "top");
        std::fs::create_dir(base.join("proc")).unwrap();
        // An overlay whiteout of /proc in the top layer.
        nix::sys::stat::mknod(
            &top.join("proc"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let init = ensure(&[top, base]).unwrap();
        assert!(init.join("proc").is_dir());
    }

    fn filetime(p: &Path, secs: i64) -> i64 {
        use nix::sys::time::TimeSpec;
        let t = TimeSpec::new(secs, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            p,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        secs
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                for sub in walk(&e.path()) {
                    out.push(format!("{name}/{sub}"));
                }
            }
            out.push(name);
        }
        out
    }
}
