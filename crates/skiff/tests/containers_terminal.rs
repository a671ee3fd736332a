//! Containers with a terminal: `run -it` with detach keys, `exec -t`,
//! `attach` to a running container, the terminal's size followed.

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

/// A pty whose slave is `cmd`'s controlling terminal (a session of its
/// own, so it gets SIGWINCH), sized `rows` x `cols`; the master.
fn on_a_terminal(cmd: &mut std::process::Command, rows: u16, cols: u16) -> std::fs::File {
    use std::os::fd::AsFd;
    use std::os::unix::process::CommandExt;
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave = || Stdio::from(pty.slave.as_fd().try_clone_to_owned().unwrap());
    cmd.stdin(slave()).stdout(slave()).stderr(slave());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    std::fs::File::from(pty.master)
}

/// Type `line` until the terminal shows `want` (what came so far if not,
/// within 10 s).
fn until_shown(master: &mut std::fs::File, line: &[u8], want: &str) {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains(want) {
        assert!(
            Instant::now() < end,
            "{want:?} not in {:?}",
            String::from_utf8_lossy(&seen)
        );
        master.write_all(line).unwrap();
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let t = Instant::now();
        // SAFETY: one valid pollfd.
        while t.elapsed() < Duration::from_millis(300) && unsafe { libc::poll(&mut p, 1, 300) } > 0
        {
            let mut buf = [0u8; 4096];
            let n = master.read(&mut buf).unwrap_or(0);
            seen.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&seen).contains(want) {
                break;
            }
        }
    }
}

fn resize(master: &std::fs::File, rows: u16, cols: u16) {
    use std::os::fd::AsRawFd;
    skiff_engine::tty::set_terminal_size(master.as_raw_fd(), rows, cols).unwrap();
}

#[test]
fn run_exec_and_attach_follow_the_terminals_size() {
    let e = Env::new();
    e.ok(&["run", "-dit", "--name", "sized", "bb", "sh"]);
    // exec -it: the pty starts at our size and follows it.
    let mut cmd = e.cmd(&["exec", "-it", "sized", "sh"]);
    let mut master = on_a_terminal(&mut cmd, 24, 80);
    let mut child = cmd.spawn().unwrap();
    until_shown(&mut master, b"stty size\r", "24 80");
    resize(&master, 30, 100);
    until_shown(&mut master, b"stty size\r", "30 100");
    use std::io::Write;
    master.write_all(b"exit 3\r").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
    // attach: the container's own pty takes the attached terminal's size,
    // and follows it.
    let mut cmd = e.cmd(&["attach", "sized"]);
    let mut master = on_a_terminal(&mut cmd, 24, 80);
    let mut child = cmd.spawn().unwrap();
    until_shown(&mut master, b"stty size\r", "24 80");
    resize(&master, 40, 120);
    until_shown(&mut master, b"stty size\r", "40 120");
    master.write_all(&[0x10, 0x11]).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // run -it: started at the terminal's size, following it.
    let mut cmd = e.cmd(&["run", "-it", "--rm", "bb", "sh"]);
    let mut master = on_a_terminal(&mut cmd, 24, 80);
    let mut child = cmd.spawn().unwrap();
    until_shown(&mut master, b"stty size\r", "24 80");
    resize(&master, 50, 132);
    until_shown(&mut master, b"stty size\r", "50 132");
    master.write_all(b"exit 4\r").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(4));
}
