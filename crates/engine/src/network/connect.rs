//! `network connect` and `network disconnect`: a stopped container joins
//! or leaves at its next start, a running one gets or loses its interface
//! now.

use super::dns::resolv_conf;
use super::{is_running, Wiring, ALIAS_ON_DEFAULT, IP_ON_DEFAULT};
use crate::{Engine, Error, Result};
use rusqlite::params;
use skiff_net::netlink;
use std::net::Ipv4Addr;

impl Engine {
    /// `network connect`: a stopped container joins at its next start, a
    /// running one gets its interface now.
    pub fn network_connect(
        &self,
        net: &str,
        what: &str,
        aliases: &[String],
        ip: Option<&str>,
    ) -> Result<()> {
        let ip: Option<Ipv4Addr> = ip
            .map(|s| {
                s.parse()
                    .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {s}")))
            })
            .transpose()?;
        let n = self.network_find(net)?;
        let c = self.find(what)?;
        if !n.is_bridge() || !crate::spec::bridged(&c) {
            return Err(Error::Invalid(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            ));
        }
        if n.name == "bridge" && !aliases.is_empty() {
            return Err(Error::Invalid(ALIAS_ON_DEFAULT.into()));
        }
        if n.name == "bridge" && ip.is_some() {
            return Err(Error::Invalid(IP_ON_DEFAULT.into()));
        }
        self.add_endpoint(&n, &c.id, aliases, ip)?;
        if is_running(&c) && c.state.pid > 0 {
            let r = (|| {
                let eps = self.allocate_addresses(&c)?;
                let ep = eps.into_iter().find(|e| e.network.id == n.id);
                let mut w = Wiring {
                    endpoints: ep.into_iter().collect(),
                    holds: true,
                    no_dns: true,
                    ..Default::default()
                };
                self.wire(&c, &mut w, c.state.pid)?;
                // Started on the default bridge: now on a user network, it
                // asks the embedded server, as Docker rewrites resolv.conf.
                let p = self.paths.container_dir(&c.id).join("resolv.conf");
                let cur = std::fs::read_to_string(&p).unwrap_or_default();
                if n.name != "bridge" && !cur.lines().any(|l| l.trim() == "nameserver 127.0.0.11") {
                    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                    // In place: the container sees this file through a bind mount.
                    std::fs::write(&p, resolv_conf(&host, &c.host, true))
                        .map_err(crate::io_err("writing", &p))?;
                }
                Ok(())
            })();
            if let Err(e) = r {
                let _ = self.store.conn()?.execute(
                    "DELETE FROM endpoints WHERE network = ?1 AND container = ?2",
                    params![n.id, c.id],
                );
                return Err(e);
            }
        }
        self.network_event(&n, "connect");
        Ok(())
    }

    /// `network disconnect`.
    pub fn network_disconnect(&self, net: &str, what: &str) -> Result<()> {
        let n = self.network_find(net)?;
        let c = self.find(what)?;
        let Some(ep) = self
            .endpoints(&c.id)?
            .into_iter()
            .find(|e| e.network.id == n.id)
        else {
            return Err(Error::NotFound {
                object: crate::Object::Network,
                msg: format!("container {} is not connected to network {}", c.id, n.name),
            });
        };
        if is_running(&c) && c.state.pid > 0 {
            if let Ok(ns) = std::fs::File::open(format!("/proc/{}/ns/net", c.state.pid)) {
                use std::os::fd::AsFd;
                if let Ok(mut rt) = netlink::Route::open_in_netns(ns.as_fd()) {
                    let _ = rt.delete_link_by_name(&ep.ifname);
                }
            }
        }
        self.store
            .conn()?
            .execute(
                "DELETE FROM endpoints WHERE network = ?1 AND container = ?2",
                params![n.id, c.id],
            )
            .map_err(self.db_err())?;
        self.network_event(&n, "disconnect");
        Ok(())
    }
}
