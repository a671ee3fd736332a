//! The objects kubectl's imperative commands make, as documents that then
//! go through the same decoding, defaults and validation as a file's:
//! `run` (a Pod), `create deployment|job|service|configmap|secret
//! generic|namespace` and `expose` (a Service over what a Deployment, ReplicaSet, Pod or
//! Service selects). Each is shaped as kubectl's generator shapes it.

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::manifest::Document;
use crate::object::Object;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn document(value: Value) -> Document {
    Document {
        source: "STDIN".into(),
        value,
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// `KEY=VALUE` pairs (`--env`, `--labels`, `--from-literal`), in order.
fn pairs(what: &str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(usage(format!("invalid {what}: {i:?}, must be KEY=VALUE"))),
        })
        .collect()
}

pub fn namespace(name: &str) -> Document {
    document(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

/// What `kube run` asks for.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub name: String,
    pub image: String,
    /// `--labels a=b,c=d` (else `run=NAME`).
    pub labels: Option<String>,
    pub env: Vec<String>,
    pub port: Option<i32>,
    /// `Always` (the default), `OnFailure`, `Never`.
    pub restart: String,
    /// The arguments after `--` are the command (`--command`), not args.
    pub command: bool,
    pub args: Vec<String>,
    pub image_pull_policy: Option<String>,
}

/// `kube run`: one Pod of one container named as the pod.
pub fn pod(r: &Run) -> Result<Document> {
    if r.image.is_empty() {
        return Err(usage("--image is required"));
    }
    let restart = if r.restart.is_empty() {
        "Always"
    } else {
        r.restart.as_str()
    };
    if !matches!(restart, "Always" | "OnFailure" | "Never") {
        return Err(usage(format!("invalid restart policy: {restart}")));
    }
    let labels: Map<String, Value> = match &r.labels {
        Some(l) => {
            let items: Vec<String> = l.split(',').map(str::to_string).collect();
            pairs("label", &items)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        }
        None => [("run".to_string(), Value::String(r.name.clone()))]
            .into_iter()
            .collect(),
    };
    let mut container = json!({"name": r.name, "image": r.image});
    if !r.args.is_empty() {
        let key = if r.command { "command" } else { "args" };
        container[key] = json!(r.args);
    }
    let env = pairs("env", &r.env)?;
    if !env.is_empty() {
        container["env"] = Value::Array(
            env.into_iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect(),
        );
    }
    if let Some(p) = r.port {
        container["ports"] = json!([{"containerPort": p}]);
    }
    if let Some(p) = &r.image_pull_policy {
        container["imagePullPolicy"] = json!(p);
    }
    Ok(document(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": r.name, "labels": labels},
        "spec": {"containers": [container], "restartPolicy": restart},
    })))
}

/// A container's name from its image, as kubectl names it
/// (`registry/team/web:1.2` is `web`).
fn container_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    let last = last.split(':').next().unwrap_or(last);
    last.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `kube create deployment NAME --image=IMG... [--replicas] [--port]`.
pub fn deployment(
    name: &str,
    images: &[String],
    replicas: i32,
    port: Option<i32>,
) -> Result<Document> {
    if images.is_empty() {
        return Err(usage("required flag(s) \"image\" not set"));
    }
    let containers: Vec<Value> = images
        .iter()
        .map(|image| {
            let mut c = json!({"name": container_name(image), "image": image});
            if let Some(p) = port {
                c["ports"] = json!([{"containerPort": p}]);
            }
            c
        })
        .collect();
    Ok(document(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers},
            },
        },
    })))
}

/// `kube create job NAME --image=IMG [-- COMMAND [ARGS...]]`: one
/// container named as the job, never restarted.
pub fn job(name: &str, image: Option<&str>, command: &[String]) -> Result<Document> {
    let image = image.ok_or_else(|| usage("required flag(s) \"image\" not set"))?;
    let mut c = json!({"name": name, "image": image, "resources": {}});
    if !command.is_empty() {
        c["command"] = json!(command);
    }
    Ok(document(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {"containers": [c], "restartPolicy": "Never"},
            },
        },
    })))
}

/// What `kube create service TYPE NAME` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateService {
    /// `clusterip`, `nodeport` or `loadbalancer`.
    pub type_: String,
    pub name: String,
    /// `--tcp PORT[:TARGET]`, repeatable.
    pub tcp: Vec<String>,
    /// `--node-port` (nodeport only).
    pub node_port: Option<i32>,
    /// `--clusterip` (`None`: headless; clusterip only).
    pub cluster_ip: Option<String>,
}

/// `kube create service clusterip|nodeport|loadbalancer NAME --tcp
/// PORT[:TARGET]`: a Service selecting `app=NAME`, each port named
/// `PORT-TARGET`, as kubectl's generator makes it.
pub fn created_service(a: &CreateService) -> Result<Document> {
    let type_ = match a.type_.as_str() {
        "clusterip" => "ClusterIP",
        "nodeport" => "NodePort",
        "loadbalancer" => "LoadBalancer",
        other => {
            return Err(usage(format!(
                "unknown service type \"{other}\" (clusterip, nodeport, loadbalancer)"
            )))
        }
    };
    let headless = a.cluster_ip.as_deref() == Some("None");
    if a.tcp.is_empty() && !headless {
        return Err(usage("at least one tcp port specifier must be provided"));
    }
    let mut ports = Vec::new();
    for t in &a.tcp {
        let (port, target) = t.split_once(':').unwrap_or((t, t));
        let (Ok(p), Ok(tp)) = (port.parse::<i32>(), target.parse::<i32>()) else {
            return Err(usage(format!(
                "invalid port specifier {t:?}: PORT[:TARGET]"
            )));
        };
        let mut v =
            json!({"name": format!("{p}-{tp}"), "port": p, "protocol": "TCP", "targetPort": tp});
        if let (Some(np), "NodePort") = (a.node_port, type_) {
            v["nodePort"] = json!(np);
        }
        ports.push(v);
    }
    let mut spec = json!({"ports": ports, "selector": {"app": a.name}, "type": type_});
    if let Some(ip) = a.cluster_ip.as_deref().filter(|_| type_ == "ClusterIP") {
        spec["clusterIP"] = json!(ip);
    }
    Ok(document(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": a.name, "labels": {"app": a.name}},
        "spec": spec,
    })))
}

/// The keys of `--from-literal` and `--from-file` (`PATH` keyed by its file
/// name, `KEY=PATH`), each key once.
fn data(literals: &[String], files: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: Vec<u8>| {
        if out.insert(k.clone(), v).is_some() {
            return Err(usage(format!(
                "cannot add key {k}, another key by that name already exists"
            )));
        }
        Ok(())
    };
    for (k, v) in pairs("literal", literals)? {
        put(k, v.into_bytes())?;
    }
    for f in files {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p.to_string()),
            None => (
                std::path::Path::new(f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                f.clone(),
            ),
        };
        let bytes = std::fs::read(&path).map_err(|e| Error::Read {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        put(key, bytes)?;
    }
    Ok(out)
}

/// `kube create configmap NAME --from-literal K=V --from-file [K=]PATH`
/// (a file that is not UTF-8 goes to binaryData).
pub fn config_map(name: &str, literals: &[String], files: &[String]) -> Result<Document> {
    let mut text = Map::new();
    let mut binary = Map::new();
    for (k, v) in data(literals, files)? {
        match String::from_utf8(v) {
            Ok(s) => text.insert(k, Value::String(s)),
            Err(e) => binary.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
            ),
        };
    }
    let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    if !text.is_empty() {
        v["data"] = Value::Object(text);
    }
    if !binary.is_empty() {
        v["binaryData"] = Value::Object(binary);
    }
    Ok(document(v))
}

/// `kube create secret generic NAME --from-literal --from-file [--type]`.
pub fn secret(
    name: &str,
    literals: &[String],
    files: &[String],
    type_: Option<&str>,
) -> Result<Document> {
    let encoded: Map<String, Value> = data(literals, files)?
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": type_.unwrap_or("Opaque"),
    });
    if !encoded.is_empty() {
        v["data"] = Value::Object(encoded);
    }
    Ok(document(v))
}

/// What `kube expose` asks for.
#[derive(Debug, Clone)]
pub struct Expose {
    pub kind: Kind,
    pub name: String,
    pub namespace: String,
    /// The Service's name (else the exposed object's).
    pub service_name: Option<String>,
    /// The Service's port (else the exposed object's first port).
    pub port: Option<i32>,
    pub target_port: Option<String>,
    pub protocol: Option<String>,
    pub type_: Option<String>,
}

/// `kube expose KIND NAME`: a Service whose selector is the object's (a
/// Deployment's or ReplicaSet's matchLabels, a Pod's labels, a Service's
/// selector), on the port given or the object's first container port.
pub fn service(c: &Cluster<'_>, e: &Expose) -> Result<Document> {
    let not_found = || Error::NotFound {
        context: String::new(),
        resource: e.kind.plural_resource(),
        name: e.name.clone(),
    };
    let o = c
        .get(e.kind, &e.namespace, &e.name)?
        .ok_or_else(not_found)?;
    let first_port = |spec: Option<&k8s_openapi::api::core::v1::PodSpec>| {
        spec.and_then(|s| {
            s.containers
                .iter()
                .find_map(|k| k.ports.as_ref()?.first().map(|p| p.container_port))
        })
    };
    let (selector, port): (BTreeMap<String, String>, Option<i32>) = match &o {
        Object::Deployment(d) => {
            let spec = d.spec.as_ref();
            (
                spec.and_then(|s| s.selector.match_labels.clone())
                    .unwrap_or_default(),
                first_port(spec.and_then(|s| s.template.spec.as_ref())),
            )
        }
        Object::ReplicaSet(r) => {
            let spec = r.spec.as_ref();
            (
                spec.and_then(|s| s.selector.match_labels.clone())
                    .unwrap_or_default(),
                first_port(spec.and_then(|s| s.template.as_ref()?.spec.as_ref())),
            )
        }
        Object::Pod(p) => (
            p.metadata.labels.clone().unwrap_or_default(),
            first_port(p.spec.as_ref()),
        ),
        Object::Service(s) => {
            let spec = s.spec.as_ref();
            (
                spec.and_then(|s| s.selector.clone()).unwrap_or_default(),
                spec.and_then(|s| s.ports.as_ref()?.first().map(|p| p.port)),
            )
        }
        _ => return Err(usage(format!("cannot expose a {}", e.kind.name()))),
    };
    if selector.is_empty() {
        return Err(usage(format!(
            "couldn't retrieve selectors via --selector flag or introspection: the {} has no labels to select",
            e.kind.name()
        )));
    }
    let port = e
        .port
        .or(port)
        .ok_or_else(|| usage("couldn't find port via --port flag or introspection"))?;
    let mut p =
        json!({"port": port, "protocol": e.protocol.clone().unwrap_or_else(|| "TCP".into())});
    p["targetPort"] = match &e.target_port {
        Some(t) => match t.parse::<i32>() {
            Ok(n) => json!(n),
            Err(_) => json!(t),
        },
        None => json!(port),
    };
    let name = e.service_name.clone().unwrap_or_else(|| e.name.clone());
    let mut spec = json!({"selector": selector, "ports": [p]});
    if let Some(t) = &e.type_ {
        spec["type"] = json!(t);
    }
    Ok(document(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": o.meta().labels.clone().unwrap_or_default()},
        "spec": spec,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes_as_kubectl() {
        assert_eq!(container_name("registry.local:5000/team/web:1.2"), "web");
        assert_eq!(container_name("busybox"), "busybox");
        let d = deployment("web", &["busybox:1.36".into()], 2, Some(80)).unwrap();
        assert_eq!(
            d.value["spec"]["template"]["spec"]["containers"][0]["name"],
            "busybox"
        );
        assert_eq!(d.value["spec"]["selector"]["matchLabels"]["app"], "web");
        let p = pod(&Run {
            name: "x".into(),
            image: "i".into(),
            args: vec!["sleep".into(), "1".into()],
            command: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.value["metadata"]["labels"]["run"], "x");
        assert_eq!(
            p.value["spec"]["containers"][0]["command"],
            json!(["sleep", "1"])
        );
        assert!(pod(&Run {
            name: "x".into(),
            ..Default::default()
        })
        .is_err());
        let s = secret("s", &["a=b".into()], &[], None).unwrap();
        assert_eq!(s.value["data"]["a"], "Yg==");
        assert!(config_map("c", &["a=b".into(), "a=c".into()], &[]).is_err());
        let j = job(
            "j",
            Some("busybox"),
            &["sh".into(), "-c".into(), "true".into()],
        )
        .unwrap();
        assert_eq!(
            j.value["spec"]["template"]["spec"]["restartPolicy"],
            "Never"
        );
        assert_eq!(
            j.value["spec"]["template"]["spec"]["containers"][0]["name"],
            "j"
        );
        assert!(job("j", None, &[]).is_err());
        let svc = created_service(&CreateService {
            type_: "nodeport".into(),
            name: "web".into(),
            tcp: vec!["80:8080".into(), "443".into()],
            node_port: Some(30001),
            cluster_ip: None,
        })
        .unwrap();
        assert_eq!(svc.value["spec"]["type"], "NodePort");
        assert_eq!(svc.value["spec"]["ports"][0]["name"], "80-8080");
        assert_eq!(svc.value["spec"]["ports"][1]["targetPort"], 443);
        assert_eq!(svc.value["spec"]["ports"][0]["nodePort"], 30001);
        for bad in ["x", "80:y"] {
            assert!(created_service(&CreateService {
                type_: "clusterip".into(),
                name: "w".into(),
                tcp: vec![bad.into()],
                ..Default::default()
            })
            .is_err());
        }
    }
}
