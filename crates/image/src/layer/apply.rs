//! Writing tar entries into the layer directory.
//!
//! Each entry's path is cleaned (see `path`), its parent directory is opened
//! from the layer root without following symlinks (see `fsops`), missing
//! parents are created, and the entry is created relative to that parent fd
//! after removing whatever was at its name (tar semantics: a later member
//! replaces an earlier one; a directory over a directory only updates the
//! metadata). Whiteouts become overlayfs whiteouts: `.wh.NAME` a character
//! device 0:0 at `NAME`, `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr
//! on its directory. Ownership comes from the numeric ids in the headers.
//! Directory times are set at the very end, once nothing more is created in
//! them.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, futimens, makedev, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat,
    Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use super::archive::{Header, Kind, TarReader, Time};
use super::error::LayerError;
use super::fsops::{self, clear, dir_flags, file_type, is_whiteout, Cleared, WalkError};
use super::lower::{Lookup, Lowers, OPAQUE_XATTR};
use super::path::{clean, split, PathProblem};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";

/// Extended attributes a layer may not set: overlayfs' own, which would let
/// a layer redirect lookups or expose data of other layers.
fn forbidden_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

fn timespec(t: Time) -> TimeSpec {
    TimeSpec::new(t.secs, i64::from(t.nanos))
}

/// Writes entries into one layer directory.
pub(crate) struct Unpacker<'l> {
    root: OwnedFd,
    lowers: &'l Lowers,
    /// Copy buffer, reused for every file.
    pub(crate) buf: Vec<u8>,
    /// Directory times to set at the end, in entry order.
    dir_times: Vec<(PathBuf, Time)>,
}

impl<'l> Unpacker<'l> {
    pub(crate) fn new(root: OwnedFd, lowers: &'l Lowers, buf_size: usize) -> Self {
        Unpacker {
            root,
            lowers,
            buf: vec![0; buf_size],
            dir_times: Vec::new(),
        }
    }

    /// Writes one entry, reading its data from `tar`.
    pub(crate) fn apply<R: std::io::Read>(
        &mut self,
        hdr: &Header,
        tar: &mut TarReader<'_, R>,
    ) -> Result<(), LayerError> {
        let entry = hdr.display();
        let rel = clean(&hdr.path).map_err(|p| path_error(&entry, p))?;
        let Some((parent, name)) = split(&rel) else {
            // The layer root itself ("./"): its metadata belongs to the
            // snapshot, not to the layer, as in containerd.
            return Ok(());
        };
        if let Some(first) = rel.components().next().map(|c| c.as_os_str().as_bytes()) {
            if first.starts_with(WHITEOUT_META_PREFIX) && first != OPAQUE_WHITEOUT {
                // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
                return Ok(());
            }
        }
        if parent
            .components()
            .any(|c| c.as_os_str().as_bytes().starts_with(WHITEOUT_PREFIX))
        {
            return Err(LayerError::InvalidWhiteout {
                entry,
                reason: "a whiteout name is used as a directory",
            });
        }
        if name.as_bytes().starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&entry, parent, name.as_bytes());
        }

        let dir = self.dir(&entry, parent)?;
        match hdr.kind {
            Kind::Directory => self.directory(&entry, &rel, dir.as_fd(), name, hdr),
            Kind::Regular => self.regular(&entry, dir.as_fd(), name, hdr, tar),
            Kind::HardLink => self.hardlink(&entry, &rel, dir.as_fd(), name, hdr),
            Kind::Symlink | Kind::Char | Kind::Block | Kind::Fifo => {
                self.special(&entry, dir.as_fd(), name, hdr)
            }
        }
    }

    /// Sets the directory times recorded along the way.
    pub(crate) fn finish(self) -> Result<(), LayerError> {
        for (rel, t) in &self.dir_times {
            // A directory replaced by a later entry is simply skipped.
            let Ok(fd) = fsops::open_dir(self.root.as_fd(), rel) else {
                continue;
            };
            futimens(&fd, &timespec(*t), &timespec(*t))
                .map_err(|e| LayerError::io(&rel.to_string_lossy(), "set directory times", e))?;
        }
        Ok(())
    }

    /// Opens the directory `rel` of the layer, creating what is missing.
    fn dir(&mut self, entry: &str, rel: &Path) -> Result<OwnedFd, LayerError> {
        // Each round creates one missing component, so this ends.
        for _ in 0..=rel.components().count() * 2 {
            match fsops::open_dir(self.root.as_fd(), rel) {
                Ok(fd) => return Ok(fd),
                Err(WalkError::Missing(prefix)) => self.make_parent(entry, &prefix, false)?,
                Err(WalkError::NotDir {
                    prefix,
                    whiteout: true,
                }) => {
                    // A deleted directory that reappears: a fresh directory,
                    // opaque so that the lower one's contents stay deleted.
                    self.make_parent(entry, &prefix, true)?
                }
                Err(e) => return Err(walk_error(entry, e)),
            }
        }
        Err(LayerError::InvalidPath {
            entry: entry.to_owned(),
            reason: "its parent directories keep changing",
        })
    }

    /// Creates the directory `prefix` (whose parent exists) for an entry
    /// that needs it, replacing a whiteout there if `over_whiteout`.
    fn make_parent(
        &mut self,
        entry: &str,
        prefix: &Path,
        over_whiteout: bool,
    ) -> Result<(), LayerError> {
        let Some((pp, name)) = split(prefix) else {
            return Ok(());
        };
        let pfd = fsops::open_dir(self.root.as_fd(), pp).map_err(|e| walk_error(entry, e))?;
        if over_whiteout {
            unlinkat(&pfd, name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| LayerError::io(entry, "remove whiteout", e))?;
        }
        match mkdirat(&pfd, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(LayerError::io(entry, "create parent directory", e)),
        }
        let fd = openat(&pfd, name, dir_flags(), Mode::empty())
            .map_err(|e| LayerError::io(entry, "open parent directory", e))?;
        let lower = if over_whiteout {
            None
        } else {
            self.lowers.dir_stat(prefix)
        };
        let (uid, gid, mode) = match &lower {
            Some(st) => (st.st_uid, st.st_gid, st.st_mode & 0o7777),
            None => (0, 0, 0o755),
        };
        fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| LayerError::io(entry, "chown parent directory", e))?;
        fchmod(&fd, Mode::from_bits_truncate(mode))
            .map_err(|e| LayerError::io(entry, "chmod parent directory", e))?;
        if let Some(st) = lower {
            let t = Time {
                secs: st.st_mtime,
                nanos: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            };
            self.dir_times.push((prefix.to_owned(), t));
        }
        if over_whiteout {
            set_opaque(entry, fd.as_fd())?;
        }
        Ok(())
    }

    fn whiteout(&mut self, entry: &str, parent: &Path, name: &[u8]) -> Result<(), LayerError> {
        if name == OPAQUE_WHITEOUT {
            let dir = self.dir(entry, parent)?;
            return set_opaque(entry, dir.as_fd());
        }
        if name.starts_with(WHITEOUT_META_PREFIX) {
            // Other AUFS bookkeeping names carry no meaning for overlay.
            return Ok(());
        }
        let target = &name[WHITEOUT_PREFIX.len()..];
        let reason = match target {
            b"" => Some("it names nothing"),
            b"." | b".." => Some("it names \".\" or \"..\""),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(LayerError::InvalidWhiteout {
                entry: entry.to_owned(),
                reason,
            });
        }
        let target = OsStr::from_bytes(target);
        let dir = self.dir(entry, parent)?;
        clear(dir.as_fd(), target, false)
            .map_err(|e| LayerError::io(entry, "remove replaced entry", e))?;
        mknodat(&dir, target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
            .map_err(|e| LayerError::io(entry, "create whiteout device", e))
    }

    fn directory(
        &mut self,
        entry: &str,
        rel: &Path,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        hdr: &Header,
    ) -> Result<(), LayerError> {
        // A directory that replaces a whiteout of this layer must hide the
        // lower directory's contents, as the whiteout did.
        let over_whiteout = matches!(fsops::lstat(dir, name), Ok(Some(st)) if is_whiteout(&st));
        let cleared = clear(dir, name, true)
            .map_err(|e| LayerError::io(entry, "remove replaced entry", e))?;
        if cleared != Cleared::KeptDir {
            mkdirat(dir, name, Mode::from_bits_truncate(0o700))
                .map_err(|e| LayerError::io(entry, "create directory", e))?;
        }
        let fd = openat(dir, name, dir_flags(), Mode::empty())
            .map_err(|e| LayerError::io(entry, "open directory", e))?;
        set_metadata(entry, fd.as_fd(), hdr.uid, hdr.gid, hdr.mode, &hdr.xattrs)?;
        if over_whiteout {
            set_opaque(entry, fd.as_fd())?;
        }
        self.dir_times.push((rel.to_owned(), hdr.mtime));
        Ok(())
    }

    fn regular<R: std::io::Read>(
        &mut self,
        entry: &str,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        hdr: &Header,
        tar: &mut TarReader<'_, R>,
    ) -> Result<(), LayerError> {
        let mut file = create_file(entry, dir, name)?;
        loop {
            let n = tar.read_data(&mut self.buf)?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n])
                .map_err(|source| LayerError::Io {
                    entry: entry.to_owned(),
                    op: "write file",
                    source,
                })?;
        }
        set_metadata(entry, file.as_fd(), hdr.uid, hdr.gid, hdr.mode, &hdr.xattrs)?;
        let t = timespec(hdr.mtime);
        futimens(&file, &t, &t).map_err(|e| LayerError::io(entry, "set times", e))
    }

    fn special(
        &mut self,
        entry: &str,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        hdr: &Header,
    ) -> Result<(), LayerError> {
        clear(dir, name, false).map_err(|e| LayerError::io(entry, "remove replaced entry", e))?;
        let mode = Mode::from_bits_truncate(hdr.mode);
        let dev = makedev(u64::from(hdr.dev_major), u64::from(hdr.dev_minor));
        match hdr.kind {
            Kind::Symlink => {
                if hdr.link.is_empty() || hdr.link.contains(&0) {
                    return Err(LayerError::InvalidPath {
                        entry: entry.to_owned(),
                        reason: "symlink target is empty or holds a NUL byte",
                    });
                }
                symlinkat(OsStr::from_bytes(&hdr.link), dir, name)
                    .map_err(|e| LayerError::io(entry, "create symlink", e))?;
            }
            Kind::Char => mknodat(dir, name, SFlag::S_IFCHR, mode, dev)
                .map_err(|e| LayerError::io(entry, "create character device", e))?,
            Kind::Block => mknodat(dir, name, SFlag::S_IFBLK, mode, dev)
                .map_err(|e| LayerError::io(entry, "create block device", e))?,
            _ => mknodat(dir, name, SFlag::S_IFIFO, mode, 0)
                .map_err(|e| LayerError::io(entry, "create fifo", e))?,
        }
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(hdr.uid)),
            Some(Gid::from_raw(hdr.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| LayerError::io(entry, "chown", e))?;
        if hdr.kind != Kind::Symlink {
            // mknod's mode went through the umask; the node was just created
            // (it is not a symlink), so following is moot.
            fchmodat(dir, name, mode, FchmodatFlags::FollowSymlink)
                .map_err(|e| LayerError::io(entry, "chmod", e))?;
        }
        for (xname, value) in &hdr.xattrs {
            if forbidden_xattr(xname) {
                continue;
            }
            match fsops::set_xattr_at(dir, name, xname, value) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
                Err(source) => {
                    return Err(LayerError::Xattr {
                        entry: entry.to_owned(),
                        name: xname.clone(),
                        source,
                    })
                }
            }
        }
        let t = timespec(hdr.mtime);
        utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink)
            .map_err(|e| LayerError::io(entry, "set times", e))
    }

    fn hardlink(
        &mut self,
        entry: &str,
        rel: &Path,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        hdr: &Header,
    ) -> Result<(), LayerError> {
        let target_text = String::from_utf8_lossy(&hdr.link).into_owned();
        let bad = |reason: String| LayerError::BadHardlink {
            entry: entry.to_owned(),
            target: target_text.clone(),
            reason,
        };
        let target = match clean(&hdr.link) {
            Ok(t) => t,
            Err(PathProblem::Escapes) => return Err(bad("escapes the layer root".into())),
            Err(PathProblem::Nul) => return Err(bad("holds a NUL byte".into())),
        };
        let Some((tparent, tname)) = split(&target) else {
            return Err(bad("is the layer root".into()));
        };

        // In this layer?
        match fsops::open_dir(self.root.as_fd(), tparent) {
            Ok(tdir) => match fsops::lstat(tdir.as_fd(), tname) {
                Ok(Some(st)) if file_type(&st) == SFlag::S_IFDIR => {
                    return Err(bad("is a directory".into()))
                }
                Ok(Some(st)) if is_whiteout(&st) => {
                    return Err(bad("was deleted (whiteout)".into()))
                }
                Ok(Some(_)) => {
                    if target == rel {
                        return Ok(());
                    }
                    clear(dir, name, false)
                        .map_err(|e| LayerError::io(entry, "remove replaced entry", e))?;
                    // Flags 0: a symlink target is linked itself, not followed.
                    return linkat(&tdir, tname, dir, name, AtFlags::empty())
                        .map_err(|e| LayerError::io(entry, "create hardlink", e));
                }
                Ok(None) => {}
                Err(e) => return Err(LayerError::io(entry, "stat hardlink target", e)),
            },
            Err(WalkError::Missing(_)) => {}
            Err(WalkError::Symlink(p)) => {
                return Err(bad(format!("its parent {} is a symlink", p.display())))
            }
            Err(WalkError::NotDir { prefix: p, .. }) => {
                return Err(bad(format!(
                    "its parent {} is not a directory",
                    p.display()
                )))
            }
            Err(WalkError::Os(e)) => return Err(LayerError::io(entry, "open hardlink target", e)),
        }

        // In a lower layer: copy it (once the lower layers are there).
        if self.lowers.pending {
            return Err(LayerError::NeedsLowerLayers {
                entry: entry.to_owned(),
                target: target_text,
            });
        }
        let found = self
            .lowers
            .lookup(&target)
            .map_err(|e| LayerError::io(entry, "look up hardlink target in lower layers", e))?;
        match found {
            Lookup::Found {
                layer,
                parent,
                stat,
            } => {
                if file_type(&stat) != SFlag::S_IFREG {
                    return Err(bad(format!("is not a regular file in lower layer {layer}")));
                }
                self.copy_from_lower(entry, parent.as_fd(), tname, dir, name)
            }
            Lookup::NotFound => Err(bad("does not exist in this layer or any lower layer".into())),
            Lookup::Unusable { layer, reason } => {
                Err(bad(format!("lower layer {layer}: {reason}")))
            }
        }
    }

    fn copy_from_lower(
        &mut self,
        entry: &str,
        src_dir: BorrowedFd<'_>,
        src_name: &OsStr,
        dir: BorrowedFd<'_>,
        name: &OsStr,
    ) -> Result<(), LayerError> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let mut src = File::from(
            openat(src_dir, src_name, flags, Mode::empty())
                .map_err(|e| LayerError::io(entry, "open lower-layer file", e))?,
        );
        let st: FileStat = nix::sys::stat::fstat(&src)
            .map_err(|e| LayerError::io(entry, "stat lower-layer file", e))?;
        if file_type(&st) != SFlag::S_IFREG {
            return Err(LayerError::BadHardlink {
                entry: entry.to_owned(),
                target: src_name.to_string_lossy().into_owned(),
                reason: "lower-layer file changed while being copied".into(),
            });
        }
        let mut file = create_file(entry, dir, name)?;
        std::io::copy(&mut src, &mut file).map_err(|source| LayerError::Io {
            entry: entry.to_owned(),
            op: "copy lower-layer file",
            source,
        })?;
        let mut xattrs = Vec::new();
        let names = fsops::flist_xattrs(src.as_fd()).map_err(|source| LayerError::Io {
            entry: entry.to_owned(),
            op: "list lower-layer xattrs",
            source,
        })?;
        for xname in names {
            if let Ok(Some(value)) = fsops::fget_xattr(src.as_fd(), &xname) {
                xattrs.push((xname, value));
            }
        }
        set_metadata(
            entry,
            file.as_fd(),
            st.st_uid,
            st.st_gid,
            st.st_mode & 0o7777,
            &xattrs,
        )?;
        let t = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        futimens(&file, &t, &t).map_err(|e| LayerError::io(entry, "set times", e))
    }
}

/// Marks a directory opaque for overlayfs.
fn set_opaque(entry: &str, dir: BorrowedFd<'_>) -> Result<(), LayerError> {
    fsops::fset_xattr(dir, OPAQUE_XATTR, b"y").map_err(|source| LayerError::Xattr {
        entry: entry.to_owned(),
        name: OPAQUE_XATTR.to_owned(),
        source,
    })
}

/// Creates a new regular file at `name`, replacing what is there.
fn create_file(entry: &str, dir: BorrowedFd<'_>, name: &OsStr) -> Result<File, LayerError> {
    clear(dir, name, false).map_err(|e| LayerError::io(entry, "remove replaced entry", e))?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| LayerError::io(entry, "create file", e))?;
    Ok(File::from(fd))
}

/// Owner, then mode (chown clears setuid bits), then xattrs (chown clears
/// `security.capability`), on an open file or directory.
fn set_metadata(
    entry: &str,
    fd: BorrowedFd<'_>,
    uid: u32,
    gid: u32,
    mode: u32,
    xattrs: &[(String, Vec<u8>)],
) -> Result<(), LayerError> {
    fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| LayerError::io(entry, "chown", e))?;
    fchmod(fd, Mode::from_bits_truncate(mode)).map_err(|e| LayerError::io(entry, "chmod", e))?;
    for (name, value) in xattrs {
        if forbidden_xattr(name) {
            continue;
        }
        match fsops::fset_xattr(fd, name, value) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            Err(source) => {
                return Err(LayerError::Xattr {
                    entry: entry.to_owned(),
                    name: name.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn path_error(entry: &str, problem: PathProblem) -> LayerError {
    match problem {
        PathProblem::Escapes => LayerError::PathEscapes {
            entry: entry.to_owned(),
        },
        PathProblem::Nul => LayerError::InvalidPath {
            entry: entry.to_owned(),
            reason: "it holds a NUL byte",
        },
    }
}

fn walk_error(entry: &str, err: WalkError) -> LayerError {
    match err {
        WalkError::Symlink(symlink) => LayerError::SymlinkInPath {
            entry: entry.to_owned(),
            symlink,
        },
        WalkError::NotDir { prefix: parent, .. } | WalkError::Missing(parent) => {
            LayerError::NotADirectory {
                entry: entry.to_owned(),
                parent,
            }
        }
        WalkError::Os(e) => LayerError::io(entry, "open parent directory", e),
    }
}
