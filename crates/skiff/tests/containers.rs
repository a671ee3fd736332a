//! `skiff run` and the container workflow, with real containers from a
//! busybox image imported offline. Each test has its own --root and
//! --runroot and force-removes its containers when it ends, also on failure.

mod containers_env;

use containers_env::{text, Env};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
    // (Removed containers' directories kept for reuse, in `#spare`, aside.)
    e.until(5, "the container's files to go", || {
        std::fs::read_dir(e.root.join("containers"))
            .unwrap()
            .flatten()
            .all(|d| d.file_name() == "#spare")
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
