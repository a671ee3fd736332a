//! Parity scenarios: Networking: the default bridge, published ports, user networks. dockerd
//! runs in a network namespace of its own with Docker's defaults, skiff in
//! another, so both hand out the same addresses. Docker also publishes on
//! IPv6 (`:::8080`); skiff is IPv4 only, so Docker's IPv6 entries are dropped
//! before comparing.

use crate::*;

/// Docker's output without its IPv6 port entries: `port` lines, `ps` PORTS
/// items and `{"HostIp":"::",...}` objects.
pub(crate) fn without_v6(side: Side, s: &str) -> String {
    if side == Side::Skiff {
        return s.to_string();
    }
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if body.starts_with(":::") || body.contains(" -> :::") {
            continue;
        }
        let mut l = body
            .split(", ")
            .filter(|i| !i.starts_with(":::"))
            .collect::<Vec<_>>()
            .join(", ");
        while let Some(i) = l.find(r#"{"HostIp":"::","#) {
            let close = l[i..].find('}').map_or(l.len(), |e| i + e + 1);
            let (from, to) = if l[..i].ends_with(',') {
                (i - 1, close)
            } else if l[close..].starts_with(',') {
                (i, close + 1)
            } else {
                (i, close)
            };
            l.replace_range(from..to, "");
        }
        out.push_str(&l);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Host ports the engine picked (`0.0.0.0:49153`) as `0.0.0.0:PORT`.
pub(crate) fn picked_ports(s: &str) -> String {
    s.lines()
        .map(|l| match l.rfind(':') {
            Some(i) if l[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < l.len() => {
                format!("{}:PORT\n", &l[..i])
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

// Namespaces shared with another container, and added groups.
pub(crate) fn ipc_pid_and_groups(c: &Ctx) {
    let donor = c.name("donor");
    c.setup(&cl!(
        "run -d --name {donor} --ipc shareable {IMG} sleep 60",
        donor
    ));
    c.same(
        "--ipc and --pid container:X, --group-add",
        &cl!(
            "run --rm --ipc container:{donor} --pid container:{donor} --group-add 50 \
              --group-add 7 {IMG} sh -c 'ps -o comm; id -G'",
            donor
        ),
        E::Exact,
    );
    let fmt = "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}} {{.HostConfig.GroupAdd}}";
    c.same(
        "the modes in inspect",
        &cl!("inspect -f {fmt} {donor}", fmt, donor),
        E::Exact,
    );
    let private = c.name("private");
    c.setup(&cl!("run -d --name {private} {IMG} sleep 60", private));
    c.same(
        "joining a private IPC namespace",
        &cl!("run --rm --ipc container:{private} {IMG} true", private),
        E::Exact,
    );
    c.same(
        "--pid of a container that is not there",
        &cl!("run --rm --pid container:nothere {IMG} true"),
        E::Exact,
    );
}

pub(crate) fn network_default_bridge(c: &Ctx) {
    c.same(
        "files and address on the default bridge",
        &cl!(
            "run --rm {IMG} sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; \
              ip -4 addr show eth0 | grep inet; ip route; cat /sys/class/net/eth0/address'"
        ),
        E::Exact,
    );
    c.same(
        "--add-host, --dns, --dns-search, --dns-option, -h",
        &cl!(
            "run --rm --add-host db:10.1.2.3 --add-host db6:fd00::1 --dns 10.0.0.9 \
              --dns-search example.com --dns-option ndots:2 -h web {IMG} \
              sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname'"
        ),
        E::Exact,
    );
    let n = c.name("bridged");
    c.setup(&cl!("run -d --name {n} {IMG} sleep 60", n));
    let fmt = "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} \
               {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.MacAddress}} \
               {{.HostConfig.NetworkMode}} \
               {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}";
    c.same_want(
        "inspect while running",
        &cl!("inspect -f {fmt} {n}", fmt, n),
        E::Exact,
        0,
        "172.17.0.2 172.17.0.1 16 02:42:ac:11:00:02 default bridge=172.17.0.2\n",
    );
    c.same(
        "ps NETWORKS",
        &cl!("ps --filter name={n} --format '{{.Networks}}'", n),
        E::Exact,
    );
    // NET I/O counts eth0's traffic (3 pings of the gateway: at least
    // 3 x 98 bytes each way), not lo's (a ping of 127.0.0.1 adds nothing).
    c.setup(&cl!(
        "exec {n} sh -c 'ping -c 3 -i 0.2 -q 172.17.0.1; ping -c 50 -i 0.01 -s 1000 -q 127.0.0.1'",
        n
    ));
    let a = cl!("stats --no-stream --format '{{.NetIO}}' {n}", n);
    let o = map_out(c.both(&a), |_, out| {
        let size = |v: &str| -> Option<f64> {
            let i = v.find(|ch: char| ch.is_ascii_alphabetic())?;
            let (num, unit) = v.split_at(i);
            let m = match unit {
                "B" => 1.0,
                "kB" => 1e3,
                "MB" => 1e6,
                _ => return None,
            };
            Some(num.parse::<f64>().ok()? * m)
        };
        match out
            .trim()
            .split_once(" / ")
            .map(|(r, t)| (size(r), size(t)))
        {
            Some((Some(r), Some(t))) => format!(
                "rx {} tx {}\n",
                if (294.0..20_000.0).contains(&r) {
                    "eth0"
                } else {
                    "?"
                },
                if (294.0..20_000.0).contains(&t) {
                    "eth0"
                } else {
                    "?"
                }
            ),
            _ => out.to_string(),
        }
    });
    c.check("stats NET I/O", &a, &o, E::Exact);
    c.want("stats NET I/O", &o, 0, "rx eth0 tx eth0\n");
    c.setup(&cl!("stop -t 1 {n}", n));
    c.same_want(
        "inspect when stopped",
        &cl!("inspect -f {fmt} {n}", fmt, n),
        E::Exact,
        0,
        "  0  default bridge=\n",
    );
}

pub(crate) fn port_command(c: &Ctx) {
    let n = c.name("ports");
    c.setup(&cl!(
        "run -d --name {n} -p 8080:80 -p 127.0.0.1:9090:90/udp -p 7000-7001:7000-7001 \
         --expose 5000 {IMG} sleep 60",
        n
    ));
    // Docker lists the ports in Go's map order.
    c.same_map("port", &cl!("port {n}", n), E::Exact, |s, o| {
        sorted_lines(&without_v6(s, o))
    });
    for (step, which) in [
        ("port 80", "80"),
        ("port 90/udp", "90/udp"),
        ("port 7001/tcp", "7001/tcp"),
        ("port not published", "81"),
        ("port exposed only", "5000"),
        ("port other protocol", "80/sctp"),
        ("port not a number", "abc"),
        ("port out of range", "99999"),
    ] {
        c.same_map(
            step,
            &cl!("port {n} {which}", n, which),
            E::Exact,
            without_v6,
        );
    }
    c.same_map(
        "ps PORTS",
        &cl!("ps --filter name={n} --format '{{.Ports}}'", n),
        E::Exact,
        without_v6,
    );
    for (step, fmt) in [
        ("NetworkSettings.Ports", "{{json .NetworkSettings.Ports}}"),
        (
            "HostConfig.PortBindings",
            "{{json .HostConfig.PortBindings}}",
        ),
        ("Config.ExposedPorts", "{{json .Config.ExposedPorts}}"),
    ] {
        c.same_map(
            step,
            &cl!("inspect -f {fmt} {n}", fmt, n),
            E::Exact,
            without_v6,
        );
    }
    c.setup(&cl!("stop -t 1 {n}", n));
    c.same_want("port when stopped", &cl!("port {n}", n), E::Exact, 0, "");
    c.same_want(
        "Ports when stopped",
        &cl!("inspect -f '{{json .NetworkSettings.Ports}}' {n}", n),
        E::Exact,
        0,
        "{}\n",
    );
    // Ports the engine picks: -p PORT, -p IP::PORT, -P.
    let r = c.name("picked");
    c.setup(&cl!(
        "run -d --name {r} -p 80 -p 127.0.0.1::53/udp -P --expose 5000-5001 {IMG} sleep 60",
        r
    ));
    c.same_map(
        "picked host ports",
        &cl!("port {r}", r),
        E::Exact,
        |s, o| sorted_lines(&picked_ports(&without_v6(s, o))),
    );
}

pub(crate) fn network_create_inspect(c: &Ctx) {
    let n = c.net("net1");
    let n2 = c.net("net2");
    c.same(
        "network create --subnet",
        &cl!("network create --subnet 10.123.0.0/24 {n}", n),
        E::Exact,
    );
    c.same(
        "network create, name taken",
        &cl!("network create {n}", n),
        E::Exact,
    );
    c.setup(&cl!(
        "network create --subnet 10.124.0.0/24 --gateway 10.124.0.254 --label a=b --internal {n2}",
        n2
    ));
    c.same("network inspect", &cl!("network inspect {n}", n), E::Exact);
    c.same(
        "network inspect -f",
        &cl!(
            "network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.EnableIPv6}} \
             {{json .IPAM}} {{json .Labels}} {{json .Options}} {{json .Containers}}' {n} {n2}",
            n,
            n2
        ),
        E::Exact,
    );
    c.same(
        "network ls",
        &cl!(
            "network ls --filter name=px-net --format '{{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}} {{.Internal}} {{.Labels}}'"
        ),
        E::Exact,
    );
    c.same(
        "network ls table",
        &cl!("network ls --filter name=px-net"),
        E::Exact,
    );
    c.same(
        "the default bridge",
        &cl!(
            "network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{json .IPAM.Config}} \
             {{index .Options \"com.docker.network.bridge.default_bridge\"}}' bridge"
        ),
        E::Exact,
    );
    for (step, line) in [
        ("inspect a missing network", "network inspect px-nosuch"),
        (
            "a subnet that does not parse",
            "network create --subnet bogus px-bad",
        ),
        (
            "an overlapping subnet",
            "network create --subnet 10.123.0.128/25 px-bad",
        ),
        (
            "a gateway outside the subnet",
            "network create --subnet 10.125.0.0/24 --gateway 10.9.9.1 px-bad",
        ),
        ("rm a missing network", "network rm px-nosuch"),
        ("rm a predefined network", "network rm bridge"),
    ] {
        c.same(step, &cl!(line), E::Exact);
    }
    c.same_want(
        "network rm",
        &cl!("network rm {n2}", n2),
        E::Exact,
        0,
        &format!("{n2}\n"),
    );
}

pub(crate) fn static_addresses(c: &Ctx) {
    let n = c.net("ip");
    let plain = c.net("ip-nosubnet");
    c.setup(&cl!("network create --subnet 10.128.0.0/24 {n}", n));
    c.setup(&cl!("network create {plain}", plain));
    c.same_want(
        "--ip on a user network",
        &cl!("run --rm --network {n} --ip 10.128.0.50 {IMG} sh -c 'ip -4 addr show eth0 | grep -o \"inet [0-9./]*\"'", n),
        E::Exact,
        0,
        "inet 10.128.0.50/24\n",
    );
    let a = c.name("ip-a");
    c.setup(&cl!(
        "run -d --name {a} --network {n} --ip 10.128.0.50 {IMG} sleep 60",
        a,
        n
    ));
    let fmt = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}} {{json $v.IPAMConfig}}{{end}}";
    c.same("inspect", &cl!("inspect -f {fmt} {a}", fmt, a), E::Exact);
    c.same(
        "network inspect",
        &cl!(
            "network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' {n}",
            n
        ),
        E::Exact,
    );
    c.same_want(
        "a dynamic address next to it",
        &cl!(
            "run --rm --network {n} {IMG} sh -c 'ip -4 addr show eth0 | grep -o \"inet [0-9./]*\"'",
            n
        ),
        E::Exact,
        0,
        "inet 10.128.0.2/24\n",
    );
    let b = c.name("ip-b");
    c.same(
        "the same address again",
        &cl!(
            "run -d --name {b} --network {n} --ip 10.128.0.50 {IMG} sleep 60",
            b,
            n
        ),
        E::Exact,
    );
    c.same(
        "the second is left created",
        &cl!("ps -a --filter name={b} --format '{{.Status}}'", b),
        E::Exact,
    );
    c.setup(&cl!("restart -t 1 {a}", a));
    c.same(
        "restarted, the same address",
        &cl!("inspect -f {fmt} {a}", fmt, a),
        E::Exact,
    );
    // Refused at create (no container) or at start (left created, or gone
    // with --rm): each has a name of its own to tell.
    for (i, (step, flags)) in [
        ("outside the subnet", "--network {n} --ip 10.129.0.5"),
        ("the gateway", "--network {n} --ip 10.128.0.1"),
        (
            "on a network without --subnet",
            "--network {plain} --ip 10.128.0.5",
        ),
        ("not an address", "--network {n} --ip 10.128.0"),
        ("an IPv6 address", "--network {n} --ip fd00::5"),
    ]
    .into_iter()
    .enumerate()
    {
        let e = c.name(&format!("ip-e{i}"));
        let run = format!("run --rm --name {e} {flags} {{IMG}} true");
        c.same(step, &cl!(&run, n, plain), E::Exact);
        c.same(
            step,
            &cl!("ps -a --filter name={e} --format '{{.Status}}'", e),
            E::Exact,
        );
        let f = c.name(&format!("ip-f{i}"));
        let create = format!("create --name {f} {flags} {{IMG}} true");
        c.same(step, &cl!(&create, n, plain), E::Exact);
        c.same(step, &cl!("start {f}", f), E::Exact);
    }
    c.same(
        "on the default bridge",
        &cl!("run --rm --ip 172.17.0.99 {IMG} sh -c 'ip -4 addr show eth0 | grep -o \"inet [0-9./]*\"'"),
        E::Exact,
    );
    let d = c.name("ip-d");
    c.setup(&cl!(
        "run -d --name {d} --network {plain} {IMG} sleep 60",
        d,
        plain
    ));
    c.same(
        "connect --ip",
        &cl!("network connect --ip 10.128.0.77 {n} {d}", n, d),
        E::Exact,
    );
    c.same(
        "connected at that address",
        &cl!("inspect -f {fmt} {d}", fmt, d),
        E::Exact,
    );
    c.same_want(
        "it answers there",
        &cl!(
            "exec {a} sh -c 'ping -c1 -W2 10.128.0.77 | grep -o \"1 packets received\"'",
            a
        ),
        E::Exact,
        0,
        "1 packets received\n",
    );
    for x in [&a, &b, &d] {
        c.setup(&cl!("rm -f {x}", x));
    }
}

pub(crate) fn user_network_names(c: &Ctx) {
    let n = c.net("dns");
    let m = c.net("dns2");
    c.setup(&cl!("network create --subnet 10.126.0.0/24 {n}", n));
    c.setup(&cl!("network create --subnet 10.127.0.0/24 {m}", m));
    let a = c.name("dns-a");
    c.setup(&cl!(
        "run -d --name {a} --network {n} --network-alias web --network-alias www {IMG} sleep 60",
        a,
        n
    ));
    c.same(
        "/etc/hosts and resolv.conf on a user network",
        &cl!("run --rm --network {n} -h bhost {IMG} sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf'", n),
        E::Exact,
    );
    c.same(
        "names and aliases resolve",
        &cl!(
            "run --rm --network {n} {IMG} sh -c 'nslookup -type=a {a}; nslookup -type=a web; ping -c1 -W2 www | head -1'",
            n,
            a
        ),
        E::Exact,
    );
    c.same(
        "the endpoint in inspect",
        &cl!(
            "inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}} {{$v.Gateway}} \
             {{$v.IPPrefixLen}} {{$v.MacAddress}} {{json $v.Aliases}}{{end}} {{.HostConfig.NetworkMode}} \
             [{{.NetworkSettings.IPAddress}}]' {a}",
            a
        ),
        E::Exact,
    );
    c.same(
        "the network's containers",
        &cl!("network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}}{{end}}' {n}", n),
        E::Exact,
    );
    c.same(
        "rm of a network in use",
        &cl!("network rm {n}", n),
        E::Exact,
    );
    c.same_want(
        "no traffic between two networks",
        &cl!(
            "run --rm --network {m} {IMG} sh -c 'ping -c1 -W1 10.126.0.2 >/dev/null; echo $?'",
            m
        ),
        E::Exact,
        0,
        "1\n",
    );
    let nets = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}";
    c.same_want(
        "connect",
        &cl!("network connect {m} {a}", m, a),
        E::Exact,
        0,
        "",
    );
    c.same_want(
        "on both networks",
        &cl!("inspect -f {nets} {a}", nets, a),
        E::Exact,
        0,
        &format!("{n}=10.126.0.2 {m}=10.127.0.2 \n"),
    );
    c.same(
        "connect twice",
        &cl!("network connect {m} {a}", m, a),
        E::Exact,
    );
    c.same_want(
        "disconnect",
        &cl!("network disconnect {m} {a}", m, a),
        E::Exact,
        0,
        "",
    );
    c.same(
        "disconnect twice",
        &cl!("network disconnect {m} {a}", m, a),
        E::Exact,
    );
    c.same_want(
        "back on one network",
        &cl!("inspect -f {nets} {a}", nets, a),
        E::Exact,
        0,
        &format!("{n}=10.126.0.2 \n"),
    );
    // A container of the default bridge connected to a user network.
    let p = c.name("dns-plain");
    c.setup(&cl!("run -d --name {p} {IMG} sleep 60", p));
    c.setup(&cl!("network connect {n} {p}", n, p));
    c.same(
        "resolv.conf after connect, and a name",
        &cl!(
            "exec {p} sh -c 'cat /etc/resolv.conf; nslookup -type=a web'",
            p
        ),
        E::Exact,
    );
}

pub(crate) fn info_command(c: &Ctx) {
    // What both engines read from the host.
    c.same(
        "info: the host",
        &cl!(
            "info --format '{{.NCPU}}|{{.MemTotal}}|{{.KernelVersion}}|{{.OperatingSystem}}|{{.OSVersion}}|\
             {{.OSType}}|{{.Architecture}}|{{.Name}}|{{.CgroupVersion}}|{{.CgroupDriver}}|{{.LoggingDriver}}|\
             {{.InitBinary}}|{{index .SecurityOptions 0}}|{{.Plugins.Volume}}|{{.Labels}}|{{.Debug}}'"
        ),
        E::Exact,
    );
    // The container counts, each engine's own, with one running, one
    // paused and one stopped container more.
    let counts = "info -f '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}'";
    let before = c.both(&cl!(counts));
    let (r, p, x) = (c.name("info-r"), c.name("info-p"), c.name("info-x"));
    c.setup(&cl!("{DRUN} --name {r} {IMG} sleep 60", r));
    c.setup(&cl!("{DRUN} --name {p} {IMG} sleep 60", p));
    c.setup(&cl!("pause {p}", p));
    c.setup(&cl!("{CREATE} --name {x} {IMG} true", x));
    let after = c.both(&cl!(counts));
    let grew = |o: &[Out; 2]| {
        let n = |s: &str| -> Vec<i64> {
            s.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        let k = |i: usize| {
            let (b, a) = (n(&before[i].out), n(&o[i].out));
            if a.len() == 4 && b.len() == 4 {
                format!(
                    "{} {} {} {}\n",
                    a[0] - b[0],
                    a[1] - b[1],
                    a[2] - b[2],
                    a[3] - b[3]
                )
            } else {
                format!("{:?} -> {:?}", before[i].out, o[i].out)
            }
        };
        [k(0), k(1)]
    };
    let [d, s] = grew(&after);
    let o = map_out(after, |side, _| {
        if side == Side::Docker {
            d.clone()
        } else {
            s.clone()
        }
    });
    c.check("info: counts", &cl!(counts), &o, E::Exact);
    c.want("info: counts", &o, 0, "3 1 1 1\n");
    c.setup(&cl!("unpause {p}", p));
    for n in [&r, &p, &x] {
        c.setup(&cl!("rm -f {n}", n));
    }
    // The text form: its lines that hold the same on both.
    let a = cl!("info");
    let o = map_out(c.both(&a), |_, out| {
        out.lines()
            .filter(|l| {
                [
                    " Kernel Version:",
                    " Operating System:",
                    " OSType:",
                    " Architecture:",
                    " CPUs:",
                    " Total Memory:",
                    " Name:",
                    " Cgroup Version:",
                    " Logging Driver:",
                    "  seccomp",
                    "   Profile:",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    });
    c.check("info", &a, &o, E::Any);
}

pub(crate) fn cli_flag_errors(c: &Ctx) {
    // Flags the parser refuses: Docker's client words (pflag's), exit 125.
    for line in [
        "run --cpus abc {IMG} true",
        "run --cpus 0.0000000001 {IMG} true",
        "run -m abc {IMG} true",
        "run --memory=12q {IMG} true",
        "run --memory-swap x {IMG} true",
        "run --pids-limit x {IMG} true",
        "run --stop-timeout 1.5 {IMG} true",
        "create -c x {IMG} true",
        "run --health-retries x {IMG} true",
        "run --ulimit x {IMG} true",
        "run --ulimit nofile=2:1 {IMG} true",
        "run --bogus {IMG} true",
        "run --bogus=1 {IMG} true",
        "create -z {IMG} true",
        "run -m",
        "ps --bogus",
        "ps -n x",
        "ps --format",
        "stop -t x px-none",
        "restart --time=x px-none",
        "network create --bogus px-net",
        "volume ls -z",
    ] {
        c.same(line, &cl!(line), E::Exact);
    }
    // A wrong number of arguments: exit 1, Docker's first line (the usage
    // that follows is each tool's own).
    for (line, says) in [
        ("run", "\" requires at least 1 argument."),
        ("rm", "\" requires at least 1 argument."),
        ("rename x", "\" requires exactly 2 arguments."),
        ("logs", "\" requires exactly 1 argument."),
        ("port", "\" requires at least 1 and at most 2 arguments."),
        ("ps x", "\" accepts no arguments."),
    ] {
        c.same(line, &cl!(line), E::Has(&[says]));
    }
    c.same(
        "an unknown command",
        &cl!("bogus"),
        E::Has(&["'bogus' is not a "]),
    );
    // A value after the image belongs to the command, dashes and all.
    c.same_want(
        "flags after the image",
        &cl!("{RUN} {IMG} echo -z --bogus"),
        E::Exact,
        0,
        "-z --bogus\n",
    );
}

pub(crate) fn network_flag_validation(c: &Ctx) {
    for (step, line) in [
        (
            "alias on the default bridge",
            "run --rm --network bridge --network-alias x {IMG} true",
        ),
        (
            "alias on none",
            "run --rm --network none --network-alias x {IMG} true",
        ),
        ("-p not a port", "run --rm -p abc {IMG} true"),
        (
            "-p unknown protocol",
            "run --rm -p 8080:80/sctpx {IMG} true",
        ),
        (
            "-p host port out of range",
            "run --rm -p 70000:80 {IMG} true",
        ),
        ("-p bad address", "run --rm -p 1.2.3:80:80 {IMG} true"),
        (
            "--add-host without an address",
            "run --rm --add-host bad {IMG} true",
        ),
        (
            "--add-host bad address",
            "run --rm --add-host h:notip {IMG} true",
        ),
        ("--dns not an address", "run --rm --dns bogus {IMG} true"),
    ] {
        c.same(step, &cl!(line), E::Exact);
    }
    c.same_want("nothing left", &cl!("ps -aq"), E::Any, 0, "");
    // Without --network an alias has no network to live on: dropped.
    c.same_want(
        "alias without --network",
        &cl!("run --rm --network-alias x {IMG} echo ok"),
        E::Exact,
        0,
        "ok\n",
    );
}

pub(crate) fn flags_given_twice(c: &Ctx) {
    // Docker's flags take the last value given; a switch may repeat.
    c.same_want(
        "-h twice, --rm twice",
        &cl!("{RUN} --rm -h one -h two {IMG} hostname"),
        E::Exact,
        0,
        "two\n",
    );
}

pub(crate) fn network_prune(c: &Ctx) {
    let used = c.net("prune-used");
    let unused = c.net("prune-unused");
    c.setup(&cl!("network create {used}", used));
    c.setup(&cl!("network create {unused}", unused));
    let a = c.name("prune-a");
    c.setup(&cl!(
        "run -d --name {a} --network {used} {IMG} sleep 60",
        a,
        used
    ));
    c.same("network prune", &cl!("network prune -f"), E::Exact);
    c.same(
        "what is left",
        &cl!("network ls --filter name=px-prune --format '{{.Name}}'"),
        E::Exact,
    );
}
