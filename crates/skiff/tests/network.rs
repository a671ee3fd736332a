//! Networking with real traffic: published ports reached from the host's
//! 127.0.0.1 and from a second host, TCP and UDP; names between containers
//! on a user network; isolation between networks; the network commands;
//! faults. Each test runs skiff in a network namespace of its own (bridges,
//! veths and nftables rules are made there and vanish with it); the "second
//! host" is another namespace, wired to the first by a veth pair.

use skiff_testkit::NetNs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    root: PathBuf,
    runroot: PathBuf,
    ns: NetNs,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("skiff-net-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        let tar = dir.path().join("bb.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let env = Env {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            ns: NetNs::new("skiff-net"),
            _dir: dir,
        };
        env.ok(&["import", tar.to_str().unwrap(), "bb"]);
        env
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.ns.command(env!("CARGO_BIN_EXE_skiff"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "skiff {args:?}: exit {:?}\n{}{}",
            o.status.code(),
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    /// A command run in the test's namespace (where skiff's bridges are).
    fn sh(&self, script: &str) -> Output {
        self.ns.command("sh").args(["-c", script]).output().unwrap()
    }

    /// A second host: a namespace with a veth to ours, 10.99.0.2 there and
    /// 10.99.0.1 here.
    fn second_host(&self) -> NetNs {
        let other = NetNs::new("skiff-peer");
        let (a, b) = (format!("h{}", std::process::id() % 100000), "peer0");
        self.ns.ip(&[
            "link",
            "add",
            &a,
            "type",
            "veth",
            "peer",
            "name",
            b,
            "netns",
            &other.name,
        ]);
        self.ns.ip(&["addr", "add", "10.99.0.1/24", "dev", &a]);
        self.ns.ip(&["link", "set", &a, "up"]);
        other.ip(&["addr", "add", "10.99.0.2/24", "dev", b]);
        other.ip(&["link", "set", b, "up"]);
        other
    }

    fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(o) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in text(&o.stdout).split_whitespace() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The body at `url`, fetched with curl from namespace `ns` ("" if none).
fn fetch(ns: &NetNs, url: &str) -> String {
    let o = ns
        .command("curl")
        .args(["-s", "-m", "3", url])
        .output()
        .unwrap();
    text(&o.stdout)
}

/// A UDP round trip to `addr` from namespace `ns`.
fn udp_echo(ns: &NetNs, addr: &str, msg: &str) -> String {
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(3)\n\
         h,p='{addr}'.split(':')\ns.sendto(b'{msg}',(h,int(p)))\nprint(s.recvfrom(100)[0].decode())"
    );
    let o = ns
        .command("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    text(&o.stdout).trim().to_string()
}

/// A web server's files under the test's directory.
fn www(e: &Env, body: &str) -> String {
    let dir = e.root.parent().unwrap().join("www");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), body).unwrap();
    format!("{}:/www:ro", dir.display())
}

const UDP_ECHO: &str = "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
    s.bind(('0.0.0.0',9999))\nwhile True:\n    d,a=s.recvfrom(100)\n    s.sendto(b'echo:'+d,a)";

#[test]
fn published_ports_from_localhost_and_from_another_host() {
    let e = Env::new();
    let peer = e.second_host();
    let vol = www(&e, "hello from skiff\n");
    e.ok(&[
        "run", "-d", "--name", "web", "-p", "8080:80", "-v", &vol, "bb", "httpd", "-f", "-p", "80",
        "-h", "/www",
    ]);
    e.until(10, "the published port", || {
        fetch(&e.ns, "http://127.0.0.1:8080/") == "hello from skiff\n"
    });
    // From another host, at this host's address.
    assert_eq!(fetch(&peer, "http://10.99.0.1:8080/"), "hello from skiff\n");
    // `port`, ps and inspect say where it is.
    assert_eq!(e.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(e.ok(&["port", "web", "80"]), "0.0.0.0:8080\n");
    assert_eq!(
        e.ok(&["ps", "--format", "{{.Ports}}"]),
        "0.0.0.0:8080->80/tcp\n"
    );
    let ip = e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    assert!(ip.starts_with("172.17.0."), "{ip}");
    // The port is taken while web runs.
    let o = e.run(&["run", "-d", "-p", "8080:80", "bb", "sleep", "5"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("port is already allocated"),
        "{}",
        text(&o.stderr)
    );
    // -p with a random host port, and UDP (the host's python, read-only).
    e.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        "9999/udp",
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
        "bb",
        "/usr/bin/python3",
        "-c",
        UDP_ECHO,
    ]);
    let hp = e.ok(&["port", "udp", "9999/udp"]);
    let hp = hp.trim().rsplit(':').next().unwrap().to_string();
    assert!(hp.parse::<u16>().unwrap() > 1024, "{hp}");
    e.until(10, "the UDP echo", || {
        udp_echo(&e.ns, &format!("127.0.0.1:{hp}"), "hi") == "echo:hi"
    });
    assert_eq!(
        udp_echo(&peer, &format!("10.99.0.1:{hp}"), "far"),
        "echo:far"
    );
    // Stopped: the port and its rule are gone.
    e.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(fetch(&e.ns, "http://127.0.0.1:8080/"), "");
    let rules = text(&e.sh("nft list table ip skiff").stdout);
    assert!(!rules.contains("dport 8080"), "{rules}");
    // Restarted, it answers again.
    e.ok(&["start", "web"]);
    e.until(10, "the port after a restart", || {
        fetch(&e.ns, "http://127.0.0.1:8080/") == "hello from skiff\n"
    });
}

#[test]
fn user_networks_names_aliases_and_isolation() {
    let e = Env::new();
    e.ok(&["network", "create", "front"]);
    e.ok(&["network", "create", "back"]);
    let vol = www(&e, "api\n");
    e.ok(&[
        "run",
        "-d",
        "--name",
        "api",
        "--network",
        "front",
        "--network-alias",
        "service",
        "-v",
        &vol,
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "back",
        "bb",
        "sleep",
        "60",
    ]);
    // By name and by alias, through the embedded DNS server.
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "bb",
        "sh",
        "-c",
        "wget -qO- http://api/; wget -qO- http://service/; cat /etc/resolv.conf",
    ]);
    assert_eq!(out, "api\napi\nnameserver 127.0.0.11\noptions ndots:0\n");
    // A name on another network is not known, and its address is not
    // reachable.
    let other_ip = e.ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.back.IPAddress}}",
        "other",
    ]);
    let other_ip = other_ip.trim();
    assert!(!other_ip.is_empty());
    let o = e.run(&[
        "run", "--rm", "--network", "front", "bb", "sh", "-c",
        &format!("nslookup other >/dev/null 2>&1 && echo resolved; ping -c1 -W1 {other_ip} >/dev/null 2>&1 && echo reached; echo done"),
    ]);
    assert_eq!(text(&o.stdout), "done\n", "{}", text(&o.stderr));
    // connect: now other reaches api by name.
    e.ok(&["network", "connect", "front", "other"]);
    let out = e.ok(&[
        "exec",
        "other",
        "sh",
        "-c",
        "ls /sys/class/net; wget -qO- http://api/",
    ]);
    assert!(out.contains("eth1") && out.ends_with("api\n"), "{out}");
    e.ok(&["network", "disconnect", "front", "other"]);
    assert!(!e
        .ok(&["exec", "other", "ls", "/sys/class/net"])
        .contains("eth1"));
    // A container of the default bridge connected to a user network asks
    // the embedded server from then on, and finds names there.
    e.ok(&["run", "-d", "--name", "plain", "bb", "sleep", "60"]);
    assert!(!e
        .ok(&["exec", "plain", "cat", "/etc/resolv.conf"])
        .contains("127.0.0.11"));
    e.ok(&["network", "connect", "front", "plain"]);
    let out = e.ok(&[
        "exec",
        "plain",
        "sh",
        "-c",
        "cat /etc/resolv.conf; wget -qO- http://service/",
    ]);
    assert_eq!(out, "nameserver 127.0.0.11\noptions ndots:0\napi\n");
    e.ok(&["rm", "-f", "plain"]);
    // --network none has only lo.
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "ls",
            "/sys/class/net"
        ]),
        "lo\n"
    );
    // A network in use is not removed; an unused one is.
    let o = e.run(&["network", "rm", "front"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("has active endpoints"),
        "{}",
        text(&o.stderr)
    );
    let o = e.run(&["network", "rm", "bridge"]);
    assert!(text(&o.stderr).contains("pre-defined network"));
    e.ok(&["rm", "-f", "api"]);
    assert_eq!(e.ok(&["network", "rm", "front"]), "front\n");
    // Only back's bridge is left.
    let links = text(&e.sh("ip -o link").stdout);
    assert_eq!(links.matches(": skbr-").count(), 1, "{links}");
    let o = e.run(&["network", "inspect", "front"]);
    assert_eq!(o.status.code(), Some(1));
    // ls and inspect.
    let names = e.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(names, "back bridge\nbridge bridge\nhost host\nnone null\n");
    let sub = e.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        "back",
    ]);
    assert!(sub.trim().ends_with("/16"), "{sub}");
    e.ok(&["rm", "-f", "other"]);
    assert_eq!(
        e.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nback\n\n"
    );
}

#[test]
fn hosts_resolv_conf_and_hostname() {
    let e = Env::new();
    let out = e.ok(&[
        "run",
        "--rm",
        "-h",
        "box",
        "--add-host",
        "db.local:10.1.2.3",
        "--dns",
        "10.0.0.53",
        "--dns-search",
        "example.test",
        "bb",
        "sh",
        "-c",
        "cat /etc/hostname /etc/resolv.conf; grep -v ip6 /etc/hosts",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("box"));
    assert_eq!(lines.next(), Some("search example.test"));
    assert_eq!(lines.next(), Some("nameserver 10.0.0.53"));
    assert_eq!(lines.next(), Some("127.0.0.1\tlocalhost"));
    assert_eq!(lines.next(), Some("10.1.2.3\tdb.local"));
    let own = lines.next().unwrap();
    assert!(
        own.starts_with("172.17.0.") && own.ends_with("\tbox"),
        "{own}"
    );
    // Bad values are refused before anything exists.
    let o = e.run(&["run", "--add-host", "nohost", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let o = e.run(&["run", "-p", "abc", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("Invalid containerPort: abc"));
    let o = e.run(&["run", "--expose", "80/sctp", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("invalid proto: sctp"));
    let o = e.run(&["run", "--network", "nosuch", "bb", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("network nosuch not found"));
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn rules_come_back_and_docker_forward_drop_is_survived() {
    let e = Env::new();
    let peer = e.second_host();
    let vol = www(&e, "still here\n");
    e.ok(&[
        "run", "-d", "--name", "web", "-p", "8080:80", "-v", &vol, "bb", "httpd", "-f", "-p", "80",
        "-h", "/www",
    ]);
    e.until(10, "the port", || {
        fetch(&e.ns, "http://127.0.0.1:8080/") == "still here\n"
    });
    // What dockerd does to a host: a forward chain that drops, and bridged
    // traffic through it.
    let o = e.sh("nft flush ruleset; nft add table ip filter; \
         nft 'add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }'");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(fetch(&peer, "http://10.99.0.1:8080/"), "");
    // The next container start notices (the ruleset generation changed),
    // restores skiff's table and lets its bridges through the drop.
    e.ok(&["run", "--rm", "bb", "true"]);
    assert_eq!(fetch(&peer, "http://10.99.0.1:8080/"), "still here\n");
    assert_eq!(fetch(&e.ns, "http://127.0.0.1:8080/"), "still here\n");
    // Outbound through the drop too: the second host answers (refuses).
    let o = e.run(&["run", "--rm", "bb", "wget", "-qO-", "http://10.99.0.2:1/"]);
    assert!(
        text(&o.stderr).contains("Connection refused"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn many_containers_on_one_network_and_killed_supervisors() {
    let e = Env::new();
    e.ok(&["network", "create", "many"]);
    let n = 200;
    for i in 0..n {
        e.ok(&[
            "run",
            "-d",
            "--name",
            &format!("c{i}"),
            "--network",
            "many",
            "bb",
            "sleep",
            "300",
        ]);
    }
    let ips = e.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(ips.lines().count(), n);
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        let ip = e.ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.many.IPAddress}}",
            &format!("c{i}"),
        ]);
        assert!(seen.insert(ip.trim().to_string()), "{ip} twice");
    }
    // All answer. (Up to 5 s each: with the other tests running, one went
    // unanswered within 2 s once, and did answer when run alone; a lost
    // ARP request is asked again only after a second.)
    let list: Vec<String> = seen.iter().cloned().collect();
    let o = e.sh(&format!(
        "for ip in {}; do {} ping -c1 -W5 $ip >/dev/null || echo $ip; done",
        list.join(" "),
        skiff_testkit::busybox_path().display()
    ));
    assert_eq!(text(&o.stdout), "", "these did not answer");
    for i in 0..n {
        e.ok(&["rm", "-f", &format!("c{i}")]);
    }
    // Supervisors killed while they set up a container's network: rm -f and
    // system prune leave no veth and no rule behind.
    let root = e.root.to_str().unwrap().to_string();
    for (i, delay) in [2u64, 5, 8, 11, 14, 20].iter().enumerate() {
        let mut cli = e
            .cmd(&[
                "run",
                "-d",
                "-p",
                &format!("{}:80", 8100 + i),
                "bb",
                "sleep",
                "60",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("__supervise {root}")])
            .status();
        let _ = cli.wait();
    }
    for id in e.ok(&["ps", "-aq"]).split_whitespace() {
        e.ok(&["rm", "-f", id]);
    }
    e.ok(&["system", "prune", "-f"]);
    e.until(10, "veths gone", || {
        !text(&e.sh("ip -o link").stdout).contains("veth")
    });
    let rules = text(&e.sh("nft list table ip skiff").stdout);
    assert!(!rules.contains("dnat to"), "{rules}");
}
