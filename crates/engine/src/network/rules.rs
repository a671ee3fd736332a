//! Published ports as the store records them while a container runs, and
//! skiff's nftables table kept in step with the store (`sync_rules`): every
//! bridge network's masquerade and isolation, every running container's
//! ports.

use super::Published;
use crate::{Engine, Error, Result};
use rusqlite::params;
use skiff_net::{netlink, nft};

impl Engine {
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
}

impl Engine {
    /// Put Kubernetes Services in the kernel: `ports` become the
    /// `skiff-services` table, replaced in one transaction (an empty list
    /// removes it). The caller skips the call when nothing changed.
    pub fn services_apply(&self, ports: &[skiff_net::services::ServicePort]) -> Result<()> {
        self.services_apply_routed(ports, None)
    }

    /// [`Engine::services_apply`], and the service range routed onto the
    /// bridge of network `route.2` (so the host's own packets to a cluster
    /// IP find a way out to be DNAT'd, even without a default route).
    pub fn services_apply_routed(
        &self,
        ports: &[skiff_net::services::ServicePort],
        route: Option<(std::net::Ipv4Addr, u8, &str)>,
    ) -> Result<()> {
        if let Some((dst, prefix, net)) = route {
            let n = self.network_find(net)?;
            let mut rt =
                skiff_net::netlink::Route::open().map_err(|e| Error::Internal(e.to_string()))?;
            if let Some(idx) = rt
                .link_index(&n.bridge)
                .map_err(|e| Error::Internal(e.to_string()))?
            {
                rt.replace_link_route(dst, prefix, idx)
                    .map_err(|e| Error::Internal(e.to_string()))?;
            }
        }
        let script = if ports.is_empty() {
            // Nothing to serve and nothing to remove: no nft run (a server
            // for the Docker API alone never touches this table).
            let exists = skiff_net::netlink::nft_table_exists(
                libc::AF_INET as u8,
                skiff_net::services::TABLE,
            )
            .unwrap_or(true);
            if !exists {
                return Ok(());
            }
            skiff_net::services::render_empty()
        } else {
            skiff_net::services::render(ports)
        };
        nft::apply(&script).map_err(Error::Internal)
    }
}
