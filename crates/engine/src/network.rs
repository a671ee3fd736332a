//! Networks: Docker's predefined `bridge`, `host` and `none`, and
//! user-defined bridge networks, as rows of the store; a container's place
//! on each network (an endpoint: aliases, and while it runs its address);
//! the ports it publishes. The supervisor wires a starting container in
//! (`wire`) and the engine keeps skiff's nftables table in step with the
//! store (`sync_rules`).
//!
//! Addresses are handed out in a store transaction, lowest free first. An
//! endpoint holds its address only while its container runs: the
//! supervisor clears it at the exit, and an address still held by a
//! container that is not running is free for the next one.

use crate::model::{Container, Status};
use crate::{Engine, Error, Result};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use skiff_net::{netlink, nft, setup};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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

impl Engine {
    fn db_err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| Error::Store(self.store.err(e))
    }

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
    fn free_subnet(&self) -> Result<(Ipv4Addr, u8)> {
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
        let pools = (17..=31)
            .map(|b| (Ipv4Addr::new(172, b, 0, 0), 16))
            .chain((0..16).map(|i| (Ipv4Addr::new(192, 168, i * 16, 0), 20)));
        for p in pools {
            if !taken.iter().any(|t| overlaps(*t, p)) {
                return Ok(p);
            }
        }
        Err(Error::Internal(
            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
        ))
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

    /// A container's endpoints, in the order they were made (eth0 first).
    pub fn endpoints(&self, container: &str) -> Result<Vec<Endpoint>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {}, e.aliases, e.ip, e.ifname, e.requested_ip FROM endpoints e JOIN networks n ON n.id = e.network
                 WHERE e.container = ?1 ORDER BY e.seq",
                NET_COLUMNS
                    .split(", ")
                    .map(|c| format!("n.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .map_err(self.db_err())?;
        // The endpoint's columns follow the network's.
        let at = NET_COLUMNS.split(", ").count();
        let rows = st
            .query_map(params![container], |r| {
                let aliases: String = r.get(at)?;
                let ip: Option<String> = r.get(at + 1)?;
                let requested: Option<String> = r.get(at + 3)?;
                Ok(Endpoint {
                    network: row_to_network(r)?,
                    aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                    ip: ip.and_then(|i| i.parse().ok()),
                    requested: requested.and_then(|i| i.parse().ok()),
                    ifname: r.get(at + 2)?,
                })
            })
            .map_err(self.db_err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db_err())?;
        Ok(rows)
    }

    /// Put container `id` on network `n` (at create, or `network connect`),
    /// asking for address `ip` if given (checked when it is allocated).
    pub(crate) fn add_endpoint(
        &self,
        n: &Network,
        id: &str,
        aliases: &[String],
        ip: Option<Ipv4Addr>,
    ) -> Result<()> {
        let taken: Vec<String> = self.endpoints(id)?.into_iter().map(|e| e.ifname).collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !taken.contains(n))
            .unwrap();
        self.store
            .conn()?
            .execute(
                "INSERT INTO endpoints (network, container, aliases, ifname, requested_ip)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    n.id,
                    id,
                    serde_json::to_string(aliases).unwrap(),
                    ifname,
                    ip.map(|i| i.to_string())
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Error::Conflict(format!(
                        "endpoint with name {} already exists in network {}",
                        self.store
                            .get(id)
                            .ok()
                            .flatten()
                            .map(|c| c.name)
                            .unwrap_or_default(),
                        n.name
                    ))
                }
                e => Error::Store(self.store.err(e)),
            })?;
        Ok(())
    }

    /// The network a `--network` value names, made ready for a container:
    /// `bridge`/`default`, a user network, or None for none/host/container:.
    pub(crate) fn network_for_create(
        &self,
        mode: &str,
        aliases: &[String],
    ) -> Result<Option<Network>> {
        if matches!(mode, "none" | "host") || mode.starts_with("container:") {
            if !aliases.is_empty() {
                return Err(Error::Invalid(ALIAS_ON_DEFAULT.into()));
            }
            return Ok(None);
        }
        let name = if mode == "default" { "bridge" } else { mode };
        let n = self.network_find(name)?;
        match n.driver.as_str() {
            "host" | "null" => return Ok(None),
            _ => {}
        }
        if n.name == "bridge" && !aliases.is_empty() {
            return Err(Error::Invalid(ALIAS_ON_DEFAULT.into()));
        }
        Ok(Some(n))
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

    /// The container's ports as bound now.
    pub fn published(&self, id: &str) -> Result<Vec<Published>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare("SELECT proto, host_ip, host_port, port FROM published WHERE container = ?1 ORDER BY port, proto, host_ip")
            .map_err(self.db_err())?;
        let rows = st
            .query_map(params![id], |r| {
                Ok(Published {
                    proto: r.get(0)?,
                    host_ip: r.get(1)?,
                    host_port: r.get::<_, i64>(2)? as u16,
                    port: r.get::<_, i64>(3)? as u16,
                })
            })
            .map_err(self.db_err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db_err())?;
        Ok(rows)
    }

    pub(crate) fn record_published(&self, id: &str, ports: &[Published]) -> Result<()> {
        let conn = self.store.conn()?;
        conn.execute("DELETE FROM published WHERE container = ?1", params![id])
            .map_err(self.db_err())?;
        for p in ports {
            conn.execute(
                "INSERT INTO published (container, proto, host_ip, host_port, port) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, p.proto, p.host_ip, p.host_port as i64, p.port as i64],
            )
            .map_err(self.db_err())?;
        }
        Ok(())
    }

    /// Bring skiff's nftables table in line with the store: every bridge
    /// network's masquerade and isolation, every running container's ports.
    /// Without `force`, nothing runs when the ruleset is unchanged since the
    /// last sync (one netlink request): rules lost to a flush or a reboot,
    /// or a dockerd started since, are noticed by the generation change.
    pub fn sync_rules(&self, force: bool) -> Result<()> {
        let dir = self.paths.runroot.join("net");
        let _ = std::fs::create_dir_all(&dir);
        let gen_file = dir.join("nft-generation");
        let current = netlink::nft_generation().ok();
        if !force
            && current.is_some()
            && std::fs::read_to_string(&gen_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                == current
        {
            return Ok(());
        }
        // One writer at a time: each renders from the store it reads under
        // the lock, so the last one has everything.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("nft.lock"))
            .map_err(crate::io_err("opening", &dir))?;
        let _ = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::Internal(format!("locking the network rules: {e}")))
            .map(|guard| {
                let r = self.apply_rules();
                if r.is_ok() {
                    if let Ok(g) = netlink::nft_generation() {
                        let _ = std::fs::write(&gen_file, g.to_string());
                    }
                }
                drop(guard);
                r
            })?;
        Ok(())
    }

    fn apply_rules(&self) -> Result<()> {
        let networks: Vec<nft::Network> = self
            .network_list()?
            .into_iter()
            .filter(|n| n.is_bridge())
            .filter_map(|n| {
                let (subnet, prefix) = n.subnet?;
                Some(nft::Network {
                    bridge: n.bridge,
                    subnet,
                    prefix,
                    internal: n.internal,
                })
            })
            .collect();
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare(
                "SELECT p.proto, p.host_ip, p.host_port, p.port, e.ip FROM published p
                 JOIN endpoints e ON e.container = p.container AND e.ip IS NOT NULL
                 GROUP BY p.rowid ORDER BY p.rowid",
            )
            .map_err(self.db_err())?;
        let ports: Vec<nft::Port> = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.db_err())?
            .filter_map(|r| r.ok())
            .filter_map(|(proto, hip, hp, p, ip)| {
                Some(nft::Port {
                    proto,
                    host_ip: hip.parse().ok(),
                    host_port: hp as u16,
                    ip: ip.parse().ok()?,
                    port: p as u16,
                })
            })
            .collect();
        nft::apply(&nft::render(&networks, &ports)).map_err(Error::Internal)?;
        nft::ensure_forward_accept().map_err(Error::Internal)
    }

    /// `network inspect`'s document.
    pub fn network_inspect(&self, n: &Network) -> Result<Value> {
        let mut containers = serde_json::Map::new();
        for id in self.network_users(n)? {
            let Ok(Some(c)) = self.store.get(&id) else {
                continue;
            };
            let eps = self.endpoints(&id)?;
            let Some(ep) = eps.iter().find(|e| e.network.id == n.id) else {
                continue;
            };
            let Some(ip) = ep.ip.filter(|_| is_running(&c)) else {
                continue;
            };
            containers.insert(
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": endpoint_id(&c.id, &n.id),
                    "MacAddress": setup::format_mac(setup::mac_for(ip)),
                    "IPv4Address": format!("{ip}/{}", n.subnet.map(|s| s.1).unwrap_or(0)),
                    "IPv6Address": "",
                }),
            );
        }
        let config = match (n.subnet, n.gateway) {
            (Some((s, p)), Some(g)) if n.ipam_gateway => {
                json!([{"Subnet": format!("{s}/{p}"), "Gateway": g.to_string()}])
            }
            (Some((s, p)), _) => json!([{"Subnet": format!("{s}/{p}")}]),
            _ => json!([]),
        };
        let mut options = serde_json::Map::new();
        if n.name == "bridge" {
            for (k, v) in [
                ("com.docker.network.bridge.default_bridge", "true"),
                ("com.docker.network.bridge.enable_icc", "true"),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                ("com.docker.network.bridge.name", DEFAULT_BRIDGE),
                ("com.docker.network.driver.mtu", "1500"),
            ] {
                options.insert(k.into(), json!(v));
            }
        }
        Ok(json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv6": false,
            "IPAM": {
                "Driver": "default",
                "Options": if n.predefined() { Value::Null } else { json!({}) },
                "Config": config,
            },
            "Internal": n.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": options,
            "Labels": n.labels,
        }))
    }
}

fn is_running(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// A stable endpoint ID for a container on a network (64 hex digits).
pub fn endpoint_id(container: &str, network: &str) -> String {
    let mut out = String::with_capacity(64);
    for (a, b) in container.bytes().zip(network.bytes().cycle()) {
        let v = (hex_val(a) ^ hex_val(b)) & 0xf;
        out.push(char::from_digit(v as u32, 16).unwrap());
    }
    out
}

fn hex_val(b: u8) -> u8 {
    (b as char).to_digit(16).unwrap_or(0) as u8
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

/// What a starting container holds for its networks while it runs: its
/// endpoints with their addresses, its published ports (each reserved by a
/// socket bound to the host port, so no other program takes it), and on
/// user networks the DNS responder it answers from.
#[derive(Default)]
pub(crate) struct Wiring {
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<Published>,
    reservations: Vec<std::os::fd::OwnedFd>,
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

/// `80/tcp` → (80, "tcp").
pub fn parse_port_key(key: &str) -> Option<(u16, String)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return None;
    }
    Some((p.parse().ok().filter(|p| *p > 0)?, proto))
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
fn dns_responder(
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

impl skiff_net::dns::Lookup for StoreLookup<'_> {
    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
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
        let mut opts = vec!["ndots:0".to_string()];
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

#[cfg(test)]
mod publish_tests {
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

impl Engine {
    /// Docker's `NetworkSettings` for container `c`.
    pub fn network_settings(&self, c: &Container) -> Value {
        let running = is_running(c);
        let eps = self.endpoints(&c.id).unwrap_or_default();
        let mut ports = serde_json::Map::new();
        if running && crate::spec::bridged(c) {
            for k in &c.config.exposed_ports {
                ports.insert(k.clone(), Value::Null);
            }
            for p in self.published(&c.id).unwrap_or_default() {
                let e = ports
                    .entry(format!("{}/{}", p.port, p.proto))
                    .or_insert_with(|| json!([]));
                if !e.is_array() {
                    *e = json!([]);
                }
                e.as_array_mut().unwrap().push(json!({
                    "HostIp": p.host_ip,
                    "HostPort": p.host_port.to_string(),
                }));
            }
            ports.sort_keys();
        }
        let mut networks = serde_json::Map::new();
        let mut top = json!({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""});
        let entry = |n: &Network,
                     ip: Option<Ipv4Addr>,
                     requested: Option<Ipv4Addr>,
                     aliases: Value| {
            let ip = ip.filter(|_| running);
            json!({
                "IPAMConfig": requested.map(|r| json!({"IPv4Address": r.to_string()})),
                "Links": null,
                "Aliases": aliases,
                "NetworkID": n.id,
                "EndpointID": ip.map(|_| endpoint_id(&c.id, &n.id)).unwrap_or_default(),
                "Gateway": ip.and(n.gateway).map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": ip.map(|i| i.to_string()).unwrap_or_default(),
                "IPPrefixLen": ip.and(n.subnet).map(|s| s.1).unwrap_or(0),
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": ip.map(|i| setup::format_mac(setup::mac_for(i))).unwrap_or_default(),
                "DriverOpts": null,
            })
        };
        for ep in &eps {
            let aliases = if ep.network.name == "bridge" {
                Value::Null
            } else {
                // Docker lists the given aliases, then the short ID.
                let mut a = ep.aliases.clone();
                a.push(c.id[..12].to_string());
                json!(a)
            };
            let v = entry(&ep.network, ep.ip, ep.requested, aliases);
            if ep.network.name == "bridge" {
                for k in [
                    "EndpointID",
                    "Gateway",
                    "IPAddress",
                    "IPPrefixLen",
                    "MacAddress",
                ] {
                    top[k] = v[k].clone();
                }
            }
            networks.insert(ep.network.name.clone(), v);
        }
        let mode = c.host.network_mode.as_str();
        if matches!(mode, "host" | "none") {
            if let Ok(n) = self.network_find(mode) {
                networks.insert(n.name.clone(), entry(&n, None, None, Value::Null));
            }
        }
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
            "SandboxKey": if running && c.state.pid > 0 { format!("/proc/{}/ns/net", c.state.pid) } else { String::new() },
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": top["EndpointID"], "Gateway": top["Gateway"],
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": top["IPAddress"], "IPPrefixLen": top["IPPrefixLen"],
            "IPv6Gateway": "", "MacAddress": top["MacAddress"],
            "Networks": networks,
        })
    }

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

/// A container port for `ps`: exposed only, or published at a host address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub port: u16,
    pub proto: String,
    pub host: Option<(String, u16)>,
}

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
