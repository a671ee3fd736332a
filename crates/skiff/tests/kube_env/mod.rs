//! A Kubernetes test's own machine: a skiff store (--root, --runroot) under
//! a temporary directory, busybox imported as `busybox:1.36`, every command
//! run in a network namespace of the test's own (the pods' bridge, veths
//! and rules are made there). `kube apply` starts the store's `skiff serve`
//! (the controllers) in that namespace; dropping the environment stops it,
//! removes every container and the pods' network, and unmounts what is left
//! below the directory.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Kube {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub ns: skiff_testkit::NetNs,
    pub dir: tempfile::TempDir,
}

/// A manifest of tests/kube/.
pub fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kube")
        .join(name)
}

impl Kube {
    pub fn new() -> Kube {
        let dir = tempfile::Builder::new()
            .prefix("skiff-kube-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        std::fs::create_dir_all(rootfs.join("www")).unwrap();
        std::fs::write(rootfs.join("www/index.html"), "hello from busybox\n").unwrap();
        let tar = dir.path().join("bb.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let k = Kube {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            ns: skiff_testkit::NetNs::new("skiff-kube"),
            dir,
        };
        k.skiff_ok(&[
            "import",
            "--change",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            "busybox:1.36",
        ]);
        k
    }

    /// `skiff ARGS` in the test's namespace, on its store.
    pub fn skiff(&self, args: &[&str]) -> Command {
        let mut c = self.ns.command(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn skiff_ok(&self, args: &[&str]) -> String {
        let o = self.skiff(args).output().unwrap();
        assert!(
            o.status.success(),
            "skiff {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["kube"];
        a.extend(args);
        self.skiff(&a).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let mut a = vec!["kube"];
        a.extend(args);
        self.skiff_ok(&a)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// `kube apply -f tests/kube/FILE`.
    pub fn apply(&self, file: &str) -> String {
        self.ok(&["apply", "-f", manifest(file).to_str().unwrap()])
    }

    /// `kube apply -f -` of `yaml` written to a file of the test's.
    pub fn apply_text(&self, yaml: &str) -> String {
        let f = self
            .dir
            .path()
            .join(format!("m{}.yaml", std::process::id() ^ rand_u32()));
        std::fs::write(&f, yaml).unwrap();
        self.ok(&["apply", "-f", f.to_str().unwrap()])
    }

    /// Exit 1 with `want` in stderr.
    pub fn fails(&self, args: &[&str], want: &str) {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "kube {args:?} should fail: {err}");
        assert!(err.contains(want), "kube {args:?}: {err:?} lacks {want:?}");
    }

    /// Every object of every kind the store holds but namespaces and
    /// events, as `kind/name` lines.
    pub fn everything(&self) -> String {
        self.ok(&[
            "get",
            "deploy,rs,pods,svc,cm,secrets,jobs,hpa,pvc",
            "-A",
            "-o",
            "name",
        ])
    }

    /// The pod's status.
    pub fn pod(&self, name: &str) -> Value {
        self.json(&["get", "pod", name])
    }

    /// The host pid of the current run of container `container` of pod
    /// `name`.
    pub fn container_pid(&self, name: &str, container: &str) -> i32 {
        let pod = self.pod(name);
        let id = pod["status"]["containerStatuses"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == container))
            .and_then(|s| s["containerID"].as_str())
            .unwrap_or_else(|| panic!("no containerID for {container} in {pod}"))
            .trim_start_matches("skiff://")
            .to_string();
        self.skiff_ok(&["inspect", "-f", "{{.State.Pid}}", &id])
            .trim()
            .parse()
            .unwrap()
    }

    /// Wait until `f` holds (or fail after `secs`, saying what).
    pub fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !f() {
            if Instant::now() >= end {
                let pods = self.run(&["get", "pods", "-A", "-o", "wide"]);
                let log =
                    std::fs::read_to_string(self.runroot.join("serve.log")).unwrap_or_default();
                panic!(
                    "timed out after {secs}s waiting for {what}\npods:\n{}\nserve.log:\n{log}",
                    String::from_utf8_lossy(&pods.stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until a pod is Running with every container ready.
    pub fn ready(&self, name: &str, secs: u64) -> Value {
        let mut last = Value::Null;
        self.until(secs, &format!("pod {name} ready"), || {
            last = self.pod(name);
            last["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        });
        last
    }

    /// Start the store's `skiff serve` with `args` (before a `kube` command
    /// starts one with none), its output in RUNROOT/serve.log.
    pub fn start_serve(&self, args: &[&str]) {
        std::fs::create_dir_all(&self.runroot).unwrap();
        let log = std::fs::File::create(self.runroot.join("serve.log")).unwrap();
        let mut a = vec!["serve"];
        a.extend(args);
        let mut child = self
            .skiff(&a)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        // Reaped when it ends (dropping the environment kills it).
        std::thread::spawn(move || child.wait());
        self.until(10, "skiff serve started", || self.serve_pid().is_some());
    }

    /// The pid of the store's `skiff serve`, if one runs.
    pub fn serve_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.runroot.join("serve.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        alive(pid).then_some(pid)
    }

    /// Kill the store's serve (signal `sig`) and wait until it is gone.
    /// The live `skiff serve` processes of this store.
    pub fn serve_processes(&self) -> Vec<i32> {
        let root = self.root.to_string_lossy().into_owned();
        let mut found = vec![];
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let ours = args.contains(&root) && args.iter().any(|a| a == "serve");
            if ours && alive(pid) {
                found.push(pid);
            }
        }
        // A serve's child between its fork and its exec (an `nft` the
        // services controller runs) shows the serve's command line: not a
        // serve.
        let parents: Vec<Option<i32>> = found
            .iter()
            .map(|&p| skiff_runtime::state::parent_of(p))
            .collect();
        let serves = found.clone();
        found
            .into_iter()
            .zip(parents)
            .filter(|(_, pp)| !pp.is_some_and(|pp| serves.contains(&pp)))
            .map(|(p, _)| p)
            .collect()
    }

    pub fn stop_serve(&self, sig: i32) {
        if let Some(pid) = self.serve_pid() {
            // SAFETY: kill of a pid we read from our own store's pid file.
            unsafe { libc::kill(pid, sig) };
            let end = Instant::now() + Duration::from_secs(10);
            while alive(pid) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
    matches!(state, Some(s) if s != 'Z' && s != 'X')
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

impl Drop for Kube {
    fn drop(&mut self) {
        self.stop_serve(libc::SIGKILL);
        if let Ok(o) = self.skiff(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.skiff(&["rm", "-f", id]).output();
            }
        }
        let _ = self.skiff(&["network", "rm", "skiff-kube"]).output();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let base = self.dir.path().to_string_lossy().into_owned();
        let mut below: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&base))
            .collect();
        below.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in below {
            let _ = nix::mount::umount2(Path::new(m), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
