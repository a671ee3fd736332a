//! The pod and container configurations kubelet sends, built as kubelet
//! builds them (metadata, log paths, DNS, namespaces, cgroup parent).

use std::collections::HashMap;
use std::path::Path;

use crate::api;

/// The sandbox image scripts/containerd-node.sh makes offline (busybox
/// sleeping); a container of it with no command sleeps too.
pub const SANDBOX_IMAGE: &str = "skiff.local/pause:1";

/// The cgroup parent of a pod in the handler's cgroup driver's form:
/// a cgroupfs path, or a systemd slice (`NAME.slice`).
pub fn cgroup_parent(name: &str, systemd: bool) -> String {
    if systemd {
        format!("{name}.slice")
    } else {
        format!("/{name}")
    }
}

/// kubelet's defaults: the pod's network and IPC namespaces, a PID
/// namespace per container.
fn pod_namespaces() -> Option<api::NamespaceOption> {
    Some(api::NamespaceOption {
        network: api::NamespaceMode::Pod as i32,
        pid: api::NamespaceMode::Container as i32,
        ipc: api::NamespaceMode::Pod as i32,
        ..Default::default()
    })
}

/// A pod sandbox's configuration: its own network namespace (NODE mode
/// off), pod-wide IPC, a PID namespace per container, as kubelet's defaults.
pub fn sandbox(
    name: &str,
    uid: &str,
    log_dir: &Path,
    cgroup_parent: &str,
) -> api::PodSandboxConfig {
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.into(),
            uid: uid.into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: name.into(),
        log_directory: log_dir.display().to_string(),
        dns_config: Some(api::DnsConfig {
            servers: vec!["10.96.0.10".into()],
            searches: vec![
                "default.svc.cluster.local".into(),
                "svc.cluster.local".into(),
            ],
            options: vec!["ndots:5".into()],
        }),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.into(),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: pod_namespaces(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container's configuration: `image` running `command`, its log at
/// `LOG_DIRECTORY/NAME_0.log`, stdin open when `stdin`.
pub fn container(name: &str, image: &str, command: &[&str], stdin: bool) -> api::ContainerConfig {
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}_0.log"),
        stdin,
        labels: HashMap::from([("container".to_string(), name.to_string())]),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(api::LinuxContainerResources {
                cpu_shares: 2,
                oom_score_adj: 1000,
                ..Default::default()
            }),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: pod_namespaces(),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}
