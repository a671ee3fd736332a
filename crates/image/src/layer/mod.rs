//! Unpacking image layers into overlayfs snapshot directories.
//!
//! A layer blob (a tar stream, compressed with gzip, zstd or not at all) is
//! unpacked into its own new, empty directory, which later serves as one
//! overlayfs lower directory: layers are not applied on top of each other,
//! overlay stacks them. [`unpack`] reads the blob exactly once and computes on
//! the way the blob digest (sha256 of the compressed bytes) and the diffID
//! (sha256 of the tar stream).
//!
//! Whiteouts are converted to overlay's form, ownership, modes, times,
//! extended attributes, hardlinks, symlinks, devices and fifos are kept.
//!
//! # Security
//!
//! The archive is untrusted. Nothing is ever written outside the destination:
//! paths are cleaned lexically (a leading `/` is dropped; a `..` that climbs
//! above the root is an error), and every directory is opened from the
//! destination's fd without following symlinks, so a symlink in the layer,
//! wherever it points, can never redirect a later entry (writing through one
//! is an error naming it) and a symlink at an entry's own name is replaced,
//! not followed. Hardlinks may only target files of this layer or, copied,
//! regular files of the lower layers. Overlay's own xattrs
//! (`trusted.overlay.*`, `user.overlay.*`) in the archive are dropped.
//!
//! # Crash safety
//!
//! None here: on any error the destination holds a partial layer and must be
//! thrown away. Callers unpack into a temporary directory and rename it into
//! place once [`unpack`] succeeded and the digests were checked.

mod apply;
mod archive;
pub mod diff;
mod error;
mod fsops;
mod lower;
mod path;
mod stream;

#[cfg(test)]
pub(crate) mod tests;

use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

pub use error::LayerError;
pub use fsops::copy_tree;
pub use stream::{detect, Compression, DETECT_LEN};

use stream::{read_full, Decoder, Hashing, Side, StreamState};

/// Size of the buffers between the stages of the pipeline and of the file
/// copy buffer.
const BUF_SIZE: usize = 256 * 1024;

/// Options for [`unpack`]; the default verifies nothing and limits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackOptions {
    /// `sha256:<hex>` the compressed blob must have; checked after the whole
    /// blob was read, failing with [`LayerError::DigestMismatch`].
    pub expected_blob_digest: Option<String>,
    /// The blob's declared size: a longer blob fails with
    /// [`LayerError::TooLarge`] as soon as the excess is read.
    pub max_size: Option<u64>,
    /// Limit on the uncompressed tar stream, against decompression bombs.
    pub max_unpacked_size: Option<u64>,
    /// Unpacked directories of the layers below this one, **topmost first**
    /// (index 0 is the layer directly below). Used to resolve hardlinks to
    /// files an earlier layer added (the file is copied) and for the owner
    /// and mode of parent directories the layer uses without listing them.
    pub lower_dirs: Vec<PathBuf>,
    /// The layers below exist but are not in `lower_dirs` yet (they are
    /// unpacked at the same time). A hardlink to a file this layer does not
    /// hold then fails with [`LayerError::NeedsLowerLayers`], and the caller
    /// unpacks the layer again with `lower_dirs` once they are ready.
    pub lowers_pending: bool,
}

/// What [`unpack`] read and wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unpacked {
    /// The compression that was used (given or detected).
    pub compression: Compression,
    /// `sha256:<hex>` of the compressed blob.
    pub blob_digest: String,
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of the compressed blob.
    pub compressed_size: u64,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
    /// Archive members processed (extension headers not counted).
    pub entries: u64,
}

/// Unpacks a layer blob into the existing directory `dest`.
///
/// `compression` of `None` detects it from the magic numbers. The reader is
/// consumed to its end so that both digests cover the whole blob. `dest`
/// should be empty; see the module documentation for what is written and
/// the guarantees about everything else.
pub fn unpack(
    reader: impl Read,
    compression: Option<Compression>,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<Unpacked, LayerError> {
    let expected = opts
        .expected_blob_digest
        .as_deref()
        .map(parse_digest)
        .transpose()?;
    let root = fsops::open_tree(dest).map_err(|source| LayerError::Destination {
        path: dest.to_owned(),
        source,
    })?;
    let lowers = lower::Lowers::open(&opts.lower_dirs, opts.lowers_pending)?;
    let state = StreamState::new();

    let mut source = Hashing::new(reader, Side::Compressed, opts.max_size, &state);
    let mut magic = [0u8; DETECT_LEN];
    let got = read_full(&mut source, &mut magic).map_err(|e| state.classify_or_read(e))?;
    let compression = compression.unwrap_or_else(|| detect(&magic[..got]));

    let mut unpacker = apply::Unpacker::new(root, &lowers, BUF_SIZE);
    let mut entries = 0u64;
    let (diff_id, size) = {
        let input =
            BufReader::with_capacity(BUF_SIZE, Cursor::new(&magic[..got]).chain(&mut source));
        let mut decoder = Decoder::new(compression, input, &state)?;
        let tar_stream = Hashing::new(
            &mut decoder,
            Side::Uncompressed,
            opts.max_unpacked_size,
            &state,
        );
        let mut tar =
            archive::TarReader::new(BufReader::with_capacity(64 * 1024, tar_stream), &state);
        while let Some(hdr) = tar.next_entry(&mut unpacker.buf)? {
            entries += 1;
            unpacker.apply(&hdr, &mut tar)?;
        }
        // Whatever follows the end-of-archive marker still counts for the
        // diffID, and the decompressor must see its own end (gzip's trailer
        // with its CRC, zstd's frame end).
        let mut tar_stream = tar.into_inner().into_inner();
        tar_stream
            .drain(&mut unpacker.buf)
            .map_err(|e| state.classify_or_read(e))?;
        tar_stream.finish()
    };
    source
        .drain(&mut unpacker.buf)
        .map_err(|e| state.classify_or_read(e))?;
    let (blob_digest, compressed_size) = source.finish();
    if let Some(expected) = expected {
        if expected != blob_digest {
            return Err(LayerError::DigestMismatch {
                expected,
                actual: blob_digest,
            });
        }
    }
    unpacker.finish()?;
    Ok(Unpacked {
        compression,
        blob_digest,
        diff_id,
        compressed_size,
        size,
        entries,
    })
}

/// Checks and normalizes (lowercase hex) an expected digest.
fn parse_digest(digest: &str) -> Result<String, LayerError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
        }
        _ => Err(LayerError::UnsupportedDigest(digest.to_owned())),
    }
}
