//! The reverse of unpacking: a writable overlay layer (a container's upper
//! directory) written as an OCI layer tar. Overlay whiteouts (0:0 character
//! devices) become `.wh.NAME` entries and opaque directories a
//! `.wh..wh..opq` entry; `trusted.overlay.*` attributes are left out;
//! hardlinks within the layer stay hardlinks. Entries are written in sorted
//! order, with numeric owners.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

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
