//! Containers' directories (`<root>/containers/<id>`), recycled.
//!
//! A removed container's directory is emptied down to its skeleton (the
//! empty `upper/`, `work/` and `rootfs/`, the emptied files the supervisor
//! rewrites at every start) and kept in `<root>/containers/#spare` (`#` is
//! not in an id's alphabet) for the next container, which takes it with a
//! rename. On a file system where making and freeing inodes is what costs
//! (ext4 without a journal scans past every inode freed in the last
//! seconds to make one, and discards each freed block before returning),
//! a container that writes nothing makes and frees no directory of its
//! own: its log, the only file that goes, is removed so that no reader of
//! the old log ever sees the next container's output.
//!
//! A spare is complete or absent: a directory is emptied under its
//! container's name and only then renamed into the pool, and taken out of
//! it by one rename. What a killed process leaves is a container directory
//! without a record, which `container prune` removes, as before. A
//! directory whose rootfs is still mounted, or was only detached lazily
//! (something still used it), is removed instead: its upper layer may
//! still be in an overlay's use.

use crate::Paths;
use skiff_image::snapshot::rename_noreplace;
use std::path::{Path, PathBuf};

/// The pool, in the containers' directory.
const SPARE: &str = "#spare";
/// At most this many spares are kept.
const CAP: usize = 32;
/// What a container directory always has.
const SKELETON: [&str; 3] = ["upper", "work", "rootfs"];
/// Files the supervisor writes at every start, kept emptied.
const REWRITTEN: [&str; 4] = ["hostname", "hosts", "resolv.conf", "config.json"];

impl Paths {
    fn spare_dir(&self) -> PathBuf {
        self.root.join("containers").join(SPARE)
    }

    /// Make the directory of new container `id` (with its empty `upper`,
    /// `work` and `rootfs`): a spare one, else a new one; AlreadyExists if
    /// it is there.
    pub(crate) fn make_container_dir(&self, id: &str) -> std::io::Result<PathBuf> {
        let dir = self.container_dir(id);
        if let Ok(rd) = std::fs::read_dir(self.spare_dir()) {
            for e in rd.flatten() {
                match rename_noreplace(&e.path(), &dir) {
                    Ok(()) => return Ok(dir),
                    // Taken by another create meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
                    Err(_) => break,
                }
            }
        }
        std::fs::create_dir_all(self.root.join("containers"))?;
        std::fs::create_dir(&dir)?;
        for sub in SKELETON {
            std::fs::create_dir(dir.join(sub))?;
        }
        Ok(dir)
    }

    /// Remove the directory of container `id`, whose rootfs is unmounted
    /// (`unmounted`: cleanly, not detached while in use): kept as a spare
    /// when it can be emptied to its skeleton, else removed.
    pub(crate) fn remove_container_dir(&self, id: &str, unmounted: bool) -> std::io::Result<()> {
        let dir = self.container_dir(id);
        if unmounted && self.recycle(&dir).unwrap_or(false) {
            return Ok(());
        }
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    /// Empty `dir` to its skeleton and move it into the pool; false when
    /// the pool is full or the directory is not a plain container
    /// directory.
    fn recycle(&self, dir: &Path) -> std::io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let pool = self.spare_dir();
        match std::fs::read_dir(&pool).map(Iterator::count) {
            Ok(n) if n >= CAP => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&pool)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => Ok(()),
                    _ => Err(e),
                })?,
            Err(e) => return Err(e),
        }
        let dev = std::fs::symlink_metadata(dir)?.dev();
        let mut seen = 0;
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let path = e.path();
            let md = std::fs::symlink_metadata(&path)?;
            let name = e.file_name();
            match name.to_str().unwrap_or("") {
                // Overlay's `work/work` goes too: a mount that finds one
                // removes it first, and on a file system mounted with
                // `discard` freeing its block waits for the disk, in the
                // next container's start instead of here. (A volatile
                // mount's mark in it would make the next mount fail.)
                "upper" | "work" if md.is_dir() => {
                    empty(&path)?;
                    seen += 1;
                }
                // A mount point on it, or anything in it: not reusable.
                "rootfs" if md.is_dir() => {
                    if md.dev() != dev || std::fs::read_dir(&path)?.next().is_some() {
                        return Ok(false);
                    }
                    seen += 1;
                }
                n if REWRITTEN.contains(&n) && md.is_file() => {
                    if md.len() > 0 {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&path)?
                            .set_len(0)?;
                    }
                }
                // Kept unless someone still holds it (the supervisor that
                // ran the container lets go of it first).
                "supervisor.lock" if md.is_file() && !crate::startlock::locked(dir) => {}
                _ => remove_all(&path)?,
            }
        }
        if seen != SKELETON.len() {
            return Ok(false);
        }
        let name = format!("{}-{}", std::process::id(), &crate::names::new_id()[..16]);
        rename_noreplace(dir, &pool.join(name))?;
        Ok(true)
    }
}

/// Remove everything in directory `dir`.
fn empty(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        remove_all(&e?.path())?;
    }
    Ok(())
}

/// Remove `path`, a directory with what it holds or anything else; gone
/// already is fine.
fn remove_all(path: &Path) -> std::io::Result<()> {
    let r = match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(d: &Path) -> Paths {
        Paths {
            root: d.join("root"),
            runroot: d.join("run"),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_removed_containers_directory_is_emptied_and_taken_by_the_next() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        let a = p.make_container_dir("a").unwrap();
        assert_eq!(names(&a), ["rootfs", "upper", "work"]);
        std::fs::create_dir_all(a.join("upper/etc/deep")).unwrap();
        std::fs::write(a.join("upper/etc/deep/f"), "written").unwrap();
        std::fs::create_dir_all(a.join("work/work/incompat/volatile")).unwrap();
        std::fs::write(a.join("hosts"), "10.0.0.1 a").unwrap();
        std::fs::write(a.join("config.json"), "{}").unwrap();
        std::fs::write(a.join("a-json.log"), "a's output").unwrap();
        std::fs::write(a.join("a-json.log.1"), "older").unwrap();
        std::fs::write(a.join("supervisor.lock"), "").unwrap();
        let upper_ino = std::fs::metadata(a.join("upper")).unwrap().ino();
        p.remove_container_dir("a", true).unwrap();
        assert!(!a.exists());
        assert_eq!(names(&p.spare_dir()).len(), 1);

        let b = p.make_container_dir("b").unwrap();
        assert_eq!(
            names(&b),
            [
                "config.json",
                "hosts",
                "rootfs",
                "supervisor.lock",
                "upper",
                "work"
            ]
        );
        assert_eq!(std::fs::metadata(b.join("upper")).unwrap().ino(), upper_ino);
        assert!(names(&b.join("upper")).is_empty());
        assert!(names(&b.join("work")).is_empty());
        assert_eq!(std::fs::read(b.join("hosts")).unwrap(), b"");
        assert_eq!(std::fs::read(b.join("config.json")).unwrap(), b"");
        assert!(names(&p.spare_dir()).is_empty());
    }

    #[test]
    fn a_directory_with_something_on_its_rootfs_is_removed_not_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        let a = p.make_container_dir("a").unwrap();
        std::fs::write(a.join("rootfs/left"), "").unwrap();
        p.remove_container_dir("a", true).unwrap();
        assert!(!a.exists());
        assert!(names(&p.spare_dir()).is_empty());
        // Nor one whose rootfs was detached while in use.
        p.make_container_dir("b").unwrap();
        p.remove_container_dir("b", false).unwrap();
        assert!(!p.container_dir("b").exists());
        assert!(names(&p.spare_dir()).is_empty());
    }

    #[test]
    fn the_pool_keeps_at_most_its_cap() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        for i in 0..CAP + 3 {
            p.make_container_dir(&format!("c{i}")).unwrap();
        }
        for i in 0..CAP + 3 {
            p.remove_container_dir(&format!("c{i}"), true).unwrap();
        }
        assert_eq!(names(&p.spare_dir()).len(), CAP);
        assert_eq!(names(&p.root.join("containers")), [SPARE]);
    }
}
