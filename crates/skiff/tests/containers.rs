//! `skiff run` and the container workflow, with real containers from a
//! busybox image imported offline. Each test has its own --root and
//! --runroot and force-removes its containers when it ends, also on failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    root: PathBuf,
    runroot: PathBuf,
    /// Bridges, veths and rules are made in the test's own namespace
    /// (None: the host's, for tests that reach a registry on 127.0.0.1 and
    /// use `--network none`).
    ns: Option<skiff_testkit::NetNs>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// A store holding busybox imported as `bb`.
    fn new() -> Env {
        Env::with_ns(Some(skiff_testkit::NetNs::new("skiff-ctr")))
    }

    fn with_ns(ns: Option<skiff_testkit::NetNs>) -> Env {
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

    fn cmd(&self, args: &[&str]) -> Command {
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

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
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

    fn inspect(&self, what: &str, fmt: &str) -> String {
        self.ok(&["inspect", "-f", fmt, what]).trim().to_string()
    }

    /// Wait until `f` holds (or fail after `secs`).
    fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let e = Env::new();
    let o = e.run(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(text(&o.stdout), "out\n");
    assert_eq!(text(&o.stderr), "err\n");
    // --rm: the record is gone when run returns; the files follow at once.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    e.until(5, "the container's files to go", || {
        std::fs::read_dir(e.root.join("containers"))
            .unwrap()
            .count()
            == 0
    });
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(e.root.to_str().unwrap()), "{mounts}");
    // stdin with -i
    let mut c = e.cmd(&["run", "--rm", "-i", "bb", "cat"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(text(&o.stdout), "piped\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn docker_exit_codes_for_failures() {
    let e = Env::new();
    let o = e.run(&["run", "--rm", "bb", "nosuchcommand"]);
    assert_eq!(o.status.code(), Some(127), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nosuchcommand"));
    let o = e.run(&["run", "--rm", "bb", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stderr));
    // A missing image is pulled; from a registry that is not there: 125.
    let o = e.run(&["run", "--rm", "127.0.0.1:1/nosuchimage", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let err = text(&o.stderr);
    assert!(
        err.contains("Unable to find image '127.0.0.1:1/nosuchimage:latest' locally"),
        "{err}"
    );
    let o = e.run(&["run", "--rm", "--no-such-flag", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let o = e.run(&["run", "--rm", "-m", "lots", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("invalid size"),
        "{}",
        text(&o.stderr)
    );
    // Nothing was left by any of them.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // A name in use: exit 125, the other container untouched.
    e.ok(&["create", "--name", "web", "bb", "true"]);
    let o = e.run(&["run", "--name", "web", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("The container name \"/web\" is already in use"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
    // Unknown containers: exit 1.
    let o = e.run(&["stop", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("No such container: nosuch"));
}

#[test]
fn detached_container_lifecycle() {
    let e = Env::new();
    let id = e.ok(&["run", "-d", "--name", "sleeper", "bb", "sleep", "60"]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ps = e.ok(&["ps"]);
    let line = ps.lines().nth(1).unwrap();
    assert!(line.starts_with(&id[..12]), "{ps}");
    assert!(line.contains("\"sleep 60\"") && line.contains("Up ") && line.ends_with("sleeper"));
    assert_eq!(
        e.inspect("sleeper", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    let pid: i32 = e.inspect("sleeper", "{{.State.Pid}}").parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    // rm without -f refuses.
    let o = e.run(&["rm", "sleeper"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("You cannot remove a running container"));
    // stop: busybox sleep as PID 1 ignores SIGTERM; SIGKILL after 1 s.
    let t = Instant::now();
    assert_eq!(e.ok(&["stop", "-t", "1", "sleeper"]), "sleeper\n");
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        e.inspect("sleeper", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(e.ok(&["ps"]).lines().count() == 1);
    assert!(e.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(e.ok(&["wait", "sleeper"]), "137\n");
    // start again, kill with a signal, wait.
    e.ok(&["start", "sleeper"]);
    assert_eq!(e.inspect("sleeper", "{{.State.Status}}"), "running");
    e.ok(&["kill", "-s", "KILL", "sleeper"]);
    assert_eq!(e.ok(&["wait", "sleeper"]), "137\n");
    e.ok(&["rename", "sleeper", "napper"]);
    assert_eq!(e.ok(&["rm", "napper"]), "napper\n");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn logs_keep_both_streams() {
    let e = Env::new();
    e.ok(&[
        "run",
        "--name",
        "talk",
        "bb",
        "sh",
        "-c",
        "echo one; echo two >&2; echo three",
    ]);
    let o = e.run(&["logs", "talk"]);
    assert_eq!(text(&o.stdout), "one\nthree\n");
    assert_eq!(text(&o.stderr), "two\n");
    // (Lines of the two streams may be logged in either order, as with
    // Docker: each is its own pipe.)
    let o = e.run(&["logs", "--tail", "2", "talk"]);
    assert_eq!(
        text(&o.stdout).lines().count() + text(&o.stderr).lines().count(),
        2
    );
    let o = e.run(&["logs", "-t", "talk"]);
    let first = text(&o.stdout).lines().next().unwrap().to_string();
    let (ts, rest) = first.split_once(' ').unwrap();
    assert_eq!(rest, "one");
    assert!(ts.ends_with('Z') && ts.len() == 30, "{ts}");
    // Rotation: at most max-file files of about max-size.
    e.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        "bb",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done",
    ]);
    let dir = e
        .root
        .join("containers")
        .join(e.inspect("chatty", "{{.Id}}"));
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let out = e.ok(&["logs", "chatty"]);
    assert!(out.ends_with("line 299\n"));
    assert!(!out.contains("line 0\n"));
    assert_eq!(e.ok(&["logs", "--tail", "1", "chatty"]), "line 299\n");
}

#[test]
fn config_flags_reach_the_process() {
    let e = Env::new();
    let out = e.ok(&[
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-h",
        "boxy",
        "-u",
        "nobody",
        "bb",
        "sh",
        "-c",
        "echo $FOO $(pwd) $(hostname) $(id -u):$(id -g) $(id -G) $HOSTNAME",
    ]);
    assert_eq!(out, "bar /tmp boxy 65534:65534 65534 50 boxy\n");
    // --entrypoint replaces the image's entrypoint and drops its command.
    let out = e.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "bb",
        "from",
        "entrypoint",
    ]);
    assert_eq!(out, "from entrypoint\n");
    // Docker's default capabilities (CapEff 00000000a80425fb).
    let out = e.ok(&["run", "--rm", "bb", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(out.split_whitespace().nth(1), Some("00000000a80425fb"));
    let out = e.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_ADMIN",
        "bb",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(out.split_whitespace().nth(1), Some("0000000000001000"));
    // skiff's default seccomp profile is loaded; seccomp=unconfined and
    // --privileged run without one.
    let seccomp = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["bb", "grep", "^Seccomp:", "/proc/self/status"]);
        e.ok(&args)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(seccomp(&[]), "2");
    assert_eq!(seccomp(&["--security-opt", "seccomp=unconfined"]), "0");
    assert_eq!(seccomp(&["--privileged"]), "0");
    // unshare needs CAP_SYS_ADMIN; with it the profile allows it, as Docker's.
    let o = e.run(&["run", "--rm", "bb", "unshare", "-u", "true"]);
    assert_ne!(o.status.code(), Some(0));
    e.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "bb",
        "unshare",
        "-u",
        "true",
    ]);
    // --read-only
    let o = e.run(&["run", "--rm", "--read-only", "bb", "touch", "/x"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("Read-only file system"),
        "{}",
        text(&o.stderr)
    );
    // Masked paths, --network none has only lo.
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "cat /proc/kcore | wc -c; ls /sys/class/net",
    ]);
    assert_eq!(out, "0\nlo\n");
    // Labels and the command in inspect.
    e.ok(&[
        "create", "--name", "lab", "-l", "tier=web", "bb", "echo", "x",
    ]);
    assert_eq!(
        e.inspect(
            "lab",
            "{{index .Config.Labels \"tier\"}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}}"
        ),
        "web [\"echo\",\"x\"] default"
    );
}

#[test]
fn limits_oom_and_restart_policies() {
    let e = Env::new();
    // A memory limit: `tail /dev/zero` grows until the OOM killer ends it.
    let o = e.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "bb",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(o.status.code(), Some(137));
    assert_eq!(
        e.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    // A pids limit.
    let o = e.run(&[
        "run",
        "--rm",
        "--pids-limit",
        "4",
        "bb",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 2 & done; wait",
    ]);
    assert!(
        text(&o.stderr).contains("can't fork"),
        "{}",
        text(&o.stderr)
    );
    // on-failure:2 restarts twice, then stays exited.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "bb",
        "sh",
        "-c",
        "exit 4",
    ]);
    e.until(20, "two restarts", || {
        e.inspect("flaky", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    assert_eq!(e.inspect("flaky", "{{.State.ExitCode}}"), "4");
    // always: comes back after its process dies; stop ends it for good.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "bb",
        "sleep",
        "60",
    ]);
    let pid = e.inspect("phoenix", "{{.State.Pid}}");
    // SAFETY: killing the test's own container process.
    unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    e.until(20, "a restart", || {
        e.inspect("phoenix", "{{.RestartCount}} {{.State.Status}}") == "1 running"
    });
    e.ok(&["stop", "-t", "1", "phoenix"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(e.inspect("phoenix", "{{.State.Status}}"), "exited");
}

/// The parent of a process (the supervisor of a container's init).
fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit(')').next().unwrap();
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A process's private dirty memory in KiB (what it alone costs).
fn private_dirty_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let line = s.lines().find(|l| l.starts_with("Private_Dirty:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Wait until process `pid` has at most `bound` KiB of private memory.
fn trimmed(pid: i32, bound: u64, when: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let kib = private_dirty_kib(pid);
        if kib <= bound {
            return;
        }
        assert!(
            Instant::now() < end,
            "the supervisor keeps {kib} KiB of private memory {when} (bound {bound})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An idle container's supervisor is the small `skiff-supervisor` and gives
/// back what setting up (and, later, an exec) cost: about 0.3 MiB of private
/// memory in a release build, 0.5 MiB in a debug one; the skiff binary as
/// supervisor, or the allocator's cache of freed chunks kept, is over
/// 1 MiB. The allocator setting given to the supervisor reaches no process
/// of the container.
#[test]
fn idle_supervisor_is_small_and_its_settings_stay_outside() {
    const BOUND_KIB: u64 = 640;
    let e = Env::with_ns(None);
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "idle",
        "bb",
        "sleep",
        "60",
    ]);
    let pid: i32 = e.inspect("idle", "{{.State.Pid}}").parse().unwrap();
    let sup = parent_of(pid);
    let exe = std::fs::read_link(format!("/proc/{sup}/exe")).unwrap();
    assert_eq!(
        exe.file_name().and_then(|n| n.to_str()),
        Some("skiff-supervisor"),
        "{}",
        exe.display()
    );
    trimmed(sup, BOUND_KIB, "once idle");
    // An exec uses the store and the heap; trimmed again once quiet.
    let env_in_exec = e.ok(&["exec", "idle", "env"]);
    trimmed(sup, BOUND_KIB, "after an exec");
    let env_in_run = e.ok(&["run", "--rm", "--network", "none", "bb", "env"]);
    for env in [&env_in_exec, &env_in_run] {
        assert!(env.contains("PATH="), "{env}");
        assert!(!env.contains("GLIBC_TUNABLES"), "{env}");
    }
}

/// A `--rm` container's upper layer is mounted `volatile` (never synced,
/// nor the file system under it when it is unmounted); one whose supervisor
/// was killed (so never removed, and its volatile mount never cleanly
/// ended) still starts again.
#[test]
fn rm_containers_are_volatile_and_start_again_after_a_supervisor_death() {
    let e = Env::with_ns(None);
    let words = |s: &'static str| s.split(' ').collect::<Vec<_>>();
    e.ok(&words("run -d --rm --network none --name vol bb sleep 60"));
    e.ok(&words("run -d --network none --name kept bb sleep 60"));
    let options = |name: &str| {
        let id = e.inspect(name, "{{.Id}}");
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = info
            .lines()
            .find(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|m| m.contains(&id) && m.ends_with("/rootfs"))
            })
            .unwrap_or_else(|| panic!("{name}'s rootfs is not mounted"))
            .to_string();
        line.rsplit(' ').next().unwrap().to_string()
    };
    let volatile = |opts: &str| {
        opts.split(',')
            .any(|o| o == "volatile" || o == "fsync=volatile")
    };
    assert!(volatile(&options("vol")), "{}", options("vol"));
    assert!(!volatile(&options("kept")), "{}", options("kept"));
    let pid: i32 = e.inspect("vol", "{{.State.Pid}}").parse().unwrap();
    let sup = parent_of(pid);
    // SAFETY: killing the test's own supervisor and container process.
    unsafe {
        libc::kill(sup, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    e.until(10, "the container to be seen gone", || {
        e.inspect("vol", "{{.State.Status}}") == "exited"
    });
    e.ok(&["start", "vol"]);
    assert_eq!(e.inspect("vol", "{{.State.Status}}"), "running");
    assert!(volatile(&options("vol")));
}

#[test]
fn ps_tells_the_truth_after_the_supervisor_dies() {
    let e = Env::new();
    e.ok(&["run", "-d", "--name", "orphan", "bb", "sleep", "60"]);
    let pid: i32 = e.inspect("orphan", "{{.State.Pid}}").parse().unwrap();
    // The supervisor is the container's parent.
    let ppid = parent_of(pid);
    let cmdline = std::fs::read_to_string(format!("/proc/{ppid}/cmdline")).unwrap();
    assert!(cmdline.contains("__supervise"), "{cmdline}");
    // SAFETY: killing the test's own supervisor.
    unsafe { libc::kill(ppid, libc::SIGKILL) };
    // The container runs on and ps says so.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(e.inspect("orphan", "{{.State.Status}}"), "running");
    // SAFETY: killing the test's own container process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    e.until(10, "the container to be seen gone", || {
        e.inspect("orphan", "{{.State.Status}}") == "exited"
    });
    assert!(e.ok(&["ps", "-a"]).contains("Exited (255)"));
    // And it can be started and removed.
    e.ok(&["start", "orphan"]);
    assert_eq!(e.inspect("orphan", "{{.State.Status}}"), "running");
    e.ok(&["rm", "-f", "orphan"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn concurrent_runs_from_separate_processes() {
    // 50 runs at once from separate processes: all succeed, with distinct
    // names and IDs.
    let e = Env::new();
    let children: Vec<_> = (0..50)
        .map(|i| {
            e.cmd(&["run", "-d", "--name", &format!("c{i}"), "bb", "true"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        ids.insert(text(&o.stdout).trim().to_string());
    }
    assert_eq!(ids.len(), 50);
    let names = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        names
            .lines()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        50
    );
    // Random names are distinct too.
    let children: Vec<_> = (0..10)
        .map(|_| {
            e.cmd(&["create", "bb", "true"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let names = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        names
            .lines()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        60
    );
}

#[test]
fn volumes_binds_and_tmpfs() {
    let e = Env::new();
    // A named volume outlives its containers and is shared between them.
    assert_eq!(e.ok(&["volume", "create", "data"]), "data\n");
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "bb",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "reader",
        "-v",
        "data:/data:ro",
        "bb",
        "sleep",
        "60",
    ]);
    assert_eq!(
        e.ok(&["run", "--rm", "-v", "data:/d", "bb", "cat", "/d/f"]),
        "kept\n"
    );
    let o = e.run(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "bb",
        "touch",
        "/data/x",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("Read-only file system"));
    // In use: refused, naming the container.
    let o = e.run(&["volume", "rm", "data"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("volume is in use"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        e.inspect(
            "reader",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}"
        ),
        "volume data /data false"
    );
    e.ok(&["rm", "-f", "reader"]);
    assert_eq!(e.ok(&["volume", "rm", "data"]), "data\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    // An empty volume is filled with what the image has there.
    e.ok(&["volume", "create", "etc"]);
    let out = e.ok(&["run", "--rm", "-v", "etc:/etc", "bb", "cat", "/etc/group"]);
    assert!(out.starts_with("root:x:0:"), "{out}");
    let data = e.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "etc"]);
    assert!(Path::new(data.trim()).join("passwd").exists());
    // Binds: -v makes a missing host directory, --mount refuses it.
    let host = e.root.parent().unwrap().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host\n").unwrap();
    let spec = format!("{}:/h", host.display());
    assert_eq!(
        e.ok(&["run", "--rm", "-v", &spec, "bb", "cat", "/h/h"]),
        "from host\n"
    );
    let missing = e.root.parent().unwrap().join("nope");
    let o = e.run(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={},target=/x", missing.display()),
        "bb",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("bind source path does not exist"));
    assert!(!missing.exists());
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // tmpfs
    let out = e.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        "bb",
        "grep",
        "/scratch",
        "/proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
    // Anonymous volumes: gone with --rm, and with rm -v; kept by plain rm.
    let before = e.ok(&["volume", "ls", "-q"]);
    e.ok(&["run", "--rm", "-v", "/anon", "bb", "true"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]), before);
    e.ok(&["create", "--name", "a1", "-v", "/anon", "bb", "true"]);
    e.ok(&["create", "--name", "a2", "-v", "/anon", "bb", "true"]);
    assert_eq!(
        e.ok(&["volume", "ls", "-q"]).lines().count(),
        before.lines().count() + 2
    );
    e.ok(&["rm", "-v", "a1"]);
    e.ok(&["rm", "a2"]);
    assert_eq!(
        e.ok(&["volume", "ls", "-q"]).lines().count(),
        before.lines().count() + 1
    );
    let o = e.ok(&["volume", "prune", "-f"]);
    assert!(o.starts_with("Deleted Volumes:\n"), "{o}");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn exec_runs_in_the_container() {
    let e = Env::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "-e",
        "A=from-run",
        "bb",
        "sleep",
        "60",
    ]);
    let o = e.run(&["exec", "box", "sh", "-c", "echo $A $HOSTNAME; exit 5"]);
    assert_eq!(o.status.code(), Some(5));
    let hostname = e.inspect("box", "{{.Config.Hostname}}");
    assert_eq!(text(&o.stdout), format!("from-run {hostname}\n"));
    let out = e.ok(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "A=over",
        "box",
        "sh",
        "-c",
        "echo $A $(id -u) $(pwd)",
    ]);
    assert_eq!(out, "over 65534 /tmp\n");
    // The same pid namespace: the container's sleep is PID 1.
    assert_eq!(
        e.ok(&["exec", "box", "cat", "/proc/1/cmdline"]),
        "sleep\u{0}60\u{0}"
    );
    let mut c = e.cmd(&["exec", "-i", "box", "cat"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through exec\n")
        .unwrap();
    assert_eq!(
        text(&child.wait_with_output().unwrap().stdout),
        "through exec\n"
    );
    // -d returns at once; the process runs on.
    e.ok(&[
        "exec",
        "-d",
        "box",
        "sh",
        "-c",
        "sleep 0.3; touch /tmp/done",
    ]);
    e.until(5, "the detached exec", || {
        e.run(&["exec", "box", "test", "-e", "/tmp/done"])
            .status
            .success()
    });
    // Docker's codes: 126 for a command that cannot run, 1 for a stopped container.
    let o = e.run(&["exec", "box", "nosuchcommand"]);
    assert_eq!(o.status.code(), Some(126));
    // (As Docker, the error comes on stdout, with a terminal's line end.)
    assert!(
        text(&o.stdout).contains("executable file not found"),
        "{}",
        text(&o.stdout)
    );
    e.ok(&["stop", "-t", "1", "box"]);
    let o = e.run(&["exec", "box", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is not running"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn run_pulls_a_missing_image_and_rmi_respects_containers() {
    let e = Env::with_ns(None);
    let reg = skiff_testkit::registry::start_registry();
    let name = format!("{}/auto/bb:1", reg.host);
    e.ok(&["tag", "bb", &name]);
    e.ok(&["push", &name]);
    let fresh = Env::with_ns(None);
    fresh.ok(&["rmi", "bb"]);
    let o = fresh.run(&[
        "run",
        "--network",
        "none",
        "--name",
        "pulled",
        &name,
        "echo",
        "pulled",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "pulled\n");
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("Unable to find image '{name}' locally")),
        "{err}"
    );
    assert!(err.contains("Status: Downloaded newer image"), "{err}");
    // The image is used by a (stopped) container: rmi refuses without -f,
    // and -f only takes the name away.
    let o = fresh.run(&["rmi", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("(must force) - container"),
        "{}",
        text(&o.stderr)
    );
    let id = fresh.inspect("pulled", "{{.Image}}");
    let o = fresh.run(&["rmi", "-f", &name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(fresh.ok(&["images", "-q", "--no-trunc"]).contains(&id));
    fresh.ok(&["start", "-a", "pulled"]);
    fresh.ok(&["rm", "pulled"]);
    fresh.ok(&["rmi", &id]);
    assert_eq!(fresh.ok(&["images", "-q"]), "");
}

#[test]
fn pause_top_stats_events_and_prune() {
    let e = Env::new();
    e.ok(&[
        "run", "-d", "--name", "busy", "-m", "64m", "bb", "sleep", "60",
    ]);
    // top: the host's ps rows of the container's processes.
    let top = e.ok(&["top", "busy"]);
    let mut lines = top.lines();
    assert!(lines.next().unwrap().starts_with("UID"));
    let row = lines.next().unwrap();
    assert!(row.ends_with("sleep 60"), "{top}");
    assert!(lines.next().is_none(), "{top}");
    // stats: the memory limit it was given.
    let st = e.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "busy",
    ]);
    assert!(st.starts_with("busy ") && st.contains(" / 64MiB 1"), "{st}");
    // pause: frozen, shown as paused, no exec; unpause.
    e.ok(&["pause", "busy"]);
    assert_eq!(
        e.inspect("busy", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    let o = e.run(&["pause", "busy"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is already paused"));
    let o = e.run(&["exec", "busy", "true"]);
    assert!(text(&o.stderr).contains("is paused"), "{}", text(&o.stderr));
    e.ok(&["unpause", "busy"]);
    assert_eq!(e.inspect("busy", "{{.State.Status}}"), "running");
    e.ok(&["exec", "busy", "true"]);
    // A paused container stops too.
    e.ok(&["pause", "busy"]);
    e.ok(&["stop", "-t", "1", "busy"]);
    assert_eq!(e.inspect("busy", "{{.State.Status}}"), "exited");
    // events: the container's life, with Docker's line format.
    let ev = e.ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        "0s",
        "--filter",
        "container=busy",
    ]);
    let actions: Vec<&str> = ev.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    for a in ["create", "start", "pause", "unpause", "die", "stop"] {
        assert!(actions.contains(&a), "{a} missing from {ev}");
    }
    assert!(ev.lines().next().unwrap().contains(" container create ") && ev.contains("name=busy"));
    // container prune: only stopped containers go.
    e.ok(&["run", "-d", "--name", "stays", "bb", "sleep", "60"]);
    let out = e.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "stays\n");
    let df = e.ok(&["system", "df"]);
    assert!(
        df.starts_with("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"),
        "{df}"
    );
    assert!(df.contains("\nContainers      1         1  "), "{df}");
}

#[test]
fn diff_and_init() {
    let e = Env::new();
    e.ok(&[
        "run", "--name", "changer", "bb", "sh", "-c",
        "mkdir -p /tmp/new/sub && echo x > /tmp/new/sub/f && echo y >> /etc/passwd && rm /bin/wc && touch /newfile",
    ]);
    assert_eq!(
        e.ok(&["diff", "changer"]),
        "C /bin\nD /bin/wc\nC /etc\nC /etc/passwd\nA /newfile\nC /tmp\nA /tmp/new\nA /tmp/new/sub\nA /tmp/new/sub/f\n"
    );
    // --init: PID 1 is the init; signals reach the command, so stop is quick.
    let ps = e.ok(&["run", "--rm", "--init", "bb", "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.trim() == "1 /sbin/docker-init -- ps -o pid,args"),
        "{ps}"
    );
    let o = e.run(&["run", "--rm", "--init", "bb", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    e.ok(&[
        "run", "-d", "--name", "initd", "--init", "bb", "sleep", "60",
    ]);
    let t = Instant::now();
    e.ok(&["stop", "initd"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.inspect("initd", "{{.State.ExitCode}} {{.HostConfig.Init}}"),
        "143 true"
    );
}

#[test]
fn health_checks() {
    let e = Env::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        "bb",
        "sh",
        "-c",
        "echo fine > /tmp/ok; sleep 2; rm /tmp/ok; sleep 60",
    ]);
    e.until(10, "healthy", || {
        e.inspect("doc", "{{.State.Health.Status}}") == "healthy"
    });
    assert!(e.ok(&["ps"]).contains("(healthy)"));
    let last = e.inspect(
        "doc",
        "{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
    );
    assert_eq!(last, "0 fine");
    e.until(10, "unhealthy", || {
        e.inspect("doc", "{{.State.Health.Status}}") == "unhealthy"
    });
    assert!(
        e.inspect("doc", "{{.State.Health.FailingStreak}}")
            .parse::<i32>()
            .unwrap()
            >= 2
    );
    assert_eq!(
        e.inspect(
            "doc",
            "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}"
        ),
        "[\"CMD-SHELL\",\"cat /tmp/ok\"] 2"
    );
    let ev = e.ok(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "container=doc",
    ]);
    assert!(
        ev.contains("health_status: healthy") && ev.contains("health_status: unhealthy"),
        "{ev}"
    );
    // A check that runs too long counts as failed.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        "bb",
        "sleep",
        "60",
    ]);
    e.until(10, "the timeout", || {
        e.inspect("slow", "{{.State.Health.Status}}") == "unhealthy"
    });
    let out = e.inspect(
        "slow",
        "{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
    );
    assert_eq!(out, "-1 Health check exceeded timeout (200ms)");
    let o = e.run(&[
        "run",
        "--rm",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "bb",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    let e = Env::new();
    e.ok(&[
        "run",
        "--name",
        "builder",
        "-e",
        "MODE=built",
        "-w",
        "/srv",
        "bb",
        "sh",
        "-c",
        "echo hello > /greeting && rm /bin/wc && mkdir -p /d && ln /greeting /d/hard",
    ]);
    let id = e.ok(&[
        "commit",
        "-a",
        "tester",
        "-m",
        "my change",
        "builder",
        "mine:v1",
    ]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    assert!(e.ok(&["images"]).contains("mine         v1"));
    // Files, the deletion and the hardlink are in the new image; the
    // container's config is its default.
    let out = e.ok(&[
        "run",
        "--rm",
        "mine:v1",
        "sh",
        "-c",
        "cat /greeting; test ! -e /bin/wc && echo gone; stat -c %h /d/hard; echo $MODE $(pwd)",
    ]);
    assert_eq!(out, "hello\ngone\n2\nbuilt /srv\n");
    assert_eq!(
        e.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}} {{len .RootFS.Layers}}",
            "mine:v1"
        ]),
        "tester 2\n"
    );
    let hist = e.ok(&["image", "history", "mine:v1"]);
    assert!(hist.lines().nth(1).unwrap().contains("my change"), "{hist}");
    // A running container is paused while committed and runs on.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "bb",
        "sh",
        "-c",
        "echo x > /x; sleep 60",
    ]);
    e.until(5, "the file", || {
        e.run(&["exec", "live", "test", "-e", "/x"])
            .status
            .success()
    });
    e.ok(&["commit", "live", "live:snap"]);
    assert_eq!(e.inspect("live", "{{.State.Status}}"), "running");
    assert_eq!(
        e.ok(&["run", "--rm", "--entrypoint", "cat", "live:snap", "/x"]),
        "x\n"
    );
}

#[test]
fn cp_both_ways() {
    let e = Env::new();
    let host = e.root.parent().unwrap().join("cp");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/a"), "a\n").unwrap();
    std::fs::write(host.join("file.txt"), "f\n").unwrap();
    // Into a stopped container: a file into a directory, a directory as a
    // new name; then the container sees them.
    e.ok(&[
        "create",
        "--name",
        "box",
        "-v",
        "vol:/data",
        "bb",
        "sh",
        "-c",
        "cat /tmp/file.txt /opt/sub/a /data/v; sleep 60",
    ]);
    e.ok(&["cp", host.join("file.txt").to_str().unwrap(), "box:/tmp/"]);
    e.ok(&["cp", host.join("tree").to_str().unwrap(), "box:/opt"]);
    std::fs::write(host.join("v"), "in volume\n").unwrap();
    e.ok(&["cp", host.join("v").to_str().unwrap(), "box:/data/v"]);
    e.ok(&["start", "box"]);
    e.until(5, "the output", || {
        e.ok(&["logs", "box"]) == "f\na\nin volume\n"
    });
    // Out of a running container: a directory into an existing directory.
    let out = host.join("out");
    std::fs::create_dir_all(&out).unwrap();
    e.ok(&["cp", "box:/opt", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("opt/sub/a")).unwrap(),
        "a\n"
    );
    e.ok(&["cp", "box:/etc/passwd", out.join("pw").to_str().unwrap()]);
    assert!(std::fs::read_to_string(out.join("pw"))
        .unwrap()
        .starts_with("root:"));
    let o = e.run(&["cp", "box:/nonexistent", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("No such container:path: box:/nonexistent"));
    // A symlink is copied as a symlink (without -L), as Docker does.
    e.ok(&["exec", "box", "ln", "-s", "/etc/passwd", "/tmp/link"]);
    e.ok(&["cp", "box:/tmp/link", out.join("link").to_str().unwrap()]);
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("/etc/passwd")
    );
    // A symlink the container made, pointing at a host path: copying onto
    // it resolves inside the container, never on the host.
    let victim = host.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    e.ok(&[
        "exec",
        "box",
        "ln",
        "-s",
        victim.to_str().unwrap(),
        "/tmp/evil",
    ]);
    let _ = e.run(&[
        "cp",
        host.join("file.txt").to_str().unwrap(),
        "box:/tmp/evil",
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    e.ok(&[
        "exec",
        "box",
        "mkdir",
        "-p",
        victim.parent().unwrap().to_str().unwrap(),
    ]);
    e.ok(&[
        "cp",
        host.join("file.txt").to_str().unwrap(),
        "box:/tmp/evil",
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/evil"]), "f\n");

    // Tar streams: `cp C:SRC -` writes one, `cp - C:DIR` unpacks one.
    let o = e.run(&["cp", "box:/opt", "-"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut names: Vec<String> = tar::Archive::new(&o.stdout[..])
        .entries()
        .unwrap()
        .map(|en| {
            let p = en.unwrap().path().unwrap().to_string_lossy().into_owned();
            p.trim_end_matches('/').to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["opt", "opt/sub", "opt/sub/a"]);
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all("tree", host.join("tree")).unwrap();
    let good = b.into_inner().unwrap();
    let cp_in = |dest: &str, data: &[u8]| {
        use std::io::Write;
        let mut child = e
            .cmd(&["cp", "-", dest])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(data);
        child.wait_with_output().unwrap()
    };
    let o = cp_in("box:/tmp", &good);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/tree/sub/a"]), "a\n");
    let o = cp_in("box:/etc/passwd", &good);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("destination \"box:/etc/passwd\" must be a directory"));
    // A hostile stream: a symlink to the host's directory, then a file
    // through it. Nothing lands on the host.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_link_name(victim.parent().unwrap()).unwrap();
    h.set_cksum();
    b.append_data(&mut h, "esc", &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "esc/planted", &b"bad\n"[..]).unwrap();
    let o = cp_in("box:/tmp", &b.into_inner().unwrap());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!host.join("planted").exists());
}

#[test]
fn tty_interactive_and_detach_keys() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let e = Env::new();
    // -t: the container's stdio is a pty of its own.
    let out = e.ok(&["run", "--rm", "-t", "bb", "tty"]);
    assert_eq!(out, "/dev/pts/0\r\n");
    // Detach keys are checked before anything is made.
    let o = e.run(&["run", "-t", "--detach-keys", "ctrl-1", "--name", "x", "bb"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("Invalid detach keys (ctrl-1) provided"));
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // -it on a terminal: keystrokes in, output out; the detach keys
    // (here ctrl-a x instead of ctrl-p ctrl-q) detach.
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || std::process::Stdio::from(pty.slave.as_fd().try_clone_to_owned().unwrap());
    let mut child = e
        .cmd(&[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-a,x",
            "--name",
            "shell",
            "bb",
            "sh",
        ])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    e.until(10, "the container", || {
        e.run(&["inspect", "shell"]).status.success()
    });
    master.write_all(b"echo $((6*7))\r").unwrap();
    // Read what the terminal shows until the answer appears.
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("42") {
        assert!(
            Instant::now() < end,
            "no answer: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 1024];
        let n = master.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    // ctrl-p ctrl-q is just input now; ctrl-a x detaches.
    master.write_all(&[0x10, 0x11, 0x01, b'x']).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // Detached, not stopped: the shell runs on, and its output was logged.
    assert_eq!(e.inspect("shell", "{{.State.Status}}"), "running");
    assert!(e.ok(&["logs", "shell"]).contains("42"));
}

#[test]
fn killing_the_cli_leaves_the_container_to_its_supervisor() {
    let e = Env::new();
    let mut cli = e
        .cmd(&[
            "run",
            "--name",
            "fg",
            "bb",
            "sh",
            "-c",
            "echo started; sleep 60",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while e.run(&["inspect", "-f", "{{.State.Status}}", "fg"]).stdout != b"running\n" {
        if Instant::now() > end {
            let _ = cli.kill();
            let o = cli.wait_with_output().unwrap();
            panic!(
                "not running: {}; ps: {}; cli: {}",
                text(
                    &e.run(&["inspect", "-f", "{{.State.Status}} {{.State.Error}}", "fg"])
                        .stdout
                ),
                e.ok(&["ps", "-a"]),
                text(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    // The container runs on, its output still logged; stop and rm work.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(e.inspect("fg", "{{.State.Status}}"), "running");
    assert_eq!(e.ok(&["logs", "fg"]), "started\n");
    e.ok(&["stop", "-t", "1", "fg"]);
    assert_eq!(e.inspect("fg", "{{.State.ExitCode}}"), "137");
    e.ok(&["start", "fg"]);
    e.ok(&["rm", "-f", "fg"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn exec_with_a_tty() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let e = Env::new();
    e.ok(&["run", "-d", "--name", "host", "bb", "sleep", "60"]);
    let out = e.ok(&["exec", "-t", "host", "tty"]);
    assert!(
        out.starts_with("/dev/pts/") && out.ends_with("\r\n"),
        "{out:?}"
    );
    let o = e.run(&["exec", "-t", "host", "sh", "-c", "exit 4"]);
    assert_eq!(o.status.code(), Some(4));
    // -it on a terminal: a shell, its answer, its exit code.
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || Stdio::from(pty.slave.as_fd().try_clone_to_owned().unwrap());
    let mut child = e
        .cmd(&["exec", "-it", "host", "sh"])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    master.write_all(b"echo $((6*7)); exit 3\r").unwrap();
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("42") {
        assert!(Instant::now() < end, "{}", String::from_utf8_lossy(&seen));
        let mut buf = [0u8; 1024];
        let n = master.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn attach_to_a_running_container() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let e = Env::new();
    // Output of both streams, then the container's exit code.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "bb",
        "sh",
        "-c",
        "sleep 0.5; echo out; echo err >&2; sleep 0.3; exit 5",
    ]);
    let o = e.run(&["attach", "talker"]);
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(text(&o.stdout), "out\n");
    assert_eq!(text(&o.stderr), "err\n");
    let o = e.run(&["attach", "talker"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("You cannot attach to a stopped container"));
    // A shell on a pty: input through attach, ctrl-p ctrl-q detaches.
    e.ok(&["run", "-dit", "--name", "sh", "bb", "sh"]);
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || Stdio::from(pty.slave.as_fd().try_clone_to_owned().unwrap());
    let mut child = e
        .cmd(&["attach", "sh"])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("42") {
        assert!(Instant::now() < end, "{}", String::from_utf8_lossy(&seen));
        master.write_all(b"echo $((6*7))\r").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 4096];
        let n = master.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    master.write_all(&[0x10, 0x11]).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(e.inspect("sh", "{{.State.Status}}"), "running");

    // -i without -t: the container's stdin stays open for attach clients,
    // one after another; a client's end of input does not close it.
    e.ok(&["run", "-d", "-i", "--name", "cat", "bb", "cat"]);
    for word in ["hello", "again"] {
        let mut child = e
            .cmd(&["attach", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{word}\n").as_bytes())
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains(word) {
            let mut buf = [0u8; 256];
            let n = out.read(&mut buf).unwrap();
            assert!(n > 0, "attach ended early: {}", text(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        assert_eq!(text(&seen), format!("{word}\n"));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(e.inspect("cat", "{{.State.Status}}"), "running");
    }
    assert!(e.ok(&["logs", "cat"]).contains("hello\nagain\n"));
}

#[test]
fn runs_killed_at_random_points_leave_a_store_that_works() {
    let e = Env::new();
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    for i in 0..15 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 25_000);
        let mut cli = e
            .cmd(&[
                "run",
                "--name",
                &format!("k{i}"),
                "bb",
                "sh",
                "-c",
                "echo hi; sleep 0.2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = cli.kill();
        let _ = cli.wait();
    }
    // Whatever state each was left in, ps reads it, and start/rm handle it.
    let names = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    // Kills up to 25 ms after the CLI starts leave some recorded (a create
    // takes a few ms): none at all means the checks below checked nothing.
    let recorded: Vec<&str> = names
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|n| n.starts_with('k'))
        .collect();
    assert!(!recorded.is_empty(), "none of 15 killed runs was recorded");
    for line in names.lines() {
        let (name, state) = line.split_once(' ').unwrap();
        assert!(
            ["created", "running", "exited"].contains(&state),
            "{name} is {state}"
        );
    }
    let first = recorded[0];
    e.ok(&["start", first]);
    assert_eq!(e.ok(&["wait", first]), "0\n");
    for name in &recorded {
        e.ok(&["rm", "-f", name]);
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // A CLI killed between making a container's directory and recording it
    // leaves a directory no record names, with its rootfs mount point:
    // made here as such a kill leaves it, prune sweeps it.
    let orphan = e.root.join("containers").join("0f".repeat(32));
    for sub in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(orphan.join(sub)).unwrap();
    }
    e.ok(&["container", "prune", "-f"]);
    assert!(!orphan.exists(), "prune left {}", orphan.display());
    e.until(5, "no mounts left", || {
        !std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains(e.root.to_str().unwrap())
    });
    e.until(5, "no container directories left", || {
        std::fs::read_dir(e.root.join("containers"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
}

#[test]
fn concurrent_starts_run_a_container_once() {
    let e = Env::new();
    e.ok(&[
        "create",
        "--name",
        "once",
        "bb",
        "sh",
        "-c",
        "echo ran; sleep 1",
    ]);
    let starts: Vec<_> = (0..6)
        .map(|_| {
            e.cmd(&["start", "once"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for s in starts {
        let out = s.wait_with_output().unwrap();
        // As Docker: starting a started container prints its name.
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "once\n");
    }
    e.ok(&["wait", "once"]);
    assert_eq!(e.ok(&["logs", "once"]), "ran\n");
    assert_eq!(e.inspect("once", "{{.State.ExitCode}}"), "0");
    e.ok(&["rm", "once"]);
}

/// Processes whose command line holds all of `words` (NUL-separated args).
fn pids_with(words: &[&str]) -> Vec<i32> {
    let mut out = Vec::new();
    for d in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = d.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(d.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if words.iter().all(|w| cmd.contains(w)) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn supervisors_and_containers_killed_at_random_points() {
    let e = Env::new();
    let root = e.root.to_str().unwrap().to_string();
    let mut seed: u64 = 0x5eed_0bad_cafe_0002;
    for i in 0..12 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 30_000);
        let kill_container = i % 3 == 2;
        let name = format!("s{i}");
        let mut cli = e
            .cmd(&[
                "run",
                "-d",
                "--restart",
                if i % 2 == 0 { "no" } else { "on-failure:2" },
                "--name",
                &name,
                "bb",
                "sleep",
                "30",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        for sup in pids_with(&["__supervise", &root]) {
            let target = if kill_container {
                // The supervisor's child is the container's init.
                std::fs::read_to_string(format!("/proc/{sup}/task/{sup}/children"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse().ok())
            } else {
                Some(sup)
            };
            if let Some(pid) = target {
                // SAFETY: a process this test's own skiff started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // The CLI does not hang on a supervisor that died under it.
        let end = Instant::now() + Duration::from_secs(20);
        while cli.try_wait().unwrap().is_none() {
            assert!(Instant::now() < end, "run -d of {name} hangs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Whatever each was left in, ps reads it, start restarts one, and rm
    // removes all without leaving processes, mounts or cgroups.
    let list = e.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"]);
    let ids: Vec<String> = list
        .lines()
        .map(|l| {
            let (id, state) = l.split_once(' ').unwrap();
            assert!(
                ["created", "running", "exited", "restarting"].contains(&state),
                "{id} is {state}"
            );
            id.to_string()
        })
        .collect();
    assert!(!ids.is_empty());
    let stopped = e.ok(&["ps", "-aq", "--filter", "status=exited"]);
    if let Some(id) = stopped.lines().next() {
        e.ok(&["start", id]);
        assert_eq!(e.inspect(id, "{{.State.Status}}"), "running");
    }
    for id in &ids {
        e.ok(&["rm", "-f", id]);
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    e.until(10, "no supervisor left", || {
        pids_with(&["__supervise", &root]).is_empty()
    });
    e.until(5, "no mounts left", || {
        !std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains(&root)
    });
    for id in &ids {
        for ctl in ["memory", "pids", "cpu"] {
            let p = format!("/sys/fs/cgroup/{ctl}/skiff/{id}");
            assert!(!Path::new(&p).exists(), "{p} is left");
        }
    }
}

#[test]
fn system_boot_brings_back_what_the_restart_policy_says() {
    let e = Env::new();
    let id = |n: &str| e.inspect(n, "{{.Id}}");
    e.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "bb",
        "sleep",
        "60",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "unless",
        "--restart",
        "unless-stopped",
        "bb",
        "sleep",
        "60",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "stopped",
        "--restart",
        "always",
        "bb",
        "sleep",
        "60",
    ]);
    e.ok(&["stop", "-t", "1", "stopped"]);
    e.ok(&["run", "-d", "--name", "plain", "bb", "sleep", "60"]);
    // A "reboot": every process of ours gone at once, the runroot (a tmpfs
    // at boot) empty, the mounts gone.
    let pids: Vec<(i32, i32)> = ["always", "unless", "plain"]
        .iter()
        .map(|n| {
            let pid: i32 = e.inspect(n, "{{.State.Pid}}").parse().unwrap();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let ppid: i32 = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            (ppid, pid)
        })
        .collect();
    for (sup, pid) in &pids {
        // SAFETY: killing this test's own supervisors, then containers.
        unsafe { libc::kill(*sup, libc::SIGKILL) };
        // SAFETY: as above.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_millis(300));
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    for m in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
        if m.starts_with(e.root.to_str().unwrap()) {
            let _ = nix::mount::umount2(Path::new(m), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _ = std::fs::remove_dir_all(&e.runroot);
    let out = e.ok(&["system", "boot"]);
    let mut started: Vec<&str> = out.lines().collect();
    started.sort();
    let mut want = vec![id("always"), id("unless")];
    want.sort();
    assert_eq!(started, want);
    assert_eq!(e.inspect("always", "{{.State.Status}}"), "running");
    assert_eq!(e.inspect("unless", "{{.State.Status}}"), "running");
    assert_eq!(e.inspect("stopped", "{{.State.Status}}"), "exited");
    assert_eq!(
        e.inspect("plain", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 255"
    );
    e.ok(&["exec", "always", "true"]);
}
