//! Containers with a terminal: `run -it` with detach keys, `exec -t`,
//! `attach` to a running container.

mod containers_env;

use containers_env::{text, Env};
use std::process::Stdio;
use std::time::{Duration, Instant};

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
