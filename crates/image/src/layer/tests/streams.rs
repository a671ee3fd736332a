//! The byte stream: truncation, corruption, digests, size limits, and the
//! throughput measurement.

use std::io::{self, Read};

use super::*;

fn small_layer() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("bin/", 0o755);
    // Incompressible enough that truncating the gzip cuts into the data.
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    t.file("bin/tool", 0o755, &data);
    t.file("bin/after", 0o644, b"after");
    t.finish()
}

#[test]
fn truncated_compressed_streams_are_reported_as_truncated() {
    let tar = small_layer();
    for (compression, blob) in [
        (Compression::Gzip, gzip(&tar)),
        (Compression::Zstd, zstd(&tar)),
    ] {
        for cut in [blob.len() / 2, blob.len() - 4, blob.len() - 1] {
            let env = Env::new();
            let err = env.unpack(&blob[..cut]).unwrap_err();
            assert!(
                matches!(&err, LayerError::Truncated { compression: c, .. } if *c == compression),
                "{compression} cut at {cut}/{}: {err}",
                blob.len()
            );
            assert!(err.to_string().contains("truncated"), "{err}");
            env.assert_untouched();
        }
    }
}

#[test]
fn truncated_plain_tar_names_the_entry() {
    let tar = small_layer();
    // Inside bin/tool's data.
    let env = Env::new();
    let err = env.unpack(&tar[..100_000]).unwrap_err();
    assert!(
        matches!(&err, LayerError::TruncatedEntry { entry, declared: 200_000, .. } if entry == "bin/tool"),
        "{err}"
    );
    // Inside a header block.
    let env = Env::new();
    let err = env.unpack(&tar[..512 + 100]).unwrap_err();
    assert!(
        matches!(&err, LayerError::TruncatedHeader { offset: 512 }),
        "{err}"
    );
}

#[test]
fn corrupt_gzip_is_an_error() {
    let tar = small_layer();
    let mut blob = gzip(&tar);
    let mid = blob.len() / 2;
    for b in &mut blob[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let err = Env::new().unpack(&blob).unwrap_err();
    assert!(
        matches!(
            &err,
            LayerError::Corrupt {
                compression: Compression::Gzip,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn digest_mismatch_names_both_digests() {
    let tar = small_layer();
    let blob = gzip(&tar);
    let wrong = sha256(b"something else");
    let env = Env::new();
    let err = env
        .unpack_with(
            &blob,
            &UnpackOptions {
                expected_blob_digest: Some(wrong.clone()),
                ..Default::default()
            },
        )
        .unwrap_err();
    let actual = sha256(&blob);
    assert!(
        matches!(&err, LayerError::DigestMismatch { expected, actual: a } if *expected == wrong && *a == actual),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&wrong) && msg.contains(&actual), "{msg}");
    env.assert_untouched();

    let err = env
        .unpack_with(
            &blob,
            &UnpackOptions {
                expected_blob_digest: Some("md5:abc".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, LayerError::UnsupportedDigest(_)), "{err}");
}

#[test]
fn size_limits_are_enforced() {
    let tar = small_layer();
    let blob = gzip(&tar);
    let env = Env::new();
    let err = env
        .unpack_with(
            &blob,
            &UnpackOptions {
                max_size: Some(blob.len() as u64 - 1),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, LayerError::TooLarge { limit } if limit == blob.len() as u64 - 1),
        "{err}"
    );

    // A gzip bomb: 64 MiB of zeros in one file, limited to 1 MiB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    {
        let mut b = tar::Builder::new(&mut enc);
        let mut h = header(b"zeros", tar::EntryType::Regular, 0o644, b"");
        h.set_size(64 << 20);
        h.set_cksum();
        b.append(&h, io::repeat(0).take(64 << 20)).unwrap();
        b.finish().unwrap();
    }
    let bomb = enc.finish().unwrap();
    let env = Env::new();
    let err = env
        .unpack_with(
            &bomb,
            &UnpackOptions {
                max_unpacked_size: Some(1 << 20),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, LayerError::UnpackedTooLarge { limit: 1_048_576 }),
        "{err}"
    );
    env.assert_untouched();
}

#[test]
fn trailing_data_and_multi_member_gzip_count_in_digests() {
    let mut tar = small_layer();
    tar.extend_from_slice(&[0u8; 4096]);
    let half = tar.len() / 2;
    let mut blob = gzip(&tar[..half]);
    blob.extend_from_slice(&gzip(&tar[half..]));
    let env = Env::new();
    let got = env.unpack(&blob).unwrap();
    assert_eq!(got.diff_id, sha256(&tar));
    assert_eq!(got.blob_digest, sha256(&blob));
    assert_eq!(got.size, tar.len() as u64);
    assert_eq!(fs::read(env.path("bin/after")).unwrap(), b"after");
}

/// A reader that fails after some bytes.
struct Failing<'a>(&'a [u8]);

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "registry went away",
            ));
        }
        let n = buf.len().min(self.0.len()).min(1000);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn reader_errors_are_read_errors() {
    let blob = gzip(&small_layer());
    let env = Env::new();
    let err = unpack(
        Failing(&blob[..blob.len() / 2]),
        None,
        &env.dest,
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, LayerError::Read(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{err}"
    );
}

#[test]
fn missing_destination_is_reported() {
    let env = Env::new();
    let missing = env.tmp.path().join("nope");
    let err = unpack(
        &gzip(&small_layer())[..],
        None,
        &missing,
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, LayerError::Destination { path, .. } if *path == missing),
        "{err}"
    );
    assert!(!missing.exists());
}
