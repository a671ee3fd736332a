//! Services: the endpoints controller (each Service with a selector gets an
//! Endpoints object and an EndpointSlice listing its pods, ready or not,
//! with named target ports resolved per pod) and the proxy (the ready
//! endpoints, or the serving-terminating ones when none is ready, as
//! kube-proxy falls back, put in the kernel through the engine in one
//! nftables transaction per change), and LoadBalancer Services' status
//! (served on the node's addresses, as k3s's ServiceLB serves them).

use super::{controller_of, is_ready, owner_ref};
use crate::cluster::{Cluster, Mode};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, LoadBalancerIngress,
    LoadBalancerStatus, Pod, Service, ServiceStatus,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skiff_net::services::ServicePort;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGER: &str = "endpointslice-controller.k8s.io";

/// What the proxy last put in the kernel (None: nothing yet, so the first
/// pass of a serve always writes the table).
#[derive(Default)]
pub struct Proxy {
    last: Option<Vec<ServicePort>>,
}

/// One pod behind a service port.
#[derive(Debug, Clone)]
struct Backend {
    pod: String,
    uid: String,
    ip: Ipv4Addr,
    port: u16,
    ready: bool,
    terminating: bool,
    /// Its containers pass readiness (a terminating pod may still serve).
    serving: bool,
}

/// The ports one pod serves for a Service: (name, port, protocol).
type PortSet = Vec<(String, u16, String)>;

/// The port `target` names in `pod` (a number, or one of its containers'
/// port names).
fn target_port(target: &IntOrString, pod: &Pod) -> Option<u16> {
    match target {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

pub fn sync(c: &Cluster<'_>, pods: &[Pod], proxy: &mut Proxy) -> crate::Result<()> {
    let services: Vec<Service> = c
        .list(Kind::Service, None)?
        .into_iter()
        .filter_map(|o| match o {
            Object::Service(s) => Some(*s),
            _ => None,
        })
        .collect();
    let mut rules = Vec::new();
    let node_ip = node_address();
    for svc in &services {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let spec = svc.spec.clone().unwrap_or_default();
        let Some(selector) = spec.selector.clone().filter(|s| !s.is_empty()) else {
            continue;
        };
        // Each port's backends.
        let mut per_port: Vec<(k8s_openapi::api::core::v1::ServicePort, Vec<Backend>)> = Vec::new();
        for sp in spec.ports.iter().flatten() {
            let target = sp.target_port.clone().unwrap_or(IntOrString::Int(sp.port));
            let mut backends = Vec::new();
            for p in pods
                .iter()
                .filter(|p| p.metadata.namespace.as_deref() == Some(&ns))
            {
                let labels = p.metadata.labels.clone().unwrap_or_default();
                if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                    continue;
                }
                let st = p.status.clone().unwrap_or_default();
                if matches!(st.phase.as_deref(), Some("Succeeded" | "Failed")) {
                    continue;
                }
                let Some(ip) = st.pod_ip.as_deref().and_then(|i| i.parse().ok()) else {
                    continue;
                };
                let Some(port) = target_port(&target, p) else {
                    continue;
                };
                let terminating = p.metadata.deletion_timestamp.is_some();
                let serving = st
                    .container_statuses
                    .as_ref()
                    .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready));
                backends.push(Backend {
                    serving,
                    pod: p.metadata.name.clone().unwrap_or_default(),
                    uid: p.metadata.uid.clone().unwrap_or_default(),
                    ip,
                    port,
                    ready: is_ready(p) && !terminating,
                    terminating,
                });
            }
            backends.sort_by(|a, b| a.pod.cmp(&b.pod));
            per_port.push((sp.clone(), backends));
        }
        write_endpoints(c, svc, &per_port)?;
        // The proxy's view: ready ones, else serving-terminating ones.
        for (sp, backends) in &per_port {
            let ready: Vec<(Ipv4Addr, u16)> = backends
                .iter()
                .filter(|b| b.ready)
                .map(|b| (b.ip, b.port))
                .collect();
            let endpoints = if ready.is_empty() {
                // Serving while terminating: still passing readiness.
                backends
                    .iter()
                    .filter(|b| b.terminating && b.serving)
                    .map(|b| (b.ip, b.port))
                    .collect()
            } else {
                ready
            };
            let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
            rules.push(ServicePort {
                proto: sp.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                cluster_ip: spec.cluster_ip.as_deref().and_then(|i| i.parse().ok()),
                port: sp.port as u16,
                node_port: sp.node_port.filter(|_| ty != "ClusterIP").map(|n| n as u16),
                lb_port: (ty == "LoadBalancer").then_some(sp.port as u16),
                endpoints,
                client_affinity: spec.session_affinity.as_deref() == Some("ClientIP"),
            });
        }
        if spec.type_.as_deref() == Some("LoadBalancer") {
            let want = ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(vec![LoadBalancerIngress {
                        ip: Some(node_ip.to_string()),
                        ip_mode: Some("VIP".into()),
                        ..Default::default()
                    }]),
                }),
                conditions: None,
            };
            if svc.status.as_ref() != Some(&want) {
                let mut s = svc.clone();
                s.status = Some(want);
                c.replace(Object::Service(Box::new(s)))?;
            }
        }
    }
    remove_orphans(c, &services)?;
    publish_names(c, &services, pods)?;
    if proxy.last.as_ref() != Some(&rules) {
        // The service range is routed onto the pods' bridge once it exists.
        let route = match c.engine().network_find(crate::kubelet::spec::POD_NETWORK) {
            Ok(_) => crate::allocate::stored_service_net(c)?
                .map(|(net, len)| (net, len, crate::kubelet::spec::POD_NETWORK)),
            Err(_) => None,
        };
        c.engine().services_apply_routed(&rules, route)?;
        proxy.last = Some(rules);
    }
    Ok(())
}

fn target_ref(b: &Backend, ns: &str) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        name: Some(b.pod.clone()),
        namespace: Some(ns.into()),
        uid: Some(b.uid.clone()),
        ..Default::default()
    }
}

/// The Endpoints object and the EndpointSlice of `svc`, written when they
/// changed.
fn write_endpoints(
    c: &Cluster<'_>,
    svc: &Service,
    per_port: &[(k8s_openapi::api::core::v1::ServicePort, Vec<Backend>)],
) -> crate::Result<()> {
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let node = crate::kubelet::node_name();
    // Endpoints: pods grouped by the ports they serve.
    let mut by_ports: BTreeMap<PortSet, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    let mut pods: BTreeMap<String, (Backend, PortSet)> = BTreeMap::new();
    for (sp, backends) in per_port {
        for b in backends {
            let e = pods
                .entry(b.uid.clone())
                .or_insert_with(|| (b.clone(), Vec::new()));
            e.1.push((
                sp.name.clone().unwrap_or_default(),
                b.port,
                sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
            ));
        }
    }
    for (b, ports) in pods.values() {
        let addr = EndpointAddress {
            ip: b.ip.to_string(),
            node_name: Some(node.clone()),
            target_ref: Some(target_ref(b, &ns)),
            hostname: None,
        };
        let slot = by_ports.entry(ports.clone()).or_default();
        if b.ready {
            slot.0.push(addr);
        } else {
            slot.1.push(addr);
        }
    }
    let subsets: Vec<EndpointSubset> = by_ports
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: Some(
                ports
                    .into_iter()
                    .map(|(n, p, proto)| EndpointPort {
                        name: Some(n).filter(|n| !n.is_empty()),
                        port: p as i32,
                        protocol: Some(proto),
                        app_protocol: None,
                    })
                    .collect(),
            ),
        })
        .collect();
    let labels: BTreeMap<String, String> = svc.metadata.labels.clone().unwrap_or_default();
    let endpoints = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels.clone()).filter(|l| !l.is_empty()),
            ..Default::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    };
    put(
        c,
        Kind::Endpoints,
        &ns,
        &name,
        Object::Endpoints(Box::new(endpoints)),
        |old, new| match (old, new) {
            (Object::Endpoints(a), Object::Endpoints(b)) => a.subsets == b.subsets,
            _ => false,
        },
    )?;
    // The EndpointSlice (one; its name kept once made).
    let existing = c
        .list(Kind::EndpointSlice, Some(&ns))?
        .into_iter()
        .find(|o| {
            o.meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                == Some(&name)
        });
    let slice_name = existing
        .as_ref()
        .map(|o| o.name().to_string())
        .unwrap_or_else(|| format!("{name}-{}", super::random_suffix()));
    let mut slice_labels = labels;
    slice_labels.insert(SERVICE_NAME_LABEL.into(), name.clone());
    slice_labels.insert(MANAGED_BY.into(), MANAGER.into());
    let slice = EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(slice_labels),
            owner_references: Some(vec![owner_ref(
                "v1",
                "Service",
                &name,
                svc.metadata.uid.as_deref().unwrap_or(""),
            )]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: pods
            .values()
            .map(|(b, _)| Endpoint {
                addresses: vec![b.ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(b.ready),
                    serving: Some(b.ready || (b.terminating && b.serving)),
                    terminating: Some(b.terminating),
                }),
                node_name: Some(node.clone()),
                target_ref: Some(target_ref(b, &ns)),
                ..Default::default()
            })
            .collect(),
        ports: Some(
            per_port
                .iter()
                .map(|(sp, backends)| SlicePort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    port: backends.first().map(|b| b.port as i32),
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: None,
                })
                .collect(),
        ),
    };
    put(
        c,
        Kind::EndpointSlice,
        &ns,
        &slice_name,
        Object::EndpointSlice(Box::new(slice)),
        |old, new| match (old, new) {
            (Object::EndpointSlice(a), Object::EndpointSlice(b)) => {
                a.endpoints == b.endpoints && a.ports == b.ports
            }
            _ => false,
        },
    )
}

/// Create `o`, or replace what is stored unless `same` says nothing changed.
fn put(
    c: &Cluster<'_>,
    kind: Kind,
    ns: &str,
    name: &str,
    mut o: Object,
    same: impl Fn(&Object, &Object) -> bool,
) -> crate::Result<()> {
    match c.get(kind, ns, name)? {
        Some(old) if same(&old, &o) => Ok(()),
        Some(old) => {
            let meta = o.meta_mut();
            meta.uid = old.meta().uid.clone();
            meta.resource_version = old.meta().resource_version.clone();
            meta.creation_timestamp = old.meta().creation_timestamp.clone();
            c.replace(o)
        }
        None => {
            let m = Manifest {
                source: String::new(),
                object: o,
            };
            match c.apply(&[m], Some(ns), Mode::Internal) {
                Ok(_) | Err(crate::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// Endpoints and slices whose Service is gone (or has no selector any
/// more: its endpoints are the user's then).
fn remove_orphans(c: &Cluster<'_>, services: &[Service]) -> crate::Result<()> {
    let wanted: std::collections::HashSet<(String, String)> = services
        .iter()
        .filter(|s| {
            s.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|s| !s.is_empty())
        })
        .map(|s| {
            (
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut doomed = Vec::new();
    for o in c.list(Kind::Endpoints, None)? {
        if !wanted.contains(&(o.namespace().to_string(), o.name().to_string())) {
            doomed.push((
                Kind::Endpoints,
                o.namespace().to_string(),
                o.name().to_string(),
            ));
        }
    }
    for o in c.list(Kind::EndpointSlice, None)? {
        let managed = o
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY))
            .map(String::as_str)
            == Some(MANAGER);
        let svc = o
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .cloned()
            .unwrap_or_default();
        if managed
            && !wanted.contains(&(o.namespace().to_string(), svc))
            && controller_of(o.meta()).is_some()
        {
            doomed.push((
                Kind::EndpointSlice,
                o.namespace().to_string(),
                o.name().to_string(),
            ));
        }
    }
    if !doomed.is_empty() {
        c.delete(&doomed, &Default::default())?;
    }
    Ok(())
}

/// The node's address for LoadBalancer Services: its first IPv4 address
/// outside loopback and skiff's bridges, else 127.0.0.1.
pub(crate) fn node_address() -> Ipv4Addr {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Ipv4Addr::LOCALHOST;
    };
    for a in addrs {
        if a.interface_name == "lo"
            || a.interface_name.starts_with("skiff")
            || a.interface_name.starts_with("skbr-")
        {
            continue;
        }
        if let Some(ip) = a
            .address
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .map(|s| s.ip())
        {
            if !ip.is_loopback() {
                return ip;
            }
        }
    }
    Ipv4Addr::LOCALHOST
}

/// The Services' DNS names in the node's embedded DNS:
/// `<service>.<namespace>.svc.cluster.local`, the cluster IP (a headless
/// Service's: its ready pods' addresses). Written when they change.
fn publish_names(c: &Cluster<'_>, services: &[Service], pods: &[Pod]) -> crate::Result<()> {
    use crate::kubelet::spec::CLUSTER_DOMAIN;
    use skiff_engine::network::{DNS_RECORD_KIND, DNS_ZONE_KIND};
    use skiff_engine::store::{Expect, ObjectKey, ObjectWrite};
    let key = |kind: &str, name: &str| ObjectKey {
        kind: kind.into(),
        namespace: String::new(),
        name: name.into(),
    };
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for svc in services {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let spec = svc.spec.clone().unwrap_or_default();
        let ips: Vec<String> = match spec.cluster_ip.as_deref() {
            Some("None") => {
                let sel = spec.selector.clone().unwrap_or_default();
                let mut ips: Vec<String> = pods
                    .iter()
                    .filter(|p| p.metadata.namespace.as_deref() == Some(&ns) && is_ready(p))
                    .filter(|p| {
                        let l = p.metadata.labels.clone().unwrap_or_default();
                        !sel.is_empty() && sel.iter().all(|(k, v)| l.get(k) == Some(v))
                    })
                    .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
                    .collect();
                ips.sort();
                ips
            }
            Some(ip) if !ip.is_empty() => vec![ip.to_string()],
            _ => continue,
        };
        want.insert(format!("{name}.{ns}.svc.{CLUSTER_DOMAIN}"), ips);
    }
    let e = c.engine();
    let mut writes = Vec::new();
    if !want.is_empty() && e.object_get(&key(DNS_ZONE_KIND, CLUSTER_DOMAIN))?.is_none() {
        writes.push(ObjectWrite::Put {
            key: key(DNS_ZONE_KIND, CLUSTER_DOMAIN),
            uid: crate::cluster::new_uid(),
            body: serde_json::json!({}),
            expect: Expect::Any,
        });
    }
    let have = e.objects_list(DNS_RECORD_KIND, None)?;
    for rec in &have {
        if !want.contains_key(&rec.key.name) {
            writes.push(ObjectWrite::Delete {
                key: rec.key.clone(),
                expect: Expect::Any,
            });
        }
    }
    for (name, ips) in want {
        let body = serde_json::json!({ "a": ips });
        if have.iter().any(|r| r.key.name == name && r.body == body) {
            continue;
        }
        writes.push(ObjectWrite::Put {
            key: key(DNS_RECORD_KIND, &name),
            uid: crate::cluster::new_uid(),
            body,
            expect: Expect::Any,
        });
    }
    if !writes.is_empty() {
        e.objects_write(&writes)?;
    }
    Ok(())
}
