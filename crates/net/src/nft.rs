//! skiff's nftables rules: one table, `ip skiff`, rendered whole from the
//! engine's state and replaced in one `nft -f` transaction (so it is never
//! seen half-changed, and re-applying it is idempotent). Published ports
//! are DNAT'd for packets to any local address (from other hosts through
//! prerouting, from the host itself through output); each network's
//! outbound traffic is masqueraded; user networks cannot reach each other.
//!
//! Running `nft` costs milliseconds, so the engine calls [`apply`] only
//! when the rules must change or may have been lost: it remembers the
//! ruleset generation ([`crate::netlink::nft_generation`]) after each apply
//! and compares it, over netlink, before starting a container.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The table's name (family `ip`).
pub const TABLE: &str = "skiff";

/// A network's part of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub bridge: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    /// No traffic in or out of the bridge (`network create --internal`).
    pub internal: bool,
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// `tcp` or `udp`.
    pub proto: String,
    /// The host address it is published on; None: all of them.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub ip: Ipv4Addr,
    pub port: u16,
}

/// The whole table, as `nft -f` input that replaces it atomically.
pub fn render(networks: &[Network], ports: &[Port]) -> String {
    let mut s = String::new();
    // Make sure it exists so that deleting it cannot fail, then redefine.
    let _ = writeln!(
        s,
        "table ip {TABLE} {{}}\ndelete table ip {TABLE}\ntable ip {TABLE} {{"
    );
    for (name, hook) in [("prerouting", "prerouting"), ("output", "output")] {
        let _ = writeln!(
            s,
            "  chain {name} {{\n    type nat hook {hook} priority -100; policy accept;\n    \
             fib daddr type local jump published\n  }}"
        );
    }
    s.push_str("  chain published {\n");
    for p in ports {
        let daddr = p
            .host_ip
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| format!("ip daddr {ip} "))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {daddr}{proto} dport {hp} dnat to {ip}:{port}",
            proto = p.proto,
            hp = p.host_port,
            ip = p.ip,
            port = p.port
        );
    }
    s.push_str("  }\n");
    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
    );
    for n in networks {
        let br = &n.bridge;
        let net = format!("{}/{}", n.subnet, n.prefix);
        if !n.internal {
            let _ = writeln!(s, "    ip saddr {net} oifname != \"{br}\" masquerade");
        }
        // Published ports reached from the host's 127.0.0.1, and a
        // container reaching its own network's published ports.
        let _ = writeln!(s, "    oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade");
        let _ = writeln!(
            s,
            "    oifname \"{br}\" ct status dnat ip saddr {net} masquerade"
        );
    }
    s.push_str("  }\n");
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    for n in networks {
        let br = &n.bridge;
        if n.internal {
            let _ = writeln!(s, "    iifname \"{br}\" oifname != \"{br}\" drop");
            let _ = writeln!(s, "    oifname \"{br}\" iifname != \"{br}\" drop");
        }
        for m in networks.iter().filter(|m| m.bridge != n.bridge) {
            let _ = writeln!(s, "    iifname \"{br}\" oifname \"{}\" drop", m.bridge);
        }
    }
    s.push_str("  }\n}\n");
    s
}

/// Run `nft -f -` with `script`.
pub fn apply(script: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("running nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft refused skiff's rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The bridge names skiff uses, as nftables interface patterns.
pub const BRIDGE_PATTERNS: [&str; 2] = ["skiff0", "skbr-*"];

/// dockerd (or another iptables user) sets the `ip filter FORWARD` policy
/// to drop, and with br_netfilter even traffic between two containers on
/// one bridge passes that chain. A drop in any base chain is final, so
/// skiff's own table cannot undo it: skiff's bridges get accept rules in
/// that chain, the way `DOCKER-USER` rules would. Nothing happens when the
/// chain does not exist. The rules use plain interface matches, which
/// iptables-nft can read back.
pub fn ensure_forward_accept() -> Result<(), String> {
    let out = Command::new("nft")
        .args(["list", "chain", "ip", "filter", "FORWARD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("running nft: {e}"))?;
    if !out.status.success() {
        return Ok(()); // no such chain: nothing drops our traffic
    }
    let listed = String::from_utf8_lossy(&out.stdout);
    let mut script = String::new();
    for pat in BRIDGE_PATTERNS {
        for dir in ["iifname", "oifname"] {
            let rule = format!("{dir} \"{pat}\" accept");
            if !listed.contains(&rule) {
                let _ = writeln!(script, "insert rule ip filter FORWARD {rule}");
            }
        }
    }
    if script.is_empty() {
        return Ok(());
    }
    apply(&script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ports_masquerade_and_isolation() {
        let nets = [
            Network {
                bridge: "skiff0".into(),
                subnet: Ipv4Addr::new(172, 17, 0, 0),
                prefix: 16,
                internal: false,
            },
            Network {
                bridge: "skbr-0123456789".into(),
                subnet: Ipv4Addr::new(172, 18, 0, 0),
                prefix: 16,
                internal: true,
            },
        ];
        let ports = [
            Port {
                proto: "tcp".into(),
                host_ip: None,
                host_port: 8080,
                ip: Ipv4Addr::new(172, 17, 0, 2),
                port: 80,
            },
            Port {
                proto: "udp".into(),
                host_ip: Some(Ipv4Addr::new(127, 0, 0, 1)),
                host_port: 5353,
                ip: Ipv4Addr::new(172, 17, 0, 3),
                port: 53,
            },
        ];
        let s = render(&nets, &ports);
        assert!(s.starts_with("table ip skiff {}\ndelete table ip skiff\n"));
        assert!(s.contains("    tcp dport 8080 dnat to 172.17.0.2:80\n"));
        assert!(s.contains("    ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.3:53\n"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"skiff0\" masquerade"));
        assert!(!s.contains("ip saddr 172.18.0.0/16 oifname != \"skbr-0123456789\" masquerade"));
        assert!(s.contains("iifname \"skiff0\" oifname \"skbr-0123456789\" drop"));
        assert!(s.contains("iifname \"skbr-0123456789\" oifname \"skiff0\" drop"));
    }
}
