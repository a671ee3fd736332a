//! Cleaning entry paths into paths relative to the layer root.
//!
//! Archive paths are cleaned lexically, like Docker's `filepath.Clean` of
//! `"/" + name`: a leading `/` is dropped (absolute members land inside the
//! layer, as GNU tar and Docker do), empty and `.` components vanish, and `..`
//! removes the previous component. A `..` that would climb above the root is
//! an error rather than being clamped, because such a member is malicious or
//! broken. The result is made only of normal components and is never resolved
//! through the host's path lookup: see `fsops` for how it is opened.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why an archive path cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// A `..` climbs above the layer root.
    Escapes,
    /// The path holds a NUL byte.
    Nul,
}

/// Cleans an archive path into a relative path of normal components (empty
/// for the layer root itself).
pub(crate) fn clean(raw: &[u8]) -> Result<PathBuf, PathProblem> {
    if raw.contains(&0) {
        return Err(PathProblem::Nul);
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = PathBuf::new();
    for part in parts {
        out.push(OsStr::from_bytes(part));
    }
    Ok(out)
}

/// Splits a cleaned, non-empty path into its parent and final name.
pub(crate) fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    let name = path.file_name()?;
    let parent = path.parent().unwrap_or(Path::new(""));
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_roots_and_dots() {
        assert_eq!(clean(b"/etc/passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(clean(b"./a//b/./c/").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean(b"a/../b").unwrap(), Path::new("b"));
        assert_eq!(clean(b"./").unwrap(), Path::new(""));
        assert_eq!(clean(b"/").unwrap(), Path::new(""));
    }

    #[test]
    fn clean_rejects_escapes_and_nul() {
        assert_eq!(clean(b"../x"), Err(PathProblem::Escapes));
        assert_eq!(clean(b"a/../../x"), Err(PathProblem::Escapes));
        assert_eq!(clean(b"/../x"), Err(PathProblem::Escapes));
        assert_eq!(clean(b"a\0b"), Err(PathProblem::Nul));
    }

    #[test]
    fn split_parent_and_name() {
        let p = clean(b"a/b/c").unwrap();
        assert_eq!(split(&p), Some((Path::new("a/b"), OsStr::new("c"))));
        let p = clean(b"c").unwrap();
        assert_eq!(split(&p), Some((Path::new(""), OsStr::new("c"))));
        assert_eq!(split(Path::new("")), None);
    }
}
