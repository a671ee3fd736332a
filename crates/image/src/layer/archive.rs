//! A streaming tar reader for layer blobs.
//!
//! It reads v7, ustar, GNU and PAX archives as Docker and containerd write
//! them: GNU long names (`L`/`K`), PAX extended headers (`x`, with `path`,
//! `linkpath`, `size`, `uid`, `gid`, `mtime` and `SCHILY.xattr.*` records;
//! global `g` headers are read and ignored). It is written here rather than
//! taken from the `tar` crate so that every limit is ours: extension headers
//! are capped at [`META_LIMIT`] bytes (the `tar` crate reads them whole
//! whatever their declared size), PAX values may hold any byte (including
//! newlines, as binary `security.capability` values do), nothing is allocated
//! from a declared size, and a stream that ends inside an entry is reported as
//! truncated rather than silently shortened. GNU sparse files are refused.

use std::io::{self, Read};

use super::error::LayerError;
use super::stream::{read_full, StreamState};

const BLOCK: usize = 512;

/// Longest accepted GNU long-name or PAX extension header (Go's limit too).
pub(crate) const META_LIMIT: u64 = 1 << 20;

/// What kind of file an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    HardLink,
    Symlink,
    Char,
    Block,
    Directory,
    Fifo,
}

/// A time stamp with nanoseconds (PAX times carry fractions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Time {
    pub(crate) secs: i64,
    pub(crate) nanos: u32,
}

/// One archive member, with every extension header folded in.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The path as stored (not yet cleaned).
    pub(crate) path: Vec<u8>,
    /// Link target of hardlinks and symlinks, as stored.
    pub(crate) link: Vec<u8>,
    pub(crate) kind: Kind,
    /// Permission bits including setuid, setgid and sticky.
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: Time,
    pub(crate) dev_major: u32,
    pub(crate) dev_minor: u32,
    /// Extended attributes from `SCHILY.xattr.<name>` records.
    pub(crate) xattrs: Vec<(String, Vec<u8>)>,
}

impl Header {
    /// The entry's path for messages.
    pub(crate) fn display(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Values from a PAX extended header that override the ustar ones.
#[derive(Debug, Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<Time>,
    xattrs: Vec<(String, Vec<u8>)>,
    sparse: bool,
}

/// Reads tar members one by one from the uncompressed stream.
pub(crate) struct TarReader<'s, R> {
    inner: R,
    state: &'s StreamState,
    /// Offset in the uncompressed stream.
    offset: u64,
    /// The current entry's name, for messages.
    current: String,
    /// Its declared data size and how much of it is still unread.
    declared: u64,
    remaining: u64,
    /// Zero padding after the current entry's data.
    padding: u64,
    done: bool,
}

impl<'s, R: Read> TarReader<'s, R> {
    pub(crate) fn new(inner: R, state: &'s StreamState) -> Self {
        TarReader {
            inner,
            state,
            offset: 0,
            current: String::new(),
            declared: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    /// Gives back the underlying reader (to drain it).
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    fn io_error(&self, err: io::Error) -> LayerError {
        self.state.classify(&err).unwrap_or_else(|| LayerError::Io {
            entry: self.current.clone(),
            op: "read tar stream",
            source: err,
        })
    }

    fn raw_read(&mut self, buf: &mut [u8]) -> Result<usize, LayerError> {
        let n = read_full(&mut self.inner, buf).map_err(|e| self.io_error(e))?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads the current entry's data into `buf`; `Ok(0)` once all of it has
    /// been read. A stream that ends early is an error naming the entry.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, LayerError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        };
        if n == 0 {
            return Err(LayerError::TruncatedEntry {
                entry: self.current.clone(),
                declared: self.declared,
                got: self.declared - self.remaining,
            });
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Skips what is left of the current entry's data and padding.
    fn skip_rest(&mut self, scratch: &mut [u8]) -> Result<(), LayerError> {
        while self.read_data(scratch)? > 0 {}
        while self.padding > 0 {
            let want = scratch
                .len()
                .min(usize::try_from(self.padding).unwrap_or(usize::MAX));
            let n = self.raw_read(&mut scratch[..want])?;
            if n == 0 {
                return Err(LayerError::TruncatedEntry {
                    entry: self.current.clone(),
                    declared: self.declared,
                    got: self.declared,
                });
            }
            self.padding -= n as u64;
        }
        Ok(())
    }

    /// Starts reading `size` data bytes as the current entry.
    fn begin_data(&mut self, name: String, size: u64) {
        self.current = name;
        self.declared = size;
        self.remaining = size;
        self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    }

    /// Reads the data of an extension header, refusing oversized ones.
    fn read_meta(
        &mut self,
        name: &str,
        what: &'static str,
        size: u64,
        scratch: &mut [u8],
    ) -> Result<Vec<u8>, LayerError> {
        if size > META_LIMIT {
            return Err(LayerError::MetadataTooLarge {
                entry: name.to_owned(),
                what,
                size,
                limit: META_LIMIT,
            });
        }
        self.begin_data(name.to_owned(), size);
        let mut data = Vec::new();
        loop {
            let n = self.read_data(scratch)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&scratch[..n]);
        }
        self.skip_rest(scratch)?;
        Ok(data)
    }

    /// Moves to the next member, skipping whatever is left of the current
    /// one. `scratch` is any buffer of at least one block. Returns `None` at
    /// the end-of-archive marker or a clean end of stream.
    pub(crate) fn next_entry(&mut self, scratch: &mut [u8]) -> Result<Option<Header>, LayerError> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest(scratch)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax = Pax::default();
        let mut block = [0u8; BLOCK];
        loop {
            let start = self.offset;
            let n = self.raw_read(&mut block)?;
            if n == 0 && long_name.is_none() && long_link.is_none() && pax.path.is_none() {
                self.done = true;
                return Ok(None);
            }
            if n < BLOCK {
                return Err(LayerError::TruncatedHeader { offset: start });
            }
            if block.iter().all(|&b| b == 0) {
                // End-of-archive marker; what follows is drained by the caller.
                self.done = true;
                return Ok(None);
            }
            let name = String::from_utf8_lossy(cstr(&block[0..100])).into_owned();
            let bad = |reason: &str| LayerError::BadHeader {
                offset: start,
                entry: name.clone(),
                reason: reason.to_owned(),
            };
            verify_checksum(&block).map_err(|r| bad(&r))?;
            let size = parse_number(&block[124..136])
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| bad("bad size field"))?;
            let flag = block[156];
            match flag {
                b'L' => {
                    let mut v = self.read_meta(&name, "GNU long name", size, scratch)?;
                    trim_nuls(&mut v);
                    long_name = Some(v);
                    continue;
                }
                b'K' => {
                    let mut v = self.read_meta(&name, "GNU long link name", size, scratch)?;
                    trim_nuls(&mut v);
                    long_link = Some(v);
                    continue;
                }
                b'x' => {
                    let data = self.read_meta(&name, "PAX extended header", size, scratch)?;
                    // A repeated header replaces the earlier one (as in Go),
                    // which also keeps memory bounded.
                    pax = Pax::default();
                    parse_pax(&data, &mut pax).map_err(&bad)?;
                    continue;
                }
                b'g' => {
                    self.read_meta(&name, "PAX global header", size, scratch)?;
                    continue;
                }
                _ => {}
            }

            let ustar = &block[257..263] == b"ustar\0";
            let mut path = match (pax.path.take(), long_name.take()) {
                (Some(p), _) | (None, Some(p)) => p,
                (None, None) => {
                    let prefix = cstr(&block[345..500]);
                    let base = cstr(&block[0..100]);
                    if ustar && !prefix.is_empty() {
                        let mut p = prefix.to_vec();
                        p.push(b'/');
                        p.extend_from_slice(base);
                        p
                    } else {
                        base.to_vec()
                    }
                }
            };
            let display = String::from_utf8_lossy(&path).into_owned();
            let kind = match flag {
                b'0' | b'7' => Kind::Regular,
                // Pre-POSIX archives mark directories by a trailing slash.
                b'\0' if path.ends_with(b"/") => Kind::Directory,
                b'\0' => Kind::Regular,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'3' => Kind::Char,
                b'4' => Kind::Block,
                b'5' => Kind::Directory,
                b'6' => Kind::Fifo,
                other => {
                    let what = match other {
                        b'S' => "entry type 'S' (GNU sparse file)".to_owned(),
                        b'V' => "entry type 'V' (volume label)".to_owned(),
                        b'M' => "entry type 'M' (multi-volume continuation)".to_owned(),
                        c if c.is_ascii_graphic() => format!("entry type {:?}", c as char),
                        c => format!("entry type byte {c:#04x}"),
                    };
                    return Err(LayerError::Unsupported {
                        entry: display,
                        what,
                    });
                }
            };
            if pax.sparse {
                return Err(LayerError::Unsupported {
                    entry: display,
                    what: "PAX sparse file (GNU.sparse records)".to_owned(),
                });
            }
            if path.is_empty() {
                return Err(bad("empty path"));
            }
            if kind == Kind::Directory {
                while path.len() > 1 && path.ends_with(b"/") {
                    path.pop();
                }
            }
            let link = match (pax.link.take(), long_link.take()) {
                (Some(l), _) | (None, Some(l)) => l,
                (None, None) => cstr(&block[157..257]).to_vec(),
            };
            let number = |range: std::ops::Range<usize>, what: &str| {
                parse_number(&block[range]).ok_or_else(|| bad(&format!("bad {what} field")))
            };
            let id = |v: i64, what: &str| {
                u32::try_from(v).map_err(|_| bad(&format!("{what} out of range")))
            };
            let mode = number(100..108, "mode")?;
            let uid = match pax.uid {
                Some(u) => u,
                None => id(number(108..116, "uid")?, "uid")?,
            };
            let gid = match pax.gid {
                Some(g) => g,
                None => id(number(116..124, "gid")?, "gid")?,
            };
            let mtime = match pax.mtime {
                Some(t) => t,
                None => Time {
                    secs: number(136..148, "mtime")?,
                    nanos: 0,
                },
            };
            let (dev_major, dev_minor) = if matches!(kind, Kind::Char | Kind::Block) {
                (
                    id(number(329..337, "devmajor")?, "devmajor")?,
                    id(number(337..345, "devminor")?, "devminor")?,
                )
            } else {
                (0, 0)
            };
            // Like Go's reader: only regular files carry data; whatever size
            // other headers declare is ignored (and no data is skipped).
            let size = if kind == Kind::Regular {
                pax.size.unwrap_or(size)
            } else {
                0
            };
            self.begin_data(display, size);
            return Ok(Some(Header {
                path,
                link,
                kind,
                mode: (mode & 0o7777) as u32,
                uid,
                gid,
                mtime,
                dev_major,
                dev_minor,
                xattrs: std::mem::take(&mut pax.xattrs),
            }));
        }
    }
}

/// The bytes of a NUL-terminated field.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn trim_nuls(v: &mut Vec<u8>) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

/// Parses a numeric header field: octal text, or GNU base-256 when the high
/// bit of the first byte is set (0x80 positive, 0xff negative).
fn parse_number(field: &[u8]) -> Option<i64> {
    let first = *field.first()?;
    if first & 0x80 != 0 {
        // Two's complement: invert negative numbers (-a-1 == !a) and read
        // the magnitude as unsigned, ignoring the marker bit.
        let invert: u8 = if first & 0x40 != 0 { 0xff } else { 0 };
        let mut value: u64 = 0;
        for (i, &b) in field.iter().enumerate() {
            let mut b = b ^ invert;
            if i == 0 {
                b &= 0x7f;
            }
            if value >> 56 != 0 {
                return None;
            }
            value = value << 8 | u64::from(b);
        }
        let value = i64::try_from(value).ok()?;
        return Some(if invert == 0xff { !value } else { value });
    }
    let text = cstr(field);
    let text = match text.iter().position(|&b| b != b' ') {
        Some(start) => &text[start..],
        None => return Some(0),
    };
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    if text[end..].iter().any(|&b| b != b' ') {
        return None;
    }
    let digits = &text[..end];
    if digits.is_empty() {
        return Some(0);
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(value)
}

/// Checks the header checksum (unsigned, or signed as some old tars wrote).
fn verify_checksum(block: &[u8; BLOCK]) -> Result<(), String> {
    let stored = parse_number(&block[148..156]).ok_or("unreadable checksum field")?;
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || stored == signed {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch (stored {stored}, computed {unsigned})"
        ))
    }
}

/// Parses PAX records (`"<len> <key>=<value>\n"`, values may be binary) into
/// `pax`. An empty value removes an earlier setting, as POSIX says.
fn parse_pax(mut data: &[u8], pax: &mut Pax) -> Result<(), &'static str> {
    const XATTR: &str = "SCHILY.xattr.";
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("PAX record without length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("PAX record with a bad length")?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("malformed PAX record");
        }
        let record = &data[space + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("PAX record without '='")?;
        let key = std::str::from_utf8(&record[..eq]).map_err(|_| "PAX key is not UTF-8")?;
        let value = &record[eq + 1..];
        let opt = |v: &[u8]| (!v.is_empty()).then(|| v.to_vec());
        let text = || std::str::from_utf8(value).map_err(|_| "PAX value is not UTF-8");
        match key {
            "path" => pax.path = opt(value),
            "linkpath" => pax.link = opt(value),
            "size" => {
                pax.size = if value.is_empty() {
                    None
                } else {
                    Some(text()?.parse().map_err(|_| "bad PAX size")?)
                }
            }
            "uid" | "gid" => {
                let v = if value.is_empty() {
                    None
                } else {
                    Some(text()?.parse::<u32>().map_err(|_| "bad PAX uid/gid")?)
                };
                if key == "uid" {
                    pax.uid = v;
                } else {
                    pax.gid = v;
                }
            }
            "mtime" => {
                pax.mtime = if value.is_empty() {
                    None
                } else {
                    Some(parse_pax_time(text()?).ok_or("bad PAX mtime")?)
                }
            }
            k if k.starts_with("GNU.sparse.") => pax.sparse = true,
            k if k.starts_with(XATTR) && k.len() > XATTR.len() => {
                let name = k[XATTR.len()..].to_owned();
                pax.xattrs.retain(|(n, _)| *n != name);
                pax.xattrs.push((name, value.to_vec()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses a PAX time such as `1700000000.123456789` or `-1.5`.
fn parse_pax_time(s: &str) -> Option<Time> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, d) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(if !negative {
        Time { secs, nanos }
    } else if nanos == 0 {
        Time {
            secs: -secs,
            nanos: 0,
        }
    } else {
        Time {
            secs: -secs - 1,
            nanos: 1_000_000_000 - nanos,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(parse_number(b"0000644\0"), Some(0o644));
        assert_eq!(parse_number(b"  17 \0\0\0"), Some(0o17));
        assert_eq!(parse_number(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_number(b"0009\0"), None);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[7..].copy_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(parse_number(&big), Some(1 << 32));
        assert_eq!(parse_number(&[0xff; 12]), Some(-1));
    }

    /// One PAX record, its length prefix counting itself.
    fn record(key: &str, value: &[u8]) -> Vec<u8> {
        let rest = 1 + key.len() + 1 + value.len() + 1;
        let mut len = rest + 1;
        while rest + len.to_string().len() != len {
            len = rest + len.to_string().len();
        }
        let mut out = format!("{len} {key}=").into_bytes();
        out.extend_from_slice(value);
        out.push(b'\n');
        out
    }

    #[test]
    fn pax_records_allow_binary_values() {
        let value = b"a\nb=c";
        let mut data = record("SCHILY.xattr.user.x", value);
        data.extend_from_slice(&record("mtime", b"1700000000.25"));
        data.extend_from_slice(&record("path", b"a/b"));
        data.extend_from_slice(&record("path", b""));
        let mut pax = Pax::default();
        parse_pax(&data, &mut pax).unwrap();
        assert_eq!(pax.xattrs, vec![("user.x".to_owned(), value.to_vec())]);
        assert_eq!(
            pax.mtime,
            Some(Time {
                secs: 1_700_000_000,
                nanos: 250_000_000
            })
        );
        // An empty value unsets the earlier one.
        assert_eq!(pax.path, None);

        let mut bad = record("mtime", b"1");
        bad[0] += 1;
        assert!(parse_pax(&bad, &mut Pax::default()).is_err());
    }

    #[test]
    fn pax_time_negative_fraction() {
        assert_eq!(
            parse_pax_time("-1.5"),
            Some(Time {
                secs: -2,
                nanos: 500_000_000
            })
        );
        assert_eq!(parse_pax_time("x"), None);
    }
}
