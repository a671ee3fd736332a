//! The runtime on a pure cgroup v2 view of the host: inside a private mount
//! namespace, /sys/fs/cgroup is replaced by a cgroup2 mount, the layout most
//! machines have. (On this hybrid host that hierarchy has no memory/cpu/pids
//! controllers, so limits are checked against stand-in trees in the unit tests;
//! this checks the runtime end to end: cgroup creation, CLONE_INTO_CGROUP, the
//! eBPF device filter, the cgroup2 mount in the container, and teardown.)

mod common;
use common::*;

#[test]
fn runs_on_a_pure_v2_host() {
    let rt = Rt::new();
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "grep ' /sys/fs/cgroup ' /proc/self/mountinfo | grep -c cgroup2; \
         head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; cat /proc/self/cgroup",
    ]);
    let id = unique_id("v2");
    let script = format!(
        "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && \
         {bin} --root {root} run --bundle {bundle} {id}; rc=$?; \
         test -e /sys/fs/cgroup/{id} && echo cgroup-left; exit $rc",
        bin = bin().display(),
        root = rt.root.path().display(),
        bundle = b.path().display(),
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "1",
        "no cgroup2 mount at /sys/fs/cgroup in the container"
    );
    assert_eq!(lines[1], "3");
    assert_eq!(lines[2], "null-ok");
    // The kernel still lists the host's v1 hierarchies; the unified line shows
    // the cgroup namespace rooted at the container's own cgroup.
    assert!(lines[3..].contains(&"0::/"), "unified cgroup line: {out}");
    assert!(
        !out.contains("cgroup-left"),
        "the container's cgroup was not removed"
    );
    // The host's hybrid view never saw a cgroup for this container.
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/unified/{id}")).exists());
}
