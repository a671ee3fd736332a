//! Tests of layer unpacking, with archives crafted in the tests: the `tar`
//! crate's `Builder` writes the members, and headers are filled in by hand
//! wherever a path must be one the builder would refuse (`..`, absolute).
//! They need root (mknod, chown, `trusted.*` xattrs), as CI has.

mod entries;
mod security;
mod streams;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::{unpack, Compression, LayerError, UnpackOptions, Unpacked};

/// Fixed mtime given to crafted entries.
pub(super) const MTIME: u64 = 1_600_000_000;

/// Builds an archive member by member.
pub(crate) struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub(crate) fn new() -> Self {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    /// Appends a member with raw name and link bytes (each at most 100).
    pub(crate) fn raw(
        &mut self,
        name: &[u8],
        kind: EntryType,
        mode: u32,
        link: &[u8],
        data: &[u8],
    ) -> &mut Self {
        let mut h = header(name, kind, mode, link);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    /// Appends a prepared header (checksum is recomputed) and data.
    pub(crate) fn append(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    pub(crate) fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.raw(name.as_bytes(), EntryType::Regular, mode, b"", data)
    }

    pub(crate) fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(name.as_bytes(), EntryType::Directory, mode, b"", b"")
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name.as_bytes(),
            EntryType::Symlink,
            0o777,
            target.as_bytes(),
            b"",
        )
    }

    pub(crate) fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name.as_bytes(),
            EntryType::Link,
            0o644,
            target.as_bytes(),
            b"",
        )
    }

    /// Appends a PAX extended header for the next member.
    pub(crate) fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.builder
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    /// The archive with its end-of-archive marker.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

/// A ustar header with raw name and link bytes, root-owned, at [`MTIME`].
pub(crate) fn header(name: &[u8], kind: EntryType, mode: u32, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(0);
    h.set_entry_type(kind);
    h
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub(super) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub(super) fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// A temporary directory holding the destination `dest` and, next to it, a
/// canary directory that no unpack may change.
pub(super) struct Env {
    pub(super) tmp: tempfile::TempDir,
    pub(super) dest: PathBuf,
    pub(super) canary: PathBuf,
    snapshot: BTreeMap<PathBuf, (u64, u32, i64, Vec<u8>)>,
}

impl Env {
    pub(super) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let canary = tmp.path().join("canary");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(&canary).unwrap();
        fs::write(canary.join("secret"), b"canary").unwrap();
        fs::create_dir(canary.join("sub")).unwrap();
        let mut env = Env {
            tmp,
            dest,
            canary,
            snapshot: BTreeMap::new(),
        };
        env.snapshot = env.scan();
        env
    }

    /// Everything under the temporary directory except `dest`: path, inode,
    /// mode, mtime and content.
    fn scan(&self) -> BTreeMap<PathBuf, (u64, u32, i64, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.tmp.path().to_owned()];
        while let Some(dir) = stack.pop() {
            let meta = fs::symlink_metadata(&dir).unwrap();
            out.insert(
                dir.clone(),
                (meta.ino(), meta.mode(), meta.mtime(), Vec::new()),
            );
            for e in fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p == self.dest {
                    continue;
                }
                let meta = fs::symlink_metadata(&p).unwrap();
                if meta.is_dir() {
                    stack.push(p);
                } else {
                    let content = if meta.is_file() {
                        fs::read(&p).unwrap()
                    } else {
                        Vec::new()
                    };
                    out.insert(p, (meta.ino(), meta.mode(), meta.mtime(), content));
                }
            }
        }
        out
    }

    /// Asserts that nothing outside `dest` changed.
    pub(super) fn assert_untouched(&self) {
        assert_eq!(self.scan(), self.snapshot, "something outside dest changed");
    }

    pub(super) fn unpack(&self, blob: &[u8]) -> Result<Unpacked, LayerError> {
        self.unpack_with(blob, &UnpackOptions::default())
    }

    pub(super) fn unpack_with(
        &self,
        blob: &[u8],
        opts: &UnpackOptions,
    ) -> Result<Unpacked, LayerError> {
        unpack(blob, None, &self.dest, opts)
    }

    pub(super) fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }
}

/// `lstat` of a path.
pub(super) fn lmeta(p: &Path) -> fs::Metadata {
    fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// An xattr of a path (not following symlinks).
pub(super) fn lgetxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cp = CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated; `buf` is a live writable
    // buffer passed with its length.
    let rc =
        unsafe { libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return None;
    }
    buf.truncate(rc as usize);
    Some(buf)
}

/// Sets an xattr on a path (for preparing lower layers).
pub(super) fn setxattr(p: &Path, name: &str, value: &[u8]) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cp = CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated; `value` is a live slice
    // passed with its length.
    let rc = unsafe {
        libc::setxattr(
            cp.as_ptr(),
            cn.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "setxattr {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn unpacks_all_three_compressions_with_digests() {
    let mut t = Tar::new();
    t.dir("etc/", 0o755)
        .file("etc/hosts", 0o644, b"127.0.0.1 localhost\n");
    let tar = t.finish();
    for (compression, blob) in [
        (Compression::None, tar.clone()),
        (Compression::Gzip, gzip(&tar)),
        (Compression::Zstd, zstd(&tar)),
    ] {
        let env = Env::new();
        let opts = UnpackOptions {
            expected_blob_digest: Some(sha256(&blob)),
            max_size: Some(blob.len() as u64),
            ..Default::default()
        };
        let got = env.unpack_with(&blob, &opts).unwrap();
        assert_eq!(got.compression, compression);
        assert_eq!(got.blob_digest, sha256(&blob));
        assert_eq!(got.diff_id, sha256(&tar));
        assert_eq!(got.compressed_size, blob.len() as u64);
        assert_eq!(got.size, tar.len() as u64);
        assert_eq!(got.entries, 2);
        assert_eq!(
            fs::read(env.path("etc/hosts")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        // An explicit compression works the same.
        let env2 = Env::new();
        let again = unpack(
            &blob[..],
            Some(compression),
            &env2.dest,
            &UnpackOptions::default(),
        )
        .unwrap();
        assert_eq!(again, got);
    }
}
