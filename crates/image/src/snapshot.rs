//! Unpacked layers on disk: one directory per layer, named by the layer's chain
//! id, so images that share base layers share their snapshots.
//!
//! A snapshot is filled in `tmp-<random>/` and renamed into place only when
//! complete: a killed unpack leaves a temp directory that `open` sweeps, never
//! a half-filled snapshot under a chain id.

use crate::digest::{Digest, Hasher};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshots: {op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, SnapshotError>;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SnapshotError + 'a {
    move |err| SnapshotError::Io {
        op,
        path: path.into(),
        err,
    }
}

/// The chain id of each layer: the first is its diff id, each next one is
/// sha256("<previous chain id> <diff id>"), as the OCI image spec defines.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => {
                let mut h = Hasher::new();
                h.update(format!("{prev} {d}").as_bytes());
                h.finish()
            }
        };
        out.push(next);
    }
    out
}

/// ext4's "top of a directory hierarchy" inode flag (`chattr +T`).
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// Marks the snapshots directory as the top of directory hierarchies
/// (`chattr +T`), so ext4's Orlov allocator spreads each new snapshot over the
/// block groups with the fewest directories instead of putting it next to its
/// siblings. Without it, a pull right after `rmi` lands in the groups the
/// removed snapshots just freed, and on an ext4 without a journal every new
/// inode there first walks all inodes freed in the last minutes
/// (`recently_deleted()` in fs/ext4/ialloc.c): the bench image's pull took
/// 1.8 s instead of 0.67 s. A file system without the flag (or a caller not
/// allowed to set it) is left as it is: the flag is only a placement hint.
pub fn mark_top_dir(dir: &Path) {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(dir) else {
        return;
    };
    let mut flags: libc::c_int = 0;
    // SAFETY: both ioctls read or write one int at the pointer given, which
    // points at a live c_int; the fd is open for the duration.
    unsafe {
        if libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) != 0
            || flags & FS_TOPDIR_FL != 0
        {
            return;
        }
        flags |= FS_TOPDIR_FL;
        libc::ioctl(f.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags);
    }
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    root: PathBuf,
}

impl Snapshots {
    /// Open (creating) the snapshot directory and remove leftovers of killed unpacks.
    pub fn open(root: impl AsRef<Path>) -> Result<Snapshots> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(io("creating", &root))?;
        mark_top_dir(&root);
        let s = Snapshots { root };
        s.sweep()?;
        Ok(s)
    }

    /// Remove `tmp-<chain>-...` directories whose chain lock nobody holds
    /// (leftovers of killed unpacks); live ones, in any process, stay.
    fn sweep(&self) -> Result<()> {
        for e in std::fs::read_dir(&self.root)
            .map_err(io("reading", &self.root))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("tmp-") else {
                continue;
            };
            let hex = rest.split('-').next().unwrap_or("");
            let Ok(chain) = Digest::parse(&format!("sha256:{hex}")) else {
                let _ = std::fs::remove_dir_all(e.path());
                continue;
            };
            if let Some(_lock) = try_lock_file(&self.lock_path(&chain))? {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(())
    }

    /// The directory an overlay uses as the lower dir of this layer.
    pub fn path(&self, chain: &Digest) -> PathBuf {
        self.root.join(chain.hex()).join("fs")
    }

    pub fn exists(&self, chain: &Digest) -> bool {
        self.root.join(chain.hex()).is_dir()
    }

    /// Make the snapshot for `chain` unless it exists: `fill` writes the
    /// layer into the directory it is given. On error nothing is kept. Takes
    /// the chain's lock for the duration.
    pub fn create<E>(
        &self,
        chain: &Digest,
        fill: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, CreateError<E>> {
        let _lock = lock_file(&self.lock_path(chain)).map_err(CreateError::Snapshot)?;
        self.create_holding_lock(chain, fill)
    }

    /// [`create`](Self::create) for a caller that already holds the chain's
    /// lock ([`lock_file`] on [`lock_path`](Self::lock_path)).
    pub fn create_holding_lock<E>(
        &self,
        chain: &Digest,
        fill: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, CreateError<E>> {
        if self.exists(chain) {
            return Ok(self.path(chain));
        }
        let tmp = self
            .root
            .join(format!("tmp-{}-{}", chain.hex(), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let fs = tmp.join("fs");
        std::fs::create_dir_all(&fs)
            .map_err(io("creating", &fs))
            .map_err(CreateError::Snapshot)?;
        struct Tmp<'a>(&'a Path, bool);
        impl Drop for Tmp<'_> {
            fn drop(&mut self) {
                if self.1 {
                    let _ = std::fs::remove_dir_all(self.0);
                }
            }
        }
        let mut guard = Tmp(&tmp, true);
        fill(&fs).map_err(CreateError::Fill)?;
        let dest = self.root.join(chain.hex());
        match std::fs::rename(&tmp, &dest) {
            Ok(()) => guard.1 = false,
            // Someone else made it meanwhile: theirs is as good as ours.
            Err(_) if dest.is_dir() => {}
            Err(e) => return Err(CreateError::Snapshot(io("renaming", &tmp)(e))),
        }
        Ok(self.path(chain))
    }

    /// Make `dir` (a complete layer, on the same file system) the snapshot
    /// of `chain`, moving it into place; when the snapshot exists already,
    /// the existing one is kept and `dir` left where it is (a mount may
    /// still read it: its owner removes it).
    pub fn adopt(&self, chain: &Digest, dir: &Path) -> Result<PathBuf> {
        let _lock = lock_file(&self.lock_path(chain))?;
        if self.exists(chain) {
            return Ok(self.path(chain));
        }
        let tmp = self
            .root
            .join(format!("tmp-{}-{}", chain.hex(), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(io("creating", &tmp))?;
        let fs = tmp.join("fs");
        let moved = std::fs::rename(dir, &fs)
            .map_err(io("moving", dir))
            .and_then(|()| {
                std::fs::rename(&tmp, self.root.join(chain.hex())).map_err(io("renaming", &tmp))
            });
        if let Err(e) = moved {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Ok(self.path(chain))
    }

    /// The lock file that serializes work on one layer across processes.
    pub fn lock_path(&self, chain: &Digest) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("{}.lock", chain.hex()))
    }

    /// Remove a snapshot (when no image uses it any more).
    pub fn remove(&self, chain: &Digest) -> Result<()> {
        let p = self.root.join(chain.hex());
        match std::fs::remove_dir_all(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing", &p)(e)),
        }
    }

    /// Chain ids of every complete snapshot.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.root)
            .map_err(io("reading", &self.root))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Rename `from` to `to` unless `to` exists (`renameat2(RENAME_NOREPLACE)`):
/// what puts a directory filled aside into place without replacing one
/// another process put there.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(std::io::Error::from)
}

/// Take an exclusive flock on `path` (created if missing), waiting for it.
/// The kernel drops it when the holder dies, even by SIGKILL.
pub fn lock_file(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    nix::fcntl::Flock::lock(open_lock(path)?, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io("locking", path)(e.into()))
}

/// Take the lock on `path` if nobody holds it; None when it is held.
pub fn try_lock_file(path: &Path) -> Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    match nix::fcntl::Flock::lock(
        open_lock(path)?,
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    ) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(io("locking", path)(e.into())),
    }
}

fn open_lock(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("opening", path))
}

/// Failure of [`Snapshots::create`]: the snapshot store, or the fill function.
#[derive(Debug, thiserror::Error)]
pub enum CreateError<E> {
    #[error(transparent)]
    Snapshot(SnapshotError),
    #[error(transparent)]
    Fill(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn failed_fill_leaves_nothing_and_success_is_shared() {
        let d = tempfile::tempdir().unwrap();
        let s = Snapshots::open(d.path()).unwrap();
        let chain = Digest::of(b"layer");
        let r = s.create(&chain, |p| {
            std::fs::write(p.join("half"), "x").unwrap();
            Err::<(), _>("unpack failed")
        });
        assert!(matches!(r, Err(CreateError::Fill("unpack failed"))));
        assert!(!s.exists(&chain));
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "locks")
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let p = s
            .create(&chain, |p| {
                std::fs::write(p.join("f"), "ok").map_err(|e| e.to_string())
            })
            .unwrap();
        assert_eq!(std::fs::read_to_string(p.join("f")).unwrap(), "ok");
        // a second create reuses it without calling fill
        let p2 = s
            .create(&chain, |_| -> std::result::Result<(), String> {
                panic!("fill called again")
            })
            .unwrap();
        assert_eq!(p, p2);
        assert_eq!(s.list().unwrap(), vec![chain]);
    }

    #[test]
    fn open_sweeps_leftovers_of_killed_unpacks() {
        let d = tempfile::tempdir().unwrap();
        let chain = Digest::of(b"x");
        let stale = d.path().join(format!("tmp-{}-1", chain.hex()));
        std::fs::create_dir_all(stale.join("fs")).unwrap();
        // while someone holds the chain's lock, its temp dir is live
        let probe = Snapshots {
            root: d.path().to_path_buf(),
        };
        let held = lock_file(&probe.lock_path(&chain)).unwrap();
        Snapshots::open(d.path()).unwrap();
        assert!(stale.exists(), "a live unpack was swept");
        drop(held);
        let s = Snapshots::open(d.path()).unwrap();
        assert!(s.list().unwrap().is_empty());
        assert!(!stale.exists());
    }

    /// The flag that keeps a pull after `rmi` out of the just-freed block
    /// groups (see `mark_top_dir`). The suite's temp dirs are on ext4 here;
    /// on a file system without the flag, `open` must still succeed.
    #[test]
    fn snapshots_dir_is_marked_as_a_top_directory_on_ext4() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("snapshots");
        Snapshots::open(&root).unwrap();
        let fs = nix::sys::statfs::statfs(&root).unwrap();
        if fs.filesystem_type() != nix::sys::statfs::EXT4_SUPER_MAGIC {
            eprintln!("not ext4: the top-directory flag is not checked");
            return;
        }
        let out = std::process::Command::new("lsattr")
            .arg("-d")
            .arg(&root)
            .output();
        let out = out.expect("lsattr (e2fsprogs) runs");
        let attrs = String::from_utf8_lossy(&out.stdout);
        let flags = attrs.split_whitespace().next().unwrap_or("");
        assert!(flags.contains('T'), "lsattr -d {}: {attrs}", root.display());
    }
}
