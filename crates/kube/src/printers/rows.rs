//! Each kind's row (and `-o wide`'s columns), computed as kubectl's
//! printers compute them.

use super::{age, human_duration, or_none};
use crate::object::Object;
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub(super) fn row(o: &Object, now: k8s_openapi::jiff::Timestamp) -> Vec<String> {
    let name = o.name().to_string();
    let created = age(o.meta().creation_timestamp.as_ref(), now);
    match o {
        Object::Namespace(n) => {
            let phase = n
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            vec![name, phase, created]
        }
        Object::Node(n) => {
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .map(|c| {
                    if c.status == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .unwrap_or("Unknown");
            let roles: Vec<_> = n
                .metadata
                .labels
                .iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            let version = n
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default();
            vec![
                name,
                ready.into(),
                or_none(roles.join(",")),
                created,
                version,
            ]
        }
        Object::Pod(p) => {
            let (ready, total, status, restarts) = pod_columns(p, now);
            vec![name, format!("{ready}/{total}"), status, restarts, created]
        }
        Object::Service(s) => {
            let spec = s.spec.clone().unwrap_or_default();
            let ty = spec.type_.clone().unwrap_or_default();
            let external = match ty.as_str() {
                "ExternalName" => spec.external_name.clone().unwrap_or_default(),
                "LoadBalancer" => {
                    let ingress: Vec<String> = s
                        .status
                        .as_ref()
                        .and_then(|st| st.load_balancer.as_ref())
                        .and_then(|lb| lb.ingress.as_ref())
                        .into_iter()
                        .flatten()
                        .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                        .collect();
                    if ingress.is_empty() {
                        "<pending>".into()
                    } else {
                        ingress.join(",")
                    }
                }
                _ => spec.external_ips.clone().unwrap_or_default().join(","),
            };
            let ports: Vec<String> = spec
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                    match p.node_port {
                        Some(np) => format!("{}:{np}/{proto}", p.port),
                        None => format!("{}/{proto}", p.port),
                    }
                })
                .collect();
            let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
            vec![
                name,
                ty,
                or_none(cluster_ip),
                or_none(external),
                or_none(ports.join(",")),
                created,
            ]
        }
        Object::Endpoints(e) => {
            let mut eps = Vec::new();
            for s in e.subsets.iter().flatten() {
                for a in s.addresses.iter().flatten() {
                    for p in s.ports.iter().flatten() {
                        eps.push(format!("{}:{}", a.ip, p.port));
                    }
                }
            }
            let shown = if eps.len() > 3 {
                format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
            } else {
                eps.join(",")
            };
            vec![name, or_none(shown), created]
        }
        Object::ConfigMap(c) => {
            let n = c.data.as_ref().map_or(0, |d| d.len())
                + c.binary_data.as_ref().map_or(0, |d| d.len());
            vec![name, n.to_string(), created]
        }
        Object::Secret(s) => {
            let n = s.data.as_ref().map_or(0, |d| d.len());
            vec![
                name,
                s.type_.clone().unwrap_or_default(),
                n.to_string(),
                created,
            ]
        }
        Object::PersistentVolumeClaim(c) => {
            let spec = c.spec.clone().unwrap_or_default();
            let status = c.status.clone().unwrap_or_default();
            let capacity = status
                .capacity
                .as_ref()
                .and_then(|m| m.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            let modes: Vec<String> = status
                .access_modes
                .unwrap_or_default()
                .iter()
                .map(|m| match m.as_str() {
                    "ReadWriteOnce" => "RWO".into(),
                    "ReadOnlyMany" => "ROX".into(),
                    "ReadWriteMany" => "RWX".into(),
                    "ReadWriteOncePod" => "RWOP".into(),
                    other => other.to_string(),
                })
                .collect();
            vec![
                name,
                status.phase.unwrap_or_default(),
                spec.volume_name.unwrap_or_default(),
                capacity,
                modes.join(","),
                spec.storage_class_name.unwrap_or_default(),
                or_unset(spec.volume_attributes_class_name),
                created,
            ]
        }
        Object::Event(e) => {
            let last = e
                .last_timestamp
                .as_ref()
                .or(e.metadata.creation_timestamp.as_ref());
            let obj = format!(
                "{}/{}",
                e.involved_object
                    .kind
                    .clone()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            );
            vec![
                age(last, now),
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                obj,
                e.message.clone().unwrap_or_default(),
            ]
        }
        Object::Deployment(d) => {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            let st = d.status.clone().unwrap_or_default();
            vec![
                name,
                format!("{}/{want}", st.ready_replicas.unwrap_or(0)),
                st.updated_replicas.unwrap_or(0).to_string(),
                st.available_replicas.unwrap_or(0).to_string(),
                created,
            ]
        }
        Object::ReplicaSet(r) => {
            let want = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            let st = r.status.clone().unwrap_or_default();
            vec![
                name,
                want.to_string(),
                st.replicas.to_string(),
                st.ready_replicas.unwrap_or(0).to_string(),
                created,
            ]
        }
        Object::Job(j) => {
            let st = j.status.clone().unwrap_or_default();
            let completions = j.spec.as_ref().and_then(|s| s.completions);
            let shown = match completions {
                Some(c) => format!("{}/{c}", st.succeeded.unwrap_or(0)),
                None => format!(
                    "{}/1 of {}",
                    st.succeeded.unwrap_or(0),
                    j.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1)
                ),
            };
            let cond = |t: &str| {
                st.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == t && c.status == "True")
            };
            let status = if cond("Complete") {
                "Complete"
            } else if cond("Failed") {
                "Failed"
            } else if cond("Suspended") {
                "Suspended"
            } else {
                "Running"
            };
            let duration = match (&st.start_time, &st.completion_time) {
                (Some(s), Some(c)) => human_duration(c.0.as_second() - s.0.as_second()),
                (Some(s), None) => human_duration(now.as_second() - s.0.as_second()),
                _ => String::new(),
            };
            vec![name, status.into(), shown, duration, created]
        }
        Object::HorizontalPodAutoscaler(h) => {
            let spec = h.spec.clone().unwrap_or_default();
            let st = h.status.clone().unwrap_or_default();
            let reference = format!(
                "{}/{}",
                spec.scale_target_ref.kind, spec.scale_target_ref.name
            );
            let targets = crate::printers::hpa_targets(&spec, &st);
            vec![
                name,
                reference,
                targets,
                spec.min_replicas.unwrap_or(1).to_string(),
                spec.max_replicas.to_string(),
                st.current_replicas.unwrap_or(0).to_string(),
                created,
            ]
        }
        Object::EndpointSlice(s) => {
            let ports: Vec<String> = s
                .ports
                .iter()
                .flatten()
                .filter_map(|p| p.port.map(|p| p.to_string()))
                .collect();
            let eps: Vec<String> = s
                .endpoints
                .iter()
                .flat_map(|e| e.addresses.clone())
                .collect();
            let shown = if eps.len() > 3 {
                format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
            } else {
                eps.join(",")
            };
            vec![
                name,
                s.address_type.clone(),
                or_unset(Some(ports.join(","))),
                or_unset(Some(shown)),
                created,
            ]
        }
    }
}

fn or_unset(s: Option<String>) -> String {
    match s {
        Some(s) if !s.is_empty() => s,
        _ => "<unset>".into(),
    }
}

/// The HPA's TARGETS column: `cpu: 40%/50%` per metric (`<unknown>` before
/// the first measure).
pub fn hpa_targets(
    spec: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec,
    st: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus,
) -> String {
    let mut out = Vec::new();
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        let Some(r) = &m.resource else { continue };
        let current = st
            .current_metrics
            .as_ref()
            .and_then(|c| c.get(i))
            .and_then(|c| c.resource.as_ref())
            .map(|r| &r.current);
        let (have, want) = match r.target.type_.as_str() {
            "Utilization" => (
                current
                    .and_then(|c| c.average_utilization)
                    .map(|u| format!("{u}%")),
                format!("{}%", r.target.average_utilization.unwrap_or(0)),
            ),
            _ => (
                current
                    .and_then(|c| c.average_value.as_ref())
                    .map(|q| q.0.clone()),
                r.target
                    .average_value
                    .as_ref()
                    .map(|q| q.0.clone())
                    .unwrap_or_default(),
            ),
        };
        out.push(format!(
            "{}: {}/{want}",
            r.name,
            have.unwrap_or_else(|| "<unknown>".into())
        ));
    }
    if out.is_empty() {
        "<none>".into()
    } else {
        out.join(", ")
    }
}

fn template_columns(t: Option<&PodTemplateSpec>, sel: Option<&LabelSelector>) -> Vec<String> {
    let spec: Option<&PodSpec> = t.and_then(|t| t.spec.as_ref());
    let names: Vec<String> = spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
        .collect();
    let images: Vec<String> = spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .map(|c| c.image.clone().unwrap_or_default())
        })
        .collect();
    vec![
        names.join(","),
        images.join(","),
        or_none(selector_text(sel)),
    ]
}

/// A selector as kubectl shows it: `app=web,tier in (a,b)`.
pub fn selector_text(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else { return String::new() };
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let vals = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({vals})", e.key),
            "NotIn" => format!("{} notin ({vals})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

pub(super) fn wide_row(o: &Object) -> Vec<String> {
    match o {
        Object::Pod(p) => {
            let st = p.status.clone().unwrap_or_default();
            let gates = p
                .spec
                .as_ref()
                .and_then(|s| s.readiness_gates.as_ref())
                .map(|g| format!("0/{}", g.len()))
                .unwrap_or_default();
            vec![
                or_none(st.pod_ip.unwrap_or_default()),
                or_none(
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_default(),
                ),
                or_none(st.nominated_node_name.unwrap_or_default()),
                or_none(gates),
            ]
        }
        Object::Service(s) => {
            let sel = s.spec.as_ref().and_then(|s| s.selector.as_ref());
            let text: Vec<String> = sel
                .iter()
                .flat_map(|m| m.iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            vec![or_none(text.join(","))]
        }
        Object::Deployment(d) => template_columns(
            d.spec.as_ref().map(|s| &s.template),
            d.spec.as_ref().map(|s| &s.selector),
        ),
        Object::ReplicaSet(r) => template_columns(
            r.spec.as_ref().and_then(|s| s.template.as_ref()),
            r.spec.as_ref().map(|s| &s.selector),
        ),
        Object::Job(j) => template_columns(
            j.spec.as_ref().map(|s| &s.template),
            j.spec.as_ref().and_then(|s| s.selector.as_ref()),
        ),
        Object::Node(n) => {
            let st = n.status.clone().unwrap_or_default();
            let ip = st
                .addresses
                .iter()
                .flatten()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
                .unwrap_or_default();
            let info = st.node_info.unwrap_or_default();
            vec![
                or_none(ip),
                "<none>".into(),
                info.os_image,
                info.kernel_version,
                info.container_runtime_version,
            ]
        }
        Object::PersistentVolumeClaim(c) => {
            vec![c
                .spec
                .as_ref()
                .and_then(|s| s.volume_mode.clone())
                .unwrap_or_default()]
        }
        _ => vec![],
    }
}

/// A pod's READY counts, STATUS and RESTARTS, as kubectl's printer
/// computes them from its status.
pub fn pod_columns(p: &Pod, now: k8s_openapi::jiff::Timestamp) -> (usize, usize, String, String) {
    let spec = p.spec.clone().unwrap_or_default();
    let st = p.status.clone().unwrap_or_default();
    let total = spec.containers.len();
    let mut reason = st.reason.clone().or(st.phase.clone()).unwrap_or_default();
    let mut restarts = 0;
    let mut last_restart: Option<i64> = None;
    let mut ready = 0;
    let mut initializing = false;
    let inits = spec.init_containers.as_ref().map_or(0, Vec::len);
    let mut note_restart = |cs: &k8s_openapi::api::core::v1::ContainerStatus,
                            restarts: &mut i32| {
        *restarts += cs.restart_count;
        if let Some(t) = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
        {
            last_restart = Some(last_restart.map_or(t.0.as_second(), |l| l.max(t.0.as_second())));
        }
    };
    for (i, cs) in st.init_container_statuses.iter().flatten().enumerate() {
        note_restart(cs, &mut restarts);
        let state = cs.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match &t.reason {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ if t.signal.unwrap_or(0) != 0 => format!("Init:Signal:{}", t.signal.unwrap_or(0)),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(r) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{inits}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for cs in st.container_statuses.iter().flatten().rev() {
            note_restart(cs, &mut restarts);
            let state = cs.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = r;
            } else if let Some(t) = &state.terminated {
                reason = match &t.reason {
                    Some(r) if !r.is_empty() => r.clone(),
                    _ if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
                    _ => format!("ExitCode:{}", t.exit_code),
                };
            } else if cs.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = st
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }
    if p.metadata.deletion_timestamp.is_some() {
        reason = if st.reason.as_deref() == Some("NodeLost") {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    let restarts_text = match last_restart {
        Some(t) if restarts > 0 => {
            format!("{restarts} ({} ago)", human_duration(now.as_second() - t))
        }
        _ => restarts.to_string(),
    };
    (ready, total, reason, restarts_text)
}
