//! The OCI lifecycle through the real skiff-runtime binary: run, create/start,
//! state, kill, delete, exec, pause/resume, update, ps, list, pid files.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn run_prints_and_returns_exit_code() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sh", "-c", "echo hello; echo oops >&2; exit 3"]);
    let id = unique_id("run");
    let (code, out, err) = rt.run_bundle(&b, &id);
    assert_eq!(code, 3, "stderr: {err}");
    assert_eq!(out, "hello\n");
    assert!(err.contains("oops"));
    // `run` deletes the container when it exits.
    assert!(!rt.root.path().join(&id).exists());
}

#[test]
fn create_start_state_kill_delete() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("life");
    let pidfile = b.path().join("pid");
    rt.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(rt.status(&id), "created");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    let st: serde_json::Value = serde_json::from_str(&rt.ok(&["state", &id])).unwrap();
    assert_eq!(st["pid"], json!(pid));
    assert_eq!(st["id"], json!(id));
    assert_eq!(st["ociVersion"], json!("1.2.0"));
    // The process waits at the barrier: it is not sleep yet.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");
    // delete without --force refuses a running container only
    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    std::thread::sleep(Duration::from_millis(50));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let o = rt.run(&["start", &id]);
    assert!(!o.status.success(), "second start must fail");
    let o = rt.run(&["delete", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("running"));
    rt.ok(&["kill", &id, "KILL"]);
    let t = std::time::Instant::now();
    while rt.status(&id) != "stopped" {
        assert!(t.elapsed() < Duration::from_secs(5), "did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.ok(&["delete", &id]);
    let o = rt.run(&["state", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    for d in cgroup_dirs(&format!("/{id}")) {
        assert!(!d.exists(), "{} left", d.display());
    }
}

/// A signal for a container that has stopped fails as runc's does, in
/// runc's words: containerd's shim reads "container not running" as a kill
/// that raced the exit, any other failure as a stop that failed (and then
/// leaves the pod running).
#[test]
fn kill_of_a_stopped_container_says_what_runc_says() {
    for rt in [Rt::new(), Rt::runc()] {
        let b = Bundle::busybox(&["true"]);
        let id = unique_id("stopped-kill");
        rt.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        rt.ok(&["start", &id]);
        let t = std::time::Instant::now();
        while rt.status(&id) != "stopped" {
            assert!(t.elapsed() < Duration::from_secs(5), "did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        let o = rt.run(&["kill", &id, "KILL"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(1) && err.contains("container not running"),
            "{}: {o:?}",
            rt.program.display()
        );
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn exec_inline_and_process_file() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("exec");
    rt.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let out = rt.ok(&[
        "exec",
        "-e",
        "X=42",
        &id,
        "sh",
        "-c",
        "echo $X $(hostname) $$",
    ]);
    let parts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(parts[0], "42");
    assert_eq!(parts[1], "skiff");
    assert!(
        parts[2].parse::<i32>().unwrap() > 1,
        "exec'd process is not pid 1"
    );
    // exit codes come back
    let o = rt.run(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    // --process FILE with a user
    let pf = b.path().join("process.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(
            &json!({"args": ["id", "-u"], "cwd": "/tmp", "user": {"uid": 1234, "gid": 1234},
            "env": ["PATH=/bin"]}),
        )
        .unwrap(),
    )
    .unwrap();
    let out = rt.ok(&["exec", "--process", pf.to_str().unwrap(), &id]);
    assert_eq!(out.trim(), "1234");
    // the exec'd process shares the container's pid namespace: it sees sleep as pid 1
    let out = rt.ok(&["exec", &id, "cat", "/proc/1/comm"]);
    assert_eq!(out.trim(), "sleep");
    // a missing command is a clear error
    let o = rt.run(&["exec", &id, "nonexistent-cmd"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("executable file not found"));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn pause_resume_update_ps_list() {
    let rt = Rt::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("pause");
    rt.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    let pids: Vec<i32> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 1);
    let list = rt.ok(&["list"]);
    assert!(list.starts_with("ID"));
    assert!(list
        .lines()
        .any(|l| l.starts_with(&id) && l.contains("running")));
    // update through a resources file on stdin
    let mut child = rt
        .cmd()
        .args(["update", "--resources", "-", &id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 33}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let limit = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/{id}/pids.max"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/{id}/pids.max")))
        .unwrap();
    assert_eq!(limit.trim(), "33");
    rt.ok(&["update", "--memory", "64m", &id]);
    let mem = std::fs::read_to_string(format!("/sys/fs/cgroup/memory/{id}/memory.limit_in_bytes"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/{id}/memory.max")))
        .unwrap();
    assert_eq!(mem.trim(), (64u64 << 20).to_string());
    rt.ok(&["kill", "--all", &id, "9"]);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn hooks_run_in_order_with_state() {
    let rt = Rt::new();
    let mut b = Bundle::busybox(&["true"]);
    let log = b.path().join("hooks.log");
    let hook = |name: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("read s; echo {name} \"$s\" >> {}", log.display())]})
    };
    // startContainer runs inside the container: it writes to a path there.
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo started > /tmp/startContainer"]}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")]
        });
    });
    let id = unique_id("hooks");
    let (code, _, err) = rt.run_bundle(&b, &id);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for l in text.lines() {
        let state: serde_json::Value = serde_json::from_str(l.split_once(' ').unwrap().1).unwrap();
        assert_eq!(state["id"], json!(id));
        assert!(state["pid"].as_i64().unwrap() >= 0);
    }
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/startContainer")).unwrap(),
        "started\n"
    );
}

#[test]
fn features_spec_version() {
    let rt = Rt::new();
    let v: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(v["ociVersionMax"], json!("1.2.0"));
    assert!(v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("time")));
    assert!(rt.ok(&["--version"]).contains("spec: 1.2.0"));
    let d = tempfile::tempdir().unwrap();
    rt.ok(&["spec", "--bundle", d.path().to_str().unwrap()]);
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["args"], json!(["sh"]));
}

#[test]
fn log_file_gets_json_errors() {
    let rt = Rt::new();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log.json");
    let o = rt
        .cmd()
        .args([
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["level"], json!("error"));
    assert!(v["msg"]
        .as_str()
        .unwrap()
        .contains("\"nope\" does not exist"));
}

#[test]
fn preserve_fds_reach_the_container() {
    use std::os::unix::process::CommandExt;
    let rt = Rt::new();
    let b = Bundle::busybox(&["sh", "-c", "cat <&3"]);
    let secret = b.path().join("secret");
    std::fs::write(&secret, "passed-through\n").unwrap();
    let f = std::fs::File::open(&secret).unwrap();
    use std::os::fd::AsRawFd;
    let raw = f.as_raw_fd();
    let mut cmd = rt.cmd();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique_id("fds"),
    ]);
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would leave close-on-exec set: clear it instead.
            let rc = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "passed-through\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn systemd_cgroup_path_maps_to_cgroupfs() {
    let rt = Rt::new();
    let slice = format!("skifftest{}.slice", std::process::id());
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("{slice}:skiff:sd1")));
    let id = unique_id("sd");
    let o = rt
        .cmd()
        .args([
            "--systemd-cgroup",
            "create",
            "--bundle",
            b.path().to_str().unwrap(),
            &id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(o.success());
    let dir = format!("/sys/fs/cgroup/pids/{slice}/skiff-sd1.scope");
    let exists = std::path::Path::new(&dir).is_dir()
        || std::path::Path::new(&format!("/sys/fs/cgroup/{slice}/skiff-sd1.scope")).is_dir();
    let pid: i32 = serde_json::from_str::<serde_json::Value>(&rt.ok(&["state", &id])).unwrap()
        ["pid"]
        .as_i64()
        .unwrap() as i32;
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    rt.ok(&["delete", "--force", &id]);
    for d in cgroup_dirs(&format!("/{slice}")) {
        let _ = std::fs::remove_dir(&d);
    }
    assert!(exists, "no cgroup at {dir}");
    assert!(cg.contains(&format!("/{slice}/skiff-sd1.scope")), "{cg}");
}

#[test]
fn exec_with_terminal_and_kill_all() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let rt = Rt::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    let id = unique_id("exectty");
    rt.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let sock = b.path().join("exec.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let reader = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        use std::os::fd::AsRawFd;
        let mut f = std::fs::File::from(skiff_runtime::console::recv_fd(conn.as_raw_fd()).unwrap());
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    rt.ok(&[
        "exec",
        "-t",
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty",
    ]);
    let text = reader.join().unwrap();
    assert!(text.contains("/dev/pts/"), "{text:?}");
    // two more processes, then kill --all takes every one of them
    rt.ok(&["exec", "-d", &id, "sleep", "30"]);
    rt.ok(&["exec", "-d", &id, "sleep", "30"]);
    let pids: Vec<i32> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    rt.ok(&["kill", "--all", &id, "KILL"]);
    let t = std::time::Instant::now();
    while rt.status(&id) != "stopped" {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.ok(&["delete", &id]);
}
