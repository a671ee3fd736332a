//! Docker (Debian's docker.io, with its own dockerd started by the test) and
//! skiff exchange images: through a registry (Debian's docker-registry on
//! 127.0.0.1) in both directions, and as docker-archive tarballs
//! (`docker save` / `skiff load`, `skiff save` / `docker load`). Each way
//! the image keeps its ID (the config digest).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use skiff_testkit::registry::start_registry;

/// Debian's docker client (matching Debian's dockerd), not any newer one
/// elsewhere on PATH.
const DOCKER: &str = "/usr/bin/docker";

/// A dockerd of the test's own: its data root, exec root, pid file and socket
/// all under one short temporary directory; no bridge, no iptables, no
/// forwarding, so nothing of the host's network is changed.
struct Dockerd {
    child: Option<Child>,
    sock: String,
    dir: PathBuf,
}

impl Dockerd {
    fn start() -> Dockerd {
        for bin in [DOCKER, "/usr/sbin/dockerd"] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install docker.io"
            );
        }
        // Short: the exec root's containerd socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("sd")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let sock = format!("unix://{}", dir.join("docker.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(dir.join("docker"))
            .arg("--exec-root")
            .arg(dir.join("de"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(&sock)
            .args(["--bridge=none", "--iptables=false", "--ip-forward=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut d = Dockerd {
            child: Some(child),
            sock,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = Command::new(DOCKER)
                .args(["-H", &d.sock, "version"])
                .env("DOCKER_CONFIG", d.dir.join("config"))
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .env("DOCKER_CONFIG", self.dir.join("config"))
            .args(["-H", &self.sock])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn id(&self, image: &str) -> String {
        self.ok(&["image", "inspect", "--format", "{{.Id}}", image])
            .trim()
            .to_string()
    }
}

/// Processes whose parent is `ppid` (from /proc).
fn children_of(ppid: i32) -> Vec<i32> {
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

fn alive(pid: i32) -> bool {
    // a zombie counts as gone
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rfind(')')
            .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// SIGTERM, up to `secs` seconds to exit, then SIGKILL.
fn stop(pid: i32, secs: u64) {
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
            stop(pid, 30);
            let _ = child.wait();
            for k in kids {
                if alive(k) {
                    stop(k, 10);
                }
            }
        }
        // anything still mounted under the directory, deepest first
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
            let prefix = format!("{}/", self.dir.display());
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn skiff(root: &Path, args: &[&str]) -> Output {
    // Credentials live next to the root; Docker's own file is never read.
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .env("SKIFF_AUTH_FILE", root.with_extension("auth.json"))
        .env("DOCKER_CONFIG", root.with_extension("docker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = skiff(root, args);
    assert!(
        o.status.success(),
        "skiff {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The image's ID as `skiff image inspect` shows it.
fn skiff_id(root: &Path, image: &str) -> String {
    let out = ok(root, &["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

/// busybox imported into the skiff store `root` as `name`; its ID.
fn import_busybox(dir: &Path, root: &Path, name: &str) -> String {
    let rootfs = dir.join("rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = dir.join("rootfs.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let id = ok(root, &["import", tar.to_str().unwrap(), name])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    id
}

#[test]
fn docker_and_skiff_exchange_images() {
    let reg = start_registry();
    let docker = Dockerd::start();
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("r");

    // 1. skiff pushes, docker pulls: the same image ID
    let name = format!("{}/skiff/busybox:v1", reg.host);
    let id = import_busybox(d.path(), &root, &name);
    assert_eq!(skiff_id(&root, &name), id);
    ok(&root, &["push", "-q", &name]);
    docker.ok(&["pull", "-q", &name]);
    assert_eq!(docker.id(&name), id, "docker pull of skiff's push");

    // 2a. docker save, skiff load (into an empty store): the same image ID
    let from_docker = d.path().join("from-docker.tar");
    docker.ok(&["save", &name, "-o", from_docker.to_str().unwrap()]);
    let root2 = d.path().join("r2");
    ok(&root2, &["load", "-i", from_docker.to_str().unwrap()]);
    assert_eq!(skiff_id(&root2, &name), id, "skiff load of docker save");
    assert_eq!(ok(&root2, &["images", "-q", "--no-trunc"]).trim(), id);

    // 2b. skiff save, docker load (the image removed from docker first)
    let saved_name = "skiff/saved:v2";
    ok(&root, &["tag", &name, saved_name]);
    docker.ok(&["rmi", &name]);
    let from_skiff = d.path().join("from-skiff.tar");
    ok(
        &root,
        &[
            "save",
            "-o",
            from_skiff.to_str().unwrap(),
            "--format",
            "docker-archive",
            saved_name,
        ],
    );
    let out = docker.ok(&["load", "-i", from_skiff.to_str().unwrap()]);
    assert!(out.contains(saved_name), "{out}");
    assert_eq!(docker.id(saved_name), id, "docker load of skiff save");

    // 3. docker pushes (127.0.0.1 is an insecure registry to it), skiff pulls
    let pushed = format!("{}/docker/busybox:v3", reg.host);
    docker.ok(&["tag", saved_name, &pushed]);
    docker.ok(&["push", &pushed]);
    let root3 = d.path().join("r3");
    ok(&root3, &["pull", "-q", &pushed]);
    assert_eq!(skiff_id(&root3, &pushed), id, "skiff pull of docker push");
    assert_eq!(ok(&root3, &["images", "-q", "--no-trunc"]).trim(), id);
}
