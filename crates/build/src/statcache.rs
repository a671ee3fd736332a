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
use std::sync::Mutex;

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

/// Digests by path in the context, and whether any was learnt.
type Entries = (HashMap<String, (Stamp, [u8; 32])>, bool);

#[derive(Debug, Default)]
pub struct StatCache {
    file: Option<PathBuf>,
    entries: Mutex<Entries>,
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
        let mut map = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&file) {
            for line in text.lines() {
                let mut f = line.splitn(6, ' ');
                let (Some(h), Some(ino), Some(size), Some(mt), Some(ct), Some(rel)) =
                    (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
                else {
                    continue;
                };
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(h, &mut hash).is_err() {
                    continue;
                }
                let (Ok(ino), Ok(size), Ok(mtime), Ok(ctime)) =
                    (ino.parse(), size.parse(), mt.parse(), ct.parse())
                else {
                    continue;
                };
                map.insert(
                    rel.to_string(),
                    (
                        Stamp {
                            ino,
                            size,
                            mtime,
                            ctime,
                        },
                        hash,
                    ),
                );
            }
        }
        StatCache {
            file: Some(file),
            entries: Mutex::new((map, false)),
        }
    }

    /// The sha256 of the file at `path` (`rel` in the context, `md` its
    /// lstat), from the cache when its stamp is unchanged.
    pub fn file_digest(
        &self,
        rel: &str,
        path: &Path,
        md: &std::fs::Metadata,
    ) -> std::io::Result<[u8; 32]> {
        let stamp = Stamp::of(md);
        if let Some((s, h)) = self.entries.lock().expect("stat cache").0.get(rel) {
            if *s == stamp {
                return Ok(*h);
            }
        }
        let hash = hash_file(path)?;
        if !rel.contains('\n') {
            let mut e = self.entries.lock().expect("stat cache");
            e.0.insert(rel.to_string(), (stamp, hash));
            e.1 = true;
        }
        Ok(hash)
    }

    /// Write it back when it learnt something. Entries of files gone are
    /// kept: they are small, and a stamp that no longer matches is never used.
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let e = self.entries.lock().expect("stat cache");
        if !e.1 {
            return;
        }
        let mut out = String::with_capacity(e.0.len() * 120);
        for (rel, (s, h)) in &e.0 {
            out.push_str(&format!(
                "{} {} {} {} {} {rel}\n",
                hex::encode(h),
                s.ino,
                s.size,
                s.mtime,
                s.ctime
            ));
        }
        let Some(parent) = file.parent() else { return };
        let _ = std::fs::create_dir_all(parent);
        let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&tmp, out).is_ok() && std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
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
        let h1 = c.file_digest("a", &f, &md).unwrap();
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
        let h2 = c.file_digest("a", &f, &md2).unwrap();
        assert_ne!(h1, h2);
        assert_eq!(h2, hash_file(&f).unwrap());
    }
}
