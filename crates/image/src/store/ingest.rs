//! A blob being written into the store: hashed as it comes, in a locked
//! temp file under `ingest/`, renamed into place on commit.

use super::*;

/// A blob being written; see [`Store::writer`].
pub struct IngestWriter {
    pub(super) store: Store,
    pub(super) tmp: TempPath,
    pub(super) file: Flock<File>,
    pub(super) hasher: Hasher,
    pub(super) expected: Option<Digest>,
    pub(super) expected_size: Option<u64>,
}

impl IngestWriter {
    pub(super) fn blob_name(&self) -> String {
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

/// A temporary file path removed on drop unless disarmed.
pub(super) struct TempPath(pub(super) Option<PathBuf>);

impl TempPath {
    pub(super) fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    pub(super) fn disarm(mut self) {
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
