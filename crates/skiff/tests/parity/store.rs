//! skiff's store of the test's own, and the processes it may leave behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use skiff_testkit::dockerd::{alive, unmount_below};

// skiff's store of the test's own

/// A skiff --root and --runroot under one temporary directory; every
/// container in it removed, and anything mounted below it unmounted, when
/// dropped.
pub(crate) struct Skiff {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) runroot: PathBuf,
    /// skiff's bridges and rules live in a namespace of the test's own.
    pub(crate) ns: skiff_testkit::NetNs,
    /// With `PARITY_VIA_API=1`: `skiff serve` on this store, which the
    /// scenarios reach through Docker's own CLI (its socket).
    pub(crate) api: Option<(std::process::Child, PathBuf)>,
}

impl Skiff {
    pub(crate) fn new() -> Skiff {
        let dir = tempfile::Builder::new()
            .prefix("skiff-parity-")
            .tempdir()
            .unwrap();
        let mut s = Skiff {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            ns: skiff_testkit::NetNs::new("skiff-parity"),
            dir,
            api: None,
        };
        if std::env::var_os("PARITY_VIA_API").is_some() {
            let sock = s.dir.path().join("api.sock");
            let child = s
                .cli(&["serve", "-H", &format!("unix://{}", sock.display())])
                .spawn()
                .expect("starting skiff serve");
            for _ in 0..200 {
                if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            s.api = Some((child, sock));
        }
        s
    }

    /// A scenario's command: skiff's CLI, or with `PARITY_VIA_API` the
    /// docker CLI against `skiff serve`.
    pub(crate) fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let Some((_, sock)) = &self.api else {
            return self.cli(args);
        };
        let mut c = Command::new("/usr/bin/docker");
        c.env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        c
    }

    /// skiff's own CLI on this store (the setup, the cleanup).
    pub(crate) fn cli<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut c = self.ns.command(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        c
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args).output().unwrap();
        assert!(
            o.status.success(),
            "skiff {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Skiff {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.api.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(o) = self.cli(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.cli(&["rm", "-f", id]).output();
            }
        }
        end_strays(&self.root);
        unmount_below(self.dir.path());
    }
}

/// Processes still there with our store's root in their command line (a
/// supervisor, or a container's init that never exec'd and that skiff lost
/// track of) are ours: ended, and their emptied cgroups under /skiff
/// removed.
pub(crate) fn end_strays(root: &Path) {
    let needle = root.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let mut ids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if pid == me || !String::from_utf8_lossy(&cmdline).contains(needle.as_str()) {
            continue;
        }
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        for l in cg.lines() {
            if let Some(id) = l.split(':').nth(2).and_then(|p| p.strip_prefix("/skiff/")) {
                ids.push(id.to_string());
            }
        }
        eprintln!(
            "docker_parity: ending pid {pid} left by skiff: {}",
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        );
        // SAFETY: kill(2) takes no pointers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        pids.push(pid);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    ids.sort();
    ids.dedup();
    for id in ids.iter().filter(|id| !id.is_empty() && !id.contains('/')) {
        if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
            for d in dirs.flatten() {
                let _ = std::fs::remove_dir(d.path().join("skiff").join(id));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/skiff").join(id));
    }
}
