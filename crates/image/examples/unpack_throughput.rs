//! Layer unpack throughput (a benchmark, not a test): a 100 MB gzip layer of
//! random data, and 20 000 files of 1 KiB in 200 directories.
//!
//!     cargo run --release -p skiff-image --example unpack_throughput

use skiff_image::layer::{unpack, Compression, UnpackOptions};
use std::io::Write;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar_of(entries: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    entries(&mut b);
    b.into_inner().unwrap()
}

fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
}

fn measure(what: &str, blob: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let got = unpack(
        blob,
        Some(Compression::Gzip),
        dir.path(),
        &UnpackOptions::default(),
    )
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {} MB of tar ({} MB compressed, {} entries) in {secs:.3} s: {:.0} MB/s of tar, {:.0} entries/s",
        got.size / 1_000_000,
        got.compressed_size / 1_000_000,
        got.entries,
        got.size as f64 / secs / 1e6,
        got.entries as f64 / secs
    );
}

fn main() {
    let mut data = vec![0u8; 100_000_000];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let big = gzip(&tar_of(|b| file(b, "random.bin", &data)));
    drop(data);
    measure("100 MB random file", &big);

    let small = vec![b'x'; 1024];
    let many = gzip(&tar_of(|b| {
        for d in 0..200 {
            for f in 0..100 {
                file(b, &format!("d{d}/f{f}"), &small);
            }
        }
    }));
    measure("20 000 small files", &many);
}
