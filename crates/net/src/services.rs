//! Kubernetes Services in the kernel: a table of its own, `ip
//! skiff-services`, rendered whole and replaced in one `nft -f`
//! transaction on every change (the way kube-proxy's nftables mode keeps
//! one table). A service's cluster IP and port (from the host through
//! `output`, from pods and other hosts through `prerouting`), its node
//! ports and its load-balancer ports (on every local address) jump to the
//! service's chain, which picks one endpoint at random (`numgen`) or by
//! the client's address (`jhash`, for ClientIP affinity) and DNATs to it.
//! Service traffic from pods, other hosts and the host's loopback is
//! marked and masqueraded (with random ports, so a new connection never
//! meets an old one's TIME_WAIT at the pod), so the reply comes back the way
//! it went even when client and endpoint share a bridge; the host's own
//! addresses need none. A service
//! without endpoints is refused at once (ICMP), as kube-proxy refuses it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The table's name (family `ip`).
pub const TABLE: &str = "skiff-services";
/// The mark service traffic carries to postrouting.
const MARK: u32 = 0x4b00;

/// One port of one Service, with where it is reached and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// `tcp` or `udp` (or `sctp`).
    pub proto: String,
    /// The cluster IP, when it has one (not headless).
    pub cluster_ip: Option<Ipv4Addr>,
    pub port: u16,
    /// The node port, on every local address.
    pub node_port: Option<u16>,
    /// A LoadBalancer's port, served on every local address.
    pub lb_port: Option<u16>,
    /// Where it goes: (pod IP, target port).
    pub endpoints: Vec<(Ipv4Addr, u16)>,
    /// Pick by the client's address (sessionAffinity ClientIP).
    pub client_affinity: bool,
}

/// The whole table, as `nft -f` input that replaces it.
pub fn render(ports: &[ServicePort]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "table ip {TABLE} {{}}\ndelete table ip {TABLE}\ntable ip {TABLE} {{"
    );
    for (name, hook) in [("prerouting", "prerouting"), ("output", "output")] {
        let _ = writeln!(
            s,
            "  chain {name} {{\n    type nat hook {hook} priority -99; policy accept;\n    jump services\n  }}"
        );
    }
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority 99; policy accept;\n    \
         meta mark & {MARK:#x} == {MARK:#x} masquerade fully-random\n  }}"
    );
    let mut services = String::from("  chain services {\n");
    let mut empty = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let chain = format!("svc-{i}");
        let proto = &p.proto;
        if p.endpoints.is_empty() {
            if let Some(ip) = p.cluster_ip {
                empty.push(format!("{ip} . {proto} . {}", p.port));
            }
            continue;
        }
        if let Some(ip) = p.cluster_ip {
            let _ = writeln!(
                services,
                "    ip daddr {ip} {proto} dport {} jump {chain}",
                p.port
            );
        }
        for local in [p.node_port, p.lb_port].into_iter().flatten() {
            let _ = writeln!(
                services,
                "    fib daddr type local {proto} dport {local} jump {chain}"
            );
        }
        let _ = writeln!(
            s,
            "  chain {chain} {{\n    fib saddr type != local meta mark set meta mark | {MARK:#x}\n    \
             ip saddr 127.0.0.0/8 meta mark set meta mark | {MARK:#x}"
        );
        let n = p.endpoints.len();
        if n == 1 {
            let (ip, port) = p.endpoints[0];
            let _ = writeln!(s, "    meta l4proto {proto} dnat to {ip}:{port}");
        } else {
            let pick = if p.client_affinity {
                format!("jhash ip saddr mod {n} seed 0x5eed")
            } else {
                format!("numgen random mod {n}")
            };
            let arms: Vec<String> = (0..n).map(|j| format!("{j} : jump {chain}-{j}")).collect();
            let _ = writeln!(s, "    {pick} vmap {{ {} }}", arms.join(", "));
        }
        s.push_str("  }\n");
        if n > 1 {
            for (j, (ip, port)) in p.endpoints.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "  chain {chain}-{j} {{\n    meta l4proto {proto} dnat to {ip}:{port}\n  }}"
                );
            }
        }
    }
    services.push_str("  }\n");
    s.push_str(&services);
    // Services without endpoints: refused, not left to time out.
    let _ = writeln!(
        s,
        "  set no-endpoints {{\n    type ipv4_addr . inet_proto . inet_service"
    );
    if !empty.is_empty() {
        let _ = writeln!(s, "    elements = {{ {} }}", empty.join(", "));
    }
    s.push_str("  }\n");
    for (name, hook) in [("refuse-forward", "forward"), ("refuse-output", "output")] {
        let _ = writeln!(
            s,
            "  chain {name} {{\n    type filter hook {hook} priority -1; policy accept;\n    \
             ip daddr . meta l4proto . th dport @no-endpoints reject with icmp type port-unreachable\n  }}"
        );
    }
    s.push_str("}\n");
    s
}

/// Remove the table (no service left).
pub fn render_empty() -> String {
    format!("table ip {TABLE} {{}}\ndelete table ip {TABLE}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_services_node_ports_and_empty_ones() {
        let ports = vec![
            ServicePort {
                proto: "tcp".into(),
                cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 1)),
                port: 80,
                node_port: Some(30080),
                lb_port: None,
                endpoints: vec![
                    (Ipv4Addr::new(172, 18, 0, 2), 8080),
                    (Ipv4Addr::new(172, 18, 0, 3), 8080),
                ],
                client_affinity: false,
            },
            ServicePort {
                proto: "tcp".into(),
                cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 2)),
                port: 81,
                node_port: None,
                lb_port: None,
                endpoints: vec![],
                client_affinity: false,
            },
        ];
        let s = render(&ports);
        assert!(
            s.contains("ip daddr 10.96.0.1 tcp dport 80 jump svc-0"),
            "{s}"
        );
        assert!(
            s.contains("fib daddr type local tcp dport 30080 jump svc-0"),
            "{s}"
        );
        assert!(
            s.contains("numgen random mod 2 vmap { 0 : jump svc-0-0, 1 : jump svc-0-1 }"),
            "{s}"
        );
        assert!(
            s.contains("meta l4proto tcp dnat to 172.18.0.3:8080"),
            "{s}"
        );
        // What nft itself makes of it (in a namespace of the test's own).
        let ns = format!("skiff-svc-test-{}", std::process::id());
        let run = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        assert!(run(&["netns", "add", &ns]), "ip netns add {ns}");
        {
            let mut child = std::process::Command::new("ip")
                .args(["netns", "exec", &ns, "nft", "-c", "-f", "-"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            run(&["netns", "del", &ns]);
            assert!(
                out.status.success(),
                "nft refused: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(s.contains("elements = { 10.96.0.2 . tcp . 81 }"), "{s}");
    }
}
