//! A content-addressed blob store: layers, manifests and configs kept under
//! their digest, verified on the way in.
//!
//! Layout under the root directory:
//!
//! ```text
//! blobs/sha256/<hex>   committed blobs, read-only, named by their digest
//! ingest/<pid>-<rand>  writes in progress
//! ```
//!
//! [`Store::ingest`] streams into a fresh file in `ingest/` (created with
//! `O_EXCL`, random name) while hashing, checks the size and digest, then
//! fsyncs the file, renames it into `blobs/` and fsyncs that directory. So a
//! blob under `blobs/` is always complete and matches its name, whenever the
//! writer dies; a killed ingest leaves at most a file in `ingest/`.
//!
//! Each ingest holds an exclusive `flock` on its temporary file for as long
//! as it runs. The kernel drops the lock when the process dies (SIGKILL
//! included), so [`Store::gc_ingest`] can tell abandoned files from live
//! ones in other processes without guessing from their age, and
//! [`Store::open`] runs it every time.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher as _};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::digest::{Algorithm, Digest, DigestReader, Hasher};

/// Errors from the content store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation on the store failed.
    #[error("content store: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "rename".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The reader an ingest streams from failed.
    #[error("reading blob {blob} for the content store: {source}")]
    Source {
        /// The expected digest, or "(digest not given)".
        blob: String,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// More bytes arrived than the declared size.
    #[error("blob {blob} is larger than its declared size {declared}")]
    TooLarge {
        /// The expected digest, or "(digest not given)".
        blob: String,
        /// The declared size.
        declared: u64,
    },
    /// The stream ended before the declared size.
    #[error(
        "blob {blob} is shorter than its declared size {declared}: it ended after {got} bytes"
    )]
    TooShort {
        /// The expected digest, or "(digest not given)".
        blob: String,
        /// The declared size.
        declared: u64,
        /// How many bytes arrived.
        got: u64,
    },
    /// The content does not hash to the expected digest.
    #[error("content of blob {expected} has digest {actual}")]
    DigestMismatch {
        /// The digest the content was supposed to have.
        expected: Digest,
        /// The digest it has.
        actual: Digest,
    },
    /// No such blob is committed.
    #[error("blob {0} not found in the content store")]
    NotFound(Digest),
    /// A blob is larger than a reader is willing to take.
    #[error("blob {digest} is {size} bytes, more than the limit of {max}")]
    ExceedsLimit {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, StoreError>;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// A content-addressed blob store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    blobs: PathBuf,
    ingest: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and removes ingest
    /// files left by writers that died.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let root = root.as_ref().to_owned();
        let store = Store {
            blobs: root.join("blobs").join(Algorithm::Sha256.as_str()),
            ingest: root.join("ingest"),
            root,
        };
        for dir in [&store.blobs, &store.ingest] {
            if !dir.is_dir() {
                fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
                // Make the new directory entries themselves durable.
                let mut d = dir.as_path();
                while let Some(parent) = d.parent() {
                    sync_dir(parent)?;
                    if parent == store.root {
                        break;
                    }
                    d = parent;
                }
            }
        }
        store.gc_ingest()?;
        Ok(store)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` is (or would be) kept.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        // The hex of a validated digest is [0-9a-f]+: safe as a file name.
        self.blobs.join(digest.hex())
    }

    /// Streams `reader` into the store and returns the blob's digest and
    /// size. With `expected` or `expected_size`, content that does not match
    /// is rejected and nothing is committed. Ingesting a blob that is
    /// already present (even concurrently) succeeds.
    pub fn ingest<R: Read>(
        &self,
        mut reader: R,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        let mut w = self.writer(expected, expected_size)?;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(StoreError::Source {
                        blob: w.blob_name(),
                        source,
                    })
                }
            };
            w.push(&buf[..n])?;
        }
        w.commit()
    }

    /// A writer for one blob: bytes pushed into it are hashed and written to a
    /// temp file in `ingest/`; `commit` checks size and digest and makes the
    /// blob visible. Dropping it uncommitted removes the temp file. Lets a
    /// caller tee a download into the store while it also unpacks it.
    pub fn writer(
        &self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<IngestWriter> {
        let (tmp, file) = self.create_ingest_file()?;
        Ok(IngestWriter {
            store: self.clone(),
            tmp,
            file,
            hasher: Hasher::new(),
            expected: expected.cloned(),
            expected_size,
        })
    }

    /// Stores `bytes` (a manifest, a config) and returns its digest. A blob
    /// already there (of the same size) is not written again.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let mut h = Hasher::new();
        h.update(bytes);
        let digest = h.finish();
        if fs::metadata(self.blob_path(&digest)).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(digest);
        }
        self.ingest(bytes, None, Some(bytes.len() as u64))
            .map(|(d, _)| d)
    }

    /// Whether the blob is committed.
    pub fn exists(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    /// The blob's size in bytes.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(digest.clone()))
            }
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    /// Opens the blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        match File::open(&path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(digest.clone()))
            }
            Err(e) => Err(io_err("open", &path)(e)),
        }
    }

    /// Reads a whole blob of at most `max` bytes, checking its digest.
    pub fn read_to_vec(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let file = self.open_blob(digest)?;
        let path = self.blob_path(digest);
        let size = file.metadata().map_err(io_err("stat", &path))?.len();
        if size > max {
            return Err(StoreError::ExceedsLimit {
                digest: digest.clone(),
                size,
                max,
            });
        }
        let mut reader = DigestReader::new(file.take(max));
        let mut out = Vec::with_capacity(size as usize);
        reader
            .read_to_end(&mut out)
            .map_err(io_err("read", &path))?;
        let actual = reader.digest();
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(out)
    }

    /// Re-hashes a committed blob; returns its size if it is intact.
    pub fn verify(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        let mut hasher = Hasher::new();
        io::copy(&mut self.open_blob(digest)?, &mut hasher).map_err(io_err("read", &path))?;
        let size = hasher.len();
        let actual = hasher.finish();
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(size)
    }

    /// Removes a blob; returns whether it was there.
    pub fn delete(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.blobs)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("remove", &path)(e)),
        }
    }

    /// The digests of all committed blobs, sorted.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let entries = fs::read_dir(&self.blobs).map_err(io_err("list", &self.blobs))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.blobs))?;
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(d) = Digest::from_hex(Algorithm::Sha256, name) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes the files in `ingest/` whose writer is gone (no process holds
    /// their lock) and returns how many it removed. Live ingests, in this
    /// process or others, are left alone.
    pub fn gc_ingest(&self) -> Result<usize> {
        let entries = fs::read_dir(&self.ingest).map_err(io_err("list", &self.ingest))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.ingest))?;
            let path = entry.path();
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("open", &path)(e)),
            };
            let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => l,
                Err((_, Errno::EWOULDBLOCK)) => continue, // in use
                Err((_, errno)) => return Err(io_err("lock", &path)(errno.into())),
            };
            let ours = locked.metadata().map_err(io_err("stat", &path))?;
            if !ours.is_file() {
                continue;
            }
            // Remove only the file we locked, not one that replaced it.
            match fs::symlink_metadata(&path) {
                Ok(m) if m.dev() == ours.dev() && m.ino() == ours.ino() => {}
                _ => continue,
            }
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
        }
        Ok(removed)
    }

    /// Creates and locks a fresh file in `ingest/`.
    fn create_ingest_file(&self) -> Result<(TempPath, Flock<File>)> {
        loop {
            let name = format!("{}-{:016x}", std::process::id(), random_u64());
            let path = self.ingest.join(name);
            let file = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create", &path)(e)),
            };
            let tmp = TempPath(Some(path));
            let locked = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| io_err("lock", tmp.path())(errno.into()))?;
            // gc_ingest in another process may have taken the file for
            // abandoned between our create and our lock, and removed it.
            let nlink = locked
                .metadata()
                .map_err(io_err("stat", tmp.path()))?
                .nlink();
            if nlink == 0 {
                tmp.disarm();
                continue;
            }
            return Ok((tmp, locked));
        }
    }
}

/// A temporary file path removed on drop unless disarmed.
/// A blob being written; see [`Store::writer`].
pub struct IngestWriter {
    store: Store,
    tmp: TempPath,
    file: Flock<File>,
    hasher: Hasher,
    expected: Option<Digest>,
    expected_size: Option<u64>,
}

impl IngestWriter {
    fn blob_name(&self) -> String {
        match &self.expected {
            Some(d) => d.to_string(),
            None => "(digest not given)".to_owned(),
        }
    }

    /// Append bytes; fails as soon as more arrive than the declared size.
    pub fn push(&mut self, data: &[u8]) -> Result<()> {
        if let Some(declared) = self.expected_size {
            if self.hasher.len() + data.len() as u64 > declared {
                return Err(StoreError::TooLarge {
                    blob: self.blob_name(),
                    declared,
                });
            }
        }
        self.hasher.update(data);
        self.file
            .write_all(data)
            .map_err(io_err("write", self.tmp.path()))
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check size and digest, fsync, and rename the blob into place.
    pub fn commit(self) -> Result<(Digest, u64)> {
        let IngestWriter {
            store,
            tmp,
            file,
            hasher,
            expected,
            expected_size,
        } = self;
        let blob_name = || match &expected {
            Some(d) => d.to_string(),
            None => "(digest not given)".to_owned(),
        };
        let size = hasher.len();
        if let Some(declared) = expected_size {
            if size < declared {
                return Err(StoreError::TooShort {
                    blob: blob_name(),
                    declared,
                    got: size,
                });
            }
        }
        let digest = hasher.finish();
        if let Some(want) = &expected {
            if *want != digest {
                return Err(StoreError::DigestMismatch {
                    expected: want.clone(),
                    actual: digest,
                });
            }
        }
        let target = store.blob_path(&digest);
        if target.exists() {
            // Already committed (perhaps by a concurrent ingest); ours is
            // identical and is dropped.
            return Ok((digest, size));
        }
        file.sync_all().map_err(io_err("fsync", tmp.path()))?;
        fs::rename(tmp.path(), &target).map_err(io_err("rename into place", tmp.path()))?;
        tmp.disarm();
        // The file is gone from ingest/ now; the lock is released with it.
        drop(file);
        sync_dir(&store.blobs)?;
        Ok((digest, size))
    }
}

impl Write for IngestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct TempPath(Option<PathBuf>);

impl TempPath {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS once per thread and perturbed on
    // each call; mixed with time and a counter it gives names that do not
    // collide in practice (and O_EXCL catches it if they do).
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::{mpsc, Arc, Barrier};
    use std::time::{Duration, Instant};

    fn content(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn ingest_files(store: &Store) -> Vec<PathBuf> {
        fs::read_dir(store.root().join("ingest"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    #[test]
    fn put_read_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.put_bytes(b"{\"a\":1}").unwrap();
        let b = store.put_bytes(b"").unwrap();
        assert_eq!(a, Digest::of(b"{\"a\":1}"));
        assert!(store.exists(&a).unwrap());
        assert_eq!(store.size(&a).unwrap(), 7);
        assert_eq!(store.read_to_vec(&a, 7).unwrap(), b"{\"a\":1}");
        assert_eq!(store.verify(&b).unwrap(), 0);
        let mut s = String::new();
        store.open_blob(&a).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "{\"a\":1}");
        assert!(store
            .blob_path(&a)
            .ends_with(format!("blobs/sha256/{}", a.hex())));

        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(store.list().unwrap(), want);

        let e = store.read_to_vec(&a, 6).unwrap_err();
        assert!(
            e.to_string()
                .contains("is 7 bytes, more than the limit of 6"),
            "{e}"
        );

        assert!(store.delete(&a).unwrap());
        assert!(!store.delete(&a).unwrap());
        assert!(!store.exists(&a).unwrap());
        let e = store.size(&a).unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        assert!(e.to_string().contains(&a.to_string()));
        assert!(matches!(store.open_blob(&a), Err(StoreError::NotFound(_))));
        assert_eq!(store.list().unwrap(), vec![b]);
        assert!(ingest_files(&store).is_empty());
    }

    #[test]
    fn ingest_checks_digest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = content(300_000, 1);
        let d = Digest::of(&data);

        let (got, n) = store.ingest(&data[..], Some(&d), Some(300_000)).unwrap();
        assert_eq!((got, n), (d.clone(), 300_000));
        // Again: already present is fine.
        store.ingest(&data[..], Some(&d), None).unwrap();

        let other = Digest::of(b"x");
        let e = store.ingest(&data[..], Some(&other), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("content of blob {other} has digest {d}")
        );
        let e = store
            .ingest(&data[..], Some(&d), Some(299_999))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("blob {d} is larger than its declared size 299999")
        );
        let e = store.ingest(&data[..], None, Some(300_001)).unwrap_err();
        assert!(
            e.to_string()
                .contains("shorter than its declared size 300001: it ended after 300000 bytes"),
            "{e}"
        );

        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("connection reset"));
                }
                self.0 -= 1;
                buf[0] = 7;
                Ok(1)
            }
        }
        let e = store.ingest(Failing(10), None, None).unwrap_err();
        assert!(e.to_string().contains("connection reset"), "{e}");

        assert_eq!(store.list().unwrap(), vec![d]);
        assert!(ingest_files(&store).is_empty(), "temp files left behind");
    }

    /// A reader that hands out `data` in small pieces, pausing between them.
    struct Slow<'a>(&'a [u8]);
    impl Read for Slow<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_millis(1));
            let n = self.0.len().min(buf.len()).min(4096);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn concurrent_ingests_of_same_content_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = Arc::new(content(100_000, 9));
        let d = Digest::of(&data);
        let barrier = Arc::new(Barrier::new(3));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (store, data, d, barrier) =
                    (store.clone(), data.clone(), d.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.ingest(Slow(&data), Some(&d), Some(data.len() as u64))
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), (d.clone(), 100_000));
        }
        assert_eq!(store.verify(&d).unwrap(), 100_000);
        assert!(ingest_files(&store).is_empty());
    }

    #[test]
    fn gc_spares_live_ingests_and_removes_abandoned_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // An abandoned file, as left by a writer that died.
        fs::write(dir.path().join("ingest/123-dead"), b"partial").unwrap();

        // A live ingest that waits for the go-ahead in the middle.
        struct Gated(mpsc::Receiver<()>, u32);
        impl Read for Gated {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                match self.1 {
                    1 => {
                        buf[..3].copy_from_slice(b"abc");
                        Ok(3)
                    }
                    2 => {
                        self.0.recv().unwrap();
                        Ok(0)
                    }
                    _ => Ok(0),
                }
            }
        }
        let (tx, rx) = mpsc::channel();
        let s2 = store.clone();
        let h = std::thread::spawn(move || s2.ingest(Gated(rx, 0), None, Some(3)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while ingest_files(&store).len() < 2 {
            assert!(Instant::now() < deadline, "ingest did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(store.gc_ingest().unwrap(), 1);
        assert_eq!(ingest_files(&store).len(), 1);
        tx.send(()).unwrap();
        assert_eq!(h.join().unwrap().unwrap().0, Digest::of(b"abc"));
        assert!(ingest_files(&store).is_empty());
    }

    const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD";

    /// Not a test of its own: the body that crash tests run in a child
    /// process (this test binary run again), which they SIGKILL.
    #[test]
    fn crash_child() {
        let Ok(spec) = std::env::var(CHILD_ENV) else {
            return;
        };
        let (mode, root) = spec.split_once(':').unwrap();
        let store = Store::open(root).unwrap();
        match mode {
            // Ingest 1 MiB of a blob, then hang.
            "partial" => {
                struct Hang(Vec<u8>);
                impl Read for Hang {
                    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                        if self.0.is_empty() {
                            loop {
                                std::thread::sleep(Duration::from_secs(1));
                            }
                        }
                        let n = self.0.len().min(buf.len());
                        buf[..n].copy_from_slice(&self.0[..n]);
                        self.0.drain(..n);
                        Ok(n)
                    }
                }
                let _ = store.ingest(Hang(content(1 << 20, 3)), None, None);
            }
            // Ingest blob after blob until killed.
            "loop" => {
                for i in 0u32.. {
                    let data = content(64 * 1024 + i as usize * 4099, i as u8);
                    store.ingest(&data[..], None, None).unwrap();
                }
            }
            other => panic!("unknown mode {other}"),
        }
        unreachable!();
    }

    fn spawn_child(mode: &str, root: &Path) -> std::process::Child {
        let module = module_path!();
        let test = format!("{}::crash_child", &module[module.find("::").unwrap() + 2..]);
        Command::new(std::env::current_exe().unwrap())
            .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, format!("{mode}:{}", root.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool, child: &mut std::process::Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("child exited with {status} before {what}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn sigkill_mid_ingest_leaves_store_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut child = spawn_child("partial", dir.path());
        let s = store.clone();
        wait_for(
            "1 MiB to be written",
            || {
                ingest_files(&s)
                    .iter()
                    .any(|p| fs::metadata(p).is_ok_and(|m| m.len() >= 1 << 20))
            },
            &mut child,
        );
        // A live ingest in another process is not garbage.
        assert_eq!(store.gc_ingest().unwrap(), 0);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        assert!(store.list().unwrap().is_empty(), "partial blob committed");
        assert_eq!(ingest_files(&store).len(), 1);
        let store = Store::open(dir.path()).unwrap(); // collects the leftover
        assert!(ingest_files(&store).is_empty());

        let data = content(1 << 20, 3);
        let d = Digest::of(&data);
        assert_eq!(store.ingest(&data[..], Some(&d), None).unwrap().0, d);
        assert_eq!(store.list().unwrap(), vec![d]);
    }

    #[test]
    fn sigkill_during_ingest_loop_never_exposes_partial_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut child = spawn_child("loop", dir.path());
        let s = store.clone();
        wait_for("a few blobs", || s.list().unwrap().len() >= 5, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();

        let blobs = store.list().unwrap();
        assert!(blobs.len() >= 5);
        for d in &blobs {
            store.verify(d).unwrap();
        }
        assert!(ingest_files(&store).len() <= 1);
        Store::open(dir.path()).unwrap();
        assert!(ingest_files(&store).is_empty());
        let d = store.put_bytes(b"after the crash").unwrap();
        assert!(store.exists(&d).unwrap());
    }
}
