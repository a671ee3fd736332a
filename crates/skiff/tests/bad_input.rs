//! Bad input: each case fails with an error naming the problem and leaves no
//! state directory, cgroup, mount or process behind.

mod common;
use common::*;
use serde_json::json;

/// Create must fail with `want` in its error and leave nothing behind.
fn refused(b: &Bundle, id: &str, want: &str) {
    let rt = Rt::new();
    let o = rt.run(&["create", "--bundle", b.path().to_str().unwrap(), id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "create {id} should fail; stderr: {err}"
    );
    assert!(
        err.contains(want),
        "error {err:?} does not mention {want:?}"
    );
    if !id.contains('/') && !id.contains("..") {
        assert_no_leftovers(&rt, id, b.path());
    }
}

#[test]
fn malformed_json() {
    let b = Bundle::busybox(&["true"]);
    std::fs::write(
        b.path().join("config.json"),
        "{\"ociVersion\": \"1.2.0\", \"process\": {",
    )
    .unwrap();
    refused(&b, &unique_id("badjson"), "is not a valid OCI config");
}

#[test]
fn missing_rootfs() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["root"]["path"] = json!("no-such-rootfs"));
    refused(&b, &unique_id("norootfs"), "no-such-rootfs does not exist");
}

#[test]
fn unknown_namespace_type() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogusns"}))
    });
    refused(&b, &unique_id("badns"), "unknown variant `bogusns`");
}

#[test]
fn bad_ids() {
    let b = Bundle::busybox(&["true"]);
    refused(&b, "a/b", "contains '/'");
    refused(&b, "..", "contains '..'");
    refused(&b, "x..y", "contains '..'");
}

#[test]
fn duplicate_id() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("dup");
    rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let o = rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    // the first container is untouched
    assert_eq!(rt.status(&id), "created");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn unknown_capability() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_MAKE_COFFEE"]));
    refused(
        &b,
        &unique_id("badcap"),
        "unknown capability \"CAP_MAKE_COFFEE\"",
    );
}

#[test]
fn unknown_seccomp_syscall() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]})
    });
    refused(&b, &unique_id("badsc"), "no_such_syscall");
}

#[test]
fn failing_hook() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook says no >&2; exit 4"]}]})
    });
    refused(
        &b,
        &unique_id("hookfail"),
        "createRuntime hook /bin/sh failed: exit status 4: hook says no",
    );
}

#[test]
fn failing_hook_inside_container() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["hooks"] = json!({"createContainer": [{"path": "/bin/false"}]}));
    refused(
        &b,
        &unique_id("cchook"),
        "createContainer hook /bin/false failed",
    );
}

#[test]
fn hook_timeout() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["hooks"] =
            json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
    });
    let t = std::time::Instant::now();
    refused(
        &b,
        &unique_id("hookslow"),
        "prestart hook /bin/sleep timed out after 1s",
    );
    assert!(t.elapsed().as_secs() < 10);
}

#[test]
fn mount_destination_symlink_out_of_rootfs() {
    let mut b = Bundle::busybox(&["true"]);
    let outside = tempfile::tempdir().unwrap();
    let depth = b.rootfs().components().count();
    let up = "../".repeat(depth + 2);
    let target = format!(
        "{up}{}",
        outside.path().to_str().unwrap().trim_start_matches('/')
    );
    std::os::unix::fs::symlink(&target, b.rootfs().join("escape")).unwrap();
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/escape/data", "type": "tmpfs", "source": "tmpfs"}))
    });
    refused(&b, &unique_id("symesc"), "points out of the rootfs");
    assert!(
        !outside.path().join("data").exists(),
        "wrote outside the rootfs"
    );
}

#[test]
fn absolute_symlink_destination_stays_inside() {
    // An absolute link is the container's view: /link -> /tmp/X means the
    // container's /tmp/X, never the host's.
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["true"]);
    let host_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(host_dir.path(), b.rootfs().join("link")).unwrap();
    let seen = format!("{}/inside", host_dir.path().display());
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["process"]["args"] = json!([
            "sh",
            "-c",
            format!("grep -q ' {seen} ' /proc/self/mountinfo")
        ]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/link/inside", "type": "tmpfs", "source": "tmpfs"}));
    });
    let id = unique_id("symabs");
    let (code, _out, err) = rt.run_bundle(&b, &id);
    assert_eq!(
        code, 0,
        "the tmpfs is not at {seen} in the container: {err}"
    );
    assert!(
        !host_dir.path().join("inside").exists(),
        "mounted on the host path"
    );
    let inside = b
        .rootfs()
        .join(host_dir.path().strip_prefix("/").unwrap())
        .join("inside");
    assert!(
        inside.is_dir(),
        "destination was not created inside the rootfs"
    );
}

#[test]
fn missing_executable_and_cwd() {
    let b = Bundle::busybox(&["/no/such/binary"]);
    refused(&b, &unique_id("noexe"), "/no/such/binary");
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["process"]["cwd"] = json!("/does/not/exist"));
    refused(&b, &unique_id("nocwd"), "cwd /does/not/exist");
}

#[test]
fn missing_bind_source() {
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/data", "type": "bind",
            "source": "/nonexistent/skiff/source", "options": ["rbind"]}))
    });
    refused(
        &b,
        &unique_id("nosrc"),
        "source /nonexistent/skiff/source does not exist",
    );
}

#[test]
fn unknown_flag_and_command() {
    let rt = Rt::new();
    let o = rt.run(&["create", "--frobnicate", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("flag provided but not defined: -frobnicate")
    );
    let o = rt.run(&["explode", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown command \"explode\""));
}

#[test]
fn security_label_the_host_cannot_apply() {
    // Never silently run a container without the confinement it asked for.
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if !apparmor {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|c| c["process"]["apparmorProfile"] = json!("skiff-test-profile"));
        refused(&b, &unique_id("aa"), "AppArmor is not enabled on this host");
    }
    if !selinux {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|c| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"));
        refused(&b, &unique_id("se"), "linux.mountLabel");
    }
}

#[test]
fn failing_poststart_hook_is_a_warning() {
    // runtime-spec: a poststart failure is logged, the container keeps running,
    // and the remaining hooks still run.
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    let marker = b.path().join("second-hook-ran");
    b.edit(|c| {
        c["hooks"] = json!({"poststart": [
            {"path": "/bin/false"},
            {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]}
        ]})
    });
    let id = unique_id("poststart");
    rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let o = rt.run(&["start", &id]);
    assert!(o.status.success(), "start failed on a poststart hook");
    assert!(String::from_utf8_lossy(&o.stderr).contains("poststart hook /bin/false failed"));
    assert!(marker.exists(), "the second poststart hook did not run");
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn killed_create_is_cleaned_by_delete_force() {
    // SIGKILL the runtime in the middle of create (while a prestart hook runs):
    // the half-made container shows as "creating", its processes go away by
    // themselves, and `delete --force` removes everything.
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "5"]}]}));
    let id = unique_id("killed");
    let mut child = rt
        .cmd()
        .args(["create", "--bundle", b.path().to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !rt.root.path().join(&id).join("state.json").exists() {
        assert!(t.elapsed().as_secs() < 5, "create never wrote its state");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let list = rt.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("creating")),
        "{list}"
    );
    rt.ok(&["delete", "--force", &id]);
    // the container's own processes exit once the runtime is gone
    let t = std::time::Instant::now();
    loop {
        let r = std::panic::catch_unwind(|| assert_no_leftovers(&rt, &id, b.path()));
        if r.is_ok() {
            break;
        }
        assert!(
            t.elapsed().as_secs() < 10,
            "leftovers after a killed create"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
