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

mod ingest;
pub use ingest::IngestWriter;
use ingest::TempPath;

#[cfg(test)]
mod tests;
