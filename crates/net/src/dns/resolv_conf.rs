//! The upstream resolvers named by a resolv.conf.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

#[cfg(doc)]
use super::MAX_ATTEMPTS;

/// The upstream resolvers of a resolv.conf: its `nameserver` lines, IPv4
/// and IPv6 (with a `%scope` for link-local ones: a number, or an interface
/// name looked up in the caller's network namespace), port 53, in order,
/// without duplicates. Lines starting with `#` or `;` are comments;
/// unparsable addresses are skipped. No cap at glibc's three: the responder
/// tries at most [`MAX_ATTEMPTS`] per query anyway.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let sa = match addr.split_once('%') {
            None => match addr.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 53),
                Err(_) => continue,
            },
            Some((ip, scope)) => {
                let Ok(ip) = ip.parse::<Ipv6Addr>() else {
                    continue;
                };
                let Some(scope_id) = scope_id(scope) else {
                    continue;
                };
                SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, scope_id))
            }
        };
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    out
}

fn scope_id(scope: &str) -> Option<u32> {
    if let Ok(n) = scope.parse::<u32>() {
        return Some(n);
    }
    let c = std::ffi::CString::new(scope).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}
