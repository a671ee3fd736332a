//! What a container is made of, as stored: the configuration it was created
//! with (Docker's `Config` and `HostConfig`, the parts that apply) and its
//! state.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's `Config`: what runs, as the image and the flags made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Vec<String>,
    /// The effective command (the image's when none was given).
    pub cmd: Vec<String>,
    /// The effective entrypoint (the image's unless `--entrypoint`).
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// The image as the user named it.
    pub image: String,
    /// Image volumes (`VOLUME` in the image config).
    pub volumes: Vec<String>,
    /// `80/tcp`: the image's EXPOSE, `--expose` and `-p` ports.
    pub exposed_ports: Vec<String>,
    /// Docker's `Healthcheck` (from the image or the `--health-*` flags).
    pub healthcheck: Option<HealthConfig>,
}

/// A health check: `test` is `["CMD", args...]`, `["CMD-SHELL", cmd]` or
/// `["NONE"]`; durations in nanoseconds (0: Docker's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub retries: i64,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "FailingStreak")]
    pub failing_streak: i64,
    #[serde(rename = "Log")]
    pub log: Vec<HealthResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResult {
    #[serde(rename = "Start")]
    pub start: String,
    #[serde(rename = "End")]
    pub end: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Output")]
    pub output: String,
}

/// Docker's `HostConfig`: how the container sits on the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    pub auto_remove: bool,
    /// `default` (the bridge network), `none`, `host`, `container:ID` or a
    /// network's name.
    pub network_mode: String,
    pub read_only_rootfs: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub restart_policy: RestartPolicy,
    pub init: bool,
    pub security_opt: Vec<String>,
    /// Bytes; 0 is no limit.
    pub memory: i64,
    /// Bytes of memory + swap; 0 is unset, -1 unlimited.
    pub memory_swap: i64,
    /// CPUs in units of 1e-9.
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    /// `--cpuset-mems`: the memory nodes it may use.
    pub cpuset_mems: String,
    /// CFS period and quota in microseconds; 0 is unset.
    pub cpu_period: i64,
    pub cpu_quota: i64,
    /// The soft memory limit in bytes; 0 is unset.
    pub memory_reservation: i64,
    /// Block I/O weight, 10-1000; 0 is unset.
    pub blkio_weight: i64,
    /// 0 is unset.
    pub pids_limit: i64,
    pub ulimits: Vec<Ulimit>,
    /// `-v` values as given (Docker's `HostConfig.Binds`).
    pub binds: Vec<String>,
    pub tmpfs: BTreeMap<String, String>,
    /// Every mount: volumes (named; anonymous ones get a name at create),
    /// binds and tmpfs, from `-v`, `--mount`, `--tmpfs` and the image's VOLUMEs.
    pub mounts: Vec<MountPoint>,
    pub log_max_size: Option<u64>,
    /// `--log-opt` values as given (Docker's `LogConfig.Config`).
    pub log_opts: BTreeMap<String, String>,
    pub log_max_file: Option<u32>,
    /// `-p`: "80/tcp" → where on the host.
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`: every exposed port on a random host port.
    pub publish_all_ports: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host` values, `host:ip`.
    pub extra_hosts: Vec<String>,
    /// The resolver file names the `dns` servers (or the host's) itself,
    /// without the embedded DNS in front of them (not a Docker setting: a
    /// Kubernetes pod's dnsPolicy None or Default).
    pub dns_direct: bool,
    /// `--ipc`: "" or "private" (its own namespace), "shareable" (its own,
    /// others may join), "host", or "container:X" (X's namespace).
    pub ipc_mode: String,
    /// `--pid`: "" (its own namespace), "host", or "container:X".
    pub pid_mode: String,
    /// `--group-add`: supplementary groups, by name or number.
    pub group_add: Vec<String>,
}

/// Docker's `PortBinding`: empty strings mean all addresses, a random port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// One mount of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// `volume`, `bind` or `tmpfs`.
    pub kind: String,
    /// Volume name, host path, or empty.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// tmpfs options (`size=64m,mode=1777`).
    pub options: String,
    /// A missing bind source is made (`-v`), not refused (`--mount`).
    pub create_host_path: bool,
    /// Docker's `Mode` in `.Mounts` (`ro`, `z`, ...).
    pub mode: String,
    /// From `--mount` (listed in `HostConfig.Mounts`).
    pub from_mount_flag: bool,
    /// A volume's directory mounted instead of all of it
    /// (`volume-subpath=`); it must exist.
    pub subpath: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `no`, `always`, `on-failure`, `unless-stopped`; empty is `no`.
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The container's lifecycle states, as Docker names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "removing" => Status::Removing,
            "exited" => Status::Exited,
            "dead" => Status::Dead,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One container, as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub image_id: String,
    pub config: Config,
    pub host: HostConfig,
    pub state: State,
}

/// Docker's `State`, plus what the engine needs to check it is true.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    /// Start time (clock ticks since boot) of `pid`, so a reused pid is not
    /// mistaken for the container.
    pub pid_start: u64,
    pub supervisor_pid: i32,
    pub supervisor_start: u64,
    pub exit_code: i32,
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    pub restart_count: u32,
    pub error: String,
    /// The user stopped it (`stop`, `kill`): `unless-stopped` and `always`
    /// do not bring it back until it is started again.
    pub stopped_by_user: bool,
    /// Health, when the container has a health check and runs.
    pub health: Option<Health>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            supervisor_pid: 0,
            supervisor_start: 0,
            exit_code: 0,
            started_at: crate::time::ZERO_TIME.into(),
            finished_at: crate::time::ZERO_TIME.into(),
            oom_killed: false,
            restart_count: 0,
            error: String::new(),
            stopped_by_user: false,
            health: None,
        }
    }
}
