//! Docker's documents: `network inspect`, a container's `NetworkSettings`,
//! and the stable endpoint IDs they show.

use super::{is_running, Network, DEFAULT_BRIDGE};
use crate::model::Container;
use crate::{Engine, Result};
use serde_json::{json, Value};
use skiff_net::setup;
use std::net::Ipv4Addr;

impl Engine {
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
