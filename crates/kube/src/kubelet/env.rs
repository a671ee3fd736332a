//! A container's environment as the kubelet makes it: the Services of the
//! pod's namespace (Docker links' form), `envFrom` (ConfigMaps, Secrets,
//! with a prefix), then `env` in order (values, ConfigMap and Secret keys,
//! the pod's fields, the container's resources), `$(VAR)` expanded.

use super::spec::{PodRef, Waiting};
use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::api::core::v1::{Container, EnvVar};
use std::collections::BTreeMap;

impl PodRef<'_> {
    /// The container's environment: `envFrom` first, then `env` in order
    /// (a later one overrides), with `$(VAR)` references expanded.
    pub(super) fn env(
        &self,
        c: &Cluster<'_>,
        k: &Container,
        pod_ip: &str,
    ) -> Result<Vec<(String, String)>, Waiting> {
        let mut out: Vec<(String, String)> = Vec::new();
        let set = |out: &mut Vec<(String, String)>, key: String, value: String| {
            out.retain(|(k, _)| *k != key);
            out.push((key, value));
        };
        if self.spec().enable_service_links != Some(false) {
            for (key, v) in service_links(c, self.namespace) {
                set(&mut out, key, v);
            }
        }
        for from in k.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            if let Some(r) = &from.config_map_ref {
                let data = self.config_map(c, &r.name, r.optional.unwrap_or(false))?;
                for (key, v) in data {
                    set(&mut out, format!("{prefix}{key}"), v);
                }
            }
            if let Some(r) = &from.secret_ref {
                let data = self.secret(c, &r.name, r.optional.unwrap_or(false))?;
                for (key, v) in data {
                    set(
                        &mut out,
                        format!("{prefix}{key}"),
                        String::from_utf8_lossy(&v).into_owned(),
                    );
                }
            }
        }
        for e in k.env.iter().flatten() {
            if let Some(v) = self.env_value(c, k, e, pod_ip, &out)? {
                set(&mut out, e.name.clone(), v);
            }
        }
        Ok(out)
    }

    fn env_value(
        &self,
        c: &Cluster<'_>,
        k: &Container,
        e: &EnvVar,
        pod_ip: &str,
        earlier: &[(String, String)],
    ) -> Result<Option<String>, Waiting> {
        if let Some(v) = &e.value {
            return Ok(Some(expand(v, earlier)));
        }
        let Some(from) = &e.value_from else {
            return Ok(Some(String::new()));
        };
        if let Some(r) = &from.config_map_key_ref {
            let data = self.config_map(c, &r.name, r.optional.unwrap_or(false))?;
            return match data.get(&r.key) {
                Some(v) => Ok(Some(v.clone())),
                None if r.optional == Some(true) => Ok(None),
                None => Err(Waiting {
                    reason: "CreateContainerConfigError",
                    message: format!(
                        "couldn't find key {} in ConfigMap {}/{}",
                        r.key, self.namespace, r.name
                    ),
                }),
            };
        }
        if let Some(r) = &from.secret_key_ref {
            let data = self.secret(c, &r.name, r.optional.unwrap_or(false))?;
            return match data.get(&r.key) {
                Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
                None if r.optional == Some(true) => Ok(None),
                None => Err(Waiting {
                    reason: "CreateContainerConfigError",
                    message: format!(
                        "couldn't find key {} in Secret {}/{}",
                        r.key, self.namespace, r.name
                    ),
                }),
            };
        }
        if let Some(f) = &from.field_ref {
            let meta = &self.pod.metadata;
            let v = match f.field_path.as_str() {
                "metadata.name" => self.name.to_string(),
                "metadata.namespace" => self.namespace.to_string(),
                "metadata.uid" => self.uid.to_string(),
                "status.podIP" => pod_ip.to_string(),
                "status.podIPs" => pod_ip.to_string(),
                "spec.nodeName" => self.spec().node_name.clone().unwrap_or_default(),
                "spec.serviceAccountName" => {
                    self.spec().service_account_name.clone().unwrap_or_default()
                }
                "status.hostIP" | "status.hostIPs" => "127.0.0.1".into(),
                p => {
                    let label = p
                        .strip_prefix("metadata.labels['")
                        .map(|r| (r, &meta.labels))
                        .or_else(|| {
                            p.strip_prefix("metadata.annotations['")
                                .map(|r| (r, &meta.annotations))
                        });
                    match label {
                        Some((rest, map)) => {
                            let key = rest.trim_end_matches("']");
                            map.as_ref()
                                .and_then(|m| m.get(key))
                                .cloned()
                                .unwrap_or_default()
                        }
                        None => {
                            return Err(Waiting {
                                reason: "CreateContainerConfigError",
                                message: format!("unsupported fieldPath: {p}"),
                            })
                        }
                    }
                }
            };
            return Ok(Some(v));
        }
        if let Some(r) = &from.resource_field_ref {
            let named = r.container_name.as_deref().filter(|n| !n.is_empty());
            let k = match named {
                Some(n) => self
                    .spec()
                    .containers
                    .iter()
                    .find(|x| x.name == n)
                    .unwrap_or(k),
                None => k,
            };
            let divisor = r.divisor.as_ref().map(|d| d.0.as_str());
            return super::volumes::resource_value(k, &r.resource, divisor).map(Some);
        }
        Ok(Some(String::new()))
    }

    fn config_map(
        &self,
        c: &Cluster<'_>,
        name: &str,
        optional: bool,
    ) -> Result<BTreeMap<String, String>, Waiting> {
        match c.get(Kind::ConfigMap, self.namespace, name) {
            Ok(Some(Object::ConfigMap(cm))) => Ok(cm.data.unwrap_or_default()),
            _ if optional => Ok(BTreeMap::new()),
            _ => Err(Waiting {
                reason: "CreateContainerConfigError",
                message: format!("configmap \"{name}\" not found"),
            }),
        }
    }

    fn secret(
        &self,
        c: &Cluster<'_>,
        name: &str,
        optional: bool,
    ) -> Result<BTreeMap<String, Vec<u8>>, Waiting> {
        match c.get(Kind::Secret, self.namespace, name) {
            Ok(Some(Object::Secret(s))) => Ok(s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()),
            _ if optional => Ok(BTreeMap::new()),
            _ => Err(Waiting {
                reason: "CreateContainerConfigError",
                message: format!("secret \"{name}\" not found"),
            }),
        }
    }
}

/// The variables the kubelet gives a pod for each Service of its
/// namespace with a cluster IP (Docker links' form): `WEB_SERVICE_HOST`,
/// `WEB_SERVICE_PORT`, `WEB_SERVICE_PORT_HTTP`, `WEB_PORT`,
/// `WEB_PORT_80_TCP` and its `_PROTO`, `_PORT`, `_ADDR`.
fn service_links(c: &Cluster<'_>, namespace: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for o in c.list(Kind::Service, Some(namespace)).unwrap_or_default() {
        let Object::Service(svc) = o else { continue };
        let Some(spec) = &svc.spec else { continue };
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        if ip.is_empty() || ip == "None" {
            continue;
        }
        let name = svc
            .metadata
            .name
            .clone()
            .unwrap_or_default()
            .to_ascii_uppercase()
            .replace('-', "_");
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        out.push((format!("{name}_SERVICE_HOST"), ip.clone()));
        out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                let n = n.to_ascii_uppercase().replace('-', "_");
                out.push((format!("{name}_SERVICE_PORT_{n}"), p.port.to_string()));
            }
        }
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| {
            p.protocol.clone().unwrap_or_else(|| "TCP".into())
        };
        out.push((
            format!("{name}_PORT"),
            format!(
                "{}://{ip}:{}",
                proto(first).to_ascii_lowercase(),
                first.port
            ),
        ));
        for p in &ports {
            let pr = proto(p);
            let base = format!("{name}_PORT_{}_{pr}", p.port);
            out.push((
                base.clone(),
                format!("{}://{ip}:{}", pr.to_ascii_lowercase(), p.port),
            ));
            out.push((format!("{base}_PROTO"), pr.to_ascii_lowercase()));
            out.push((format!("{base}_PORT"), p.port.to_string()));
            out.push((format!("{base}_ADDR"), ip.clone()));
        }
    }
    out
}

/// `$(VAR)` in a value, from the variables defined before it (`$$(VAR)`
/// stays literal).
pub(super) fn expand(v: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("$(") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("$(");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let name = &after[..j];
                match vars.iter().find(|(k, _)| k == name) {
                    Some((_, val)) => out.push_str(val),
                    None => out.push_str(&rest[i..i + 3 + j]),
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn dependent_variables() {
        let vars = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)", &vars), "x-$(B)-$(A)");
    }
}
