//! A pod's containers as the engine's containers: the infra container that
//! holds the pod's namespaces (network, IPC, its /etc files), and each
//! container of the spec joined to it, with its command, environment (see
//! env.rs), resources (the kubelet's cgroup formulas), security context,
//! volumes, its shared /dev/shm and its termination message file.

use crate::cluster::Cluster;
use crate::quantity;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Volume};
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

    /// The pod's /dev/shm (a tmpfs its containers share).
    pub fn shm_dir(&self, c: &Cluster<'_>) -> PathBuf {
        self.volumes_dir(c).with_file_name("shm")
    }

    /// The host file a container's attempt writes its termination message
    /// to.
    pub fn termination_log(&self, c: &Cluster<'_>, container: &str, attempt: u32) -> PathBuf {
        termination_log(c, self.uid, &self.container_name(container, attempt))
    }

    /// The infra container: the skiff init holding the namespaces, and the
    /// pod's resolver (the node's embedded DNS with the cluster's search
    /// path for dnsPolicy ClusterFirst, plus the pod's dnsConfig).
    pub fn infra(&self, image: &str, attempt: u32) -> CreateOptions {
        let spec = self.spec();
        let mut host = HostConfig {
            init: true,
            network_mode: POD_NETWORK.into(),
            // The pod's containers join its IPC namespace.
            ipc_mode: "shareable".into(),
            // hostAliases: the pod's /etc/hosts, which its containers share.
            extra_hosts: spec
                .host_aliases
                .iter()
                .flatten()
                .flat_map(|a| {
                    let ip = a.ip.clone();
                    a.hostnames
                        .iter()
                        .flatten()
                        .map(move |h| format!("{h}:{ip}"))
                })
                .collect(),
            ..Default::default()
        };
        let cluster_first = matches!(
            spec.dns_policy.as_deref().unwrap_or("ClusterFirst"),
            "ClusterFirst" | "ClusterFirstWithHostNet"
        );
        // None: exactly the pod's dnsConfig; Default: the node's resolver.
        host.dns_direct = !cluster_first;
        if cluster_first {
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
            ipc_mode: format!("container:{infra}"),
            pid_mode: if spec.share_process_namespace == Some(true) {
                format!("container:{infra}")
            } else {
                String::new()
            },
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
        // The pod's supplemental groups and fsGroup, beside the user's own.
        host.group_add = pod_sc
            .supplemental_groups
            .iter()
            .flatten()
            .chain(pod_sc.fs_group.iter())
            .map(|g| g.to_string())
            .collect();
        // The pod's shared /dev/shm, and the file the container's
        // termination message is read from.
        let shm = format!("{}:/dev/shm", self.shm_dir(c).display());
        let log = self.termination_log(c, &k.name, attempt);
        let _ = std::fs::create_dir_all(log.parent().expect("a file in a directory"));
        let _ = std::fs::write(&log, b"");
        let message_path = k
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".into());
        let binds = vec![shm, format!("{}:{message_path}", log.display())];
        let env = self.env(c, k, pod_ip)?;
        let mut mounts: Vec<(String, String)> =
            binds.into_iter().map(|b| (b, String::new())).collect();
        mounts.extend(self.mounts(c, k)?);
        for (b, subpath) in mounts {
            let mut m = skiff_engine::volumes::parse_volume_flag(&b).map_err(|e| Waiting {
                reason: "CreateContainerConfigError",
                message: e.to_string(),
            })?;
            m.subpath = subpath;
            host.mounts.push(m);
            host.binds.push(b);
        }
        // `$(VAR)` in command and args is the container's variable.
        let expand_all = |v: &Option<Vec<String>>| {
            v.as_ref().map(|v| {
                v.iter()
                    .map(|a| super::env::expand(a, &env))
                    .collect::<Vec<_>>()
            })
        };
        let entrypoint = expand_all(&k.command);
        let cmd = expand_all(&k.args).unwrap_or_default();
        Ok(CreateOptions {
            name: Some(self.container_name(&k.name, attempt)),
            image: k.image.clone().unwrap_or_default(),
            cmd,
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

    /// The container's volume mounts as binds (the volumes made ready by
    /// [`super::volumes`]), each with the subpath of an engine volume it
    /// mounts (a host directory's subPath is part of its path).
    fn mounts(&self, c: &Cluster<'_>, k: &Container) -> Result<Vec<(String, String)>, Waiting> {
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
            let mut subpath = String::new();
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
                    return Err(Waiting {
                        reason: "CreateContainerConfigError",
                        message: format!("invalid subPath \"{sub}\""),
                    });
                }
                if source.starts_with('/') {
                    source = format!("{source}/{sub}");
                    let _ = std::fs::create_dir_all(&source);
                } else {
                    // An engine volume (a claim's): the kubelet makes the
                    // directory, the engine mounts it.
                    let dir = c.engine().volume_data(&source).join(sub);
                    let _ = std::fs::create_dir_all(dir);
                    subpath = sub.to_string();
                }
            }
            let ro = m.read_only.unwrap_or(false) || v.config_map.is_some() || v.secret.is_some();
            binds.push((
                format!("{source}:{}{}", m.mount_path, if ro { ":ro" } else { "" }),
                subpath,
            ));
        }
        Ok(binds)
    }
}

/// The host file the engine container `engine_name` of pod `uid` writes
/// its termination message to.
pub fn termination_log(c: &Cluster<'_>, uid: &str, engine_name: &str) -> PathBuf {
    c.engine()
        .paths()
        .root
        .join("kube/pods")
        .join(uid)
        .join("termination")
        .join(engine_name)
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
