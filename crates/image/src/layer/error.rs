//! [`LayerError`]: everything that can stop a layer from unpacking.
//!
//! Every variant that concerns one tar entry carries that entry's path as it
//! appeared in the archive (lossily decoded for display), so a failed pull can
//! be traced back to the offending member of the offending blob.

use std::io;
use std::path::PathBuf;

use super::stream::Compression;

/// Why a layer could not be unpacked.
///
/// After any error the destination directory holds a partial layer and must
/// be discarded by the caller; nothing outside it has been touched.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The destination directory could not be opened.
    #[error("layer destination {path}: {source}")]
    Destination {
        /// The destination passed to `unpack`.
        path: PathBuf,
        /// What opening it reported.
        #[source]
        source: io::Error,
    },

    /// A lower layer directory (used to resolve hardlinks) could not be opened.
    #[error("lower layer directory {path}: {source}")]
    LowerDir {
        /// The lower directory from the options.
        path: PathBuf,
        /// What opening it reported.
        #[source]
        source: io::Error,
    },

    /// The blob reader itself failed.
    #[error("reading the layer blob: {0}")]
    Read(#[source] io::Error),

    /// The compressed stream ended before the compressed data did.
    #[error("{compression} layer stream is truncated: it ends after {read} compressed bytes ({message})")]
    Truncated {
        /// The compression in use.
        compression: Compression,
        /// Compressed bytes read before the end came.
        read: u64,
        /// What the decompressor said.
        message: String,
    },

    /// The compressed stream is not valid for its compression.
    #[error("{compression} layer stream is corrupt after {read} compressed bytes: {message}")]
    Corrupt {
        /// The compression in use.
        compression: Compression,
        /// Compressed bytes read when the decoder gave up.
        read: u64,
        /// What the decompressor said.
        message: String,
    },

    /// The compressed stream is longer than the size the caller declared.
    #[error("layer blob is larger than its declared size of {limit} bytes")]
    TooLarge {
        /// The declared size.
        limit: u64,
    },

    /// The uncompressed tar stream is longer than the configured limit.
    #[error("uncompressed layer is larger than the limit of {limit} bytes")]
    UnpackedTooLarge {
        /// The limit from the options.
        limit: u64,
    },

    /// The blob's sha256 is not the expected one.
    #[error("layer blob digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller expected.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },

    /// The expected digest is not a `sha256:<64 hex>` digest.
    #[error("unsupported expected digest {0:?}: only sha256:<64 hex digits> is supported")]
    UnsupportedDigest(String),

    /// The tar stream ended inside a 512-byte header block.
    #[error("tar stream is truncated inside a header block at offset {offset}")]
    TruncatedHeader {
        /// Offset of the header in the uncompressed stream.
        offset: u64,
    },

    /// The tar stream ended before an entry's declared data did.
    #[error("tar entry {entry:?} is truncated: header declares {declared} bytes but the stream ends after {got}")]
    TruncatedEntry {
        /// The entry.
        entry: String,
        /// Data size declared by its header.
        declared: u64,
        /// Data bytes actually present.
        got: u64,
    },

    /// A header block is malformed.
    #[error("tar header at offset {offset} (entry {entry:?}) is invalid: {reason}")]
    BadHeader {
        /// Offset of the header in the uncompressed stream.
        offset: u64,
        /// The entry's name as far as it could be read.
        entry: String,
        /// What is wrong.
        reason: String,
    },

    /// A long-name or PAX header is larger than is sane.
    #[error("tar entry {entry:?}: {what} of {size} bytes exceeds the limit of {limit} bytes")]
    MetadataTooLarge {
        /// The entry (the name in the extension header itself).
        entry: String,
        /// Which kind of extension header.
        what: &'static str,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// The entry's type (or a feature it uses) is not supported.
    #[error("tar entry {entry:?}: unsupported {what}")]
    Unsupported {
        /// The entry.
        entry: String,
        /// What is unsupported, e.g. "entry type 'S' (GNU sparse file)".
        what: String,
    },

    /// The entry's path leaves the layer root through `..`.
    #[error("tar entry {entry:?}: path escapes the layer root")]
    PathEscapes {
        /// The entry.
        entry: String,
    },

    /// The entry's path cannot be used.
    #[error("tar entry {entry:?}: invalid path: {reason}")]
    InvalidPath {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A parent directory of the entry is a symlink; it is never followed.
    #[error("tar entry {entry:?}: parent {symlink:?} is a symlink, refusing to write through it")]
    SymlinkInPath {
        /// The entry.
        entry: String,
        /// The symlink, relative to the layer root.
        symlink: PathBuf,
    },

    /// A parent of the entry exists in the layer but is not a directory.
    #[error("tar entry {entry:?}: parent {parent:?} is not a directory")]
    NotADirectory {
        /// The entry.
        entry: String,
        /// The offending parent, relative to the layer root.
        parent: PathBuf,
    },

    /// A whiteout entry names something that cannot be whited out.
    #[error("tar entry {entry:?}: invalid whiteout: {reason}")]
    InvalidWhiteout {
        /// The entry.
        entry: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A hardlink's target is not in this layer, and the lower layers it may
    /// be in were not given yet ([`super::UnpackOptions::lowers_pending`]).
    #[error("tar entry {entry:?}: hardlink target {target:?} is in a lower layer, which is not unpacked yet")]
    NeedsLowerLayers {
        /// The link entry.
        entry: String,
        /// The target as written in the archive.
        target: String,
    },

    /// A hardlink's target cannot be linked to.
    #[error("tar entry {entry:?}: hardlink target {target:?}: {reason}")]
    BadHardlink {
        /// The link entry.
        entry: String,
        /// The target as written in the archive.
        target: String,
        /// What is wrong.
        reason: String,
    },

    /// A filesystem operation on the entry failed.
    #[error("tar entry {entry:?}: {op}: {source}")]
    Io {
        /// The entry.
        entry: String,
        /// The operation, e.g. "create file".
        op: &'static str,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },

    /// Setting an extended attribute on the entry failed.
    #[error("tar entry {entry:?}: set xattr {name:?}: {source}")]
    Xattr {
        /// The entry.
        entry: String,
        /// The attribute's name.
        name: String,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
}

impl LayerError {
    /// Shorthand for [`LayerError::Io`] from a nix error.
    pub(crate) fn io(entry: &str, op: &'static str, errno: nix::errno::Errno) -> Self {
        LayerError::Io {
            entry: entry.to_owned(),
            op,
            source: io::Error::from(errno),
        }
    }
}
