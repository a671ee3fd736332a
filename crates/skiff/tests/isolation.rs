//! Isolation, checked from inside real containers: what a process in the
//! container can see and do.

mod common;
use common::*;
use serde_json::json;

fn run_sh(edit: impl FnOnce(&mut serde_json::Value), script: &str) -> (i32, String, String) {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["sh", "-c", script]);
    b.edit(edit);
    rt.run_bundle(&b, &unique_id("iso"))
}

#[test]
fn host_processes_are_invisible() {
    let (code, out, err) = run_sh(|_| {}, "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sh", "pid 1 is the container's own process");
    let n: u32 = lines[1].parse().unwrap();
    assert!(n <= 4, "the container sees {n} processes");
}

#[test]
fn cannot_mount_or_remount_without_cap_sys_admin() {
    let (code, out, _) = run_sh(
        |_| {},
        "mount -t tmpfs none /tmp 2>/dev/null && echo mounted; \
         mount -o remount,rw / 2>/dev/null && echo remounted; \
         mount -o remount,rw /proc/sys 2>/dev/null && echo sys-remounted; echo done",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "done\n", "a mount succeeded without CAP_SYS_ADMIN");
}

/// runc's default config mounts the container's cgroups read-only: each
/// hierarchy's bind and the tmpfs above them (one mount_setattr sets the
/// flags of the whole tree).
#[test]
fn cgroup_mounts_are_readonly() {
    let (code, out, err) = run_sh(
        |_| {},
        "grep ' /sys/fs/cgroup' /proc/self/mountinfo | cut -d' ' -f5,6; \
         for d in /sys/fs/cgroup/*/; do touch \"$d/x\" 2>/dev/null && echo \"wrote $d\"; done; \
         touch /sys/fs/cgroup/x 2>/dev/null && echo wrote-tmpfs; echo done",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let mounts: Vec<&&str> = lines.iter().filter(|l| l.starts_with('/')).collect();
    // The tmpfs and at least the hierarchies every host has.
    assert!(mounts.len() >= 2, "{out}");
    for m in mounts {
        let (_, opts) = m.split_once(' ').unwrap();
        for want in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.split(',').any(|o| o == want), "{m}: not {want}");
        }
    }
    assert_eq!(lines.last(), Some(&"done"));
    assert!(!out.contains("wrote"), "{out}");
}

#[test]
fn proc_sys_is_readonly_and_kcore_masked() {
    let (code, out, err) = run_sh(
        |_| {},
        "echo 1 > /proc/sys/kernel/panic_on_oops 2>/dev/null && echo wrote; \
         grep ' /proc/sys ' /proc/self/mounts | grep -c ' ro,'; \
         test -s /proc/kcore && echo kcore-readable; wc -c < /proc/timer_list",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["1", "0"],
        "/proc/sys writable or a masked path readable: {out}"
    );
}

#[test]
fn cannot_leave_the_rootfs() {
    let rt = Rt::new();
    let secret = tempfile::tempdir().unwrap();
    let name = format!("host-secret-{}", std::process::id());
    std::fs::write(secret.path().join(&name), "x").unwrap();
    let mut b = Bundle::busybox(&["true"]);
    std::fs::write(b.rootfs().join("inside-marker"), "in").unwrap();
    b.edit(|c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            format!(
                "cd /../../../..; test -e inside-marker && echo dotdot-stays; \
             test -e /proc/1/root/inside-marker && echo proc-root-stays; \
             chroot / true 2>/dev/null && echo chroot-allowed; \
             find / -path /proc -prune -o -path /sys -prune -o -name {name} -print; echo end"
            )
        ]);
    });
    let (code, out, err) = rt.run_bundle(&b, &unique_id("escape"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "dotdot-stays\nproc-root-stays\nend\n");
}

/// A static helper that prints its effective uid, made setuid-root.
fn setuid_euid_binary(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("euid.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\",(int)geteuid());return 0;}\n",
    )
    .unwrap();
    let out = dir.join("euid");
    let st = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("a C compiler (build-essential) is needed for this test");
    assert!(st.success(), "compiling the setuid helper failed");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o4755)).unwrap();
    out
}

#[test]
fn no_new_privileges_holds_across_setuid() {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["/euid"]);
    let tool = setuid_euid_binary(b.path());
    std::fs::copy(&tool, b.rootfs().join("euid")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        b.rootfs().join("euid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    for (nnp, want) in [(true, "1000"), (false, "0")] {
        b.edit(|c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["process"]["capabilities"] = json!({
                "bounding": ["CAP_SETUID", "CAP_SETGID"], "effective": [], "permitted": []});
        });
        let (code, out, err) = rt.run_bundle(&b, &unique_id("nnp"));
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim(), want, "noNewPrivileges={nnp}");
    }
}

#[test]
fn seccomp_denied_syscalls_return_configured_errno() {
    let (code, out, err) = run_sh(
        |c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]});
        },
        "mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched",
    );
    assert_eq!(code, 0);
    assert!(err.contains("Function not implemented"), "stderr: {err}");
    assert_eq!(out, "rc=1\ntouched\n");
}

#[test]
fn memory_limit_triggers_oom_killer() {
    let (code, _out, err) = run_sh(
        |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
        },
        "exec dd if=/dev/zero of=/dev/null bs=200M count=1",
    );
    assert_eq!(code, 137, "dd was not OOM-killed (SIGKILL): {err}");
}

#[test]
fn fork_bomb_stops_at_pids_limit() {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 10});
        // The bomb runs in a subshell, which dies when fork fails; the
        // container's shell then reads the count with builtins only.
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "(i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done); \
             read n < /sys/fs/cgroup/pids/pids.current || read n < /sys/fs/cgroup/pids.current; \
             echo $n; kill -9 -1; echo end"
        ]);
    });
    let (code, out, err) = rt.run_bundle(&b, &unique_id("forkbomb"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
    let current: u32 = out.lines().next().unwrap().trim().parse().unwrap();
    assert!(current <= 10, "pids.current {current} above the limit");
    assert!(out.ends_with("end\n"));
}
