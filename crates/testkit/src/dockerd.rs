//! A dockerd of a test's own (Debian's docker.io): its data root, exec root,
//! pid file and socket under one short temporary directory. Stopped, with
//! its containerd and shims, everything mounted below that directory and
//! the directory itself, when dropped, also on failure.
//!
//! It always runs in a network namespace of the test's own, with Docker's
//! defaults (the default bridge, iptables rules, the userland proxy), all of
//! them inside that namespace: nothing of the host's network changes. (A
//! dockerd in the host's namespace, even with `--bridge=none`, deletes the
//! host's own `docker0`, which breaks a Docker the machine runs.)

use crate::NetNs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's docker client (matching Debian's dockerd), not any newer one
/// elsewhere on PATH.
pub const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";

pub struct Dockerd {
    child: Option<Child>,
    /// `unix://…/docker.sock`, for `docker -H`.
    pub sock: String,
    /// Holds `docker/` (the data root), `de/` (the exec root), the log.
    pub dir: PathBuf,
    /// The namespace dockerd networks in, deleted after dockerd is gone.
    ns: Option<NetNs>,
}

impl Dockerd {
    /// Start one (`prefix` names its directory under /tmp) in `ns`, with
    /// Docker's network defaults, and wait until it answers.
    pub fn start(prefix: &str, ns: NetNs) -> Dockerd {
        for bin in [DOCKER, DOCKERD] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install docker.io"
            );
        }
        // Short: the exec root's containerd socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let sock = format!("unix://{}", dir.join("docker.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        // nsenter execs dockerd: the child's pid is dockerd's.
        let mut cmd = ns.command(DOCKERD);
        cmd.arg("--data-root")
            .arg(dir.join("docker"))
            .arg("--exec-root")
            .arg(dir.join("de"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().unwrap();
        let mut d = Dockerd {
            child: Some(child),
            sock,
            dir,
            ns: Some(ns),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = d
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if up {
                return d;
            }
            let exited = d.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default();
                panic!("dockerd did not start ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The docker client, talking to this dockerd.
    pub fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_CONFIG", self.dir.join("config"))
            .args(["-H", &self.sock]);
        c
    }

    /// The network namespace dockerd runs in.
    pub fn netns(&self) -> &NetNs {
        self.ns
            .as_ref()
            .expect("dockerd runs in a namespace until dropped")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            // dockerd's own containerd (and its shims, if any): noted before
            // dockerd goes, as they are reparented after it
            let mut kids = children_of(pid);
            for k in kids.clone() {
                kids.extend(children_of(k));
            }
            terminate(pid, 30);
            let _ = child.wait();
            for k in kids {
                if alive(k) {
                    terminate(k, 10);
                }
            }
        }
        unmount_below(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        drop(self.ns.take());
    }
}

/// Processes whose parent is `ppid` (from /proc).
pub fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..."; comm may hold spaces and parentheses
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` runs (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rfind(')')
            .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// SIGTERM, up to `secs` seconds to exit, then SIGKILL.
pub fn terminate(pid: i32, secs: u64) {
    // SAFETY: kill(2) takes no pointers.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(secs);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: kill(2) takes no pointers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Unmount everything mounted below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = format!("{}/", dir.display());
    let mut targets: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| t.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    targets.sort();
    targets.dedup();
    for t in targets.iter().rev() {
        let c = std::ffi::CString::new(t.as_str()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives both calls.
        if unsafe { libc::umount2(c.as_ptr(), 0) } != 0 {
            // SAFETY: as above.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
