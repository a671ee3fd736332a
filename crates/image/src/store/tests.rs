use super::*;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn ingest_files(store: &Store) -> Vec<PathBuf> {
    fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn put_read_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = store.put_bytes(b"{\"a\":1}").unwrap();
    let b = store.put_bytes(b"").unwrap();
    assert_eq!(a, Digest::of(b"{\"a\":1}"));
    assert!(store.exists(&a).unwrap());
    assert_eq!(store.size(&a).unwrap(), 7);
    assert_eq!(store.read_to_vec(&a, 7).unwrap(), b"{\"a\":1}");
    assert_eq!(store.verify(&b).unwrap(), 0);
    let mut s = String::new();
    store.open_blob(&a).unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "{\"a\":1}");
    assert!(store
        .blob_path(&a)
        .ends_with(format!("blobs/sha256/{}", a.hex())));

    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(store.list().unwrap(), want);

    let e = store.read_to_vec(&a, 6).unwrap_err();
    assert!(
        e.to_string()
            .contains("is 7 bytes, more than the limit of 6"),
        "{e}"
    );

    assert!(store.delete(&a).unwrap());
    assert!(!store.delete(&a).unwrap());
    assert!(!store.exists(&a).unwrap());
    let e = store.size(&a).unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    assert!(e.to_string().contains(&a.to_string()));
    assert!(matches!(store.open_blob(&a), Err(StoreError::NotFound(_))));
    assert_eq!(store.list().unwrap(), vec![b]);
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn ingest_checks_digest_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = content(300_000, 1);
    let d = Digest::of(&data);

    let (got, n) = store.ingest(&data[..], Some(&d), Some(300_000)).unwrap();
    assert_eq!((got, n), (d.clone(), 300_000));
    // Again: already present is fine.
    store.ingest(&data[..], Some(&d), None).unwrap();

    let other = Digest::of(b"x");
    let e = store.ingest(&data[..], Some(&other), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("content of blob {other} has digest {d}")
    );
    let e = store
        .ingest(&data[..], Some(&d), Some(299_999))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("blob {d} is larger than its declared size 299999")
    );
    let e = store.ingest(&data[..], None, Some(300_001)).unwrap_err();
    assert!(
        e.to_string()
            .contains("shorter than its declared size 300001: it ended after 300000 bytes"),
        "{e}"
    );

    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("connection reset"));
            }
            self.0 -= 1;
            buf[0] = 7;
            Ok(1)
        }
    }
    let e = store.ingest(Failing(10), None, None).unwrap_err();
    assert!(e.to_string().contains("connection reset"), "{e}");

    assert_eq!(store.list().unwrap(), vec![d]);
    assert!(ingest_files(&store).is_empty(), "temp files left behind");
}

/// A reader that hands out `data` in small pieces, pausing between them.
struct Slow<'a>(&'a [u8]);
impl Read for Slow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_millis(1));
        let n = self.0.len().min(buf.len()).min(4096);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn concurrent_ingests_of_same_content_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = Arc::new(content(100_000, 9));
    let d = Digest::of(&data);
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (store, data, d, barrier) =
                (store.clone(), data.clone(), d.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.ingest(Slow(&data), Some(&d), Some(data.len() as u64))
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), (d.clone(), 100_000));
    }
    assert_eq!(store.verify(&d).unwrap(), 100_000);
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn gc_spares_live_ingests_and_removes_abandoned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // An abandoned file, as left by a writer that died.
    fs::write(dir.path().join("ingest/123-dead"), b"partial").unwrap();

    // A live ingest that waits for the go-ahead in the middle.
    struct Gated(mpsc::Receiver<()>, u32);
    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            match self.1 {
                1 => {
                    buf[..3].copy_from_slice(b"abc");
                    Ok(3)
                }
                2 => {
                    self.0.recv().unwrap();
                    Ok(0)
                }
                _ => Ok(0),
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    let s2 = store.clone();
    let h = std::thread::spawn(move || s2.ingest(Gated(rx, 0), None, Some(3)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while ingest_files(&store).len() < 2 {
        assert!(Instant::now() < deadline, "ingest did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.gc_ingest().unwrap(), 1);
    assert_eq!(ingest_files(&store).len(), 1);
    tx.send(()).unwrap();
    assert_eq!(h.join().unwrap().unwrap().0, Digest::of(b"abc"));
    assert!(ingest_files(&store).is_empty());
}

const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD";

/// Not a test of its own: the body that crash tests run in a child
/// process (this test binary run again), which they SIGKILL.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, root) = spec.split_once(':').unwrap();
    let store = Store::open(root).unwrap();
    match mode {
        // Ingest 1 MiB of a blob, then hang.
        "partial" => {
            struct Hang(Vec<u8>);
            impl Read for Hang {
                fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                    if self.0.is_empty() {
                        loop {
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                    let n = self.0.len().min(buf.len());
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0.drain(..n);
                    Ok(n)
                }
            }
            let _ = store.ingest(Hang(content(1 << 20, 3)), None, None);
        }
        // Ingest blob after blob until killed.
        "loop" => {
            for i in 0u32.. {
                let data = content(64 * 1024 + i as usize * 4099, i as u8);
                store.ingest(&data[..], None, None).unwrap();
            }
        }
        other => panic!("unknown mode {other}"),
    }
    unreachable!();
}

fn spawn_child(mode: &str, root: &Path) -> std::process::Child {
    let module = module_path!();
    let test = format!("{}::crash_child", &module[module.find("::").unwrap() + 2..]);
    Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, format!("{mode}:{}", root.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited with {status} before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigkill_mid_ingest_leaves_store_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut child = spawn_child("partial", dir.path());
    let s = store.clone();
    wait_for(
        "1 MiB to be written",
        || {
            ingest_files(&s)
                .iter()
                .any(|p| fs::metadata(p).is_ok_and(|m| m.len() >= 1 << 20))
        },
        &mut child,
    );
    // A live ingest in another process is not garbage.
    assert_eq!(store.gc_ingest().unwrap(), 0);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert!(store.list().unwrap().is_empty(), "partial blob committed");
    assert_eq!(ingest_files(&store).len(), 1);
    let store = Store::open(dir.path()).unwrap(); // collects the leftover
    assert!(ingest_files(&store).is_empty());

    let data = content(1 << 20, 3);
    let d = Digest::of(&data);
    assert_eq!(store.ingest(&data[..], Some(&d), None).unwrap().0, d);
    assert_eq!(store.list().unwrap(), vec![d]);
}

#[test]
fn sigkill_during_ingest_loop_never_exposes_partial_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut child = spawn_child("loop", dir.path());
    let s = store.clone();
    wait_for("a few blobs", || s.list().unwrap().len() >= 5, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();

    let blobs = store.list().unwrap();
    assert!(blobs.len() >= 5);
    for d in &blobs {
        store.verify(d).unwrap();
    }
    assert!(ingest_files(&store).len() <= 1);
    Store::open(dir.path()).unwrap();
    assert!(ingest_files(&store).is_empty());
    let d = store.put_bytes(b"after the crash").unwrap();
    assert!(store.exists(&d).unwrap());
}
