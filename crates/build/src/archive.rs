//! ADD of a local archive: a tar, plain or compressed with gzip, bzip2 or
//! xz (told apart by content, as Docker does, never by name), is unpacked
//! into the destination instead of being copied.

use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

/// The compression of `head` (a file's first bytes), by magic number.
fn compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

fn reader(path: &Path, c: Compression) -> std::io::Result<Box<dyn Read>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    Ok(match c {
        Compression::None => Box::new(f),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(f)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(f)),
    })
}

/// `r`'s content, decompressed when it starts with gzip's, bzip2's or xz's
/// magic number (`import` takes a tar compressed or not, as Docker does).
pub fn decompressed<'a>(mut r: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut head = Vec::with_capacity(6);
    while head.len() < 6 {
        let mut b = [0u8; 6];
        let n = r.read(&mut b[..6 - head.len()])?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    let c = compression(&head);
    let r = std::io::BufReader::new(std::io::Cursor::new(head).chain(r));
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(r)),
    })
}

/// Whether a tar header with a valid checksum starts at `block`.
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 || block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    let Ok(want) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                b' ' as u32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == want
}

/// The archive's compression when `path` is a tar archive Docker's ADD
/// unpacks; None for any other file.
pub fn detect(path: &Path) -> Option<Compression> {
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let c = compression(&head[..n]);
    let mut r = reader(path, c).ok()?;
    let mut block = vec![0u8; 512];
    r.read_exact(&mut block).ok()?;
    is_tar_header(&block).then_some(c)
}

/// Unpack the archive into the empty directory `dir` (entries that would
/// climb out of it are refused).
pub fn unpack(path: &Path, c: Compression, dir: &Path) -> std::io::Result<()> {
    let mut a = tar::Archive::new(reader(path, c)?);
    a.set_preserve_permissions(true);
    a.set_preserve_ownerships(true);
    a.set_preserve_mtime(true);
    a.set_unpack_xattrs(false);
    a.set_overwrite(true);
    a.unpack(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o640);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "d/f.txt", &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn streams_are_decompressed_by_their_magic() {
        let plain = tar_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        for input in [plain.clone(), gz] {
            let mut out = Vec::new();
            decompressed(&input[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain);
        }
        let mut out = Vec::new();
        decompressed(&b"ab"[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn archives_are_known_by_content_and_unpacked() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("a.bin");
        std::fs::write(&plain, tar_bytes()).unwrap();
        let gz = d.path().join("b.txt");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar_bytes()).unwrap();
        std::fs::write(&gz, e.finish().unwrap()).unwrap();
        let xz = d.path().join("c");
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(&tar_bytes()).unwrap();
        std::fs::write(&xz, e.finish().unwrap()).unwrap();
        let bz = d.path().join("e");
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(&tar_bytes()).unwrap();
        std::fs::write(&bz, e.finish().unwrap()).unwrap();
        let text = d.path().join("notes.tar");
        std::fs::write(&text, "not a tar at all, whatever its name").unwrap();
        assert_eq!(detect(&plain), Some(Compression::None));
        assert_eq!(detect(&gz), Some(Compression::Gzip));
        assert_eq!(detect(&xz), Some(Compression::Xz));
        assert_eq!(detect(&bz), Some(Compression::Bzip2));
        assert_eq!(detect(&text), None);
        for (src, c) in [(&gz, Compression::Gzip), (&bz, Compression::Bzip2)] {
            let out = d.path().join(format!("out-{c:?}"));
            std::fs::create_dir(&out).unwrap();
            unpack(src, c, &out).unwrap();
            assert_eq!(std::fs::read_to_string(out.join("d/f.txt")).unwrap(), "abc");
        }
    }
}
