//! The one Node (this machine, kept by the controllers: its capacity,
//! what is allocatable after a reserve, its labels, addresses and system
//! info), and the scheduler's decision for a pod on it, as kube-scheduler
//! decides it: the pod's requests (its containers' sum, or its largest init
//! container's) must fit in what the node's allocatable leaves after the
//! pods already placed, and its nodeSelector and required node affinity
//! must match the node's labels; else it stays Pending, Unschedulable, with
//! kube-scheduler's message.

use crate::cluster::{now, Cluster, Mode};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use crate::quantity;
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSelectorRequirement, NodeStatus, NodeSystemInfo, Pod,
    PodSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// What the node keeps for itself (the system, skiff): kubelet's
/// `--system-reserved` in effect.
pub const RESERVED_MILLICPU: i64 = 100;
pub const RESERVED_MEMORY: i64 = 256 << 20;
/// The kubelet version the node reports.
pub const VERSION: &str = "v1.35.0-skiff";

/// The machine: (millicores, memory bytes).
fn capacity() -> (i64, i64) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<i64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    (cpus * 1000, mem)
}

/// (millicores, bytes) the node offers pods.
pub fn allocatable() -> (i64, i64) {
    let (cpu, mem) = capacity();
    (
        (cpu - RESERVED_MILLICPU).max(0),
        (mem - RESERVED_MEMORY).max(0),
    )
}

pub fn labels() -> BTreeMap<String, String> {
    let name = crate::kubelet::node_name();
    [
        ("kubernetes.io/hostname", name.as_str()),
        ("kubernetes.io/os", "linux"),
        (
            "kubernetes.io/arch",
            std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64")
                .as_str(),
        ),
        ("beta.kubernetes.io/os", "linux"),
        ("node-role.kubernetes.io/control-plane", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Keep the Node object up to date (written when something but its
/// heartbeat changed, or the heartbeat is a minute old).
pub fn sync(c: &Cluster<'_>) -> crate::Result<()> {
    let name = crate::kubelet::node_name();
    let (cpu, mem) = capacity();
    let (acpu, amem) = allocatable();
    let q = |s: String| Quantity(s);
    let res = |cpu: i64, mem: i64| -> BTreeMap<String, Quantity> {
        [
            ("cpu".to_string(), q(format!("{cpu}m"))),
            ("memory".to_string(), q(format!("{}Ki", mem / 1024))),
            ("pods".to_string(), q("110".into())),
        ]
        .into()
    };
    let os_image = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into());
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let t = now();
    let ready = NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: Some("KubeletReady".into()),
        message: Some("skiff serve is posting ready status".into()),
        last_heartbeat_time: Some(t.clone()),
        last_transition_time: Some(t.clone()),
    };
    let status = NodeStatus {
        capacity: Some(res(cpu, mem)),
        allocatable: Some(res(acpu, amem)),
        conditions: Some(vec![ready]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: crate::controllers::services::node_address().to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name.clone(),
            },
        ]),
        node_info: Some(NodeSystemInfo {
            architecture: labels()
                .get("kubernetes.io/arch")
                .cloned()
                .unwrap_or_default(),
            container_runtime_version: format!("skiff://{}", env!("CARGO_PKG_VERSION")),
            kernel_version: kernel,
            kubelet_version: VERSION.into(),
            kube_proxy_version: VERSION.into(),
            operating_system: "linux".into(),
            os_image,
            ..Default::default()
        }),
        ..Default::default()
    };
    match c.get(Kind::Node, "", &name)? {
        Some(Object::Node(mut n)) => {
            let old = n.status.clone().unwrap_or_default();
            let beat = |s: &NodeStatus| {
                s.conditions
                    .as_ref()
                    .and_then(|c| c.first())
                    .and_then(|c| c.last_heartbeat_time.as_ref())
                    .map_or(0, |t| t.0.as_second())
            };
            let strip = |mut s: NodeStatus| {
                for c in s.conditions.iter_mut().flatten() {
                    c.last_heartbeat_time = None;
                    c.last_transition_time = None;
                }
                s
            };
            let stale = t.0.as_second() - beat(&old) >= 60;
            if strip(old.clone()) != strip(status.clone())
                || stale
                || n.metadata.labels.as_ref() != Some(&labels())
            {
                let mut status = status;
                // The transition time stays while it stays ready.
                if let (Some(new), Some(prev)) = (
                    status.conditions.as_mut().and_then(|c| c.first_mut()),
                    old.conditions.as_ref().and_then(|c| c.first()),
                ) {
                    if prev.status == new.status {
                        new.last_transition_time = prev.last_transition_time.clone();
                    }
                }
                n.status = Some(status);
                n.metadata.labels = Some(labels());
                c.replace(Object::Node(n))?;
            }
            Ok(())
        }
        _ => {
            let n = Node {
                metadata: ObjectMeta {
                    name: Some(name),
                    labels: Some(labels()),
                    ..Default::default()
                },
                spec: None,
                status: Some(status),
            };
            let m = Manifest {
                source: String::new(),
                object: Object::Node(Box::new(n)),
            };
            match c.apply(&[m], None, Mode::Internal) {
                Ok(_) | Err(crate::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// A pod's requests (millicores, bytes): its containers' sum, or its
/// largest init container's when that is more (they run one at a time).
pub fn requests(spec: &PodSpec) -> (i64, i64) {
    let one = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.clone().unwrap_or_default();
        let get = |k: &str| {
            r.requests
                .as_ref()
                .and_then(|m| m.get(k))
                .map(|q| q.0.clone())
        };
        (
            get("cpu")
                .and_then(|q| quantity::millicores(&q))
                .unwrap_or(0),
            get("memory").and_then(|q| quantity::bytes(&q)).unwrap_or(0),
        )
    };
    let (mut cpu, mut mem) = (0, 0);
    for c in &spec.containers {
        let (a, b) = one(c);
        cpu += a;
        mem += b;
    }
    for c in spec.init_containers.iter().flatten() {
        let (a, b) = one(c);
        cpu = cpu.max(a);
        mem = mem.max(b);
    }
    (cpu, mem)
}

fn requirement(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let have = labels.get(&r.key);
    let values = r.values.clone().unwrap_or_default();
    match r.operator.as_str() {
        "In" => have.is_some_and(|v| values.contains(v)),
        "NotIn" => have.is_none_or(|v| !values.contains(v)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                h > v
            } else {
                h < v
            }
        }
        _ => false,
    }
}

/// Why `pod` does not fit on the node beside `placed` (the pods already
/// bound to it), in kube-scheduler's words; None when it fits.
pub fn unschedulable(pod: &Pod, placed: &[&Pod]) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let labels = labels();
    let mut reasons = Vec::new();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_none_or(|sel| {
            sel.node_selector_terms.iter().any(|t| {
                t.match_expressions
                    .iter()
                    .flatten()
                    .all(|r| requirement(r, &labels))
                    && t.match_fields.iter().flatten().all(|r| {
                        let fields =
                            [("metadata.name".to_string(), crate::kubelet::node_name())].into();
                        requirement(r, &fields)
                    })
            })
        });
    if !selector_ok || !affinity_ok {
        reasons.push("1 node(s) didn't match Pod's node affinity/selector".to_string());
    }
    let (cpu, mem) = requests(spec);
    let (acpu, amem) = allocatable();
    let (mut ucpu, mut umem) = (0, 0);
    for p in placed {
        if let Some(s) = p.spec.as_ref() {
            let (a, b) = requests(s);
            ucpu += a;
            umem += b;
        }
    }
    if cpu > 0 && ucpu + cpu > acpu {
        reasons.push("1 Insufficient cpu".into());
    }
    if mem > 0 && umem + mem > amem {
        reasons.push("1 Insufficient memory".into());
    }
    if reasons.is_empty() {
        return None;
    }
    reasons.sort();
    Some(format!(
        "0/1 nodes are available: {}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        reasons.join(", ")
    ))
}
