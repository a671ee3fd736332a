//! The context's per-file cache of content digests, by what `lstat` says
//! of the file (inode, size, modification and change times to the
//! nanosecond): an unchanged context is not read again. Kept per context
//! directory in `<image root>/build-statcache/`, rewritten (atomically)
//! after a build that learnt something; `builder prune` drops it.

use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime: i64,
    ctime: i64,
}

impl Stamp {
    fn of(md: &std::fs::Metadata) -> Stamp {
        Stamp {
            ino: md.ino(),
            size: md.len(),
            mtime: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
            ctime: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        }
    }
}

/// Where an entry's path is: in the loaded file's bytes, or learnt now.
#[derive(Debug, Clone)]
enum Name {
    Kept(usize, usize),
    New(String),
}

/// Digests by a 64-bit hash of the path (no string per entry when
/// loading; two paths sharing a hash share a slot, and as the stamp holds
/// the inode, one never gets the other's digest, only a miss), the loaded
/// file, and whether anything was learnt.
#[derive(Debug, Default)]
struct Entries {
    data: Vec<u8>,
    map: HashMap<u64, (Stamp, [u8; 32], Name), std::hash::BuildHasherDefault<Passthrough>>,
    dirty: bool,
}

/// The keys are hashes already.
#[derive(Debug, Default)]
struct Passthrough(u64);

impl std::hash::Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | *b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FNV-1a of a path.
fn key(rel: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rel {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug, Default)]
pub struct StatCache {
    file: Option<PathBuf>,
    entries: RwLock<Entries>,
}

/// Where the cache of the context at `context` lives.
pub fn dir(image_root: &Path) -> PathBuf {
    image_root.join("build-statcache")
}

impl StatCache {
    /// The cache of the context directory `context` (empty when none was kept).
    pub fn load(image_root: &Path, context: &Path) -> StatCache {
        let name = hex::encode(&Sha256::digest(context.as_os_str().as_encoded_bytes())[..16]);
        let file = dir(image_root).join(name);
        let mut e = Entries::default();
        if let Ok(data) = std::fs::read(&file) {
            e.map.reserve(data.len() / 100);
            let mut at = MAGIC.len();
            if data.starts_with(MAGIC) {
                while let Some((rel, stamp, hash, next)) = parse_record(&data, at) {
                    e.map.insert(
                        key(&data[rel.0..rel.1]),
                        (stamp, hash, Name::Kept(rel.0, rel.1)),
                    );
                    at = next;
                }
            }
            e.data = data;
        }
        StatCache {
            file: Some(file),
            entries: RwLock::new(e),
        }
    }

    /// The sha256 of the file `rel` below `root` (`md` its lstat), from the
    /// cache when its stamp is unchanged.
    pub fn file_digest(
        &self,
        rel: &str,
        root: &Path,
        md: &std::fs::Metadata,
    ) -> std::io::Result<[u8; 32]> {
        let stamp = Stamp::of(md);
        let k = key(rel.as_bytes());
        if let Some((s, h, _)) = self.entries.read().expect("stat cache").map.get(&k) {
            if *s == stamp {
                return Ok(*h);
            }
        }
        let hash = hash_file(&root.join(rel))?;
        if rel.len() <= u16::MAX as usize {
            let mut e = self.entries.write().expect("stat cache");
            e.map.insert(k, (stamp, hash, Name::New(rel.to_string())));
            e.dirty = true;
        }
        Ok(hash)
    }

    /// Write it back when it learnt something. Entries of files gone are
    /// kept: they are small, and a stamp that no longer matches is never used.
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let e = self.entries.read().expect("stat cache");
        if !e.dirty {
            return;
        }
        let mut out = Vec::with_capacity(MAGIC.len() + e.map.len() * 110);
        out.extend_from_slice(MAGIC);
        for (s, h, name) in e.map.values() {
            let rel = match name {
                Name::Kept(a, b) => &e.data[*a..*b],
                Name::New(r) => r.as_bytes(),
            };
            let Ok(len) = u16::try_from(rel.len()) else {
                continue;
            };
            out.extend_from_slice(h);
            for n in [s.ino, s.size, s.mtime as u64, s.ctime as u64] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(rel);
        }
        let Some(parent) = file.parent() else { return };
        let _ = std::fs::create_dir_all(parent);
        let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&tmp, out).is_ok() && std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The start of a cache file: its format.
const MAGIC: &[u8] = b"skiff-statcache-2\n";

/// A record read: where its path is, its stamp and digest, where the next
/// record starts.
type Record = ((usize, usize), Stamp, [u8; 32], usize);

/// The record at `at`: `DIGEST(32) INO SIZE MTIME CTIME (8 each, little
/// endian) LEN(2) REL`: where its path is, its stamp, its digest, and where
/// the next record starts. None at the end (or in a torn record).
fn parse_record(data: &[u8], at: usize) -> Option<Record> {
    let head = data.get(at..at + 32 + 4 * 8 + 2)?;
    let hash: [u8; 32] = head[..32].try_into().ok()?;
    let n =
        |i: usize| u64::from_le_bytes(head[32 + i * 8..40 + i * 8].try_into().expect("8 bytes"));
    let len = u16::from_le_bytes([head[64], head[65]]) as usize;
    let start = at + head.len();
    data.get(start..start + len)?;
    Some((
        (start, start + len),
        Stamp {
            ino: n(0),
            size: n(1),
            mtime: n(2) as i64,
            ctime: n(3) as i64,
        },
        hash,
        start + len,
    ))
}

pub fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_again_only_when_its_stamp_changes() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        let f = ctx.join("a");
        std::fs::write(&f, "one").unwrap();
        let c = StatCache::load(d.path(), &ctx);
        let md = std::fs::symlink_metadata(&f).unwrap();
        let h1 = c.file_digest("a", &ctx, &md).unwrap();
        c.save();
        // Kept across builds: a lying stamp proves the cached value is used.
        let c = StatCache::load(d.path(), &ctx);
        std::fs::write(&f, "two").unwrap();
        assert_eq!(
            c.file_digest("a", &f, &md).unwrap(),
            h1,
            "not from the cache"
        );
        let md2 = std::fs::symlink_metadata(&f).unwrap();
        let h2 = c.file_digest("a", &ctx, &md2).unwrap();
        assert_ne!(h1, h2);
        assert_eq!(h2, hash_file(&f).unwrap());
    }

    #[test]
    fn a_torn_or_foreign_file_loses_only_what_is_torn() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        for n in ["a", "b"] {
            std::fs::write(ctx.join(n), n).unwrap();
        }
        let c = StatCache::load(d.path(), &ctx);
        for n in ["a", "b"] {
            let md = std::fs::symlink_metadata(ctx.join(n)).unwrap();
            c.file_digest(n, &ctx, &md).unwrap();
        }
        c.save();
        let file = c.file.clone().unwrap();
        let data = std::fs::read(&file).unwrap();
        std::fs::write(&file, &data[..data.len() - 1]).unwrap();
        assert_eq!(
            StatCache::load(d.path(), &ctx)
                .entries
                .read()
                .unwrap()
                .map
                .len(),
            1
        );
        std::fs::write(&file, b"not a cache").unwrap();
        assert!(StatCache::load(d.path(), &ctx)
            .entries
            .read()
            .unwrap()
            .map
            .is_empty());
    }
}
