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

/// Volumes and networks through the API (the server in a network
/// namespace of the test's own): a named volume's data outlives its
/// containers and is refused removal while used; a user network with its
/// subnet, names resolved on it, connect and disconnect, refused removal
/// while used; list filters; prune.
#[test]
fn volumes_and_networks_through_skiff_serve() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-api");
    let s = Server::start_in(&e, Some(&ns));
    assert_eq!(
        s.ok(&["volume", "create", "--label", "team=a", "v1"]),
        "v1\n"
    );
    s.ok(&["volume", "create", "v2"]);
    assert_eq!(
        s.ok(&["volume", "ls", "-q", "--filter", "label=team=a"]),
        "v1\n"
    );
    assert_eq!(
        s.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{.Labels.team}}",
            "v1"
        ]),
        "local a\n"
    );
    s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "v1:/data",
        "bb:base",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    // (On the default bridge, which is in the test's namespace.)
    s.ok(&[
        "run", "-d", "--name", "user1", "-v", "v1:/data", "bb:base", "sleep", "60",
    ]);
    assert_eq!(s.ok(&["exec", "user1", "cat", "/data/f"]), "kept\n");
    let o = s.docker(&["volume", "rm", "v1"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("in use"),
        "{o:?}"
    );

    s.ok(&[
        "network",
        "create",
        "--subnet",
        "10.231.7.0/24",
        "--label",
        "k=v",
        "n1",
    ]);
    assert!(s
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("n1\n"));
    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels.k}}",
            "n1"
        ]),
        "10.231.7.0/24 v\n"
    );
    s.ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "--network",
        "n1",
        "bb:base",
        "sleep",
        "60",
    ]);
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "n1",
        "bb:base",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "web1",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("10.231.7."),
        "{o:?}"
    );
    s.ok(&["network", "connect", "--alias", "db", "n1", "user1"]);
    assert!(s
        .ok(&["exec", "web1", "ping", "-c", "1", "-W", "2", "db"])
        .contains("10.231.7."));
    s.ok(&["network", "disconnect", "n1", "user1"]);
    let o = s.docker(&["network", "rm", "n1"]);
    assert!(!o.status.success(), "{o:?}");

    s.ok(&["rm", "-f", "user1", "web1"]);
    s.ok(&["network", "rm", "n1"]);
    s.ok(&["volume", "rm", "v1"]);
    assert!(s.ok(&["volume", "prune", "-f"]).contains("v2"));
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
}

/// Images through the API: `docker pull` from a registry on 127.0.0.1 (in
/// the test's network namespace, where the server runs), `docker run` of
/// an image it must pull first, `tag`, `rmi`, and a pull that fails.
#[test]
fn images_pulled_tagged_and_removed_through_skiff_serve() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-api-img");
    let reg = skiff_testkit::registry::start_registry_in(Some(&ns), None);
    // Another store pushes busybox to the registry.
    let other = Env::new();
    for tag in ["1", "2"] {
        let name = format!("{}/t/bb:{tag}", reg.host);
        other.ok(&["tag", "bb:base", &name]);
        let push = other.skiff_cmd(&["push", "-q", &name]);
        let o = ns
            .command(push.get_program())
            .args(push.get_args())
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    let s = Server::start_in(&e, Some(&ns));
    let name = format!("{}/t/bb:1", reg.host);
    let out = s.ok(&["pull", &name]);
    // (The layer may be one the store has: both stores imported busybox.)
    assert!(
        (out.contains("Pull complete") || out.contains("Already exists"))
            && out.contains("Downloaded newer image"),
        "{out}"
    );
    assert!(s.ok(&["pull", &name]).contains("Image is up to date"));
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{}/t/bb:2", reg.host),
        "echo",
        "pulled",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pulled\n", "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unable to find image"),
        "{o:?}"
    );

    s.ok(&["tag", &name, "mine/bb:x"]);
    assert!(s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("mine/bb:x\n"));
    let out = s.ok(&["rmi", "mine/bb:x"]);
    assert_eq!(out, "Untagged: mine/bb:x\n");
    let o = s.docker(&["pull", &format!("{}/t/none:1", reg.host)]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("t/none"),
        "{o:?}"
    );
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

/// `docker build` (the legacy builder's API, the context as a tar) on
/// skiff's builder, then `docker save` and `docker load` of the result.
#[test]
fn build_save_and_load_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    let ctx = e.context(
        "ctx",
        &[
            ("Dockerfile", "FROM bb:base\nARG WHO=nobody\nCOPY app.txt /app.txt\nRUN echo \"built for $WHO\" > /who\nCMD cat /app.txt /who\n"),
            ("app.txt", "app\n"),
            ("Dockerfile.bad", "FROM bb:base\nRUN echo failing; exit 3\n"),
        ],
    );
    let c = ctx.to_str().unwrap();
    let o = s
        .cmd(&["build", "-t", "api/built:1", "--build-arg", "WHO=api", c])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("RUN echo") && out.contains("Successfully tagged api/built:1"),
        "{out}"
    );
    let o = s.docker(&["run", "--rm", "--network", "none", "api/built:1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "app\nbuilt for api\n",
        "{o:?}"
    );
    // Again: from the cache, the same image (-q prints its ID).
    let id = s.ok(&[
        "build",
        "-q",
        "-t",
        "api/built:1",
        "--build-arg",
        "WHO=api",
        c,
    ]);
    assert_eq!(
        id.trim(),
        s.ok(&["image", "inspect", "-f", "{{.Id}}", "api/built:1"])
            .trim()
    );
    let bad = ctx.join("Dockerfile.bad");
    let o = s.docker(&["build", "-f", bad.to_str().unwrap(), c]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exit code: 3"),
        "{o:?}"
    );

    let tar = e.dir.path().join("saved.tar");
    s.ok(&["save", "-o", tar.to_str().unwrap(), "api/built:1"]);
    s.ok(&["rmi", "api/built:1"]);
    assert_eq!(
        s.ok(&["load", "-i", tar.to_str().unwrap()]),
        "Loaded image: api/built:1\n"
    );
    let o = s.docker(&["run", "--rm", "--network", "none", "api/built:1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "app\nbuilt for api\n",
        "{o:?}"
    );
}

/// `docker stats --no-stream`, `docker cp` both ways (and to stdout as a
/// tar), and `docker export` through the API.
#[test]
fn stats_cp_and_export_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    s.sleeper("st1");
    let out = s.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
        "st1",
    ]);
    assert!(out.starts_with("st1 1 ") && out.contains("iB / "), "{out}");
    let src = e.dir.path().join("in.txt");
    std::fs::write(&src, "into the container\n").unwrap();
    s.ok(&["cp", src.to_str().unwrap(), "st1:/tmp/"]);
    assert_eq!(
        s.ok(&["exec", "st1", "cat", "/tmp/in.txt"]),
        "into the container\n"
    );
    s.ok(&[
        "exec",
        "st1",
        "sh",
        "-c",
        "mkdir -p /out/sub && echo a > /out/a && echo b > /out/sub/b",
    ]);
    let dest = e.dir.path().join("out");
    s.ok(&["cp", "st1:/out", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(dest.join("sub/b")).unwrap(), "b\n");
    let o = s.docker(&["cp", "st1:/nope", dest.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such container:path"),
        "{o:?}"
    );
    let o = s.docker(&["cp", "st1:/tmp/in.txt", "-"]);
    let names: Vec<String> = tar::Archive::new(&o.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["in.txt"]);
    let tar = e.dir.path().join("export.tar");
    s.ok(&["export", "-o", tar.to_str().unwrap(), "st1"]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&tar).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("tmp/in.txt"))
            && names.iter().any(|n| n.ends_with("bin/busybox")),
        "{names:?}"
    );
    s.ok(&["rm", "-f", "st1"]);
}

/// `docker login` (the API's `/auth` checks the credentials; the docker
/// CLI keeps them) and `docker push` with them (`X-Registry-Auth`) to a
/// registry on 127.0.0.1 that wants a password; then a pull by another
/// store gets the same image.
#[test]
fn login_and_push_through_skiff_serve() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-api-push");
    let reg = skiff_testkit::registry::start_registry_in(Some(&ns), Some(("ann", "s3cret")));
    let s = Server::start_in(&e, Some(&ns));
    let o = s.docker(&["login", "-u", "ann", "-p", "wrong", &reg.host]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = s.ok(&["login", "-u", "ann", "-p", "s3cret", &reg.host]);
    assert!(out.contains("Login Succeeded"), "{out}");
    let name = format!("{}/team/bb:1", reg.host);
    s.ok(&["tag", "bb:base", &name]);
    let out = s.ok(&["push", &name]);
    assert!(
        out.contains("The push refers to repository") && out.contains("digest: sha256:"),
        "{out}"
    );
    let id = s.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    s.ok(&["rmi", &name]);
    s.ok(&["pull", &name]);
    assert_eq!(s.ok(&["image", "inspect", "-f", "{{.Id}}", &name]), id);
    // Without the credentials the registry refuses.
    s.ok(&["logout", &reg.host]);
    s.ok(&["rmi", &name]);
    let o = s.docker(&["pull", &name]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}

/// `docker import` (a root file system tar as the body), `ps --size`, a
/// pty resized through the API, the socket's mode, and a server on TCP
/// (127.0.0.1).
#[test]
fn import_size_resize_and_tcp_through_skiff_serve() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let s = Server::start(&e);
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
        tar.to_str().unwrap(),
        "imp/bb:1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    let o = s.docker(&["run", "--rm", "--network", "none", "imp/bb:1", "echo", "hi"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n", "{o:?}");

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
