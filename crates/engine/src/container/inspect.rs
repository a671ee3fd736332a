//! `inspect`: Docker's JSON document of a container.

use super::*;

impl Engine {
    /// The path of the container's log.
    pub fn log_path(&self, c: &Container) -> std::path::PathBuf {
        crate::logs::log_path(&self.paths.container_dir(&c.id), &c.id)
    }

    /// `inspect`: Docker's JSON shape for the fields that apply.
    pub fn inspect(&self, c: &Container) -> serde_json::Value {
        let mut v = self.inspect_base(c);
        complete_inspect(&mut v, c);
        v
    }

    fn inspect_base(&self, c: &Container) -> serde_json::Value {
        use serde_json::json;
        let s = &c.state;
        let (path, args) = {
            let mut all = c.config.entrypoint.clone();
            all.extend(c.config.cmd.iter().cloned());
            let mut it = all.into_iter();
            (it.next().unwrap_or_default(), it.collect::<Vec<_>>())
        };
        let dir = self.paths.container_dir(&c.id);
        let mut state = json!({
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": if matches!(s.status, Status::Running | Status::Paused) { s.pid } else { 0 },
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        });
        if let Some(h) = &s.health {
            state["Health"] = serde_json::to_value(h).expect("health serializes");
        }
        json!({
            "Id": c.id,
            "Created": c.created,
            "Path": path,
            "Args": args,
            "State": state,
            "Image": c.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": self.log_path(c),
            "Name": format!("/{}", c.name),
            "RestartCount": s.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "HostConfig": {
                "Binds": if c.host.binds.is_empty() { serde_json::Value::Null } else { json!(c.host.binds) },
                "NetworkMode": c.host.network_mode,
                "RestartPolicy": {
                    "Name": if c.host.restart_policy.name.is_empty() { "no" } else { c.host.restart_policy.name.as_str() },
                    "MaximumRetryCount": c.host.restart_policy.maximum_retry_count,
                },
                "AutoRemove": c.host.auto_remove,
                "CapAdd": if c.host.cap_add.is_empty() { serde_json::Value::Null } else { json!(c.host.cap_add) },
                "CapDrop": if c.host.cap_drop.is_empty() { serde_json::Value::Null } else { json!(c.host.cap_drop) },
                "Privileged": c.host.privileged,
                "ReadonlyRootfs": c.host.read_only_rootfs,
                "SecurityOpt": if c.host.security_opt.is_empty() { serde_json::Value::Null } else { json!(c.host.security_opt.iter().map(|o| if o.starts_with("seccomp={") { "seccomp=<profile>".to_string() } else { o.clone() }).collect::<Vec<_>>()) },
                "Memory": c.host.memory,
                "MemorySwap": c.host.memory_swap,
                "NanoCpus": c.host.nano_cpus,
                "CpuShares": c.host.cpu_shares,
                "CpusetCpus": c.host.cpuset_cpus,
                "CpusetMems": c.host.cpuset_mems,
                "CpuPeriod": c.host.cpu_period,
                "CpuQuota": c.host.cpu_quota,
                "MemoryReservation": c.host.memory_reservation,
                "BlkioWeight": c.host.blkio_weight,
                "PidsLimit": if c.host.pids_limit > 0 { json!(c.host.pids_limit) } else { serde_json::Value::Null },
                "Init": c.host.init,
                "PortBindings": c.host.port_bindings.iter().map(|(k, v)| (k.clone(), json!(v.iter().map(|b| json!({"HostIp": b.host_ip, "HostPort": b.host_port})).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
                "PublishAllPorts": c.host.publish_all_ports,
                "Dns": c.host.dns,
                "DnsSearch": c.host.dns_search,
                "DnsOptions": c.host.dns_options,
                "ExtraHosts": if c.host.extra_hosts.is_empty() { serde_json::Value::Null } else { json!(c.host.extra_hosts) },
                "IpcMode": if c.host.ipc_mode.is_empty() { "private" } else { c.host.ipc_mode.as_str() },
                "PidMode": c.host.pid_mode,
                "GroupAdd": if c.host.group_add.is_empty() { serde_json::Value::Null } else { json!(c.host.group_add) },
                "Mounts": mount_flags(c),
                "Ulimits": if c.host.ulimits.is_empty() { serde_json::Value::Null } else {
                    json!(c.host.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>())
                },
                "Tmpfs": c.host.tmpfs,
                "LogConfig": {"Type": "json-file", "Config": if c.host.log_opts.is_empty() { log_config(&c.host) } else { c.host.log_opts.clone() }},
            },
            "GraphDriver": {
                "Name": "overlay2",
                "Data": {
                    "MergedDir": dir.join("rootfs"),
                    "UpperDir": dir.join("upper"),
                    "WorkDir": dir.join("work"),
                },
            },
            "Mounts": self.inspect_mounts(c),
            "Config": {
                "Hostname": crate::spec::hostname(c),
                "Domainname": c.config.domainname,
                "User": c.config.user,
                "AttachStdin": false,
                "Tty": c.config.tty,
                "OpenStdin": c.config.open_stdin,
                "Env": c.config.env,
                "Cmd": if c.config.cmd.is_empty() { serde_json::Value::Null } else { json!(c.config.cmd) },
                "Image": c.config.image,
                "Volumes": if c.config.volumes.is_empty() { serde_json::Value::Null } else {
                    serde_json::Value::Object(c.config.volumes.iter().map(|v| (v.clone(), json!({}))).collect())
                },
                "WorkingDir": c.config.working_dir,
                // Docker's maps come out with their keys in string order.
                "ExposedPorts": if c.config.exposed_ports.is_empty() { serde_json::Value::Null } else {
                    let mut m: serde_json::Map<_, _> = c.config.exposed_ports.iter().map(|v| (v.clone(), json!({}))).collect();
                    m.sort_keys();
                    serde_json::Value::Object(m)
                },
                "Entrypoint": if c.config.entrypoint.is_empty() { serde_json::Value::Null } else { json!(c.config.entrypoint) },
                "Labels": c.config.labels,
                "StopSignal": c.config.stop_signal,
                "Healthcheck": c.config.healthcheck.as_ref().map(|h| {
                    let mut v = json!({"Test": h.test});
                    for (k, n) in [("Interval", h.interval), ("Timeout", h.timeout),
                                   ("StartPeriod", h.start_period), ("Retries", h.retries)] {
                        if n != 0 {
                            v[k] = json!(n);
                        }
                    }
                    v
                }),
                "StopTimeout": c.config.stop_timeout,
            },
            "NetworkSettings": self.network_settings(c),
        })
    }
}

fn log_config(h: &HostConfig) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(s) = h.log_max_size {
        m.insert("max-size".to_string(), s.to_string());
    }
    if let Some(f) = h.log_max_file {
        m.insert("max-file".to_string(), f.to_string());
    }
    m
}

/// The rest of Docker's inspect document: keys skiff has no setting for yet,
/// with the values Docker shows for them, and keys Docker leaves out when
/// unset.
fn complete_inspect(v: &mut serde_json::Value, c: &Container) {
    use serde_json::{json, Value};
    let set = |m: &mut Value, pairs: Value| {
        if let (Some(m), Some(p)) = (m.as_object_mut(), pairs.as_object()) {
            for (k, v) in p {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    };
    set(
        v,
        json!({"AppArmorProfile": "", "ExecIDs": null, "MountLabel": "", "ProcessLabel": ""}),
    );
    set(
        &mut v["Config"],
        json!({"AttachStdout": false, "AttachStderr": false, "StdinOnce": false, "OnBuild": null}),
    );
    if let Some(cfg) = v["Config"].as_object_mut() {
        for k in ["Healthcheck", "StopSignal", "StopTimeout", "ExposedPorts"] {
            if cfg.get(k).is_some_and(Value::is_null) {
                cfg.remove(k);
            }
        }
    }
    let private = c.host.privileged;
    set(
        &mut v["HostConfig"],
        json!({
            "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": null,
            "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
            "Cgroup": "", "CgroupParent": "", "CgroupnsMode": "host", "ConsoleSize": [0, 0],
            "ContainerIDFile": "", "CpuCount": 0, "CpuPercent": 0,
            "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
            "CpusetMems": "", "DeviceCgroupRules": null, "DeviceRequests": null, "Devices": [],
            "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null,
            "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "IpcMode": "private", "Isolation": "",
            "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": null,
            "MaskedPaths": if private { Value::Null } else { json!(crate::spec::MASKED) },
            "ReadonlyPaths": if private { Value::Null } else { json!(crate::spec::READONLY) },
            "MemoryReservation": 0, "MemorySwappiness": null, "OomKillDisable": false,
            "OomScoreAdj": 0, "PidMode": "", "PortBindings": {}, "PublishAllPorts": false,
            "Runtime": "runc", "ShmSize": 67108864, "UTSMode": "", "UsernsMode": "",
            "VolumeDriver": "", "VolumesFrom": null,
        }),
    );
    if let Some(h) = v["HostConfig"].as_object_mut() {
        if !c.host.init {
            h.remove("Init");
        }
        if c.host.tmpfs.is_empty() {
            h.remove("Tmpfs");
        }
        if h.get("Mounts").is_some_and(Value::is_null) {
            h.remove("Mounts");
        }
    }
    set(
        &mut v["NetworkSettings"],
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": "",
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
        }),
    );
}

/// `HostConfig.Mounts`: what `--mount` asked for, in Docker's shape.
fn mount_flags(c: &Container) -> serde_json::Value {
    use serde_json::json;
    let m: Vec<serde_json::Value> = c
        .host
        .mounts
        .iter()
        .filter(|m| m.from_mount_flag)
        .map(|m| {
            let mut v = json!({"Type": m.kind});
            if !m.source.is_empty() {
                v["Source"] = json!(m.source);
            }
            v["Target"] = json!(m.target);
            if m.read_only {
                v["ReadOnly"] = json!(true);
            }
            v
        })
        .collect();
    if m.is_empty() {
        serde_json::Value::Null
    } else {
        json!(m)
    }
}
