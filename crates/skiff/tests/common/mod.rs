//! Shared helpers for skiff-runtime's integration tests: run the real binary
//! against busybox bundles under a private state root, and check for leftovers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use skiff_testkit::{state_root, unique_id, Bundle};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_skiff-runtime"))
}

/// A private state root and helpers to call the runtime with it.
pub struct Rt {
    pub root: tempfile::TempDir,
    /// skiff-runtime, or a peer with runc's command line.
    pub program: PathBuf,
}

impl Rt {
    pub fn new() -> Rt {
        Rt {
            root: state_root(),
            program: bin(),
        }
    }

    /// The peer runc, under a state root of its own.
    pub fn runc() -> Rt {
        Rt {
            root: state_root(),
            program: PathBuf::from("runc"),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Run with the given args; stdin closed, output captured. Output goes
    /// through files, not pipes: a created container inherits them and keeps
    /// them open, so waiting for EOF would wait for the container.
    pub fn run(&self, args: &[&str]) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let out = std::fs::File::create(dir.path().join("out")).unwrap();
        let err = std::fs::File::create(dir.path().join("err")).unwrap();
        let status = self
            .cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .expect("running the runtime");
        Output {
            status,
            stdout: std::fs::read(dir.path().join("out")).unwrap(),
            stderr: std::fs::read(dir.path().join("err")).unwrap(),
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "skiff-runtime {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn status(&self, id: &str) -> String {
        let out = self.ok(&["state", id]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("state is JSON");
        v["status"].as_str().unwrap_or("").to_string()
    }

    /// `run` a bundle in the foreground: (exit code, stdout, stderr).
    pub fn run_bundle(&self, b: &Bundle, id: &str) -> (i32, String, String) {
        let o = self.run(&["run", "--bundle", b.path().to_str().unwrap(), id]);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // Whatever a test left running under its root goes away with it.
        for e in std::fs::read_dir(self.root.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.cmd().args(["delete", "--force", &id]).output();
        }
    }
}

/// Every cgroup directory a container with this cgroup path could have left.
pub fn cgroup_dirs(cg_path: &str) -> Vec<PathBuf> {
    let rel = cg_path.trim_start_matches('/');
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.push(p.join(rel));
        }
    }
    out.push(PathBuf::from("/sys/fs/cgroup").join(rel));
    out
}

/// Assert a failed create left nothing: state dir, cgroup, mount, process.
pub fn assert_no_leftovers(rt: &Rt, id: &str, bundle: &Path) {
    assert!(
        !rt.root.path().join(id).exists(),
        "state dir of {id} left behind"
    );
    for d in cgroup_dirs(&format!("/{id}")) {
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
    let rootfs = bundle.join("rootfs").canonicalize().unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !info.contains(rootfs.to_str().unwrap()),
        "a mount under {} is left in the host namespace",
        rootfs.display()
    );
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(root) = std::fs::read_link(e.path().join("root")) {
            assert!(
                !root.starts_with(&rootfs),
                "process {} still runs in the rootfs",
                e.file_name().to_string_lossy()
            );
        }
    }
    let list = rt.ok(&["list", "-q"]);
    assert!(!list.lines().any(|l| l == id), "{id} still listed");
}
