//! Content digests: the `sha256:<hex>` names that OCI images use for blobs.
//!
//! A [`Digest`] is always valid once constructed: [`Digest::parse`] accepts
//! only the `sha256` algorithm with exactly 64 lowercase hex digits, and says
//! what is wrong with anything else. It serializes as its string form, so it
//! can stand in descriptors and image configs directly.
//!
//! [`Hasher`] hashes incrementally; [`DigestWriter`] and [`DigestReader`] wrap
//! a writer or reader and hash every byte that passes through them, so a blob
//! can be verified while it streams.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Errors from parsing a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The string has no `algorithm:` prefix.
    #[error("invalid digest {0:?}: expected \"sha256:<64 hex digits>\"")]
    MissingAlgorithm(String),
    /// The algorithm is well formed but not one skiff verifies.
    #[error(
        "invalid digest {digest:?}: unsupported algorithm {algorithm:?} (only sha256 is supported)"
    )]
    UnsupportedAlgorithm {
        /// The whole digest string.
        digest: String,
        /// Its algorithm part.
        algorithm: String,
    },
    /// The algorithm part is not `[a-z0-9]+` separated by `+._-`.
    #[error("invalid digest {digest:?}: malformed algorithm {algorithm:?}")]
    MalformedAlgorithm {
        /// The whole digest string.
        digest: String,
        /// Its algorithm part.
        algorithm: String,
    },
    /// The encoded part has the wrong length.
    #[error("invalid digest {digest:?}: {algorithm} needs {expected} hex digits, got {found}")]
    WrongLength {
        /// The whole digest string.
        digest: String,
        /// The algorithm.
        algorithm: &'static str,
        /// How many hex digits the algorithm needs.
        expected: usize,
        /// How many characters were given.
        found: usize,
    },
    /// The encoded part has a character that is not a lowercase hex digit.
    #[error(
        "invalid digest {digest:?}: {found:?} at offset {offset} is not a lowercase hex digit"
    )]
    BadHex {
        /// The whole digest string.
        digest: String,
        /// The offending character.
        found: char,
        /// Its byte offset in the whole digest string.
        offset: usize,
    },
}

/// A digest algorithm skiff can compute and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm of every OCI and Docker image in practice.
    Sha256,
}

impl Algorithm {
    /// The name used in the string form, e.g. `sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
        }
    }

    /// How many hex digits the encoded part has.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated content digest such as `sha256:e3b0c442...b855`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(DigestError::MissingAlgorithm(s.to_owned()));
        };
        if !is_algorithm_grammar(algorithm) {
            return Err(DigestError::MalformedAlgorithm {
                digest: s.to_owned(),
                algorithm: algorithm.to_owned(),
            });
        }
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            other => {
                return Err(DigestError::UnsupportedAlgorithm {
                    digest: s.to_owned(),
                    algorithm: other.to_owned(),
                })
            }
        };
        Self::check_hex(s, algorithm, encoded, algorithm.as_str().len() + 1)?;
        Ok(Digest {
            algorithm,
            hex: encoded.to_owned(),
        })
    }

    /// Builds a digest from an algorithm and its hex encoding, validated.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Digest, DigestError> {
        let whole = format!("{algorithm}:{hex}");
        Self::check_hex(&whole, algorithm, hex, algorithm.as_str().len() + 1)?;
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    fn check_hex(
        whole: &str,
        algorithm: Algorithm,
        encoded: &str,
        base: usize,
    ) -> Result<(), DigestError> {
        if let Some((i, c)) = encoded
            .char_indices()
            .find(|&(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(DigestError::BadHex {
                digest: whole.to_owned(),
                found: c,
                offset: base + i,
            });
        }
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::WrongLength {
                digest: whole.to_owned(),
                algorithm: algorithm.as_str(),
                expected: algorithm.hex_len(),
                found: encoded.len(),
            });
        }
        Ok(())
    }

    /// The SHA-256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part: lowercase hex digits, safe to use as a file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as `docker images` shows image IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

/// Whether `s` matches the OCI algorithm grammar:
/// `[a-z0-9]+ ([+._-] [a-z0-9]+)*`.
fn is_algorithm_grammar(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl TryFrom<&str> for Digest {
    type Error = DigestError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 hasher that yields a [`Digest`].
///
/// It is also an [`io::Write`], so `io::copy(&mut reader, &mut hasher)`
/// digests a whole stream.
#[derive(Clone, Default)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    /// A hasher for the default algorithm, SHA-256.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Feeds `bytes` to the hash.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes have been hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything hashed so far; the hasher is left as it was.
    pub fn digest(&self) -> Digest {
        self.clone().finish()
    }

    /// The digest of everything hashed, consuming the hasher.
    pub fn finish(self) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(self.inner.finalize()),
        }
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that hashes everything written through it.
pub struct DigestWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// How many bytes have been written through.
    pub fn bytes_written(&self) -> u64 {
        self.hasher.len()
    }

    /// The digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.digest()
    }

    /// The wrapped writer, with the digest and size of what went through.
    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        // Hash only what the inner writer took, so the digest matches the data.
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes everything read through it.
pub struct DigestReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> DigestReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// How many bytes have been read through.
    pub fn bytes_read(&self) -> u64 {
        self.hasher.len()
    }

    /// The digest of the bytes read so far.
    pub fn digest(&self) -> Digest {
        self.hasher.digest()
    }

    /// The wrapped reader, with the digest and size of what went through.
    pub fn finish(self) -> (R, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn of_empty_and_abc() {
        assert_eq!(Digest::of(b"").to_string(), EMPTY);
        assert_eq!(
            Digest::of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::of(b"").short(), "e3b0c44298fc");
    }

    #[test]
    fn parse_roundtrip() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(EMPTY.parse::<Digest>().unwrap(), d);
        assert_eq!(
            Digest::from_hex(Algorithm::Sha256, d.hex()).unwrap(),
            Digest::of(b"")
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = Digest::parse("e3b0c442").unwrap_err();
        assert!(matches!(e, DigestError::MissingAlgorithm(_)), "{e}");
        assert!(e.to_string().contains("sha256:<64 hex digits>"));

        let e = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap_err();
        assert!(
            e.to_string()
                .contains("unsupported algorithm \"sha512\" (only sha256 is supported)"),
            "{e}"
        );

        let e = Digest::parse("SHA256:abc").unwrap_err();
        assert!(matches!(e, DigestError::MalformedAlgorithm { .. }), "{e}");

        let e = Digest::parse(&format!("sha256:{}", "a".repeat(63))).unwrap_err();
        assert!(e.to_string().contains("needs 64 hex digits, got 63"), "{e}");

        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        let e = Digest::parse(&upper).unwrap_err();
        assert!(
            e.to_string()
                .contains("'E' at offset 7 is not a lowercase hex digit"),
            "{e}"
        );
        assert!(Digest::parse("sha256:").is_err());
        assert!(Digest::parse(":abc").is_err());
    }

    #[test]
    fn serde_as_string() {
        let d = Digest::of(b"");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        let back: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        let err = serde_json::from_str::<Digest>("\"md5:abc\"").unwrap_err();
        assert!(err.to_string().contains("unsupported algorithm"), "{err}");
    }

    #[test]
    fn streaming_hashers_agree() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::of(&data);

        let mut h = Hasher::new();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        assert_eq!(h.len(), data.len() as u64);
        assert_eq!(h.digest(), want);
        assert_eq!(h.finish(), want);

        let mut w = DigestWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (out, d, n) = w.finish();
        assert_eq!((d, n), (want.clone(), data.len() as u64));
        assert_eq!(out, data);

        let mut r = DigestReader::new(&data[..]);
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        assert_eq!(r.bytes_read(), data.len() as u64);
        assert_eq!(r.digest(), want);

        let mut h = Hasher::new();
        io::copy(&mut &data[..], &mut h).unwrap();
        assert_eq!(h.finish(), want);
    }
}
