//! Filesystem operations confined to a directory file descriptor.
//!
//! Nothing here resolves a path through the host's ordinary lookup. A
//! directory inside a layer is opened from the layer's root fd either with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (one syscall) or, when that
//! fails or is unavailable, component by component with
//! `openat(O_NOFOLLOW | O_DIRECTORY)`, which also tells which component was
//! missing, a symlink, or not a directory. Final components are then created,
//! replaced and changed with `*at` calls relative to their parent's fd, with
//! `AT_SYMLINK_NOFOLLOW` or `O_EXCL`/`O_NOFOLLOW` wherever a call could follow
//! a link. A symlink inside a layer is therefore never followed, whatever it
//! points to.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Flags for opening a directory that must not be a symlink.
pub(crate) fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Whether `openat2` may be used (cleared when the kernel or a seccomp
/// filter refuses it).
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// Why a directory inside a tree could not be opened.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// This prefix of the path does not exist.
    Missing(PathBuf),
    /// This prefix is a symlink (never followed).
    Symlink(PathBuf),
    /// This prefix exists but is neither a directory nor a symlink; it may
    /// be an overlay whiteout.
    NotDir { prefix: PathBuf, whiteout: bool },
    /// Some other failure.
    Os(Errno),
}

/// Opens a directory given by the caller (the layer root or a lower layer).
pub(crate) fn open_tree(path: &Path) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok(fd)
}

/// Opens the directory `rel` (cleaned, relative; empty for the root itself)
/// inside the tree `root`, never following a symlink.
pub(crate) fn open_dir(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, WalkError> {
    if rel.as_os_str().is_empty() {
        return root
            .try_clone_to_owned()
            .map_err(|e| WalkError::Os(io_errno(&e)));
    }
    if OPENAT2.load(Ordering::Relaxed) {
        let how = OpenHow::new().flags(dir_flags()).resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
        match openat2(root, rel, how) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOSYS | Errno::EPERM | Errno::E2BIG) => {
                OPENAT2.store(false, Ordering::Relaxed);
            }
            // Missing, a symlink, not a directory, or a rename race (EAGAIN):
            // the component walk below says which, and where.
            Err(_) => {}
        }
    }
    walk(root, rel)
}

/// The component-by-component fallback of [`open_dir`].
fn walk(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, WalkError> {
    let mut cur = root
        .try_clone_to_owned()
        .map_err(|e| WalkError::Os(io_errno(&e)))?;
    let mut prefix = PathBuf::new();
    for comp in rel.components() {
        let name = comp.as_os_str();
        prefix.push(name);
        match openat(&cur, name, dir_flags(), Mode::empty()) {
            Ok(fd) => cur = fd,
            Err(Errno::ENOENT) => return Err(WalkError::Missing(prefix)),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(match lstat(cur.as_fd(), name) {
                    Ok(Some(st)) if file_type(&st) == SFlag::S_IFLNK => WalkError::Symlink(prefix),
                    Ok(Some(st)) => WalkError::NotDir {
                        prefix,
                        whiteout: is_whiteout(&st),
                    },
                    Ok(None) => WalkError::Missing(prefix),
                    Err(e) => WalkError::Os(e),
                });
            }
            Err(e) => return Err(WalkError::Os(e)),
        }
    }
    Ok(cur)
}

fn io_errno(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// `lstat` of `name` in `dir`; `None` if it does not exist.
pub(crate) fn lstat(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file-type bits of a stat.
pub(crate) fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Whether a stat is an overlay whiteout (character device 0:0).
pub(crate) fn is_whiteout(st: &FileStat) -> bool {
    file_type(st) == SFlag::S_IFCHR && st.st_rdev == 0
}

/// What [`clear`] found at a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cleared {
    /// Nothing was there.
    Empty,
    /// A directory was there and was kept.
    KeptDir,
    /// Something was there and was removed.
    Removed,
}

/// Makes room for a new entry at `name` in `dir`: removes whatever is there
/// (a directory with all its contents), except that an existing directory
/// is kept when `keep_dir` is set. A symlink is removed, never followed.
pub(crate) fn clear(dir: BorrowedFd<'_>, name: &OsStr, keep_dir: bool) -> Result<Cleared, Errno> {
    let Some(st) = lstat(dir, name)? else {
        return Ok(Cleared::Empty);
    };
    if file_type(&st) == SFlag::S_IFDIR {
        if keep_dir {
            return Ok(Cleared::KeptDir);
        }
        remove_all(dir, name)?;
    } else {
        unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?;
    }
    Ok(Cleared::Removed)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it,
/// without following symlinks.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => return Ok(()),
        Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR | Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    let fd = openat(dir, name, dir_flags(), Mode::empty())?;
    let names = list_dir(fd.as_fd())?;
    for child in names {
        remove_all(fd.as_fd(), OsStr::from_bytes(child.as_bytes()))?;
    }
    unlinkat(dir, name, UnlinkatFlags::RemoveDir)
}

/// The names in a directory, without `.` and `..`.
fn list_dir(fd: BorrowedFd<'_>) -> Result<Vec<CString>, Errno> {
    let owned = fd.try_clone_to_owned().map_err(|e| io_errno(&e))?;
    let mut dir = nix::dir::Dir::from_fd(owned)?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Sets an extended attribute on an open file or directory.
pub(crate) fn fset_xattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let cname = c_name(name)?;
    // SAFETY: `cname` is a NUL-terminated string and `value` a live slice
    // whose pointer and length are passed together; the fd is borrowed.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets an extended attribute on `entry` in `dir` without following it if it
/// is a symlink, and without opening it (devices and fifos must not be
/// opened). Goes through `/proc/self/fd/<dir>/<entry>` with `lsetxattr`: the
/// magic link reaches exactly the directory we hold, and the final
/// component is not followed.
pub(crate) fn set_xattr_at(
    dir: BorrowedFd<'_>,
    entry: &OsStr,
    name: &str,
    value: &[u8],
) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(entry.as_bytes());
    let cpath = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let cname = c_name(name)?;
    // SAFETY: both strings are NUL-terminated and outlive the call; `value`
    // is a live slice passed with its own length.
    let rc = unsafe {
        libc::lsetxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads an extended attribute of an open file; `None` if it is not set.
pub(crate) fn fget_xattr(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    let cname = c_name(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `buf` is a live, writable buffer whose length is passed
        // with it; `cname` is NUL-terminated.
        let rc = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                cname.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if rc >= 0 {
            buf.truncate(rc as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::EOPNOTSUPP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < (1 << 16) => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

/// The names of the extended attributes of an open file.
pub(crate) fn flist_xattrs(fd: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let mut buf = vec![0u8; 1024];
    let len = loop {
        // SAFETY: `buf` is a live, writable buffer whose length is passed
        // with it.
        let rc = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            break rc as usize;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EOPNOTSUPP) => return Ok(Vec::new()),
            Some(libc::ERANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    };
    Ok(buf[..len]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .filter_map(|n| std::str::from_utf8(n).ok().map(str::to_owned))
        .collect())
}

/// Make `to` (an empty directory) a copy of `from`: directories, files,
/// links and FIFOs with their owners, modes and times (sockets and devices
/// are left out). Real copies: hard links would show in link counts.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_fifo() {
            nix::unistd::mkfifo(&dst, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        } else {
            // Sockets and devices: COPY makes none.
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
        let times = [
            nix::sys::time::TimeSpec::new(md.atime(), md.atime_nsec()),
            nix::sys::time::TimeSpec::new(md.mtime(), md.mtime_nsec()),
        ];
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &dst,
            &times[0],
            &times[1],
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )?;
    }
    Ok(())
}
