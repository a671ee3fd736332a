//! The reverse of unpacking: a writable overlay layer (a container's upper
//! directory) read against the layers below it. [`changes`] lists what it
//! adds, changes and deletes, as `docker diff` shows it; [`write_layer_tar`]
//! writes it as an OCI layer tar. Overlay whiteouts (0:0 character
//! devices) become `.wh.NAME` entries and opaque directories a
//! `.wh..wh..opq` entry; `trusted.overlay.*` attributes are left out;
//! hardlinks within the layer stay hardlinks. Entries are written in sorted
//! order, with numeric owners. [`in_init_layer`] names the paths Docker
//! keeps out of both, those of a container's init layer.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Paths Docker keeps in a container's init layer, which `diff` and
/// `commit` leave out: the mount points skiff makes in the writable layer.
pub const INIT_PATHS: [&str; 9] = [
    "/dev",
    "/proc",
    "/sys",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/sbin/docker-init",
];

/// Is `p` (absolute, in the container) one of [`INIT_PATHS`] or below one?
pub fn in_init_layer(p: &str) -> bool {
    INIT_PATHS
        .iter()
        .any(|i| p == *i || (p.starts_with(i) && p.as_bytes().get(i.len()) == Some(&b'/')))
}

/// What the writable layer `upper` changes against `lower` (its lower
/// layers' directories, topmost first), as Docker's `diff` lists it:
/// (`A` added, `C` changed, `D` deleted, path), sorted by path. A whiteout
/// is a deletion; a directory that exists below is listed as changed only
/// when something in it changed; what a new directory holds is all added.
/// Paths (absolute, as the container sees them) for which `skip` is true
/// are left out, with everything below them.
pub fn changes(
    upper: &Path,
    lower: &[PathBuf],
    skip: &dyn Fn(&str) -> bool,
) -> Vec<(char, String)> {
    let mut out = Vec::new();
    walk_changes(upper, lower, Path::new(""), skip, &mut out);
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Changes below `rel` in `upper`; returns whether any was recorded.
fn walk_changes(
    upper: &Path,
    lower: &[PathBuf],
    rel: &Path,
    skip: &dyn Fn(&str) -> bool,
    out: &mut Vec<(char, String)>,
) -> bool {
    let Ok(rd) = std::fs::read_dir(upper.join(rel)) else {
        return false;
    };
    let mut any = false;
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let shown = format!("/{}", r.display());
        if skip(&shown) {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        if md.file_type().is_char_device() && md.rdev() == 0 {
            out.push(('D', shown));
            any = true;
            continue;
        }
        let existed = in_lower(lower, &r);
        if md.is_dir() {
            if existed {
                // A directory copied up: changed if anything in it changed.
                let mark = out.len();
                if walk_changes(upper, lower, &r, skip, out) {
                    out.insert(mark, ('C', shown));
                    any = true;
                }
            } else {
                out.push(('A', shown));
                walk_changes(upper, &[], &r, skip, out);
                any = true;
            }
        } else {
            out.push((if existed { 'C' } else { 'A' }, shown));
            any = true;
        }
    }
    any
}

/// Whether `rel` exists in the lower layers: found in one before a
/// whiteout on its way hides it.
fn in_lower(lower: &[PathBuf], rel: &Path) -> bool {
    for l in lower {
        // A whiteout on the way hides everything below it.
        let mut p = l.clone();
        let mut hidden = false;
        for comp in rel.components() {
            p.push(comp);
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.file_type().is_char_device() && md.rdev() == 0 {
                    hidden = true;
                    break;
                }
            }
        }
        if hidden {
            return false;
        }
        if std::fs::symlink_metadata(l.join(rel)).is_ok() {
            return true;
        }
    }
    false
}

/// Write `upper` as a layer tar to `out`, leaving out the paths (absolute,
/// as the container sees them) for which `skip` is true.
pub fn write_layer_tar(
    upper: &Path,
    skip: &dyn Fn(&str) -> bool,
    out: impl Write,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(&mut b, upper, "", skip, &mut links)?;
    b.into_inner()?.flush()
}

fn header_for(md: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}

fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &str,
    skip: &dyn Fn(&str) -> bool,
    links: &mut HashMap<(u64, u64), String>,
) -> std::io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in names {
        let name = n.to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if skip(&format!("/{path}")) {
            continue;
        }
        let full = root.join(&path);
        let md = std::fs::symlink_metadata(&full)?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            // A whiteout: `.wh.NAME` next to where NAME was.
            let wh = match path.rsplit_once('/') {
                Some((parent, base)) => format!("{parent}/.wh.{base}"),
                None => format!(".wh.{name}"),
            };
            let mut h = header_for(&md, tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, &wh, std::io::empty())?;
            continue;
        }
        if ft.is_dir() {
            let mut h = header_for(&md, tar::EntryType::Directory);
            b.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            let opaque = xattr_value(&full, "trusted.overlay.opaque").as_deref() == Some(b"y");
            if opaque {
                let mut h = header_for(&md, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, format!("{path}/.wh..wh..opq"), std::io::empty())?;
            }
            walk(b, root, &path, skip, links)?;
            continue;
        }
        if md.nlink() > 1 && !ft.is_dir() {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                let mut h = header_for(&md, tar::EntryType::Link);
                b.append_link(&mut h, &path, first)?;
                continue;
            }
            links.insert((md.dev(), md.ino()), path.clone());
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(&full)?;
            let mut h = header_for(&md, tar::EntryType::Symlink);
            b.append_link(&mut h, &path, target)?;
        } else if ft.is_file() {
            let mut h = header_for(&md, tar::EntryType::Regular);
            h.set_size(md.len());
            b.append_data(&mut h, &path, std::fs::File::open(&full)?)?;
        } else if ft.is_char_device() || ft.is_block_device() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            let mut h = header_for(&md, kind);
            let rdev = md.rdev();
            h.set_device_major(libc::major(rdev)).ok();
            h.set_device_minor(libc::minor(rdev)).ok();
            b.append_data(&mut h, &path, std::io::empty())?;
        } else if ft.is_fifo() {
            let mut h = header_for(&md, tar::EntryType::Fifo);
            b.append_data(&mut h, &path, std::io::empty())?;
        }
        // Sockets are not archived.
    }
    Ok(())
}

fn xattr_value(p: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let cn = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and a buffer of the given length.
    let n =
        unsafe { libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[cfg(test)]
mod tests {
    use super::{changes, in_init_layer};
    use nix::sys::stat::{mknod, Mode, SFlag};
    use std::fs;
    use std::path::Path;

    /// A whiteout, as overlay makes one: a 0:0 character device.
    fn whiteout(p: &Path) {
        mknod(p, SFlag::S_IFCHR, Mode::from_bits_truncate(0o600), 0).unwrap();
    }

    fn file(p: &Path, data: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    #[test]
    fn init_layer_paths() {
        assert!(in_init_layer("/etc/hosts"));
        assert!(in_init_layer("/dev/shm"));
        assert!(!in_init_layer("/etc/hostsx"));
        assert!(!in_init_layer("/devices"));
    }

    /// Needs root (mknod).
    #[test]
    fn changes_against_lower_layers() {
        let t = tempfile::tempdir().unwrap();
        let (bottom, top, upper) = (t.path().join("l1"), t.path().join("l0"), t.path().join("u"));
        // The image: /old only in the bottom layer, deleted by the top one.
        file(&bottom.join("old"), "old");
        file(&top.join("etc/passwd"), "root");
        file(&top.join("etc/group"), "root");
        file(&top.join("usr/bin/tool"), "tool");
        file(&top.join("gone"), "gone");
        whiteout(&top.join("old"));
        // The container's writable layer.
        file(&upper.join("etc/passwd"), "root\nuser");
        file(&upper.join("etc/hostname"), "box");
        fs::create_dir_all(upper.join("usr/bin")).unwrap();
        whiteout(&upper.join("gone"));
        file(&upper.join("new/file"), "new");
        file(&upper.join("newfile"), "new");
        file(&upper.join("old"), "again");

        let got = changes(&upper, &[top, bottom], &in_init_layer);
        let has = |k: char, p: &str| got.contains(&(k, p.to_string()));
        assert!(has('A', "/newfile"), "an added file: {got:?}");
        assert!(
            has('A', "/new") && has('A', "/new/file"),
            "an added directory: {got:?}"
        );
        assert!(has('C', "/etc/passwd"), "a changed file: {got:?}");
        assert!(
            has('C', "/etc"),
            "a copied-up directory with a change: {got:?}"
        );
        assert!(
            !got.iter().any(|(_, p)| p.starts_with("/usr")),
            "copied-up directories without changes: {got:?}"
        );
        assert!(has('D', "/gone"), "a whiteout: {got:?}");
        assert!(has('A', "/old"), "a path a lower whiteout hides: {got:?}");
        assert!(!has('A', "/etc/hostname"), "a skipped path: {got:?}");
        let want = [
            ('C', "/etc"),
            ('C', "/etc/passwd"),
            ('D', "/gone"),
            ('A', "/new"),
            ('A', "/new/file"),
            ('A', "/newfile"),
            ('A', "/old"),
        ];
        let want: Vec<(char, String)> = want.iter().map(|(k, p)| (*k, p.to_string())).collect();
        assert_eq!(got, want, "all of it, sorted by path");
    }
}
