//! Looking paths up in the layers below the one being unpacked.
//!
//! A layer may hardlink to a file that an earlier layer added; since every
//! layer is unpacked into its own directory, such a link cannot be made and
//! the file is copied instead. Lower layers are also consulted for the
//! ownership and mode of parent directories a layer uses without listing
//! them, so that overlay's merged view of such a directory does not change.
//!
//! Lower directories are given topmost first (index 0 is the layer directly
//! below the one being unpacked) and are searched with overlayfs' rules: the
//! first layer that has the path wins, a whiteout (character device 0:0)
//! hides it in every layer below, and so does an opaque directory
//! (`trusted.overlay.opaque=y`) or a non-directory on the way. Lookups never
//! follow a symlink: a symlink on the way makes the path unusable.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::openat;
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::error::LayerError;
use super::fsops::{self, dir_flags, file_type, is_whiteout};
use super::path::split;

/// The xattr overlayfs uses to mark a directory opaque.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// The open lower layer directories, topmost first.
pub(crate) struct Lowers {
    dirs: Vec<OwnedFd>,
    /// Lower layers exist but are not available yet.
    pub(crate) pending: bool,
}

/// The outcome of a lookup in the lower layers.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Found in lower layer `layer`: the parent directory and the stat.
    Found {
        layer: usize,
        parent: OwnedFd,
        stat: FileStat,
    },
    /// No lower layer has it (or it is whited out).
    NotFound,
    /// The path cannot be used in lower layer `layer`, for this reason.
    Unusable { layer: usize, reason: String },
}

impl Lowers {
    /// Opens the lower directories.
    pub(crate) fn open(paths: &[PathBuf], pending: bool) -> Result<Self, LayerError> {
        let dirs = paths
            .iter()
            .map(|p| {
                fsops::open_tree(p).map_err(|source| LayerError::LowerDir {
                    path: p.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Lowers { dirs, pending })
    }

    /// Looks `rel` (cleaned, non-empty) up in the lower layers.
    pub(crate) fn lookup(&self, rel: &Path) -> Result<Lookup, Errno> {
        let Some((parent, name)) = split(rel) else {
            return Ok(Lookup::NotFound);
        };
        for (layer, root) in self.dirs.iter().enumerate() {
            match lookup_one(root, parent, name)? {
                Step::Found(parent, stat) => {
                    return Ok(Lookup::Found {
                        layer,
                        parent,
                        stat,
                    })
                }
                Step::Absent => {}
                Step::Hidden => return Ok(Lookup::NotFound),
                Step::Unusable(reason) => return Ok(Lookup::Unusable { layer, reason }),
            }
        }
        Ok(Lookup::NotFound)
    }

    /// The stat of the directory `rel` in the topmost lower layer that has
    /// it as a directory, if any.
    pub(crate) fn dir_stat(&self, rel: &Path) -> Option<FileStat> {
        match self.lookup(rel) {
            Ok(Lookup::Found { stat, .. }) if file_type(&stat) == SFlag::S_IFDIR => Some(stat),
            _ => None,
        }
    }
}

enum Step {
    Found(OwnedFd, FileStat),
    /// Not in this layer: look further down.
    Absent,
    /// Deleted or shadowed by this layer: stop looking.
    Hidden,
    Unusable(String),
}

fn lookup_one(root: &OwnedFd, parent: &Path, name: &OsStr) -> Result<Step, Errno> {
    let mut cur = root
        .try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut opaque = false;
    let mut prefix = PathBuf::new();
    let absent = |opaque: bool| if opaque { Step::Hidden } else { Step::Absent };
    for comp in parent.components() {
        let comp = comp.as_os_str();
        prefix.push(comp);
        match openat(&cur, comp, dir_flags(), Mode::empty()) {
            Ok(fd) => {
                cur = fd;
                if is_opaque(&cur) {
                    opaque = true;
                }
            }
            Err(Errno::ENOENT) => return Ok(absent(opaque)),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Ok(match fsops::lstat(cur.as_fd(), comp)? {
                    Some(st) if file_type(&st) == SFlag::S_IFLNK => Step::Unusable(format!(
                        "{} is a symlink in a lower layer",
                        prefix.display()
                    )),
                    // A whiteout or a non-directory hides what is below.
                    Some(_) => Step::Hidden,
                    None => absent(opaque),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(match fsops::lstat(cur.as_fd(), name)? {
        None => absent(opaque),
        Some(st) if is_whiteout(&st) => Step::Hidden,
        Some(st) => Step::Found(cur, st),
    })
}

fn is_opaque(dir: &OwnedFd) -> bool {
    matches!(fsops::fget_xattr(dir.as_fd(), OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}
