//! A private skiff store for the build tests: --root and --runroot under
//! one temporary directory, with an offline busybox image `bb:base`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A private root with the busybox image `bb:base` imported.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = dir.path().join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let e = Env { dir };
        e.ok(&["import", tar.to_str().unwrap(), "bb:base"]);
        e
    }

    /// A private root with `other`'s `bb:base` (the same image ID), as
    /// a second machine that pulled the same base image has it.
    pub fn sharing_base_with(other: &Env) -> Env {
        let e = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let tar = e.dir.path().join("base.tar");
        other.ok(&["save", "-o", tar.to_str().unwrap(), "bb:base"]);
        e.ok(&["load", "-i", tar.to_str().unwrap()]);
        e
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// skiff on the private store; a `run` without a network of its own
    /// gets `--network none` (the default bridge would be the host's).
    pub fn skiff_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"));
        match args.split_first() {
            Some((&"run", rest)) if !rest.contains(&"--network") => {
                c.args(["run", "--network", "none"]).args(rest);
            }
            _ => {
                c.args(args);
            }
        }
        c
    }

    pub fn skiff(&self, args: &[&str]) -> Output {
        self.skiff_cmd(args).output().expect("running skiff")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.skiff(args);
        assert!(
            o.status.success(),
            "skiff {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A context directory with these files.
    pub fn context(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let c = self.dir.path().join(name);
        for (path, text) in files {
            let p = c.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        c
    }

    /// Nothing of a build is left: no mount below the image store (where
    /// builds mount their steps), no work dir.
    pub fn assert_clean(&self) {
        let root = self.root();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let store = root.join("image");
        let r = store.to_str().unwrap();
        let left: Vec<&str> = mounts
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(r)))
            .collect();
        assert!(left.is_empty(), "mounts left below {r}: {left:?}");
        let work = root.join("image/build");
        let left: Vec<_> = std::fs::read_dir(&work)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "work dirs left: {left:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A test that failed half-way may have left containers running
        // (their supervisors would outlive the store): removed first.
        if std::thread::panicking() {
            if let Ok(o) = self.skiff_cmd(&["ps", "-aq", "--no-trunc"]).output() {
                for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = self.skiff_cmd(&["rm", "-f", id]).output();
                }
            }
        }
        skiff_testkit::dockerd::unmount_below(self.dir.path());
    }
}
