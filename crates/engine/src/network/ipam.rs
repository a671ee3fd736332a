//! Addresses: Docker's predefined networks made on first use, the first
//! free subnet of Docker's pools, and a container's addresses handed out in
//! a store transaction (lowest free first) and given back at its exit. An
//! endpoint holds its address only while its container runs: an address
//! still held by a container that is not running is free for the next one.

use super::{contains, overlaps, Endpoint, DEFAULT_BRIDGE, IP_NEEDS_SUBNET};
use crate::model::Container;
use crate::{Engine, Error, Result};
use rusqlite::params;
use skiff_net::netlink;
use std::net::Ipv4Addr;

impl Engine {
    /// Docker's three predefined networks, made on first use. The default
    /// bridge's subnet is the first of Docker's pools that no route of this
    /// host (or another skiff network) covers.
    pub fn ensure_default_networks(&self) -> Result<()> {
        let have: i64 = self
            .store
            .conn()?
            .query_row(
                "SELECT COUNT(*) FROM networks WHERE name IN ('bridge','host','none')",
                [],
                |r| r.get(0),
            )
            .map_err(self.db_err())?;
        if have == 3 {
            return Ok(());
        }
        let subnet = self.free_subnet()?;
        let gw = Ipv4Addr::from(u32::from(subnet.0) + 1);
        for (name, driver, sub, gwy, bridge) in [
            (
                "bridge",
                "bridge",
                format!("{}/{}", subnet.0, subnet.1),
                gw.to_string(),
                DEFAULT_BRIDGE,
            ),
            ("host", "host", String::new(), String::new(), ""),
            ("none", "null", String::new(), String::new(), ""),
        ] {
            self.store
                .conn()?
                .execute(
                    "INSERT OR IGNORE INTO networks (id, name, driver, subnet, gateway, bridge, internal, labels, created, ipam_gateway)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, '{}', ?7, 0)",
                    params![crate::names::new_id(), name, driver, sub, gwy, bridge, crate::time::now()],
                )
                .map_err(self.db_err())?;
        }
        Ok(())
    }

    /// The first of Docker's address pools (172.17-31.0.0/16, then
    /// 192.168.N.0/20) that neither a route here nor a network has.
    pub(super) fn free_subnet(&self) -> Result<(Ipv4Addr, u8)> {
        let pools = (17..=31)
            .map(|b| (Ipv4Addr::new(172, b, 0, 0), 16))
            .chain((0..16).map(|i| (Ipv4Addr::new(192, 168, i * 16, 0), 20)));
        self.first_free_range(pools)?.ok_or_else(|| {
            Error::Internal(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
            )
        })
    }

    /// The first of `candidates` that neither a route of this host (but
    /// the default one) nor a network of skiff's overlaps: how a network's
    /// subnet and the Kubernetes service range are chosen.
    pub fn first_free_range(
        &self,
        candidates: impl IntoIterator<Item = (Ipv4Addr, u8)>,
    ) -> Result<Option<(Ipv4Addr, u8)>> {
        let mut taken: Vec<(Ipv4Addr, u8)> = self
            .network_list()?
            .iter()
            .filter_map(|n| n.subnet)
            .collect();
        if let Ok(mut rt) = netlink::Route::open() {
            if let Ok(routes) = rt.routes_v4() {
                taken.extend(
                    routes
                        .into_iter()
                        .filter(|(d, p, _)| *p > 0 && !d.is_unspecified())
                        .map(|(d, p, _)| (d, p)),
                );
            }
        }
        Ok(candidates
            .into_iter()
            .find(|c| !taken.iter().any(|t| overlaps(*t, *c))))
    }

    /// Give each of the container's endpoints an address (lowest free of
    /// its subnet; addresses of containers that are not running are
    /// free). One transaction, so concurrent starts never share one.
    pub(crate) fn allocate_addresses(&self, c: &Container) -> Result<Vec<Endpoint>> {
        let conn = self.store.conn()?;
        skiff_image::sqlite::retry_busy(|| conn.execute_batch("BEGIN IMMEDIATE"))
            .map_err(self.db_err())?;
        let r = (|| -> Result<Vec<Endpoint>> {
            let mut eps = self.endpoints(&c.id)?;
            for ep in &mut eps {
                let Some(subnet) = ep.network.subnet else {
                    continue;
                };
                if ep.ip.is_some() {
                    continue;
                }
                // Free what stopped containers still hold.
                conn.execute(
                    "UPDATE endpoints SET ip = NULL WHERE network = ?1 AND ip IS NOT NULL AND container NOT IN
                     (SELECT id FROM containers WHERE status IN ('running','paused','restarting'))
                     AND container != ?2",
                    params![ep.network.id, c.id],
                )
                .map_err(self.db_err())?;
                let mut st = conn
                    .prepare("SELECT ip FROM endpoints WHERE network = ?1 AND ip IS NOT NULL AND container != ?2")
                    .map_err(self.db_err())?;
                let used: std::collections::HashSet<u32> = st
                    .query_map(params![ep.network.id, c.id], |r| r.get::<_, String>(0))
                    .map_err(self.db_err())?
                    .filter_map(|r| r.ok()?.parse::<Ipv4Addr>().ok())
                    .map(u32::from)
                    .collect();
                let base = u32::from(subnet.0);
                let size = 1u32 << (32 - subnet.1);
                let gw = ep.network.gateway.map(u32::from);
                let ip = match ep.requested {
                    // Docker's words for each refusal.
                    Some(want) => {
                        if !ep.network.user_subnet {
                            return Err(Error::Invalid(IP_NEEDS_SUBNET.into()));
                        }
                        if !contains(subnet, want) {
                            return Err(Error::Invalid(format!(
                                "Invalid address {want}: It does not belong to any of this network's subnets"
                            )));
                        }
                        let a = u32::from(want);
                        if Some(a) == gw || used.contains(&a) || a == base || a == base + size - 1 {
                            return Err(Error::Conflict("Address already in use".into()));
                        }
                        want
                    }
                    None => Ipv4Addr::from(
                        (base + 1..base + size - 1)
                            .find(|a| Some(*a) != gw && !used.contains(a))
                            .ok_or_else(|| {
                                Error::Internal(format!(
                                    "no available IPv4 addresses on network {}",
                                    ep.network.name
                                ))
                            })?,
                    ),
                };
                conn.execute(
                    "UPDATE endpoints SET ip = ?1 WHERE network = ?2 AND container = ?3",
                    params![ip.to_string(), ep.network.id, c.id],
                )
                .map_err(self.db_err())?;
                ep.ip = Some(ip);
            }
            Ok(eps)
        })();
        match &r {
            Ok(_) => conn.execute_batch("COMMIT").map_err(self.db_err())?,
            Err(_) => {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        r
    }

    /// The container no longer runs: its addresses and ports are free.
    pub(crate) fn release_network(&self, id: &str) {
        let Ok(conn) = self.store.conn() else { return };
        let _ = conn.execute(
            "UPDATE endpoints SET ip = NULL WHERE container = ?1",
            params![id],
        );
        let had_ports = conn
            .execute("DELETE FROM published WHERE container = ?1", params![id])
            .unwrap_or(0)
            > 0;
        if had_ports {
            let _ = self.sync_rules(true);
        }
    }
}
