//! Networks: Docker's predefined `bridge`, `host` and `none`, and
//! user-defined bridge networks, as rows of the store; a container's place
//! on each network (an endpoint: aliases, and while it runs its address);
//! the ports it publishes. This module owns the types and the `network`
//! commands on the rows (create, list, find, remove, prune); the rest is
//! one module each:
//!
//! - `ipam`: the predefined networks, free subnets, addresses handed out
//!   and given back;
//! - `endpoints`: a container's endpoints;
//! - `rules`: published ports and skiff's nftables table (`sync_rules`);
//! - `wiring`: a starting container wired in (`prepare_wiring`, `wire`);
//! - `dns`: the embedded resolver's lookups and a container's resolv.conf;
//! - `ports`: `-p` and port keys, and a container's ports for `ps`;
//! - `inspect`: `network inspect` and a container's `NetworkSettings`;
//! - `connect`: `network connect` and `network disconnect`.

use crate::model::{Container, Status};
use crate::{Engine, Error, Result};
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use skiff_net::netlink;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

mod connect;
mod dns;
mod endpoints;
mod inspect;
mod ipam;
mod ports;
mod rules;
mod wiring;

pub use dns::{dns_upstreams, resolv_conf, DNS_RECORD_KIND, DNS_ZONE_KIND};
pub use inspect::endpoint_id;
pub use ports::{parse_port_key, parse_publish};
pub(crate) use wiring::Wiring;

/// Docker's refusal of `--network-alias` off user networks.
const ALIAS_ON_DEFAULT: &str =
    "network-scoped alias is supported only for containers in user defined networks";
const IP_ON_DEFAULT: &str = "user specified IP address is supported on user defined networks only";
const IP_NEEDS_SUBNET: &str =
    "user specified IP address is supported only when connecting to networks with user configured subnets";

/// The default bridge's device.
pub const DEFAULT_BRIDGE: &str = "skiff0";

/// One network.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub subnet: Option<(Ipv4Addr, u8)>,
    pub gateway: Option<Ipv4Addr>,
    /// Whether the IPAM config shows the gateway (see the store's schema 5).
    pub ipam_gateway: bool,
    /// Whether the subnet was given (see the store's schema 6).
    pub user_subnet: bool,
    /// The bridge device (bridge networks).
    pub bridge: String,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub created: String,
}

impl Network {
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }
}

/// `network create` options.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// A container's endpoint on a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub network: Network,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    /// The address asked for (`--ip`), which `ip` is while it runs.
    pub requested: Option<Ipv4Addr>,
    /// Its interface in the container: `eth0`, `eth1`, ...
    pub ifname: String,
}

/// A published port as bound while the container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub proto: String,
    pub host_ip: String,
    pub host_port: u16,
    pub port: u16,
}

/// `a.b.c.d/n`.
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, n) = s.split_once('/')?;
    let ip: Ipv4Addr = a.parse().ok()?;
    let n: u8 = n.parse().ok().filter(|n| *n <= 30)?;
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
    Some((Ipv4Addr::from(u32::from(ip) & mask), n))
}

pub fn contains(net: (Ipv4Addr, u8), ip: Ipv4Addr) -> bool {
    let mask = if net.1 == 0 {
        0
    } else {
        u32::MAX << (32 - net.1)
    };
    u32::from(ip) & mask == u32::from(net.0)
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    contains(a, b.0) || contains(b, a.0)
}

fn row_to_network(r: &rusqlite::Row<'_>) -> rusqlite::Result<Network> {
    let subnet: String = r.get(3)?;
    let gateway: String = r.get(4)?;
    let labels: String = r.get(7)?;
    Ok(Network {
        id: r.get(0)?,
        name: r.get(1)?,
        driver: r.get(2)?,
        subnet: parse_cidr(&subnet),
        gateway: gateway.parse().ok(),
        bridge: r.get(5)?,
        internal: r.get::<_, i64>(6)? != 0,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        created: r.get(8)?,
        ipam_gateway: r.get::<_, i64>(9)? != 0,
        user_subnet: r.get::<_, i64>(10)? != 0,
    })
}

const NET_COLUMNS: &str =
    "id, name, driver, subnet, gateway, bridge, internal, labels, created, ipam_gateway, user_subnet";

/// A container port for `ps`: exposed only, or published at a host address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub port: u16,
    pub proto: String,
    pub host: Option<(String, u16)>,
}

impl Engine {
    fn db_err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| Error::Store(self.store.err(e))
    }

    pub fn network_list(&self) -> Result<Vec<Network>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {NET_COLUMNS} FROM networks ORDER BY created, name"
            ))
            .map_err(self.db_err())?;
        let rows = st
            .query_map([], row_to_network)
            .map_err(self.db_err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db_err())?;
        Ok(rows)
    }

    /// `network ls`: the networks `f` selects (`name` by substring, `id` by
    /// prefix, `driver`, `type` builtin or custom, `label`), Docker's three
    /// predefined ones made first if need be.
    pub fn networks(&self, f: &crate::filters::Filters) -> Result<Vec<Network>> {
        f.check_keys(&["name", "id", "driver", "type", "label"])?;
        self.ensure_default_networks()?;
        let mut list = self.network_list()?;
        list.retain(|n| {
            f.matches("name", |v| n.name.contains(v))
                && f.matches("id", |v| n.id.starts_with(v))
                && f.matches("driver", |v| n.driver == v)
                && f.matches("type", |v| (v == "builtin") == n.predefined())
                && f.match_labels(&n.labels)
        });
        Ok(list)
    }

    /// A network by name, ID or unique ID prefix.
    pub fn network_find(&self, what: &str) -> Result<Network> {
        self.ensure_default_networks()?;
        let conn = self.store.conn()?;
        let exact = conn
            .query_row(
                &format!("SELECT {NET_COLUMNS} FROM networks WHERE id = ?1 OR name = ?1"),
                params![what],
                row_to_network,
            )
            .optional()
            .map_err(self.db_err())?;
        if let Some(n) = exact {
            return Ok(n);
        }
        if !what.is_empty() && what.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut st = conn
                .prepare(&format!(
                    "SELECT {NET_COLUMNS} FROM networks WHERE id LIKE ?1 || '%' LIMIT 2"
                ))
                .map_err(self.db_err())?;
            let rows = st
                .query_map(params![what], row_to_network)
                .map_err(self.db_err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.db_err())?;
            if rows.len() == 1 {
                return Ok(rows.into_iter().next().unwrap());
            }
        }
        Err(Error::not_found(
            crate::Object::Network,
            format!("network {what} not found"),
        ))
    }

    /// `network create`.
    pub fn network_create(&self, name: &str, o: &CreateNetwork) -> Result<Network> {
        self.ensure_default_networks()?;
        let driver = o.driver.as_deref().unwrap_or("bridge");
        if driver != "bridge" {
            return Err(Error::Invalid(format!(
                "plugin \"{driver}\" not found (skiff has the bridge driver)"
            )));
        }
        let ok = !name.is_empty()
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        if !ok {
            return Err(Error::Invalid(format!(
                "invalid network name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if self.network_find(name).is_ok_and(|n| n.name == name) {
            return Err(Error::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let subnet = match &o.subnet {
            Some(s) => {
                let sub = parse_cidr(s).ok_or_else(|| {
                    // Docker's words (skiff also refuses prefixes above /30).
                    Error::Invalid(format!("Invalid subnet {s} : invalid CIDR address: {s}"))
                })?;
                if self
                    .network_list()?
                    .iter()
                    .any(|n| n.subnet.is_some_and(|t| overlaps(t, sub)))
                {
                    return Err(Error::Conflict(
                        "Pool overlaps with other one on this address space".into(),
                    ));
                }
                sub
            }
            None => self.free_subnet()?,
        };
        let gateway = match &o.gateway {
            Some(g) => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid gateway address {g}")))?;
                if !contains(subnet, ip) {
                    return Err(Error::Invalid(format!(
                        "no matching subnet for gateway {g}"
                    )));
                }
                ip
            }
            None => Ipv4Addr::from(u32::from(subnet.0) + 1),
        };
        let id = crate::names::new_id();
        let bridge = format!("skbr-{}", &id[..10]);
        self.store
            .conn()?
            .execute(
                "INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, labels, created, ipam_gateway, user_subnet)
                 VALUES (?1, ?2, 'bridge', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    name,
                    format!("{}/{}", subnet.0, subnet.1),
                    gateway.to_string(),
                    bridge,
                    o.internal as i64,
                    serde_json::to_string(&o.labels).unwrap(),
                    crate::time::now(),
                    (o.subnet.is_none() || o.gateway.is_some()) as i64,
                    o.subnet.is_some() as i64
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Error::Conflict(format!("network with name {name} already exists"))
                }
                e => Error::Store(self.store.err(e)),
            })?;
        let n = self.network_find(&id)?;
        self.network_event(&n, "create");
        Ok(n)
    }

    fn network_event(&self, n: &Network, action: &str) {
        let _ = self.store.add_event(
            "network",
            action,
            &n.id,
            &json!({"name": n.name, "type": n.driver}),
        );
    }

    /// The containers with an endpoint on `n`.
    pub fn network_users(&self, n: &Network) -> Result<Vec<String>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare("SELECT container FROM endpoints WHERE network = ?1 ORDER BY seq")
            .map_err(self.db_err())?;
        let rows = st
            .query_map(params![n.id], |r| r.get(0))
            .map_err(self.db_err())?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(self.db_err())?;
        Ok(rows)
    }

    /// `network rm`: refused while containers are on it; its bridge goes.
    pub fn network_remove(&self, what: &str) -> Result<Network> {
        let n = self.network_find(what)?;
        if n.predefined() {
            return Err(Error::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if !self.network_users(&n)?.is_empty() {
            return Err(Error::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        self.store
            .conn()?
            .execute("DELETE FROM networks WHERE id = ?1", params![n.id])
            .map_err(self.db_err())?;
        if let Ok(mut rt) = netlink::Route::open() {
            let _ = rt.delete_link_by_name(&n.bridge);
        }
        let _ = self.sync_rules(true);
        self.network_event(&n, "destroy");
        Ok(n)
    }

    /// `network prune`: user networks no container uses.
    pub fn network_prune(&self) -> Result<Vec<String>> {
        let mut gone = Vec::new();
        for n in self.network_list()? {
            if !n.predefined() && self.network_users(&n)?.is_empty() {
                self.network_remove(&n.id)?;
                gone.push(n.name);
            }
        }
        Ok(gone)
    }
}

fn is_running(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            parse_cidr("10.1.2.3/16"),
            Some((Ipv4Addr::new(10, 1, 0, 0), 16))
        );
        assert_eq!(parse_cidr("10.1.2.3/31"), None);
        assert_eq!(parse_cidr("x/8"), None);
        assert!(overlaps(
            (Ipv4Addr::new(172, 17, 0, 0), 16),
            (Ipv4Addr::new(172, 16, 0, 0), 12)
        ));
        assert!(!overlaps(
            (Ipv4Addr::new(172, 17, 0, 0), 16),
            (Ipv4Addr::new(172, 18, 0, 0), 16)
        ));
    }
}
