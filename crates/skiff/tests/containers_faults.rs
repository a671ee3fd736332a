//! Containers when something dies: the CLI killed mid-run, runs and
//! supervisors killed at random points, concurrent starts, and `system
//! boot` bringing back what the restart policy says.

mod containers_env;

use containers_env::{text, Env};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
    // (Removed containers' directories kept for reuse, in `#spare`, aside.)
    e.until(5, "no container directories left", || {
        std::fs::read_dir(e.root.join("containers"))
            .map(|d| d.flatten().all(|d| d.file_name() == "#spare"))
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

#[test]
fn rm_f_removes_a_container_whose_supervisor_is_stuck() {
    let e = Env::new();
    let id = e.ok(&["run", "-d", "--name", "stuck", "bb", "sleep", "60"]);
    let id = id.trim();
    let init: i32 = e.inspect("stuck", "{{.State.Pid}}").parse().unwrap();
    // The container's init is a clone of the supervisor, and carries its
    // command line until it execs, which may come after `run -d` returned.
    let sup: Vec<i32> = pids_with(&["__supervise", id])
        .into_iter()
        .filter(|&p| p != init)
        .collect();
    assert_eq!(sup.len(), 1, "one supervisor for {id}: {sup:?}");
    // Stopped, it reaps nothing and records nothing, as when it hangs.
    let signal = |s| nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup[0]), s);
    signal(nix::sys::signal::Signal::SIGSTOP).unwrap();
    // Should rm fail, the supervisor must not stay stopped past the test
    // (declared after `e`: it runs first, then Env's own cleanup).
    struct Resume<F: Fn(nix::sys::signal::Signal) -> nix::Result<()>>(F);
    impl<F: Fn(nix::sys::signal::Signal) -> nix::Result<()>> Drop for Resume<F> {
        fn drop(&mut self) {
            let _ = (self.0)(nix::sys::signal::Signal::SIGCONT);
        }
    }
    let _resume = Resume(signal);
    let t = Instant::now();
    e.ok(&["rm", "-f", "stuck"]);
    assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(
        pids_with(&["__supervise", id]).is_empty(),
        "the supervisor lives on"
    );
    assert!(
        !Path::new(&format!("/proc/{init}")).exists()
            || std::fs::read_to_string(format!("/proc/{init}/cmdline"))
                .is_ok_and(|c| !c.starts_with("sleep")),
        "the container's process lives on"
    );
}

/// Processes whose command line holds all of `words` (NUL-separated args).
/// `run` spawns the container's supervisor before it makes the container;
/// a run that fails to make it (a name in use, no such image, a bad
/// setting) leaves that supervisor gone by the time it returns, and the
/// container that did start shows its ID in its supervisor's command line.
#[test]
fn a_run_that_fails_leaves_no_supervisor_behind() {
    let e = Env::new();
    let root = e.root.display().to_string();
    let id = e.ok(&["run", "-d", "--name", "taken", "bb", "sleep", "60"]);
    let init: i32 = e.inspect("taken", "{{.State.Pid}}").parse().unwrap();
    let supervisors = || -> Vec<i32> {
        pids_with(&["__supervise", &root])
            .into_iter()
            .filter(|&p| p != init)
            .collect()
    };
    assert_eq!(
        supervisors(),
        pids_with(&["__supervise", id.trim()])
            .into_iter()
            .filter(|&p| p != init)
            .collect::<Vec<_>>()
    );
    assert_eq!(supervisors().len(), 1);
    for bad in [
        &["run", "--name", "taken", "bb", "true"][..],
        &[
            "run",
            "--rm",
            "-d",
            "--name",
            "other",
            "NOT-A-REFERENCE",
            "true",
        ],
        &["run", "--rm", "--memory", "1k", "bb", "true"],
    ] {
        let t = Instant::now();
        let o = e.run(bad);
        assert_eq!(o.status.code(), Some(125), "{bad:?}: {}", text(&o.stderr));
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{bad:?}: {:?}",
            t.elapsed()
        );
        assert_eq!(supervisors().len(), 1, "after {bad:?}");
    }
    e.ok(&["rm", "-f", "taken"]);
}

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
