//! A container's supervisor: what it costs idle, what it keeps out of the
//! container, and what happens when it dies.

mod containers_env;

use containers_env::Env;
use std::time::{Duration, Instant};

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
