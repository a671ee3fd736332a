//! The defaults the API server fills in (Kubernetes' `SetDefaults_*` for
//! the kinds skiff serves), so a stored object reads back as a cluster
//! would return it and the controllers never guess.

use crate::object::Object;
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn set<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

/// Fill in `o`'s defaults.
pub fn apply(o: &mut Object) {
    match o {
        Object::Pod(p) => {
            if let Some(spec) = p.spec.as_mut() {
                pod_spec(spec);
            }
        }
        Object::Deployment(d) => {
            if let Some(spec) = d.spec.as_mut() {
                set(&mut spec.replicas, 1);
                set(&mut spec.revision_history_limit, 10);
                set(&mut spec.progress_deadline_seconds, 600);
                let strategy = spec.strategy.get_or_insert_with(Default::default);
                set(&mut strategy.type_, "RollingUpdate".into());
                if strategy.type_.as_deref() == Some("RollingUpdate") {
                    let ru = strategy.rolling_update.get_or_insert_with(Default::default);
                    set(&mut ru.max_unavailable, IntOrString::String("25%".into()));
                    set(&mut ru.max_surge, IntOrString::String("25%".into()));
                }
                template(&mut spec.template);
            }
        }
        Object::ReplicaSet(r) => {
            if let Some(spec) = r.spec.as_mut() {
                set(&mut spec.replicas, 1);
                if let Some(t) = spec.template.as_mut() {
                    template(t);
                }
            }
        }
        Object::Job(j) => {
            if let Some(spec) = j.spec.as_mut() {
                if spec.completions.is_none() && spec.parallelism.is_none() {
                    spec.completions = Some(1);
                    spec.parallelism = Some(1);
                }
                set(&mut spec.parallelism, 1);
                set(&mut spec.backoff_limit, 6);
                set(&mut spec.completion_mode, "NonIndexed".into());
                set(&mut spec.suspend, false);
                set(
                    &mut spec.pod_replacement_policy,
                    "TerminatingOrFailed".into(),
                );
                set(&mut spec.manual_selector, false);
                template(&mut spec.template);
            }
        }
        Object::Service(s) => {
            let spec = s.spec.get_or_insert_with(Default::default);
            set(&mut spec.type_, "ClusterIP".into());
            set(&mut spec.session_affinity, "None".into());
            set(&mut spec.internal_traffic_policy, "Cluster".into());
            if matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer")) {
                set(&mut spec.external_traffic_policy, "Cluster".into());
            }
            for p in spec.ports.iter_mut().flatten() {
                set(&mut p.protocol, "TCP".into());
                set(&mut p.target_port, IntOrString::Int(p.port));
            }
        }
        Object::Secret(s) => {
            set(&mut s.type_, "Opaque".into());
            // stringData is write-only: merged into data.
            if let Some(strings) = s.string_data.take() {
                let data = s.data.get_or_insert_with(Default::default);
                for (k, v) in strings {
                    data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
                }
            }
        }
        Object::Namespace(n) => {
            let spec = n.spec.get_or_insert_with(Default::default);
            set(&mut spec.finalizers, vec!["kubernetes".into()]);
        }
        Object::PersistentVolumeClaim(c) => {
            if let Some(spec) = c.spec.as_mut() {
                set(&mut spec.volume_mode, "Filesystem".into());
            }
        }
        Object::HorizontalPodAutoscaler(h) => {
            let spec = &mut h.spec;
            if let Some(spec) = spec.as_mut() {
                set(&mut spec.min_replicas, 1);
                if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
                    spec.metrics = Some(vec![default_cpu_metric()]);
                }
            }
        }
        _ => {}
    }
}

/// An HPA without metrics scales on CPU at 80% of requests.
fn default_cpu_metric() -> k8s_openapi::api::autoscaling::v2::MetricSpec {
    use k8s_openapi::api::autoscaling::v2::{MetricSpec, MetricTarget, ResourceMetricSource};
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(80),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

fn template(t: &mut PodTemplateSpec) {
    if let Some(spec) = t.spec.as_mut() {
        pod_spec(spec);
    }
}

/// A pod spec's defaults (also a template's).
pub fn pod_spec(spec: &mut PodSpec) {
    set(&mut spec.restart_policy, "Always".into());
    set(&mut spec.termination_grace_period_seconds, 30);
    set(&mut spec.dns_policy, "ClusterFirst".into());
    set(&mut spec.scheduler_name, "default-scheduler".into());
    set(&mut spec.security_context, Default::default());
    set(&mut spec.enable_service_links, true);
    for c in spec.containers.iter_mut() {
        container(c);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = v.config_map.as_mut() {
            set(&mut cm.default_mode, 0o644);
        }
        if let Some(s) = v.secret.as_mut() {
            set(&mut s.default_mode, 0o644);
        }
    }
}

fn container(c: &mut Container) {
    set(
        &mut c.termination_message_path,
        "/dev/termination-log".into(),
    );
    set(&mut c.termination_message_policy, "File".into());
    set(
        &mut c.image_pull_policy,
        pull_policy(c.image.as_deref().unwrap_or("")).into(),
    );
    for p in c.ports.iter_mut().flatten() {
        set(&mut p.protocol, "TCP".into());
    }
    // Requests default to the limits.
    let resources = c.resources.get_or_insert_with(Default::default);
    if let Some(limits) = resources.limits.clone() {
        let requests = resources.requests.get_or_insert_with(Default::default);
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
    for p in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        probe(p);
    }
}

fn probe(p: &mut Probe) {
    set(&mut p.timeout_seconds, 1);
    set(&mut p.period_seconds, 10);
    set(&mut p.success_threshold, 1);
    set(&mut p.failure_threshold, 3);
    if let Some(h) = p.http_get.as_mut() {
        set(&mut h.path, "/".into());
        set(&mut h.scheme, "HTTP".into());
    }
}

/// `Always` for an image without a tag or tagged `latest`, else
/// `IfNotPresent` (a digest pins it).
pub fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_by_tag() {
        assert_eq!(pull_policy("busybox"), "Always");
        assert_eq!(pull_policy("busybox:latest"), "Always");
        assert_eq!(pull_policy("127.0.0.1:5000/busybox"), "Always");
        assert_eq!(pull_policy("127.0.0.1:5000/busybox:1.36"), "IfNotPresent");
        assert_eq!(pull_policy("busybox@sha256:abc"), "IfNotPresent");
    }
}
