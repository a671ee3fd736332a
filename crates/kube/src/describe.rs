//! `kubectl describe`: an object in prose, with the events about it, laid
//! out as kubectl lays it out (its tab writer aligning each block of
//! `Label:\tvalue` lines, two spaces of padding).

use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use crate::printers::human_duration;
use k8s_openapi::api::core::v1::{Container, ContainerState, Event, Pod, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use std::collections::BTreeMap;

/// Lines of tab-separated cells, aligned as Go's text/tabwriter aligns
/// them: a column's cells line up within each run of consecutive lines
/// that have that column (the last cell of a line is not a column).
fn tabwrite(text: &str, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<Vec<usize>> = lines
        .iter()
        .map(|l| vec![0; l.len().saturating_sub(1)])
        .collect();
    fn block(
        lines: &[Vec<&str>],
        widths: &mut [Vec<usize>],
        from: usize,
        to: usize,
        col: usize,
        padding: usize,
    ) {
        let mut i = from;
        while i < to {
            if lines[i].len() <= col + 1 {
                i += 1;
                continue;
            }
            let start = i;
            let mut w = 0;
            while i < to && lines[i].len() > col + 1 {
                w = w.max(lines[i][col].chars().count() + padding);
                i += 1;
            }
            for row in widths.iter_mut().take(i).skip(start) {
                row[col] = w;
            }
            block(lines, widths, start, i, col + 1, padding);
        }
    }
    block(&lines, &mut widths, 0, lines.len(), 0, padding);
    let mut out = String::new();
    for (l, w) in lines.iter().zip(&widths) {
        let mut line = String::new();
        for (j, cell) in l.iter().enumerate() {
            match w.get(j) {
                Some(w) => line.push_str(&format!("{cell:<w$}")),
                None => line.push_str(cell),
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn time(t: Option<&Time>) -> String {
    t.map(|t| t.0.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_else(|| "<unset>".into())
}

fn map_lines(out: &mut String, label: &str, m: Option<&BTreeMap<String, String>>, indent: &str) {
    match m.filter(|m| !m.is_empty()) {
        None => out.push_str(&format!("{indent}{label}:\t<none>\n")),
        Some(m) => {
            for (i, (k, v)) in m.iter().enumerate() {
                let head = if i == 0 {
                    format!("{indent}{label}:")
                } else {
                    String::new()
                };
                out.push_str(&format!("{head}\t{k}={v}\n"));
            }
        }
    }
}

fn meta_lines(out: &mut String, m: &ObjectMeta, namespaced: bool) {
    out.push_str(&format!("Name:\t{}\n", m.name.as_deref().unwrap_or("")));
    if namespaced {
        out.push_str(&format!(
            "Namespace:\t{}\n",
            m.namespace.as_deref().unwrap_or("")
        ));
    }
    map_lines(out, "Labels", m.labels.as_ref(), "");
    let annotations: Option<BTreeMap<String, String>> = m.annotations.as_ref().map(|a| {
        a.iter()
            .filter(|(k, _)| k.as_str() != crate::cluster::LAST_APPLIED)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    map_lines(out, "Annotations", annotations.as_ref(), "");
}

fn probe_text(kind: &str, p: &Probe) -> String {
    let how = if let Some(h) = &p.http_get {
        let port = match &h.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!(
            "http-get {}://:{port}{}",
            h.scheme.as_deref().unwrap_or("HTTP").to_ascii_lowercase(),
            h.path.as_deref().unwrap_or("/")
        )
    } else if let Some(t) = &p.tcp_socket {
        let port = match &t.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("tcp-socket :{port}")
    } else if let Some(e) = &p.exec {
        format!("exec [{}]", e.command.clone().unwrap_or_default().join(" "))
    } else if let Some(g) = &p.grpc {
        format!(
            "grpc <pod>:{} {}",
            g.port,
            g.service.as_deref().unwrap_or("")
        )
    } else {
        String::new()
    };
    format!(
        "    {kind}:\t{how} delay={}s timeout={}s period={}s #success={} #failure={}\n",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    )
}

fn state_lines(out: &mut String, label: &str, s: Option<&ContainerState>) {
    let Some(s) = s else {
        return;
    };
    if let Some(r) = &s.running {
        out.push_str(&format!(
            "    {label}:\tRunning\n      Started:\t{}\n",
            time(r.started_at.as_ref())
        ));
    } else if let Some(w) = &s.waiting {
        out.push_str(&format!(
            "    {label}:\tWaiting\n      Reason:\t{}\n",
            w.reason.as_deref().unwrap_or("")
        ));
    } else if let Some(t) = &s.terminated {
        out.push_str(&format!(
            "    {label}:\tTerminated\n      Reason:\t{}\n      Exit Code:\t{}\n      Started:\t{}\n      Finished:\t{}\n",
            t.reason.as_deref().unwrap_or(""),
            t.exit_code,
            time(t.started_at.as_ref()),
            time(t.finished_at.as_ref())
        ));
    }
}

fn container_lines(
    out: &mut String,
    k: &Container,
    st: Option<&k8s_openapi::api::core::v1::ContainerStatus>,
) {
    out.push_str(&format!("  {}:\n", k.name));
    if let Some(s) = st {
        out.push_str(&format!(
            "    Container ID:\t{}\n",
            s.container_id.as_deref().unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "    Image:\t{}\n",
        k.image.as_deref().unwrap_or("")
    ));
    if let Some(s) = st {
        out.push_str(&format!("    Image ID:\t{}\n", s.image_id));
    }
    let ports: Vec<String> = k
        .ports
        .iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p.container_port,
                p.protocol.as_deref().unwrap_or("TCP")
            )
        })
        .collect();
    let plural = if ports.len() > 1 { "s" } else { "" };
    out.push_str(&format!(
        "    Port{plural}:\t{}\n",
        if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(", ")
        }
    ));
    for (label, args) in [("Command", &k.command), ("Args", &k.args)] {
        if let Some(a) = args.as_ref().filter(|a| !a.is_empty()) {
            out.push_str(&format!("    {label}:\n"));
            for x in a {
                out.push_str(&format!("      {x}\n"));
            }
        }
    }
    if let Some(s) = st {
        state_lines(out, "State", s.state.as_ref());
        state_lines(out, "Last State", s.last_state.as_ref());
        out.push_str(&format!(
            "    Ready:\t{}\n    Restart Count:\t{}\n",
            if s.ready { "True" } else { "False" },
            s.restart_count
        ));
    }
    for (label, p) in [
        ("Liveness", &k.liveness_probe),
        ("Readiness", &k.readiness_probe),
        ("Startup", &k.startup_probe),
    ] {
        if let Some(p) = p {
            out.push_str(&probe_text(label, p));
        }
    }
    let env: Vec<String> = k
        .env
        .iter()
        .flatten()
        .map(|e| match (&e.value, &e.value_from) {
            (Some(v), _) => format!("      {}:\t{v}\n", e.name),
            (None, Some(f)) => {
                let from = if let Some(r) = &f.config_map_key_ref {
                    format!("<set to the key '{}' of config map '{}'>", r.key, r.name)
                } else if let Some(r) = &f.secret_key_ref {
                    format!("<set to the key '{}' in secret '{}'>", r.key, r.name)
                } else if let Some(r) = &f.field_ref {
                    format!(
                        "({}:{})",
                        r.api_version.as_deref().unwrap_or("v1"),
                        r.field_path
                    )
                } else {
                    String::new()
                };
                format!("      {}:\t{from}\n", e.name)
            }
            _ => format!("      {}:\t\n", e.name),
        })
        .collect();
    if env.is_empty() {
        out.push_str("    Environment:\t<none>\n");
    } else {
        out.push_str("    Environment:\n");
        for e in env {
            out.push_str(&e);
        }
    }
    let mounts: Vec<String> = k
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            format!(
                "      {} from {} ({})\n",
                m.mount_path,
                m.name,
                if m.read_only == Some(true) {
                    "ro"
                } else {
                    "rw"
                }
            )
        })
        .collect();
    if mounts.is_empty() {
        out.push_str("    Mounts:\t<none>\n");
    } else {
        out.push_str("    Mounts:\n");
        for m in mounts {
            out.push_str(&m);
        }
    }
}

fn pod_text(p: &Pod) -> String {
    let mut out = String::new();
    meta_lines(&mut out, &p.metadata, true);
    // kubectl puts these between Namespace and Labels; kept simple here.
    let spec = p.spec.clone().unwrap_or_default();
    let st = p.status.clone().unwrap_or_default();
    out.push_str(&format!(
        "Service Account:\t{}\n",
        spec.service_account_name.as_deref().unwrap_or("default")
    ));
    out.push_str(&format!(
        "Node:\t{}\n",
        spec.node_name.as_deref().unwrap_or("<none>")
    ));
    out.push_str(&format!("Start Time:\t{}\n", time(st.start_time.as_ref())));
    let status = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        st.phase.clone().unwrap_or_default()
    };
    out.push_str(&format!("Status:\t{status}\n"));
    if let Some(r) = &st.reason {
        out.push_str(&format!("Reason:\t{r}\n"));
    }
    out.push_str(&format!("IP:\t{}\n", st.pod_ip.as_deref().unwrap_or("")));
    if let Some(owner) = p
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        out.push_str(&format!("Controlled By:\t{}/{}\n", owner.kind, owner.name));
    }
    let statuses = |list: &Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>, name: &str| {
        list.iter().flatten().find(|s| s.name == name).cloned()
    };
    if let Some(inits) = spec.init_containers.as_ref().filter(|i| !i.is_empty()) {
        out.push_str("Init Containers:\n");
        for k in inits {
            container_lines(
                &mut out,
                k,
                statuses(&st.init_container_statuses, &k.name).as_ref(),
            );
        }
    }
    out.push_str("Containers:\n");
    for k in &spec.containers {
        container_lines(
            &mut out,
            k,
            statuses(&st.container_statuses, &k.name).as_ref(),
        );
    }
    if let Some(conds) = st.conditions.as_ref().filter(|c| !c.is_empty()) {
        out.push_str("Conditions:\n  Type\tStatus\n");
        for c in conds {
            out.push_str(&format!("  {} \t{} \n", c.type_, c.status));
        }
    }
    match spec.volumes.as_ref().filter(|v| !v.is_empty()) {
        None => out.push_str("Volumes:\t<none>\n"),
        Some(vols) => {
            out.push_str("Volumes:\n");
            for v in vols {
                let ty = if v.empty_dir.is_some() {
                    "EmptyDir (a temporary directory that shares a pod's lifetime)".to_string()
                } else if let Some(c) = &v.config_map {
                    format!(
                        "ConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}",
                        c.name
                    )
                } else if let Some(s) = &v.secret {
                    format!(
                        "Secret (a volume populated by a Secret)\n    SecretName:\t{}",
                        s.secret_name.as_deref().unwrap_or("")
                    )
                } else if let Some(h) = &v.host_path {
                    format!(
                        "HostPath (bare host directory volume)\n    Path:\t{}",
                        h.path
                    )
                } else if let Some(c) = &v.persistent_volume_claim {
                    format!(
                        "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}",
                        c.claim_name
                    )
                } else {
                    "<unknown>".into()
                };
                out.push_str(&format!("  {}:\n    Type:\t{ty}\n", v.name));
            }
        }
    }
    out.push_str(&format!(
        "QoS Class:\t{}\n",
        st.qos_class.as_deref().unwrap_or("")
    ));
    map_lines(&mut out, "Node-Selectors", spec.node_selector.as_ref(), "");
    out
}

fn generic_text(o: &Object) -> String {
    let mut out = String::new();
    meta_lines(&mut out, o.meta(), o.kind().namespaced());
    let v = o.to_value();
    for key in ["spec", "data", "status"] {
        if let Some(x) = v.get(key) {
            let yaml = serde_norway::to_string(x).unwrap_or_default();
            let title = match key {
                "spec" => "Spec",
                "data" => "Data",
                _ => "Status",
            };
            out.push_str(&format!("{title}:\n"));
            for l in yaml.lines() {
                out.push_str(&format!("  {}\n", l.replace('\t', " ")));
            }
        }
    }
    out
}

fn events_text(events: &[Event]) -> String {
    if events.is_empty() {
        return "Events:\t<none>\n".into();
    }
    let now = crate::cluster::now_timestamp().as_second();
    let mut out = String::from(
        "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n",
    );
    for e in events {
        let last = e.last_timestamp.as_ref().map_or(now, |t| t.0.as_second());
        let first = e.first_timestamp.as_ref().map_or(last, |t| t.0.as_second());
        let count = e.count.unwrap_or(1);
        let age = if count > 1 {
            format!(
                "{} (x{count} over {})",
                human_duration(now - last),
                human_duration(now - first)
            )
        } else {
            human_duration(now - last)
        };
        out.push_str(&format!(
            "  {}\t{}\t{age}\t{}\t{}\n",
            e.type_.as_deref().unwrap_or(""),
            e.reason.as_deref().unwrap_or(""),
            e.source
                .as_ref()
                .and_then(|s| s.component.as_deref())
                .unwrap_or(""),
            e.message.as_deref().unwrap_or("")
        ));
    }
    out
}

/// The description of `o`, with the events about it.
pub fn describe(c: &Cluster<'_>, o: &Object) -> crate::Result<String> {
    let body = match o {
        Object::Pod(p) => pod_text(p),
        other => generic_text(other),
    };
    let uid = o.meta().uid.clone().unwrap_or_default();
    let ns = if o.namespace().is_empty() {
        None
    } else {
        Some(o.namespace())
    };
    let mut events: Vec<Event> = c
        .list(Kind::Event, ns)?
        .into_iter()
        .filter_map(|e| match e {
            Object::Event(e) if e.involved_object.uid.as_deref() == Some(&uid) => Some(*e),
            _ => None,
        })
        .collect();
    events.sort_by_key(|e| e.first_timestamp.as_ref().map_or(0, |t| t.0.as_second()));
    Ok(tabwrite(&body, 2) + &tabwrite(&events_text(&events), 2))
}

#[cfg(test)]
mod tests {
    use super::tabwrite;

    #[test]
    fn aligns_as_go_tabwriter() {
        let t = tabwrite(
            "Name:\tweb\nNamespace:\tdefault\nContainers:\n  c:\n    Image:\tbb\n",
            2,
        );
        assert_eq!(
            t,
            "Name:       web\nNamespace:  default\nContainers:\n  c:\n    Image:  bb\n"
        );
    }
}
