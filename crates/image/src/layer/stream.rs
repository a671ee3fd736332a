//! The byte pipeline of an unpack, read exactly once:
//!
//! ```text
//! blob reader -> Hashing(compressed: blob digest, size limit)
//!             -> decompressor (none, gzip, zstd)
//!             -> Hashing(uncompressed: diffID, size limit)
//!             -> tar parser
//! ```
//!
//! The readers are stacked by `&mut` borrows so that, once the tar parser is
//! done, each level can be drained to its end and its digest taken. Faults
//! that happen below the tar parser (a limit crossed, a decoder error) are
//! recorded in a shared [`StreamState`] where they happen, so the error the
//! tar parser eventually sees can be reported as what it really was.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};

use sha2::{Digest, Sha256};

use super::error::LayerError;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), possibly several concatenated members.
    Gzip,
    /// Zstandard, possibly several concatenated frames.
    Zstd,
}

impl Compression {
    /// A short lowercase name: `none`, `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The number of leading bytes [`detect`] needs to recognize every format.
pub const DETECT_LEN: usize = 4;

/// Recognizes a blob's compression from its first bytes (magic numbers).
///
/// Anything that is neither gzip nor zstd is taken to be a plain tar stream;
/// give at least [`DETECT_LEN`] bytes (fewer only at the end of a blob).
pub fn detect(first_bytes: &[u8]) -> Compression {
    if first_bytes.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if first_bytes.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A fault below the tar parser, recorded where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The blob reader returned an error.
    SourceIo,
    /// The blob is longer than `max_size`.
    SourceTooLarge(u64),
    /// The tar stream is longer than `max_unpacked_size`.
    UnpackedTooLarge(u64),
    /// The decompressor rejected the stream.
    Decode,
}

/// State shared by the levels of the pipeline.
#[derive(Debug)]
pub(crate) struct StreamState {
    compression: Cell<Compression>,
    fault: Cell<Option<Fault>>,
    source_eof: Cell<bool>,
    compressed: Cell<u64>,
}

impl StreamState {
    pub(crate) fn new() -> Self {
        StreamState {
            compression: Cell::new(Compression::None),
            fault: Cell::new(None),
            source_eof: Cell::new(false),
            compressed: Cell::new(0),
        }
    }

    fn record(&self, fault: Fault) {
        if self.fault.get().is_none() {
            self.fault.set(Some(fault));
        }
    }

    pub(crate) fn set_compression(&self, compression: Compression) {
        self.compression.set(compression);
    }

    /// Turns an I/O error that surfaced from the uncompressed stream into the
    /// error it really is; `None` means it did not come from below the tar
    /// parser (and so should be reported by the caller in its own terms).
    pub(crate) fn classify(&self, err: &io::Error) -> Option<LayerError> {
        let fault = self.fault.get()?;
        let compression = self.compression.get();
        let read = self.compressed.get();
        Some(match fault {
            Fault::SourceIo => LayerError::Read(io::Error::new(err.kind(), err.to_string())),
            Fault::SourceTooLarge(limit) => LayerError::TooLarge { limit },
            Fault::UnpackedTooLarge(limit) => LayerError::UnpackedTooLarge { limit },
            Fault::Decode => {
                let message = err.to_string();
                if self.source_eof.get() || err.kind() == io::ErrorKind::UnexpectedEof {
                    LayerError::Truncated {
                        compression,
                        read,
                        message,
                    }
                } else {
                    LayerError::Corrupt {
                        compression,
                        read,
                        message,
                    }
                }
            }
        })
    }

    /// Like [`classify`](Self::classify) for errors from draining the stream
    /// after the tar parser is done; anything unexplained is a read error.
    pub(crate) fn classify_or_read(&self, err: io::Error) -> LayerError {
        self.classify(&err).unwrap_or(LayerError::Read(err))
    }
}

/// Which end of the decompressor a [`Hashing`] reader sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The blob as stored: yields the blob digest.
    Compressed,
    /// The tar stream: yields the diffID.
    Uncompressed,
}

/// A reader that hashes and counts what passes through it and enforces an
/// optional length limit.
pub(crate) struct Hashing<'s, R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    limit: Option<u64>,
    side: Side,
    state: &'s StreamState,
}

impl<'s, R: Read> Hashing<'s, R> {
    pub(crate) fn new(inner: R, side: Side, limit: Option<u64>, state: &'s StreamState) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
            limit,
            side,
            state,
        }
    }

    /// Reads everything that is left, so that the digest covers the whole
    /// stream.
    pub(crate) fn drain(&mut self, buf: &mut [u8]) -> io::Result<()> {
        loop {
            match self.read(buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The `sha256:<hex>` digest and length of everything read.
    pub(crate) fn finish(self) -> (String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (digest, self.count)
    }
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                if self.side == Side::Compressed && e.kind() != io::ErrorKind::Interrupted {
                    self.state.record(Fault::SourceIo);
                }
                return Err(e);
            }
        };
        let data = buf.get(..n).ok_or_else(|| {
            self.state.record(Fault::SourceIo);
            io::Error::other("reader claimed more bytes than the buffer holds")
        })?;
        self.hasher.update(data);
        self.count += n as u64;
        match self.side {
            Side::Compressed => {
                self.state.compressed.set(self.count);
                if n == 0 && !buf.is_empty() {
                    self.state.source_eof.set(true);
                }
            }
            Side::Uncompressed => {}
        }
        if let Some(limit) = self.limit {
            if self.count > limit {
                let fault = match self.side {
                    Side::Compressed => Fault::SourceTooLarge(limit),
                    Side::Uncompressed => Fault::UnpackedTooLarge(limit),
                };
                self.state.record(fault);
                return Err(io::Error::other(format!("stream exceeds {limit} bytes")));
            }
        }
        Ok(n)
    }
}

/// The decompressor, over a buffered view of the compressed stream.
pub(crate) enum Decoder<'s, B: BufRead> {
    /// No compression: bytes pass through.
    Plain(B),
    /// gzip, multi-member like Go's and GNU gzip's readers.
    Gzip(Box<flate2::bufread::MultiGzDecoder<B>>, &'s StreamState),
    /// zstd, multi-frame.
    Zstd(zstd::stream::read::Decoder<'static, B>, &'s StreamState),
}

impl<'s, B: BufRead> Decoder<'s, B> {
    pub(crate) fn new(
        compression: Compression,
        input: B,
        state: &'s StreamState,
    ) -> Result<Self, LayerError> {
        state.set_compression(compression);
        Ok(match compression {
            Compression::None => Decoder::Plain(input),
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(input)), state)
            }
            Compression::Zstd => {
                let dec = zstd::stream::read::Decoder::with_buffer(input).map_err(|e| {
                    state.classify(&e).unwrap_or(LayerError::Corrupt {
                        compression,
                        read: 0,
                        message: e.to_string(),
                    })
                })?;
                Decoder::Zstd(dec, state)
            }
        })
    }
}

impl<B: BufRead> Read for Decoder<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (result, state) = match self {
            Decoder::Plain(r) => return r.read(buf),
            Decoder::Gzip(d, state) => (d.read(buf), *state),
            Decoder::Zstd(d, state) => (d.read(buf), *state),
        };
        if let Err(e) = &result {
            if e.kind() != io::ErrorKind::Interrupted {
                // A fault already recorded below (source error, size limit)
                // takes precedence over the decoder's view of it.
                state.record(Fault::Decode);
            }
        }
        result
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at end of stream.
pub(crate) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_recognizes_magic_numbers() {
        assert_eq!(detect(&[0x1f, 0x8b, 0x08, 0x00]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(detect(b"etc/"), Compression::None);
        assert_eq!(detect(&[0x28, 0xb5]), Compression::None);
        assert_eq!(detect(&[]), Compression::None);
    }

    #[test]
    fn hashing_reader_enforces_its_limit() {
        let state = StreamState::new();
        let mut r = Hashing::new(&b"0123456789"[..], Side::Compressed, Some(4), &state);
        let mut sink = Vec::new();
        let err = r.read_to_end(&mut sink).unwrap_err();
        assert!(matches!(
            state.classify(&err),
            Some(LayerError::TooLarge { limit: 4 })
        ));
    }
}
