//! What the engine's own tests share: a test binary that is also its
//! containers' supervisor (`__supervise`) and `--init` (`docker-init`), as
//! the skiff binary is; a store of the test's own with busybox imported; a
//! small test runner (the runtime forks in-process only in single-threaded
//! processes, so these tests run without libtest's threads), and checks that
//! nothing is left on the host.

#![allow(dead_code)]

use skiff_engine::Engine;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Act as the supervisor or init when started as one; else None.
pub fn dispatch() -> Option<i32> {
    let argv: Vec<String> = std::env::args().collect();
    let name = Path::new(&argv[0])
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if name == "docker-init" {
        return Some(skiff_engine::init::main(&argv[1..]));
    }
    if argv.get(1).map(String::as_str) == Some("__supervise") {
        return Some(skiff_engine::supervisor::main(&argv[2..]));
    }
    None
}

/// A store of the test's own (`--root` and `--runroot` in one temporary
/// directory, busybox imported as `bb`); its containers removed, and what
/// is mounted below it unmounted, when dropped.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::Builder::new()
            .prefix("skiff-engine-")
            .tempdir()
            .unwrap();
        let engine = Engine::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        let rootfs = dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = dir.path().join("bb.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        engine
            .image_import(
                std::fs::File::open(&tar).unwrap(),
                Some("bb"),
                &Default::default(),
            )
            .unwrap();
        Store { dir, engine }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `create --network none bb CMD...` named `name`.
    pub fn create(&self, name: &str, cmd: &[&str]) -> String {
        self.create_with(name, cmd, |_| {})
    }

    pub fn create_with(
        &self,
        name: &str,
        cmd: &[&str],
        f: impl FnOnce(&mut skiff_engine::container::CreateOptions),
    ) -> String {
        let mut o = skiff_engine::container::CreateOptions {
            name: Some(name.into()),
            image: "bb".into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        o.host.network_mode = "none".into();
        f(&mut o);
        self.engine.create(&o).unwrap().id
    }

    /// `run -d`: created and started.
    pub fn run(&self, name: &str, cmd: &[&str]) -> String {
        let id = self.create(name, cmd);
        self.engine.start(&id, None).unwrap().detach();
        id
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Ok(list) = self.engine.list() {
            for c in list {
                let _ = self.engine.remove(&c.id, true, true);
            }
        }
        skiff_testkit::dockerd::unmount_below(self.dir.path());
    }
}

/// Poll `f` until it holds (or panic after `secs`).
pub fn until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What of the store at `root` is still on the host: mounts below it,
/// cgroups of its containers, processes naming it, zombie children of ours.
pub fn leftovers(root: &Path, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let needle = root.to_string_lossy().into_owned();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in mounts.lines() {
        if l.split(' ').nth(4).is_some_and(|t| t.starts_with(&needle)) {
            out.push(format!("mount {l}"));
        }
    }
    for id in ids {
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = h.path().join("skiff").join(id);
            if p.exists() {
                out.push(format!("cgroup {}", p.display()));
            }
        }
    }
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() || name == me {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            out.push(format!(
                "process {name}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.first() == Some(&"Z") && f.get(1) == Some(&me.as_str()) {
                out.push(format!("zombie child {name}"));
            }
        }
    }
    out
}

/// Run the named tests one after another (or those whose name holds
/// `$ENGINE_TEST`), report each, exit 1 if any failed.
pub fn run_tests(tests: &[(&str, fn())]) {
    let only = std::env::var("ENGINE_TEST").ok();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, t) in tests {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        ran += 1;
        let start = Instant::now();
        let r = std::panic::catch_unwind(t);
        let secs = start.elapsed().as_secs_f64();
        match r {
            Ok(()) => println!("test {name} ... ok ({secs:.1}s)"),
            Err(_) => {
                println!("test {name} ... FAILED ({secs:.1}s)");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
        std::process::exit(1);
    }
    if ran == 0 {
        println!("no test is named like {only:?}");
        std::process::exit(1);
    }
    println!("test result: ok ({ran} tests)");
}
