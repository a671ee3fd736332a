//! A container's endpoints: its place on each network (aliases, interface
//! name, the address asked for), recorded at create or `network connect`.

use super::{row_to_network, Endpoint, Network, ALIAS_ON_DEFAULT, NET_COLUMNS};
use crate::{Engine, Error, Result};
use rusqlite::params;
use std::net::Ipv4Addr;

impl Engine {
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
}
