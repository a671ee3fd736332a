//! Wiring a container into bridges: the bridge itself (made on first use),
//! a veth pair per network with its inner end in the container's network
//! namespace, addresses, the default route and `lo`.

use crate::netlink::{NetlinkError, Route};
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

/// A bridge and the gateway address it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
}

/// One network interface of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The bridge's link index (from [`ensure_bridge`]).
    pub bridge_index: u32,
    /// The host end of the veth pair (`veth` + 7 hex digits, as Docker).
    pub host_ifname: String,
    /// The container's end: `eth0`, `eth1`, ...
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub mac: [u8; 6],
    /// The default route's gateway: set on the first network only.
    pub gateway: Option<Ipv4Addr>,
}

/// Write `value` to /proc/sys/`key` (`net/ipv4/ip_forward`).
pub fn sysctl(key: &str, value: &str) -> Result<(), String> {
    let p = format!("/proc/sys/{key}");
    if std::fs::read_to_string(&p).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&p, value).map_err(|e| format!("setting {p} to {value}: {e}"))
}

/// The bridge, made and brought up if it is not there yet (or lost its
/// address); returns its link index and whether this call made it. Also
/// turns on IPv4 forwarding and lets the bridge carry traffic DNAT'd from
/// 127.0.0.1 (published ports reached from the host itself).
pub fn ensure_bridge(rt: &mut Route, b: &Bridge) -> Result<(u32, bool), String> {
    let mut made = false;
    let index = match rt.link_index(&b.name).map_err(|e| e.to_string())? {
        Some(i) => i,
        None => {
            made = true;
            match rt.create_bridge(&b.name, None) {
                Ok(()) => {}
                // Made at the same moment by another container's start.
                Err(e) if e.is_exists() => {}
                Err(e) => return Err(e.to_string()),
            }
            let i = rt
                .link_index(&b.name)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("bridge {} vanished after it was made", b.name))?;
            // A MAC of its own: else the bridge takes the lowest of its
            // ports' and changes it as veths come and go, and containers
            // that cached the gateway's old address lose their replies.
            let mut mac = [0x02, 0x42, 0, 0, 0, 0];
            // SAFETY: getrandom fills the buffer it is given.
            let _ = unsafe { libc::getrandom(mac[2..].as_mut_ptr().cast(), 4, 0) };
            rt.set_mac(i, mac).map_err(|e| e.to_string())?;
            i
        }
    };
    match rt.add_address(index, b.gateway, b.prefix) {
        Ok(()) => {}
        Err(e) if e.is_exists() => {}
        Err(e) => return Err(e.to_string()),
    }
    rt.set_up(index).map_err(|e| e.to_string())?;
    sysctl("net/ipv4/ip_forward", "1")?;
    sysctl(&format!("net/ipv4/conf/{}/route_localnet", b.name), "1")?;
    Ok((index, made))
}

/// Wire the container whose network namespace is `netns` into its
/// networks: `lo` up, then for each endpoint a veth pair (host end on the
/// bridge), its address and MAC, and the default route. On failure the host
/// ends made so far are deleted (the inner ends go with them).
pub fn attach(host: &mut Route, netns: BorrowedFd<'_>, eps: &[Endpoint]) -> Result<(), String> {
    let mut made: Vec<&str> = Vec::new();
    let r = attach_inner(host, netns, eps, &mut made);
    if r.is_err() {
        for name in made {
            let _ = host.delete_link_by_name(name);
        }
    }
    r.map_err(|e| e.to_string())
}

fn attach_inner<'a>(
    host: &mut Route,
    netns: BorrowedFd<'_>,
    eps: &'a [Endpoint],
    made: &mut Vec<&'a str>,
) -> Result<(), NetlinkError> {
    let mut inner = Route::open_in_netns(netns)?;
    if let Some(lo) = inner.link_index("lo")? {
        inner.set_up(lo)?;
    }
    for ep in eps {
        host.create_veth(&ep.host_ifname, &ep.ifname, netns, None)?;
        made.push(&ep.host_ifname);
        let h = host
            .link_index(&ep.host_ifname)?
            .ok_or_else(|| NetlinkError::gone("finding the veth", &ep.host_ifname))?;
        host.set_master(h, ep.bridge_index)?;
        host.set_up(h)?;
        let i = inner
            .link_index(&ep.ifname)?
            .ok_or_else(|| NetlinkError::gone("finding the container's end", &ep.ifname))?;
        inner.set_mac(i, ep.mac)?;
        inner.add_address(i, ep.ip, ep.prefix)?;
        inner.set_up(i)?;
        if let Some(gw) = ep.gateway {
            inner.add_default_route(gw, i)?;
        }
    }
    Ok(())
}

/// Docker's MAC for an address: 02:42 and the four octets.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `02:42:ac:11:00:02`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fresh host-side veth name: `veth` and 7 random hex digits.
pub fn veth_name() -> String {
    let mut b = [0u8; 4];
    // SAFETY: getrandom fills the buffer it is given.
    let _ = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    format!("veth{:07x}", u32::from_ne_bytes(b) & 0x0fff_ffff)
}

#[cfg(test)]
mod tests {
    #[test]
    fn macs_and_names() {
        let ip = std::net::Ipv4Addr::new(172, 17, 0, 2);
        assert_eq!(super::format_mac(super::mac_for(ip)), "02:42:ac:11:00:02");
        let n = super::veth_name();
        assert_eq!(n.len(), 11);
        assert!(n.starts_with("veth"));
    }
}
