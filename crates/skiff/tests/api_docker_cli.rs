//! The Docker Engine API (`skiff serve`) driven by Debian's docker CLI
//! 20.10 (`DOCKER_HOST=unix://...`, a socket of the test's own): version,
//! images, create/start/wait/logs/inspect/ps/stop/rm, what the CLI prints
//! and its exit codes; and the skiff CLI on the same --root seeing what
//! the API made.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;

#[test]
fn the_docker_cli_drives_containers_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    assert_eq!(
        s.ok(&["version", "--format", "{{.Server.APIVersion}}"]),
        "1.41\n"
    );
    assert!(s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("bb:base"));

    let id = s.ok(&[
        "create",
        "--name",
        "c1",
        "--network",
        "none",
        "-e",
        "WHO=api",
        "bb:base",
        "sh",
        "-c",
        "echo out $WHO; echo err >&2; exit 3",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(
        s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "c1 Created\n"
    );
    s.ok(&["start", "c1"]);
    assert_eq!(s.ok(&["wait", "c1"]), "3\n");
    let logs = s.docker(&["logs", "c1"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out api\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "c1"]),
        "3 /c1\n"
    );
    let ps = s.ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.Status}} {{.Command}}",
    ]);
    assert!(
        ps.starts_with("c1 Exited (3) ") && ps.contains("\"sh -c 'echo out"),
        "{ps}"
    );

    // run -d, then the skiff CLI on the same root sees it running.
    let id2 = s.ok(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "none",
        "bb:base",
        "sleep",
        "60",
    ]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]), "c2\n");
    assert!(e
        .ok(&["ps", "--format", "{{.ID}} {{.Names}}"])
        .contains(&format!("{} c2", &id2[..12])));
    s.ok(&["stop", "-t", "1", "c2"]);
    assert!(s
        .ok(&["inspect", "-f", "{{.State.Status}}", "c2"])
        .starts_with("exited"));

    // Errors as the docker CLI shows dockerd's.
    let o = s.docker(&["inspect", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such object: nope"),
        "{o:?}"
    );
    let o = s.docker(&["start", "nope"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such container: nope"),
        "{o:?}"
    );
    let o = s.docker(&["create", "--name", "c1", "bb:base", "true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is already in use"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    s.ok(&["rm", "c1", "c2"]);
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
}

/// `docker run` attached: it attaches before it starts the container (a
/// hijacked connection), so every byte is seen; stdout and stderr apart,
/// the exit code, `--rm`, `-i` with input, `-t`.
#[test]
fn docker_run_attached_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    let o = s.docker(&[
        "run",
        "--name",
        "r1",
        "--network",
        "none",
        "bb:base",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");

    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb:base",
        "echo",
        "gone",
    ]);
    assert_eq!(
        (o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()),
        (Some(0), "gone\n")
    );
    assert_eq!(
        s.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "r1\n",
        "--rm left it"
    );

    let o = s.docker_with_input(
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "bb:base",
            "sh",
            "-c",
            "wc -l; echo end",
        ],
        "one\ntwo\nthree\n",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "3\nend\n", "{o:?}");

    let o = s.docker(&[
        "run",
        "-t",
        "--rm",
        "--network",
        "none",
        "bb:base",
        "sh",
        "-c",
        "tty; exit 2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "/dev/pts/0\r\n");

    // A client gone mid-attach: the container runs on, its output read
    // and logged, and ends as it would have.
    let mut gone = s
        .cmd(&[
            "run",
            "--name",
            "r2",
            "--network",
            "none",
            "bb:base",
            "sh",
            "-c",
        ])
        .arg("sleep 0.5; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo line $i; done")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    gone.kill().unwrap();
    gone.wait().unwrap();
    assert_eq!(s.ok(&["wait", "r2"]), "0\n");
    assert!(s
        .ok(&["logs", "--tail", "1", "r2"])
        .ends_with("line 20000\n"));
    s.ok(&["rm", "r1", "r2"]);
}

/// `docker exec` through the API: an exec instance made, started on a
/// hijacked connection, its exit code from its inspect; with input, with
/// a pty, detached, and on a stopped container.
#[test]
fn docker_exec_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    s.sleeper("x1");
    let o = s.docker(&[
        "exec",
        "-e",
        "V=1",
        "-w",
        "/tmp",
        "x1",
        "sh",
        "-c",
        "echo $V $(pwd); echo e >&2; exit 4",
    ]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1 /tmp\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "e\n");
    let o = s.docker_with_input(&["exec", "-i", "x1", "wc", "-c"], "12345");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "5", "{o:?}");
    let o = s.docker(&["exec", "-t", "x1", "tty"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("/dev/pts/"),
        "{o:?}"
    );
    s.ok(&["exec", "-d", "x1", "sh", "-c", "echo detached > /tmp/d"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(s.ok(&["exec", "x1", "cat", "/tmp/d"]), "detached\n");
    let o = s.docker(&["exec", "x1", "/no/such/command"]);
    assert_eq!(o.status.code(), Some(126), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("exec failed"),
        "{o:?}"
    );
    s.ok(&["stop", "-t", "0", "x1"]);
    let o = s.docker(&["exec", "x1", "true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not running"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    s.ok(&["rm", "x1"]);
}

/// `docker events`: what was recorded in a window (`--since`, `--until`,
/// filters), and following what happens; a follower that goes is dropped
/// by the server (its connection's thread ends).
#[test]
fn events_through_skiff_serve() {
    use std::io::BufRead;
    let e = Env::new();
    let s = Server::start(&e);
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    s.ok(&[
        "run",
        "--name",
        "ev1",
        "--network",
        "none",
        "bb:base",
        "true",
    ]);
    // (An `until` in the future would follow until then.)
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let out = s.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &until,
        "--filter",
        "container=ev1",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    for want in [
        "container create ev1",
        "container start ev1",
        "container die ev1",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let baseline = s.threads();
    let mut follow = s
        .cmd(&[
            "events",
            "--filter",
            "container=ev2",
            "--format",
            "{{.Action}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.ok(&[
        "run",
        "--rm",
        "--name",
        "ev2",
        "--network",
        "none",
        "bb:base",
        "true",
    ]);
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(l)) = lines.next() {
        seen.push(l.clone());
        if l == "destroy" {
            break;
        }
    }
    assert!(
        seen.contains(&"start".to_string()) && seen.contains(&"die".to_string()),
        "{seen:?}"
    );
    follow.kill().unwrap();
    follow.wait().unwrap();
    let threads = s.threads_down_to(baseline);
    assert!(
        threads <= baseline,
        "the follower's threads stayed: {threads} > {baseline}"
    );
}

/// pause, unpause, rename, top, diff, commit, history and container prune
/// through the API, as the docker CLI shows them.
#[test]
fn more_of_the_container_workflow_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    s.sleeper("w1");
    s.ok(&["pause", "w1"]);
    assert!(s
        .ok(&["ps", "--format", "{{.Status}}"])
        .contains("(Paused)"));
    s.ok(&["unpause", "w1"]);
    s.ok(&["rename", "w1", "w2"]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]), "w2\n");
    let top = s.ok(&["top", "w2"]);
    assert!(
        top.lines().next().unwrap().contains("PID") && top.contains("sleep 60"),
        "{top}"
    );
    s.ok(&[
        "exec",
        "w2",
        "sh",
        "-c",
        "echo made > /made.txt; rm /etc/group",
    ]);
    let diff = s.ok(&["diff", "w2"]);
    assert!(
        diff.contains("A /made.txt") && diff.contains("D /etc/group") && diff.contains("C /etc"),
        "{diff}"
    );
    let id = s.ok(&["commit", "-m", "from the API", "w2", "committed:1"]);
    assert!(id.starts_with("sha256:"), "{id}");
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "committed:1",
        "cat",
        "/made.txt",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "made\n", "{o:?}");
    let history = s.ok(&["history", "--format", "{{.Comment}}", "committed:1"]);
    assert!(history.starts_with("from the API\n"), "{history}");
    s.ok(&["stop", "-t", "0", "w2"]);
    s.ok(&[
        "run",
        "--name",
        "done1",
        "--network",
        "none",
        "bb:base",
        "true",
    ]);
    let pruned = s.ok(&["container", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted Containers") && pruned.contains("Total reclaimed space"),
        "{pruned}"
    );
    assert_eq!(s.ok(&["ps", "-aq"]), "");
}

/// `docker import` (a root file system tar as the body, with changes), `ps --size`, a
/// pty resized through the API, the socket's mode, and a server on TCP
/// (127.0.0.1).
#[test]
fn import_size_resize_and_tcp_through_skiff_serve() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let mut s = Server::start(&e);
    let mode = std::fs::metadata(&s.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "the socket's mode");
    let rootfs = e.dir.path().join("imp-rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = e.dir.path().join("imp.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let id = s.ok(&[
        "import",
        "-m",
        "imported",
        "-c",
        "ENV GREETING=hi",
        "-c",
        "CMD [\"sh\", \"-c\", \"echo $GREETING\"]",
        tar.to_str().unwrap(),
        "imp/bb:1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    let o = s.docker(&["run", "--rm", "--network", "none", "imp/bb:1"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n", "{o:?}");
    // From a URL (a gzipped tar on 127.0.0.1), by the API and by the CLI;
    // a URL that answers 404 is an error naming the status.
    let st = std::process::Command::new("gzip")
        .args(["-k", "-f"])
        .arg(&tar)
        .status()
        .unwrap();
    assert!(st.success());
    let gz = std::fs::read(e.dir.path().join("imp.tar.gz")).unwrap();
    let url = serve_file(gz, 3);
    s.ok(&["import", &format!("{url}/rootfs.tar.gz"), "imp/url:1"]);
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "imp/url:1",
        "echo",
        "from-url",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from-url\n", "{o:?}");
    let o = e
        .skiff_cmd(&["import", &format!("{url}/rootfs.tar.gz"), "imp/url:2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let o = s.docker(&["import", &format!("{url}/missing"), "imp/url:3"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("404"),
        "{o:?}"
    );
    let o = s.docker(&[
        "import",
        "-c",
        "RUN true",
        tar.to_str().unwrap(),
        "imp/bb:2",
    ]);
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("RUN is not a valid change command"),
        "{o:?}"
    );

    s.ok(&[
        "run",
        "-d",
        "-t",
        "--name",
        "tt",
        "--network",
        "none",
        "bb:base",
        "sleep",
        "60",
    ]);
    assert!(s
        .ok(&["ps", "-s", "--format", "{{.Size}}"])
        .contains("(virtual "));
    let mut c = std::os::unix::net::UnixStream::connect(&s.sock).unwrap();
    c.write_all(b"POST /v1.41/containers/tt/resize?h=40&w=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        s.ok(&["exec", "tt", "sh", "-c", "stty size < /proc/1/fd/0"]),
        "40 100\n"
    );
    s.ok(&["rm", "-f", "tt"]);

    // One serve per root: a second is refused while the first runs.
    let second = e
        .skiff_cmd(&[
            "serve",
            "-H",
            &format!("unix://{}", e.dir.path().join("third.sock").display()),
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another skiff serve runs for"),
        "{second:?}"
    );
    s.kill9();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut tcp = e
        .skiff_cmd(&[
            "serve",
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "-H",
            &format!("unix://{}", e.dir.path().join("second.sock").display()),
        ])
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = std::process::Command::new("/usr/bin/docker")
        .env("DOCKER_CONFIG", e.dir.path().join("dc"))
        .args([
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "version",
            "--format",
            "{{.Server.APIVersion}}",
        ])
        .output()
        .unwrap();
    let _ = tcp.kill();
    let _ = tcp.wait();
    assert!(up, "the TCP server did not listen");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1.41\n", "{o:?}");
}

/// Serve `body` over HTTP on 127.0.0.1 to `n` requests (a path ending in
/// `missing` gets a 404); the base URL.
fn serve_file(body: Vec<u8>, n: usize) -> String {
    use std::io::{BufRead, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in l.incoming().take(n).flatten() {
            let mut r = std::io::BufReader::new(c);
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut c = r.into_inner();
            let path = first.split(' ').nth(1).unwrap_or("");
            let _ = if path.ends_with("missing") {
                c.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
            } else {
                write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .and_then(|()| c.write_all(&body))
            };
        }
    });
    url
}
