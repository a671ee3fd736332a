//! A pod's containers as the engine's containers: the infra container that
//! holds the pod's namespaces, and each container of the spec joined to it,
//! with its command, environment (values, ConfigMap and Secret references,
//! the pod's own fields), resources (the kubelet's cgroup formulas),
//! security context and volumes.

use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use crate::quantity;
use k8s_openapi::api::core::v1::{Container, EnvVar, Pod, PodSpec, Volume};
use skiff_engine::container::CreateOptions;
use skiff_engine::model::HostConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Labels on every engine container of a pod.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Which attempt of the container it is (0, 1, ...).
pub const ATTEMPT: &str = "io.kubernetes.container.attempt";
/// The infra container's name label, as kubelet's dockershim named it.
pub const INFRA: &str = "POD";
/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// The engine network pods are on.
pub const POD_NETWORK: &str = "skiff-kube";

/// Why a container could not be made: the waiting reason and message the
/// pod's status shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reason: &'static str,
    pub message: String,
}

pub struct PodRef<'a> {
    pub pod: &'a Pod,
    pub uid: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
}

impl<'a> PodRef<'a> {
    pub fn new(pod: &'a Pod) -> PodRef<'a> {
        PodRef {
            pod,
            uid: pod.metadata.uid.as_deref().unwrap_or(""),
            name: pod.metadata.name.as_deref().unwrap_or(""),
            namespace: pod.metadata.namespace.as_deref().unwrap_or("default"),
        }
    }

    pub fn spec(&self) -> &'a PodSpec {
        self.pod.spec.as_ref().expect("a stored pod has a spec")
    }

    /// The engine name of a container's attempt (kubelet's docker naming).
    pub fn container_name(&self, container: &str, attempt: u32) -> String {
        let short = &self.uid[..self.uid.len().min(8)];
        format!(
            "k8s_{container}_{}_{}_{short}_{attempt}",
            self.name, self.namespace
        )
    }

    fn labels(&self, container: &str, attempt: u32) -> BTreeMap<String, String> {
        [
            (POD_UID, self.uid.to_string()),
            (POD_NAME, self.name.to_string()),
            (POD_NAMESPACE, self.namespace.to_string()),
            (CONTAINER_NAME, container.to_string()),
            (ATTEMPT, attempt.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn hostname(&self) -> String {
        self.spec()
            .hostname
            .clone()
            .unwrap_or_else(|| self.name.to_string())
    }

    /// Where the pod's volumes live on the host.
    pub fn volumes_dir(&self, c: &Cluster<'_>) -> PathBuf {
        c.engine()
            .paths()
            .root
            .join("kube/pods")
            .join(self.uid)
            .join("volumes")
    }

    /// The infra container: the skiff init holding the namespaces, and the
    /// pod's resolver (the node's embedded DNS with the cluster's search
    /// path for dnsPolicy ClusterFirst, plus the pod's dnsConfig).
    pub fn infra(&self, image: &str, attempt: u32) -> CreateOptions {
        let spec = self.spec();
        let mut host = HostConfig {
            init: true,
            network_mode: POD_NETWORK.into(),
            ..Default::default()
        };
        if spec.dns_policy.as_deref().unwrap_or("ClusterFirst") != "Default" {
            let ns = self.namespace;
            host.dns_search = vec![
                format!("{ns}.svc.{CLUSTER_DOMAIN}"),
                format!("svc.{CLUSTER_DOMAIN}"),
                CLUSTER_DOMAIN.to_string(),
            ];
            host.dns_options = vec!["ndots:5".into()];
        }
        if let Some(cfg) = &spec.dns_config {
            host.dns.extend(cfg.nameservers.iter().flatten().cloned());
            host.dns_search
                .extend(cfg.searches.iter().flatten().cloned());
            for o in cfg.options.iter().flatten() {
                let opt = match &o.value {
                    Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or("")),
                    None => o.name.clone().unwrap_or_default(),
                };
                host.dns_options
                    .retain(|x| x.split(':').next() != opt.split(':').next());
                host.dns_options.push(opt);
            }
        }
        CreateOptions {
            name: Some(self.container_name(INFRA, attempt)),
            image: image.to_string(),
            hostname: Some(self.hostname()),
            labels: self.labels(INFRA, attempt),
            stop_timeout: Some(0),
            host,
            ..Default::default()
        }
    }

    /// Container `k` of the pod, joined to the infra container `infra`.
    pub fn container(
        &self,
        c: &Cluster<'_>,
        k: &Container,
        infra: &str,
        pod_ip: &str,
        attempt: u32,
    ) -> Result<CreateOptions, Waiting> {
        let spec = self.spec();
        let mut host = HostConfig {
            network_mode: format!("container:{infra}"),
            ..Default::default()
        };
        resources(k, &mut host);
        let pod_sc = spec.security_context.clone().unwrap_or_default();
        let sc = k.security_context.clone().unwrap_or_default();
        let uid = sc.run_as_user.or(pod_sc.run_as_user);
        let gid = sc.run_as_group.or(pod_sc.run_as_group);
        let user = match (uid, gid) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!("0:{g}")),
            (None, None) => None,
        };
        if sc.run_as_non_root.or(pod_sc.run_as_non_root) == Some(true) && uid == Some(0) {
            return Err(Waiting {
                reason: "CreateContainerConfigError",
                message: "container's runAsUser breaks non-root policy".into(),
            });
        }
        host.privileged = sc.privileged.unwrap_or(false);
        host.read_only_rootfs = sc.read_only_root_filesystem.unwrap_or(false);
        if let Some(caps) = &sc.capabilities {
            host.cap_add = caps.add.clone().unwrap_or_default();
            host.cap_drop = caps.drop.clone().unwrap_or_default();
        }
        if sc.allow_privilege_escalation == Some(false) {
            host.security_opt.push("no-new-privileges".into());
        }
        let env = self.env(c, k, pod_ip)?;
        for b in self.mounts(c, k)? {
            let m = skiff_engine::volumes::parse_volume_flag(&b).map_err(|e| Waiting {
                reason: "CreateContainerConfigError",
                message: e.to_string(),
            })?;
            host.mounts.push(m);
            host.binds.push(b);
        }
        let entrypoint = k.command.clone();
        Ok(CreateOptions {
            name: Some(self.container_name(&k.name, attempt)),
            image: k.image.clone().unwrap_or_default(),
            cmd: k.args.clone().unwrap_or_default(),
            entrypoint,
            env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            workdir: k.working_dir.clone(),
            user,
            labels: self.labels(&k.name, attempt),
            hostname: Some(self.hostname()),
            tty: k.tty.unwrap_or(false),
            open_stdin: k.stdin.unwrap_or(false),
            stop_timeout: spec.termination_grace_period_seconds,
            host,
            ..Default::default()
        })
    }

    /// The container's environment: `envFrom` first, then `env` in order
    /// (a later one overrides), with `$(VAR)` references expanded.
    fn env(
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
            if let Some(v) = self.env_value(c, e, pod_ip, &out)? {
                set(&mut out, e.name.clone(), v);
            }
        }
        Ok(out)
    }

    fn env_value(
        &self,
        c: &Cluster<'_>,
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

    /// The container's volume mounts as binds (the volumes made ready by
    /// [`super::volumes`]).
    fn mounts(&self, c: &Cluster<'_>, k: &Container) -> Result<Vec<String>, Waiting> {
        let volumes: BTreeMap<&str, &Volume> = self
            .spec()
            .volumes
            .iter()
            .flatten()
            .map(|v| (v.name.as_str(), v))
            .collect();
        let mut binds = Vec::new();
        for m in k.volume_mounts.iter().flatten() {
            let Some(v) = volumes.get(m.name.as_str()) else {
                return Err(Waiting {
                    reason: "CreateContainerConfigError",
                    message: format!("volume \"{}\" not found", m.name),
                });
            };
            let mut source = super::volumes::source(self, c, v);
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
                    return Err(Waiting {
                        reason: "CreateContainerConfigError",
                        message: format!("invalid subPath \"{sub}\""),
                    });
                }
                source = format!("{source}/{sub}");
                if source.starts_with('/') {
                    let _ = std::fs::create_dir_all(&source);
                }
            }
            let ro = m.read_only.unwrap_or(false) || v.config_map.is_some() || v.secret.is_some();
            binds.push(format!(
                "{source}:{}{}",
                m.mount_path,
                if ro { ":ro" } else { "" }
            ));
        }
        Ok(binds)
    }
}

/// `$(VAR)` in a value, from the variables defined before it (`$$(VAR)`
/// stays literal).
fn expand(v: &str, vars: &[(String, String)]) -> String {
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

/// The kubelet's cgroup settings from a container's resources: CPU shares
/// from the request (milli × 1024 / 1000, at least 2), the CFS quota from
/// the limit, memory.max from the memory limit.
fn resources(k: &Container, host: &mut HostConfig) {
    let r = k.resources.clone().unwrap_or_default();
    let get =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
         key: &str| { m.as_ref().and_then(|m| m.get(key)).map(|q| q.0.clone()) };
    let cpu_request = get(&r.requests, "cpu").and_then(|q| quantity::millicores(&q));
    let cpu_limit = get(&r.limits, "cpu").and_then(|q| quantity::millicores(&q));
    let mem_limit = get(&r.limits, "memory").and_then(|q| quantity::bytes(&q));
    host.cpu_shares = match cpu_request.or(cpu_limit) {
        Some(m) => (m * 1024 / 1000).max(2),
        None => 2,
    };
    if let Some(m) = cpu_limit {
        host.nano_cpus = m * 1_000_000;
    }
    if let Some(b) = mem_limit {
        host.memory = b;
    }
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
