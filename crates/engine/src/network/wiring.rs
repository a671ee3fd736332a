//! A starting container wired into its networks: before it is made, its
//! addresses and host ports (`prepare_wiring`); once its init process
//! exists, a veth per network, bridges made on first use, the rules synced
//! and the embedded DNS server (`wire`).

use super::dns::{dns_responder, dns_upstreams};
use super::ports::parse_port_key;
use super::{Endpoint, Published};
use crate::model::Container;
use crate::{Engine, Error, Result};
use rusqlite::params;
use skiff_net::{netlink, setup};
use std::net::Ipv4Addr;

/// What a starting container holds for its networks while it runs: its
/// endpoints with their addresses, its published ports (each reserved by a
/// socket bound to the host port, so no other program takes it), and on
/// user networks the DNS responder it answers from.
#[derive(Default)]
pub(crate) struct Wiring {
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<Published>,
    pub(super) reservations: Vec<std::os::fd::OwnedFd>,
    pub dns: Option<skiff_net::dns::Responder>,
    /// The store holds addresses or ports to give back at the exit.
    pub holds: bool,
    /// An interface added to a running container: its DNS server, if it
    /// has one, is already there.
    pub no_dns: bool,
}

/// A `host_ip:port/proto` socket that keeps the port ours.
fn reserve(
    proto: &str,
    host_ip: Ipv4Addr,
    port: u16,
) -> std::io::Result<(std::os::fd::OwnedFd, u16)> {
    use std::os::fd::OwnedFd;
    let addr = std::net::SocketAddrV4::new(host_ip, port);
    if proto == "udp" {
        let s = std::net::UdpSocket::bind(addr)?;
        let port = s.local_addr()?.port();
        Ok((OwnedFd::from(s), port))
    } else {
        let s = std::net::TcpListener::bind(addr)?;
        let port = s.local_addr()?.port();
        Ok((OwnedFd::from(s), port))
    }
}

impl Engine {
    /// Before the container is made: addresses and ports. Nothing is left
    /// held if this fails.
    pub(crate) fn prepare_wiring(&self, c: &Container) -> Result<Wiring> {
        if !crate::spec::bridged(c) {
            return Ok(Wiring::default());
        }
        let mut w = Wiring {
            holds: true,
            ..Default::default()
        };
        let r = (|| -> Result<()> {
            // Addresses a run that was killed left behind are not ours now.
            self.store
                .conn()?
                .execute(
                    "UPDATE endpoints SET ip = NULL WHERE container = ?1",
                    params![c.id],
                )
                .map_err(self.db_err())?;
            w.endpoints = self.allocate_addresses(c)?;
            let mut bindings: Vec<(String, Vec<crate::model::PortBinding>)> = c
                .host
                .port_bindings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if c.host.publish_all_ports {
                for k in &c.config.exposed_ports {
                    if !c.host.port_bindings.contains_key(k) {
                        bindings.push((k.clone(), vec![Default::default()]));
                    }
                }
            }
            for (key, list) in bindings {
                let (port, proto) = parse_port_key(&key)
                    .ok_or_else(|| Error::Invalid(format!("invalid port {key}")))?;
                for b in list {
                    let host_ip: Ipv4Addr = if b.host_ip.is_empty() {
                        Ipv4Addr::UNSPECIFIED
                    } else {
                        b.host_ip.parse().map_err(|_| {
                            Error::Invalid(format!("invalid host IP {} for port {key}", b.host_ip))
                        })?
                    };
                    let want: u16 = if b.host_port.is_empty() {
                        0
                    } else {
                        b.host_port.parse().map_err(|_| {
                            Error::Invalid(format!(
                                "invalid host port {} for port {key}",
                                b.host_port
                            ))
                        })?
                    };
                    let (fd, got) = reserve(&proto, host_ip, want).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::AddrInUse {
                            Error::Conflict(format!(
                                "driver failed programming external connectivity on endpoint {}: Bind for {host_ip}:{want} failed: port is already allocated",
                                c.name
                            ))
                        } else {
                            Error::Internal(format!("binding {host_ip}:{want}/{proto}: {e}"))
                        }
                    })?;
                    w.reservations.push(fd);
                    w.ports.push(Published {
                        proto: proto.clone(),
                        host_ip: host_ip.to_string(),
                        host_port: got,
                        port,
                    });
                }
            }
            self.record_published(&c.id, &w.ports)
        })();
        if let Err(e) = r {
            self.release_network(&c.id);
            return Err(e);
        }
        Ok(w)
    }

    /// The container (init `pid`, made but not started) joins its networks:
    /// bridges made on first use, a veth per network, the rules synced, and
    /// on user networks a DNS responder at 127.0.0.11:53 inside it.
    pub(crate) fn wire(&self, c: &Container, w: &mut Wiring, pid: i32) -> Result<()> {
        if w.endpoints.is_empty() {
            return Ok(());
        }
        let fail = |m: String| Error::Internal(format!("setting up the network: {m}"));
        let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .map_err(|e| fail(format!("opening the network namespace of {pid}: {e}")))?;
        let mut host = netlink::Route::open().map_err(|e| fail(e.to_string()))?;
        let mut eps = Vec::new();
        let mut new_bridge = false;
        let mut first = true;
        for ep in &w.endpoints {
            let (Some(subnet), Some(gw), Some(ip)) = (ep.network.subnet, ep.network.gateway, ep.ip)
            else {
                continue;
            };
            let (index, made) = setup::ensure_bridge(
                &mut host,
                &setup::Bridge {
                    name: ep.network.bridge.clone(),
                    gateway: gw,
                    prefix: subnet.1,
                },
            )
            .map_err(fail)?;
            new_bridge |= made;
            eps.push(setup::Endpoint {
                bridge_index: index,
                host_ifname: setup::veth_name(),
                ifname: ep.ifname.clone(),
                ip,
                prefix: subnet.1,
                mac: setup::mac_for(ip),
                // The default route goes with the first interface (not
                // with one `network connect` adds later).
                gateway: (first && ep.ifname == "eth0" && !ep.network.internal).then_some(gw),
            });
            first = false;
        }
        use std::os::fd::AsFd;
        setup::attach(&mut host, netns.as_fd(), &eps).map_err(fail)?;
        // Rules: always when ports change or a bridge is new; else only if
        // the ruleset changed since the last sync.
        self.sync_rules(new_bridge || !w.ports.is_empty())?;
        // Every bridged container gets the server, also one on the default
        // bridge (whose resolv.conf does not name it): a user network it is
        // connected to later needs it.
        if !w.no_dns && !w.endpoints.is_empty() {
            w.dns = Some(dns_responder(netns.as_fd(), dns_upstreams(&c.host)).map_err(fail)?);
        }
        Ok(())
    }
}
