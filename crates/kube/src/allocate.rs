//! What the API server allocates for a Service: its cluster IP from the
//! service range and its node ports from 30000-32767. Each allocation is a
//! document of its own in the store (as Kubernetes keeps `IPAddress`
//! objects), written in the same transaction as the Service with the
//! precondition that it is new, so two commands never get the same one.

use crate::cluster::{Batch, Cluster};
use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::object::Object;
use crate::validate::NODE_PORTS;
use serde_json::{json, Value};
use skiff_engine::store::ObjectKey;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Where the service range is kept: as Kubernetes keeps it, a ServiceCIDR
/// (networking.k8s.io/v1) named `kubernetes`, chosen with the first
/// Service and never changed after.
const RANGE_KIND: &str = "ServiceCIDR.networking.k8s.io";
const RANGE_NAME: &str = "kubernetes";
const IP_KIND: &str = "IPAddress.networking.k8s.io";
const PORT_KIND: &str = "NodePort.skiff";

fn alloc_key(kind: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind: kind.into(),
        namespace: String::new(),
        name: name.into(),
    }
}

/// What is allocated of `kind`, by name, with its owner (`ns/name`), as the
/// batch leaves it.
fn taken(c: &Cluster<'_>, batch: &mut Batch, kind: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let names: Vec<String> = c
        .engine()
        .objects_list(kind, None)?
        .into_iter()
        .map(|s| s.key.name)
        .collect();
    for n in names {
        if let Some((_, body)) = c.read(batch, &alloc_key(kind, &n))? {
            out.insert(
                n,
                body.get("service")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    for (k, v) in batch.written(kind) {
        out.insert(k, v);
    }
    Ok(out)
}

fn in_range((net, len): (Ipv4Addr, u8), ip: Ipv4Addr) -> bool {
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == u32::from(net)
}

fn parse_range(body: &Value) -> Option<(Ipv4Addr, u8)> {
    skiff_engine::network::parse_cidr(body.pointer("/spec/cidrs/0")?.as_str()?)
}

/// The service range as stored; None before the first Service.
pub(crate) fn stored_service_net(c: &Cluster<'_>) -> Result<Option<(Ipv4Addr, u8)>> {
    Ok(c.engine()
        .object_get(&alloc_key(RANGE_KIND, RANGE_NAME))?
        .and_then(|s| parse_range(&s.body)))
}

/// The service range; with the first Service, chosen and written in its
/// batch: the first /16 of kubeadm's 10.96.0.0/12 that no route of this
/// host and no network of skiff's overlaps (as the default bridge's
/// subnet is chosen), so a virtual IP never hides a real address.
fn service_net(c: &Cluster<'_>, batch: &mut Batch) -> Result<Option<(Ipv4Addr, u8)>> {
    let key = alloc_key(RANGE_KIND, RANGE_NAME);
    if let Some(r) = c.read(batch, &key)?.and_then(|(_, b)| parse_range(&b)) {
        return Ok(Some(r));
    }
    let candidates = (96..112).map(|b| (Ipv4Addr::new(10, b, 0, 0), 16));
    let Some((net, len)) = c.engine().first_free_range(candidates)? else {
        return Ok(None);
    };
    batch.put(
        key,
        crate::cluster::new_uid(),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "ServiceCIDR",
            "metadata": {"name": RANGE_NAME},
            "spec": {"cidrs": [format!("{net}/{len}")]},
        }),
    );
    Ok(Some((net, len)))
}

/// Allocate what a Service `o` needs and release what it no longer uses.
pub(crate) fn service(
    c: &Cluster<'_>,
    batch: &mut Batch,
    o: &mut Object,
    context: &str,
) -> Result<()> {
    let Object::Service(s) = o else { return Ok(()) };
    let owner = format!(
        "{}/{}",
        s.metadata.namespace.as_deref().unwrap_or(""),
        s.metadata.name.as_deref().unwrap_or("")
    );
    let name = s.metadata.name.clone().unwrap_or_default();
    let invalid = |cause: String| Error::Invalid {
        context: context.into(),
        kind: Kind::Service,
        name: name.clone(),
        causes: vec![cause],
    };
    let spec = s.spec.get_or_insert_with(Default::default);
    let mut keep_ips = Vec::new();
    if spec.type_.as_deref() != Some("ExternalName") {
        let ips = taken(c, batch, IP_KIND)?;
        let mut range = || -> Result<(Ipv4Addr, u8)> {
            service_net(c, batch)?.ok_or_else(|| {
                invalid(
                    "spec.clusterIPs: Internal error: every /16 of 10.96.0.0/12 overlaps a route of this host or a network"
                        .into(),
                )
            })
        };
        let ip = match spec.cluster_ip.as_deref() {
            Some("None") => None,
            Some(ip) if !ip.is_empty() => {
                let parsed: Ipv4Addr = ip.parse().map_err(|_| {
                    invalid(format!(
                        "spec.clusterIPs[0]: Invalid value: \"{ip}\": must be a valid IP address"
                    ))
                })?;
                let net = range()?;
                if !in_range(net, parsed) {
                    return Err(invalid(format!(
                        "spec.clusterIPs: Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}/{}",
                        net.0, net.1
                    )));
                }
                match ips.get(ip) {
                    Some(o) if *o != owner => {
                        return Err(invalid(format!(
                            "spec.clusterIPs: Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: provided IP is already allocated"
                        )))
                    }
                    _ => Some(ip.to_string()),
                }
            }
            _ => {
                let (net, len) = range()?;
                let base = u32::from(net);
                let size = 1u32 << (32 - len);
                let free = (1..size - 1)
                    .map(|i| Ipv4Addr::from(base + i).to_string())
                    .find(|ip| !ips.contains_key(ip))
                    .ok_or_else(|| {
                        invalid("spec.clusterIPs: Internal error: range is full".into())
                    })?;
                Some(free)
            }
        };
        if let Some(ip) = &ip {
            claim(c, batch, IP_KIND, ip, &owner)?;
            keep_ips.push(ip.clone());
        }
        let shown = ip.clone().unwrap_or_else(|| "None".into());
        spec.cluster_ip = Some(shown.clone());
        spec.cluster_ips = Some(vec![shown]);
        spec.ip_families.get_or_insert_with(|| vec!["IPv4".into()]);
        spec.ip_family_policy
            .get_or_insert_with(|| "SingleStack".into());
    }
    let mut keep_ports = Vec::new();
    if matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer")) {
        let ports = taken(c, batch, PORT_KIND)?;
        for (i, p) in spec.ports.iter_mut().flatten().enumerate() {
            let np = match p.node_port {
                Some(np) => {
                    let key = format!("{np}/{}", p.protocol.as_deref().unwrap_or("TCP"));
                    if ports.get(&key).is_some_and(|o| *o != owner) || keep_ports.contains(&key) {
                        return Err(invalid(format!(
                            "spec.ports[{i}].nodePort: Invalid value: {np}: provided port is already allocated"
                        )));
                    }
                    np
                }
                None => NODE_PORTS
                    .clone()
                    .find(|np| {
                        let key = format!("{np}/{}", p.protocol.as_deref().unwrap_or("TCP"));
                        !ports.contains_key(&key) && !keep_ports.contains(&key)
                    })
                    .ok_or_else(|| {
                        invalid(format!(
                            "spec.ports[{i}].nodePort: Internal error: range is full"
                        ))
                    })?,
            };
            p.node_port = Some(np);
            let key = format!("{np}/{}", p.protocol.as_deref().unwrap_or("TCP"));
            claim(c, batch, PORT_KIND, &key, &owner)?;
            keep_ports.push(key);
        }
    } else {
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
        }
    }
    free_unused(c, batch, &owner, IP_KIND, &keep_ips)?;
    free_unused(c, batch, &owner, PORT_KIND, &keep_ports)?;
    Ok(())
}

/// Hold `name` for `owner` (a no-op when it already does).
fn claim(c: &Cluster<'_>, batch: &mut Batch, kind: &str, name: &str, owner: &str) -> Result<()> {
    let key = alloc_key(kind, name);
    match c.read(batch, &key)? {
        Some((_, body)) if body.get("service").and_then(Value::as_str) == Some(owner) => Ok(()),
        // Taken since it was seen free: the command starts over.
        Some(_) => Err(Error::Conflict {
            resource: kind.into(),
            name: name.into(),
        }),
        None => {
            batch.put(key, crate::cluster::new_uid(), json!({"service": owner}));
            Ok(())
        }
    }
}

fn free_unused(
    c: &Cluster<'_>,
    batch: &mut Batch,
    owner: &str,
    kind: &str,
    keep: &[String],
) -> Result<()> {
    for (name, o) in taken(c, batch, kind)? {
        if o == owner && !keep.contains(&name) {
            batch.delete(alloc_key(kind, &name));
        }
    }
    Ok(())
}

/// Release what a deleted object held.
pub(crate) fn release(c: &Cluster<'_>, batch: &mut Batch, kind: Kind, body: &Value) -> Result<()> {
    if kind != Kind::Service {
        return Ok(());
    }
    let meta = |k: &str| {
        body.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let owner = format!("{}/{}", meta("namespace"), meta("name"));
    free_unused(c, batch, &owner, IP_KIND, &[])?;
    free_unused(c, batch, &owner, PORT_KIND, &[])
}
