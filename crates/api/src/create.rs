//! `POST /containers/create`: Docker's create body (Config, HostConfig,
//! NetworkingConfig) read into the engine's create options; the rules on
//! them (validation, defaults, mounts) are the engine's.

use crate::http::{Request, Response};
use crate::{body, engine, message, Answer};
use serde::Deserialize;
use serde_json::json;
use skiff_engine::container::CreateOptions;
use skiff_engine::model::{HealthConfig, PortBinding, RestartPolicy, Ulimit};
use skiff_engine::Engine;
use std::collections::BTreeMap;

/// The parts of Docker's create body skiff reads (unknown fields are
/// ignored, as dockerd ignores them).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    hostname: Option<String>,
    user: Option<String>,
    tty: Option<bool>,
    open_stdin: Option<bool>,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    image: Option<String>,
    working_dir: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    stop_signal: Option<String>,
    stop_timeout: Option<i64>,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Anonymous volumes (`-v /path`).
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    healthcheck: Option<HealthBody>,
    host_config: Option<HostBody>,
    networking_config: Option<NetworkingBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct HealthBody {
    test: Option<Vec<String>>,
    interval: Option<i64>,
    timeout: Option<i64>,
    start_period: Option<i64>,
    retries: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct HostBody {
    binds: Option<Vec<String>>,
    network_mode: Option<String>,
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBody>>>>,
    restart_policy: Option<RestartBody>,
    auto_remove: Option<bool>,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    dns: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    ipc_mode: Option<String>,
    pid_mode: Option<String>,
    group_add: Option<Vec<String>>,
    privileged: Option<bool>,
    publish_all_ports: Option<bool>,
    readonly_rootfs: Option<bool>,
    security_opt: Option<Vec<String>>,
    tmpfs: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    limits: LimitsBody,
    ulimits: Option<Vec<UlimitBody>>,
    mounts: Option<Vec<MountBody>>,
    init: Option<bool>,
    log_config: Option<LogBody>,
}

/// The limits both create and update take.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct LimitsBody {
    memory: Option<i64>,
    memory_swap: Option<i64>,
    nano_cpus: Option<i64>,
    cpu_shares: Option<i64>,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
    cpu_period: Option<i64>,
    cpu_quota: Option<i64>,
    memory_reservation: Option<i64>,
    blkio_weight: Option<i64>,
    pids_limit: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct LogBody {
    #[serde(rename = "Type")]
    kind: Option<String>,
    config: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PortBody {
    host_ip: Option<String>,
    host_port: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RestartBody {
    name: Option<String>,
    maximum_retry_count: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct UlimitBody {
    name: String,
    soft: i64,
    hard: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct MountBody {
    #[serde(rename = "Type")]
    kind: Option<String>,
    source: Option<String>,
    target: Option<String>,
    read_only: Option<bool>,
    tmpfs_options: Option<TmpfsBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TmpfsBody {
    size_bytes: Option<i64>,
    mode: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingBody {
    endpoints_config: Option<BTreeMap<String, Option<EndpointBody>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointBody {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpamBody {
    #[serde(rename = "IPv4Address")]
    ipv4: Option<String>,
}

/// Docker's create body as the engine's options.
fn create_options(name: Option<&str>, b: CreateBody) -> skiff_engine::Result<CreateOptions> {
    let h = b.host_config.unwrap_or_default();
    let mut host = skiff_engine::model::HostConfig {
        auto_remove: h.auto_remove.unwrap_or(false),
        network_mode: h.network_mode.unwrap_or_default(),
        read_only_rootfs: h.readonly_rootfs.unwrap_or(false),
        privileged: h.privileged.unwrap_or(false),
        cap_add: h.cap_add.unwrap_or_default(),
        cap_drop: h.cap_drop.unwrap_or_default(),
        restart_policy: h
            .restart_policy
            .map(|r| RestartPolicy {
                name: r.name.unwrap_or_default(),
                maximum_retry_count: r.maximum_retry_count.unwrap_or(0),
            })
            .unwrap_or_default(),
        init: h.init.unwrap_or(false),
        security_opt: h.security_opt.unwrap_or_default(),
        memory: h.limits.memory.unwrap_or(0),
        memory_swap: h.limits.memory_swap.unwrap_or(0),
        nano_cpus: h.limits.nano_cpus.unwrap_or(0),
        cpu_shares: h.limits.cpu_shares.unwrap_or(0),
        cpuset_cpus: h.limits.cpuset_cpus.unwrap_or_default(),
        cpuset_mems: h.limits.cpuset_mems.unwrap_or_default(),
        cpu_period: h.limits.cpu_period.unwrap_or(0),
        cpu_quota: h.limits.cpu_quota.unwrap_or(0),
        memory_reservation: h.limits.memory_reservation.unwrap_or(0),
        blkio_weight: h.limits.blkio_weight.unwrap_or(0),
        pids_limit: h.limits.pids_limit.unwrap_or(0).max(0),
        ulimits: h
            .ulimits
            .unwrap_or_default()
            .into_iter()
            .map(|u| Ulimit {
                name: u.name,
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        publish_all_ports: h.publish_all_ports.unwrap_or(false),
        dns: h.dns.unwrap_or_default(),
        dns_search: h.dns_search.unwrap_or_default(),
        dns_options: h.dns_options.unwrap_or_default(),
        extra_hosts: h.extra_hosts.unwrap_or_default(),
        ipc_mode: h.ipc_mode.unwrap_or_default(),
        pid_mode: h.pid_mode.unwrap_or_default(),
        group_add: h.group_add.unwrap_or_default(),
        ..Default::default()
    };
    for (port, bindings) in h.port_bindings.unwrap_or_default() {
        let list = host.port_bindings.entry(port).or_default();
        for p in bindings.unwrap_or_default() {
            list.push(PortBinding {
                host_ip: p.host_ip.unwrap_or_default(),
                host_port: p.host_port.unwrap_or_default(),
            });
        }
    }
    for v in h.binds.unwrap_or_default() {
        host.mounts
            .push(skiff_engine::volumes::parse_volume_flag(&v)?);
        host.binds.push(v);
    }
    for m in h.mounts.unwrap_or_default() {
        let mut options = Vec::new();
        if let Some(t) = &m.tmpfs_options {
            if let Some(size) = t.size_bytes.filter(|s| *s > 0) {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = t.mode.filter(|m| *m > 0) {
                options.push(format!("mode={mode:o}"));
            }
        }
        host.mounts.push(skiff_engine::volumes::api_mount(
            m.kind.as_deref().unwrap_or("volume"),
            m.source.as_deref().unwrap_or(""),
            m.target.as_deref().unwrap_or(""),
            m.read_only.unwrap_or(false),
            options,
        )?);
    }
    // `Volumes` are anonymous volumes, unless a bind or mount already
    // names that path (docker-compose lists its named volumes there too).
    for target in b.volumes.unwrap_or_default().into_keys() {
        let m = skiff_engine::volumes::parse_volume_flag(&target)?;
        if !host.mounts.iter().any(|x| x.target == m.target) {
            host.mounts.push(m);
        }
    }
    if let Some(l) = h.log_config {
        match l.kind.as_deref().unwrap_or("") {
            "" | "json-file" => {}
            other => {
                return Err(skiff_engine::Error::Invalid(format!(
                    "logging driver {other:?} is not supported: json-file only"
                )))
            }
        }
        host.log_opts = l.config.unwrap_or_default();
    }
    for (target, options) in h.tmpfs.unwrap_or_default() {
        let flag = if options.is_empty() {
            target.clone()
        } else {
            format!("{target}:{options}")
        };
        let m = skiff_engine::volumes::parse_tmpfs_flag(&flag)?;
        host.tmpfs.insert(m.target.clone(), m.options.clone());
        host.mounts.push(m);
    }
    let hc = b.healthcheck.unwrap_or_default();
    let (mut aliases, mut ip) = (Vec::new(), None);
    let endpoints = b
        .networking_config
        .and_then(|n| n.endpoints_config)
        .unwrap_or_default();
    for ep in endpoints.into_values().flatten() {
        aliases.extend(ep.aliases.unwrap_or_default());
        ip = ip.or(ep
            .ipam_config
            .and_then(|i| i.ipv4)
            .filter(|s| !s.is_empty()));
    }
    Ok(CreateOptions {
        name: name.filter(|n| !n.is_empty()).map(String::from),
        image: b.image.unwrap_or_default(),
        cmd: b.cmd.unwrap_or_default(),
        entrypoint: b.entrypoint,
        env: b.env.unwrap_or_default(),
        workdir: b.working_dir.filter(|w| !w.is_empty()),
        user: b.user.filter(|u| !u.is_empty()),
        hostname: b.hostname.filter(|h| !h.is_empty()),
        labels: b.labels.unwrap_or_default(),
        tty: b.tty.unwrap_or(false),
        open_stdin: b.open_stdin.unwrap_or(false),
        stop_signal: b.stop_signal.filter(|s| !s.is_empty()),
        stop_timeout: b.stop_timeout,
        healthcheck: HealthConfig {
            test: hc.test.unwrap_or_default(),
            interval: hc.interval.unwrap_or(0),
            timeout: hc.timeout.unwrap_or(0),
            start_period: hc.start_period.unwrap_or(0),
            retries: hc.retries.unwrap_or(0),
        },
        no_healthcheck: false,
        network_aliases: aliases,
        ip,
        expose: b.exposed_ports.unwrap_or_default().into_keys().collect(),
        host,
        id: None,
    })
}

pub fn create(e: &Engine, req: &Request) -> Answer {
    let b: CreateBody = body(req)?;
    if b.image.as_deref().unwrap_or("").is_empty() {
        return Err(message(
            400,
            "Config cannot be empty in order to create a container",
        ));
    }
    let o = engine(create_options(req.query("name"), b))?;
    let (c, warnings) = engine(e.create_with_warnings(&o))?;
    Ok(Response::json(
        201,
        &json!({"Id": c.id, "Warnings": warnings}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    #[serde(flatten)]
    limits: LimitsBody,
    restart_policy: Option<RestartBody>,
}

/// `POST /containers/{id}/update`: limits and the restart policy; zeros
/// and empty values leave a setting as it is, as dockerd reads them.
pub fn update(e: &Engine, id: &str, req: &Request) -> Answer {
    let b: UpdateBody = body(req)?;
    let set = |v: Option<i64>| v.filter(|n| *n != 0);
    let o = skiff_engine::container::UpdateOptions {
        memory: set(b.limits.memory),
        memory_swap: set(b.limits.memory_swap),
        nano_cpus: set(b.limits.nano_cpus),
        cpu_shares: set(b.limits.cpu_shares),
        cpuset_cpus: b.limits.cpuset_cpus.filter(|s| !s.is_empty()),
        cpuset_mems: b.limits.cpuset_mems.filter(|s| !s.is_empty()),
        cpu_period: set(b.limits.cpu_period),
        cpu_quota: set(b.limits.cpu_quota),
        memory_reservation: set(b.limits.memory_reservation),
        pids_limit: set(b.limits.pids_limit),
        blkio_weight: set(b.limits.blkio_weight),
        restart_policy: b
            .restart_policy
            .filter(|r| r.name.as_deref().is_some_and(|n| !n.is_empty()))
            .map(|r| RestartPolicy {
                name: r.name.unwrap_or_default(),
                maximum_retry_count: r.maximum_retry_count.unwrap_or(0),
            }),
    };
    let (_, warnings) = engine(e.update_with_warnings(id, &o))?;
    Ok(Response::json(200, &json!({ "Warnings": warnings })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_a_bind_names_are_not_anonymous_too() {
        let b: CreateBody = serde_json::from_str(
            r#"{"Image":"x","Volumes":{"/data":{},"/other":{}},"HostConfig":{"Binds":["vv:/data:rw"]}}"#,
        )
        .unwrap();
        let o = create_options(None, b).unwrap();
        let targets: Vec<&str> = o.host.mounts.iter().map(|m| m.target.as_str()).collect();
        assert_eq!(targets, ["/data", "/other"]);
    }
}
