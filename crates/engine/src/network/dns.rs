//! Names for a container: the embedded DNS server at 127.0.0.11 (its socket
//! made in the container's namespace, its answers read from the store),
//! its upstreams, and the container's /etc/resolv.conf.

use crate::Engine;
use rusqlite::params;
use std::net::Ipv4Addr;

impl Engine {
    /// Names on the networks of container `id`, for its DNS responder.
    pub(crate) fn dns_lookup(&self, id: &str) -> StoreLookup<'_> {
        StoreLookup {
            engine: self,
            id: id.to_string(),
        }
    }
}

/// A UDP socket at 127.0.0.11:53 in the namespace `netns` (the thread
/// enters it just to make the socket), answered by a responder that
/// forwards other names to the host's resolvers.
pub(super) fn dns_responder(
    netns: std::os::fd::BorrowedFd<'_>,
    upstreams: Vec<std::net::SocketAddr>,
) -> std::result::Result<skiff_net::dns::Responder, String> {
    use nix::sched::{setns, CloneFlags};
    let own = std::fs::File::open("/proc/thread-self/ns/net").map_err(|e| e.to_string())?;
    setns(netns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("entering the container's network namespace: {e}"))?;
    let sock = std::net::UdpSocket::bind("127.0.0.11:53");
    use std::os::fd::AsFd;
    setns(own.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("leaving the container's network namespace: {e}"))?;
    let sock = sock.map_err(|e| format!("binding 127.0.0.11:53: {e}"))?;
    skiff_net::dns::Responder::new(sock, upstreams).map_err(|e| e.to_string())
}

/// Names of the containers sharing a network with one container: their
/// names, short IDs and aliases, read from the store per query.
pub(crate) struct StoreLookup<'a> {
    engine: &'a Engine,
    id: String,
}

impl StoreLookup<'_> {
    /// (name, id, aliases, ip) of every running endpoint on our networks.
    fn peers(&self) -> Vec<(String, String, Vec<String>, Ipv4Addr)> {
        let Ok(conn) = self.engine.store.conn() else {
            return Vec::new();
        };
        let Ok(mut st) = conn.prepare(
            "SELECT c.name, c.id, e.aliases, e.ip FROM endpoints e JOIN containers c ON c.id = e.container
             JOIN networks n ON n.id = e.network
             WHERE e.ip IS NOT NULL AND n.name != 'bridge'
             AND e.network IN (SELECT network FROM endpoints WHERE container = ?1)",
        ) else {
            return Vec::new();
        };
        st.query_map(params![self.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map(|rows| {
            rows.filter_map(|r| r.ok())
                .filter_map(|(n, id, a, ip)| {
                    Some((
                        n,
                        id,
                        serde_json::from_str(&a).unwrap_or_default(),
                        ip.parse().ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
    }
}

/// Names a layer above the engine publishes (the Kubernetes Services'):
/// documents of this kind in the store's objects, named by the name, with
/// the addresses in `a`.
pub const DNS_RECORD_KIND: &str = "DNSRecord.skiff";
/// Zones such names live in (documents named by the zone): a name there
/// that is not published is answered NXDOMAIN.
pub const DNS_ZONE_KIND: &str = "DNSZone.skiff";

impl StoreLookup<'_> {
    fn published(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let key = crate::store::ObjectKey {
            kind: DNS_RECORD_KIND.into(),
            namespace: String::new(),
            name: name.to_string(),
        };
        let rec = self.engine.store.object_get(&key).ok()??;
        Some(
            rec.body
                .get("a")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
                .filter_map(|ip| ip.as_str()?.parse().ok())
                .collect(),
        )
    }
}

impl skiff_net::dns::Lookup for StoreLookup<'_> {
    fn in_zone(&self, name: &str) -> bool {
        let zones = self
            .engine
            .store
            .objects_list(DNS_ZONE_KIND, None)
            .unwrap_or_default();
        zones
            .iter()
            .any(|z| name == z.key.name || name.ends_with(&format!(".{}", z.key.name)))
    }

    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        if let Some(ips) = self.published(name) {
            return Some(ips);
        }
        let ips: Vec<Ipv4Addr> = self
            .peers()
            .into_iter()
            .filter(|(n, id, aliases, _)| {
                n.eq_ignore_ascii_case(name)
                    || (name.len() == 12 && id.starts_with(name))
                    || aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
            .map(|p| p.3)
            .collect();
        (!ips.is_empty()).then_some(ips)
    }

    fn lookup_ptr(&self, ip: Ipv4Addr) -> Option<String> {
        self.peers().into_iter().find(|p| p.3 == ip).map(|p| p.0)
    }
}

/// A container's /etc/resolv.conf, as Docker writes it: the host's file
/// without its localhost name servers (Google's if none are left), or, with
/// any `--dns*` flag, the lines those make; on user networks the embedded
/// server, 127.0.0.11 with `ndots:0`, whose upstreams are the rest.
pub fn resolv_conf(host: &str, hc: &crate::model::HostConfig, embedded: bool) -> String {
    let mut servers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => servers.extend(w.next().map(str::to_string)),
            Some("search") | Some("domain") => search = w.map(str::to_string).collect(),
            Some("options") => options.extend(w.map(str::to_string)),
            _ => {}
        }
    }
    let is_local = |s: &String| s.starts_with("127.") || s == "::1";
    let custom = !hc.dns.is_empty() || !hc.dns_search.is_empty() || !hc.dns_options.is_empty();
    if !hc.dns.is_empty() {
        servers = hc.dns.clone();
    }
    if !hc.dns_search.is_empty() {
        search = hc
            .dns_search
            .iter()
            .filter(|s| *s != ".")
            .cloned()
            .collect();
    }
    if !hc.dns_options.is_empty() {
        options = hc.dns_options.clone();
    }
    if !embedded && !custom {
        let kept: String = host
            .lines()
            .filter(|l| {
                let mut w = l.split_whitespace();
                !(w.next() == Some("nameserver")
                    && w.next().is_some_and(|s| is_local(&s.to_string())))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        if servers.iter().any(|s| !is_local(s)) {
            return kept;
        }
        return format!("{kept}nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if embedded {
        out.push_str("nameserver 127.0.0.11\n");
        // ndots:0 unless asked otherwise (a pod's ndots:5 lets its short
        // names go through the search path).
        let asked = hc
            .dns_options
            .iter()
            .find(|o| o.starts_with("ndots:"))
            .cloned();
        let mut opts = vec![asked.unwrap_or_else(|| "ndots:0".to_string())];
        opts.extend(options.into_iter().filter(|o| !o.starts_with("ndots:")));
        out.push_str(&format!("options {}\n", opts.join(" ")));
    } else {
        servers.retain(|s| !is_local(s));
        if servers.is_empty() {
            servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
        }
        for s in &servers {
            out.push_str(&format!("nameserver {s}\n"));
        }
        if !options.is_empty() {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
    }
    out
}

/// The embedded server's upstreams: `--dns`, else the host's servers
/// (local ones too: the responder runs in the host's namespace).
pub fn dns_upstreams(hc: &crate::model::HostConfig) -> Vec<std::net::SocketAddr> {
    if !hc.dns.is_empty() {
        return hc
            .dns
            .iter()
            .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
            .map(|ip| std::net::SocketAddr::new(ip, 53))
            .collect();
    }
    skiff_net::dns::upstreams_from_resolv_conf(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    )
}
