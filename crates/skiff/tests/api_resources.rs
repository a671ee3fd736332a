//! What containers use, through the Docker Engine API (`skiff serve`)
//! with Debian's docker CLI 20.10: volumes and networks (the server in a
//! network namespace of the test's own), stats, files copied in and out,
//! export.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;

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

/// `docker update`: new limits on a running container, in its cgroup at
/// once and in its inspect; on a stopped one, kept for its next start;
/// refused ones as dockerd refuses them.
#[test]
fn update_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    s.sleeper("up1");
    s.ok(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "up1",
    ]);
    let inside = s.ok(&[
        "exec",
        "up1",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
    ]);
    assert_eq!(inside, "67108864\n50\n");
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}",
            "up1"
        ]),
        "67108864 50\n"
    );
    let o = s.docker(&["update", "--memory", "1m", "up1"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Minimum memory limit allowed is 6MB"),
        "{o:?}"
    );
    s.ok(&["stop", "-t", "0", "up1"]);
    s.ok(&[
        "update",
        "--restart",
        "on-failure:3",
        "--pids-limit",
        "60",
        "up1",
    ]);
    s.ok(&["start", "up1"]);
    assert_eq!(
        s.ok(&[
            "exec",
            "up1",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
        ]),
        "60\n"
    );
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "up1"
        ]),
        "on-failure 3\n"
    );
    s.ok(&["rm", "-f", "up1"]);
}
