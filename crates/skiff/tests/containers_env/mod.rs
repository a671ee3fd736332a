//! A skiff store of a container test's own: --root and --runroot under one
//! temporary directory, busybox imported as `bb`, every container
//! force-removed and everything mounted below it unmounted when dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Env {
    pub root: PathBuf,
    pub runroot: PathBuf,
    /// Bridges, veths and rules are made in the test's own namespace
    /// (None: the host's, for tests that reach a registry on 127.0.0.1 and
    /// use `--network none`).
    pub ns: Option<skiff_testkit::NetNs>,
    pub _dir: tempfile::TempDir,
}

impl Env {
    /// A store holding busybox imported as `bb`.
    pub fn new() -> Env {
        Env::with_ns(Some(skiff_testkit::NetNs::new("skiff-ctr")))
    }

    pub fn with_ns(ns: Option<skiff_testkit::NetNs>) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("skiff-ctr-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n",
        )
        .unwrap();
        let tar = dir.path().join("bb.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let env = Env {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            ns,
            _dir: dir,
        };
        env.ok(&["import", tar.to_str().unwrap(), "bb"]);
        env
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match &self.ns {
            Some(ns) => ns.command(env!("CARGO_BIN_EXE_skiff")),
            None => Command::new(env!("CARGO_BIN_EXE_skiff")),
        };
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "skiff {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn inspect(&self, what: &str, fmt: &str) -> String {
        self.ok(&["inspect", "-f", fmt, what]).trim().to_string()
    }

    /// Wait until `f` holds (or fail after `secs`).
    pub fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(o) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
        // Anything still mounted below our directory.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let base = self.root.parent().unwrap().to_string_lossy().into_owned();
        for m in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
            if m.starts_with(&base) {
                let _ = nix::mount::umount2(Path::new(m), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
