//! What the API server refuses in an object (Kubernetes' validation), each
//! cause worded as it words them: `spec.selector: Invalid value: ...`.

use crate::object::Object;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// The NodePort range.
pub const NODE_PORTS: std::ops::RangeInclusive<i32> = 30000..=32767;

/// The causes `o` is invalid for (empty when it is valid).
pub fn causes(o: &Object) -> Vec<String> {
    let mut c = Vec::new();
    let meta = o.meta();
    match meta.name.as_deref() {
        None | Some("") => {
            c.push("metadata.name: Required value: name or generateName is required".into())
        }
        Some(n) => {
            let label_like = matches!(o, Object::Namespace(_) | Object::Service(_));
            if let Some(why) = dns_name(n, label_like) {
                c.push(format!("metadata.name: Invalid value: \"{n}\": {why}"));
            }
        }
    }
    match o {
        Object::Pod(p) => match &p.spec {
            Some(s) => pod_spec(s, "spec", &mut c),
            None => c.push("spec.containers: Required value".into()),
        },
        Object::Deployment(d) => match &d.spec {
            Some(s) => {
                selected(&s.selector, &s.template, "spec", &mut c);
                if let Some(r) = s.replicas.filter(|r| *r < 0) {
                    c.push(format!(
                        "spec.replicas: Invalid value: {r}: must be greater than or equal to 0"
                    ));
                }
            }
            None => c.push("spec.selector: Required value".into()),
        },
        Object::ReplicaSet(r) => match &r.spec {
            Some(s) => match &s.template {
                Some(t) => selected(&s.selector, t, "spec", &mut c),
                None => c.push("spec.template: Required value".into()),
            },
            None => c.push("spec.selector: Required value".into()),
        },
        Object::Job(j) => {
            if let Some(s) = &j.spec {
                if let Some(ps) = &s.template.spec {
                    pod_spec(ps, "spec.template.spec", &mut c);
                    let rp = ps.restart_policy.as_deref().unwrap_or("");
                    if rp != "OnFailure" && rp != "Never" {
                        c.push("spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".into());
                    }
                }
            }
        }
        Object::Service(s) => {
            for (i, p) in s
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .enumerate()
            {
                if !(1..=65535).contains(&p.port) {
                    c.push(format!("spec.ports[{i}].port: Invalid value: {}: must be between 1 and 65535, inclusive", p.port));
                }
                if let Some(np) = p.node_port.filter(|np| !NODE_PORTS.contains(np)) {
                    c.push(format!("spec.ports[{i}].nodePort: Invalid value: {np}: provided port is not in the valid range. The range of valid ports is 30000-32767"));
                }
            }
        }
        _ => {}
    }
    c
}

/// A selector that must select its template's labels.
fn selected(sel: &LabelSelector, t: &PodTemplateSpec, at: &str, c: &mut Vec<String>) {
    let empty = BTreeMap::new();
    let labels = t
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .unwrap_or(&empty);
    if sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
    {
        c.push(format!("{at}.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: empty selector is invalid for deployment"));
    } else if !crate::selector::matches(sel, labels) {
        c.push(format!(
            "{at}.template.metadata.labels: Invalid value: map[string]string{{{}}}: `selector` does not match template `labels`",
            labels
                .iter()
                .map(|(k, v)| format!("\"{k}\":\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    match &t.spec {
        Some(ps) => pod_spec(ps, &format!("{at}.template.spec"), c),
        None => c.push(format!("{at}.template.spec.containers: Required value")),
    }
}

fn pod_spec(s: &PodSpec, at: &str, c: &mut Vec<String>) {
    if s.containers.is_empty() {
        c.push(format!("{at}.containers: Required value"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let all = s
        .init_containers
        .iter()
        .flatten()
        .map(|k| ("initContainers", k))
        .chain(s.containers.iter().map(|k| ("containers", k)));
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (list, k) in all {
        let i = index.entry(list).or_default();
        let here = format!("{at}.{list}[{i}]");
        *i += 1;
        if k.name.is_empty() {
            c.push(format!("{here}.name: Required value"));
        } else if !seen.insert(k.name.clone()) {
            c.push(format!("{here}.name: Duplicate value: \"{}\"", k.name));
        } else if let Some(why) = dns_name(&k.name, true) {
            c.push(format!("{here}.name: Invalid value: \"{}\": {why}", k.name));
        }
        if k.image.as_deref().is_none_or(str::is_empty) {
            c.push(format!("{here}.image: Required value"));
        }
        for (j, p) in k.ports.iter().flatten().enumerate() {
            if !(1..=65535).contains(&p.container_port) {
                c.push(format!("{here}.ports[{j}].containerPort: Invalid value: {}: must be between 1 and 65535, inclusive", p.container_port));
            }
        }
    }
    if let Some(rp) = s.restart_policy.as_deref() {
        if !matches!(rp, "Always" | "OnFailure" | "Never") {
            c.push(format!("{at}.restartPolicy: Unsupported value: \"{rp}\": supported values: \"Always\", \"OnFailure\", \"Never\""));
        }
    }
}

/// Why `n` is not a DNS-1123 subdomain (or label, when `label`).
fn dns_name(n: &str, label: bool) -> Option<String> {
    let max = if label { 63 } else { 253 };
    if n.len() > max {
        return Some(format!("must be no more than {max} characters"));
    }
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    let ok = if label {
        ok_part(n)
    } else {
        n.split('.').all(ok_part)
    };
    if ok {
        return None;
    }
    Some(if label {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into()
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into()
    })
}

/// The causes an update from `old` to `new` changes what may not change.
pub fn immutable(old: &Object, new: &Object) -> Vec<String> {
    let mut c = Vec::new();
    let mut same = |path: &str, a: serde_json::Value, b: serde_json::Value| {
        if a != b {
            c.push(format!("{path}: Invalid value: {b}: field is immutable"));
        }
    };
    let v = |o: &Object, p: &str| o.to_value().pointer(p).cloned().unwrap_or_default();
    match (old, new) {
        (Object::Deployment(_), Object::Deployment(_))
        | (Object::ReplicaSet(_), Object::ReplicaSet(_)) => same(
            "spec.selector",
            v(old, "/spec/selector"),
            v(new, "/spec/selector"),
        ),
        (Object::Job(_), Object::Job(_)) => {
            same(
                "spec.selector",
                v(old, "/spec/selector"),
                v(new, "/spec/selector"),
            );
            same(
                "spec.template",
                v(old, "/spec/template"),
                v(new, "/spec/template"),
            );
        }
        (Object::Service(_), Object::Service(_)) => {
            let (a, b) = (v(old, "/spec/clusterIP"), v(new, "/spec/clusterIP"));
            if !b.is_null() && b != "" && a != b {
                c.push(format!(
                    "spec.clusterIPs[0]: Invalid value: []string{{{b}}}: may not change once set"
                ));
            }
        }
        (Object::Pod(_), Object::Pod(_)) => {
            // Only images (and a few others) of a pod may change.
            let strip = |o: &Object| {
                let mut s = v(o, "/spec");
                for list in ["containers", "initContainers"] {
                    for k in s
                        .get_mut(list)
                        .and_then(|l| l.as_array_mut())
                        .into_iter()
                        .flatten()
                    {
                        if let Some(m) = k.as_object_mut() {
                            m.remove("image");
                        }
                    }
                }
                if let Some(m) = s.as_object_mut() {
                    m.remove("activeDeadlineSeconds");
                    m.remove("tolerations");
                }
                s
            };
            if strip(old) != strip(new) {
                c.push("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into());
            }
        }
        _ => {}
    }
    c
}
