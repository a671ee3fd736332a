//! Ports: `-p` as Docker parses it, `80/tcp` keys, and a container's ports
//! as `ps` lists them.

use super::{is_running, PortEntry};
use crate::model::Container;
use crate::Engine;

/// `80/tcp` → (80, "tcp").
pub fn parse_port_key(key: &str) -> Option<(u16, String)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return None;
    }
    Some((p.parse().ok().filter(|p| *p > 0)?, proto))
}

/// `-p [ip:][hostPort:]containerPort[/proto]`, with port ranges of equal
/// length: ("80/tcp", binding) pairs.
pub fn parse_publish(
    spec: &str,
) -> std::result::Result<Vec<(String, crate::model::PortBinding)>, String> {
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [c] => ("", "", *c),
        [c, h] => ("", *h, *c),
        [c, h, ip] => (*ip, *h, *c),
        _ => return Err(format!("invalid port specification: {spec:?}")),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if !ip.is_empty() && ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(format!("Invalid ip address: {ip}"));
    }
    let range = |s: &str, what: &str| -> std::result::Result<(u16, u16), String> {
        let bad = || format!("Invalid {what}: {s}");
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        if a == 0 && what == "containerPort" || b < a {
            return Err(bad());
        }
        Ok((a, b))
    };
    let (c0, c1) = range(ctr, "containerPort")?;
    let hosts = if host.is_empty() {
        None
    } else {
        Some(range(host, "hostPort")?)
    };
    if let Some((h0, h1)) = hosts {
        if h1 - h0 != c1 - c0 && h0 != h1 {
            return Err(format!(
                "Invalid ranges specified for container and host Ports: {ctr} and {host}"
            ));
        }
    }
    let mut out = Vec::new();
    for (i, port) in (c0..=c1).enumerate() {
        let host_port = match hosts {
            None => String::new(),
            Some((h0, h1)) if h0 == h1 => h0.to_string(),
            Some((h0, _)) => (h0 + i as u16).to_string(),
        };
        out.push((
            format!("{port}/{proto}"),
            crate::model::PortBinding {
                host_ip: ip.to_string(),
                host_port,
            },
        ));
    }
    Ok(out)
}

impl Engine {
    /// The container's ports while it runs: each exposed port, at the host
    /// address and port it is published on if it is.
    pub fn port_entries(&self, c: &Container) -> Vec<PortEntry> {
        if !is_running(c) {
            return Vec::new();
        }
        let published = self.published(&c.id).unwrap_or_default();
        let mut entries: Vec<PortEntry> = c
            .config
            .exposed_ports
            .iter()
            .filter_map(|k| parse_port_key(k))
            .filter(|(port, proto)| {
                !published
                    .iter()
                    .any(|p| p.port == *port && p.proto == *proto)
            })
            .map(|(port, proto)| PortEntry {
                port,
                proto,
                host: None,
            })
            .collect();
        entries.extend(published.into_iter().map(|p| PortEntry {
            port: p.port,
            proto: p.proto,
            host: Some((p.host_ip, p.host_port)),
        }));
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::parse_publish;

    #[test]
    fn publish_forms() {
        let one = |s: &str| {
            let v = parse_publish(s).unwrap();
            assert_eq!(v.len(), 1);
            let (k, b) = &v[0];
            (k.clone(), b.host_ip.clone(), b.host_port.clone())
        };
        assert_eq!(one("80"), ("80/tcp".into(), "".into(), "".into()));
        assert_eq!(one("8080:80"), ("80/tcp".into(), "".into(), "8080".into()));
        assert_eq!(
            one("127.0.0.1:8080:80/udp"),
            ("80/udp".into(), "127.0.0.1".into(), "8080".into())
        );
        assert_eq!(
            one("127.0.0.1::80"),
            ("80/tcp".into(), "127.0.0.1".into(), "".into())
        );
        let r = parse_publish("8000-8001:80-81").unwrap();
        assert_eq!(r[1].0, "81/tcp");
        assert_eq!(r[1].1.host_port, "8001");
        assert!(parse_publish("abc")
            .unwrap_err()
            .contains("Invalid containerPort: abc"));
        assert!(parse_publish("80/sctpx").is_err());
        assert!(parse_publish("1.2.3:80:80").is_err());
    }
}
