//! `create`: its flags (which `run` shares), read into the engine's
//! `CreateOptions` with the checks Docker's client makes itself; the image
//! is pulled when it is missing.

use super::{daemon, env_entry, open, parse_labels, parse_port_number, Failure, Result};
use clap::Args;
use skiff_engine::container::CreateOptions;
use skiff_engine::model::{Container, HostConfig};
use skiff_engine::Engine;
use std::path::{Path, PathBuf};

// `create` and `run` flags. (A plain comment: a doc comment here would
// become the help text of both commands, as their flags are built last.)
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print usage.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Set metadata on a container.
    #[arg(short = 'l', long = "label")]
    label: Vec<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub(super) interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub(super) tty: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Restart policy: no, always, on-failure[:N], unless-stopped.
    #[arg(long, default_value = "no")]
    restart: String,
    /// Memory limit (e.g. 64m).
    #[arg(short = 'm', long, value_parser = size_flag)]
    memory: Option<String>,
    /// Memory plus swap limit; -1 unlimited.
    #[arg(long = "memory-swap", allow_hyphen_values = true, value_parser = swap_flag)]
    memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long, value_parser = crate::cli::errors::go_cpus)]
    cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares", value_parser = crate::cli::errors::go_int)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period", value_parser = crate::cli::errors::go_int)]
    cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    cpu_quota: Option<i64>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", value_parser = size_flag)]
    memory_reservation: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long = "blkio-weight", value_parser = crate::cli::errors::go_u16)]
    blkio_weight: Option<i64>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    pids_limit: Option<i64>,
    /// Ulimit options (nofile=1024:2048).
    #[arg(long, value_parser = ulimit_flag)]
    ulimit: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    privileged: bool,
    /// Security options (no-new-privileges, seccomp=FILE|unconfined).
    #[arg(long = "security-opt")]
    security_opt: Vec<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    stop_timeout: Option<i64>,
    /// Log driver options (max-size, max-file).
    #[arg(long = "log-opt")]
    log_opt: Vec<String>,
    /// Connect a container to a network (bridge, none, host, container:NAME or a network's name).
    #[arg(long = "network", alias = "net")]
    network: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias")]
    network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104) on the network --network names.
    #[arg(long)]
    ip: Option<String>,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long = "expose")]
    expose: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// IPC mode to use (private, shareable, host, container:NAME).
    #[arg(long = "ipc")]
    ipc: Option<String>,
    /// PID namespace to use (host, container:NAME).
    #[arg(long = "pid")]
    pid: Option<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add")]
    group_add: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns")]
    dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt")]
    dns_option: Vec<String>,
    /// Bind mount a volume (NAME:/path, /host:/path, /path)[:ro].
    #[arg(short = 'v', long = "volume")]
    volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=,target=,readonly).
    #[arg(long)]
    mount: Vec<String>,
    /// Mount a tmpfs directory (/path[:options]).
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries", value_parser = crate::cli::errors::go_int)]
    health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries.
    #[arg(long = "health-start-period")]
    health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// IMAGE [COMMAND] [ARG...]: everything from the image on belongs to
    /// the command, flags too.
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true
    )]
    image_and_command: Vec<String>,
}

impl CreateArgs {
    fn image(&self) -> &str {
        &self.image_and_command[0]
    }
    fn command(&self) -> Vec<String> {
        self.image_and_command[1..].to_vec()
    }
}

/// `-m`: a size as Docker's flag reads it (checked while parsing, so a bad
/// one reads as a flag error).
fn size_flag(s: &str) -> std::result::Result<String, String> {
    skiff_engine::units::parse_bytes(s).map(|_| s.to_string())
}

/// `--memory-swap`: a size, or -1 for unlimited.
fn swap_flag(s: &str) -> std::result::Result<String, String> {
    if s == "-1" {
        return Ok(s.to_string());
    }
    size_flag(s)
}

/// `--ulimit NAME=SOFT[:HARD]`, checked while parsing.
fn ulimit_flag(s: &str) -> std::result::Result<String, String> {
    skiff_engine::units::parse_ulimit(s).map(|_| s.to_string())
}

pub(super) fn create_options(a: &CreateArgs) -> std::result::Result<CreateOptions, String> {
    // The command line takes flags until the image; a word there that looks
    // like a flag is one skiff does not know (no image name starts so).
    if a.image().starts_with('-') {
        return Err(crate::cli::errors::unknown_flag(a.image()));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| format!("open {}: {}", f.display(), go_io_error(&e)))?;
        for line in text.lines() {
            let l = line.trim_start();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            // A bare name the environment lacks is dropped (Docker's rule
            // for --env-file; -e keeps it).
            let e = env_entry(l);
            if e.contains('=') {
                env.push(e);
            }
        }
    }
    env.extend(a.env.iter().map(|e| env_entry(e)));
    // Docker's client checks these as it parses its flags.
    for h in &a.add_host {
        let Some((_, ip)) = h.split_once(':') else {
            return Err(format!(
                "invalid argument {h:?} for \"--add-host\" flag: bad format for add-host: {h:?}"
            ));
        };
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!(
                "invalid argument {h:?} for \"--add-host\" flag: invalid IP address in add-host: {ip:?}"
            ));
        }
    }
    for d in &a.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(format!(
                "invalid argument {d:?} for \"--dns\" flag: {d} is not an ip address"
            ));
        }
    }
    let labels = parse_labels(&a.label);
    let mut host = HostConfig {
        auto_remove: a.rm,
        network_mode: a.network.clone().unwrap_or_default(),
        read_only_rootfs: a.read_only,
        privileged: a.privileged,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        restart_policy: skiff_engine::units::parse_restart(&a.restart)?,
        security_opt: a.security_opt.clone(),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        cpu_period: a.cpu_period.unwrap_or(0),
        blkio_weight: a.blkio_weight.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        pids_limit: a.pids_limit.unwrap_or(0),
        init: a.init,
        publish_all_ports: a.publish_all,
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        extra_hosts: a.add_host.clone(),
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        pid_mode: a.pid.clone().unwrap_or_default(),
        group_add: a.group_add.clone(),
        ..Default::default()
    };
    for p in &a.publish {
        for (k, b) in skiff_engine::network::parse_publish(p)? {
            host.port_bindings.entry(k).or_default().push(b);
        }
    }
    let mut expose = Vec::new();
    for e in &a.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        if !matches!(proto, "tcp" | "udp") {
            return Err(format!("invalid proto: {proto}"));
        }
        let (lo, hi) = port.split_once('-').unwrap_or((port, port));
        let num = |n: &str| {
            parse_port_number(n)
                .map_err(|why| format!("invalid range format for --expose: {e}, error: {why}"))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        for p in lo..=hi {
            expose.push(format!("{p}/{proto}"));
        }
    }
    let engine_err = |e: skiff_engine::Error| e.to_string();
    for v in &a.volume {
        host.mounts
            .push(skiff_engine::volumes::parse_volume_flag(v).map_err(engine_err)?);
        host.binds.push(v.clone());
    }
    for m in &a.mount {
        host.mounts
            .push(skiff_engine::volumes::parse_mount_flag(m).map_err(engine_err)?);
    }
    for t in &a.tmpfs {
        let m = skiff_engine::volumes::parse_tmpfs_flag(t).map_err(engine_err)?;
        host.tmpfs.insert(m.target.clone(), m.options.clone());
        host.mounts.push(m);
    }
    if a.rm && !matches!(host.restart_policy.name.as_str(), "" | "no") {
        return Err("Conflicting options: --restart and --rm".into());
    }
    if let Some(m) = &a.memory {
        host.memory = skiff_engine::units::parse_bytes(m)?;
    }
    if let Some(s) = &a.memory_swap {
        host.memory_swap = if s == "-1" {
            -1
        } else {
            skiff_engine::units::parse_bytes(s)?
        };
    }
    if let Some(r) = &a.memory_reservation {
        host.memory_reservation = skiff_engine::units::parse_bytes(r)?;
    }
    if let Some(c) = a.cpus {
        host.nano_cpus = (c * 1e9) as i64;
        if host.nano_cpus < 0 {
            return Err(format!("invalid argument \"{c}\" for \"--cpus\" flag"));
        }
    }
    for u in &a.ulimit {
        host.ulimits.push(skiff_engine::units::parse_ulimit(u)?);
    }
    // (The engine reads and checks them: `max-size`, `max-file`.)
    for o in &a.log_opt {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| format!("invalid key value pair format in log options: {o}"))?;
        host.log_opts.insert(k.to_string(), v.to_string());
    }
    let d = |v: &Option<String>, flag: &str| -> std::result::Result<i64, String> {
        match v {
            Some(v) => skiff_engine::units::parse_go_duration(v)
                .map_err(|e| format!("invalid argument \"{v}\" for \"--{flag}\" flag: {e}")),
            None => Ok(0),
        }
    };
    let healthcheck = skiff_engine::model::HealthConfig {
        test: a
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()])
            .unwrap_or_default(),
        interval: d(&a.health_interval, "health-interval")?,
        timeout: d(&a.health_timeout, "health-timeout")?,
        start_period: d(&a.health_start_period, "health-start-period")?,
        retries: a.health_retries.unwrap_or(0),
    };
    if a.no_healthcheck && healthcheck != Default::default() {
        return Err("--no-healthcheck conflicts with --health-* options".into());
    }
    if healthcheck.retries < 0 {
        return Err("--health-retries cannot be negative".into());
    }
    // As Docker's client: aliases need a user network named by --network;
    // without --network (the default bridge) they are dropped.
    let network_aliases = match a.network.as_deref() {
        None => Vec::new(),
        Some(m)
            if !a.network_alias.is_empty()
                && (matches!(m, "bridge" | "none" | "host" | "default")
                    || m.starts_with("container:")) =>
        {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".into(),
            )
        }
        Some(_) => a.network_alias.clone(),
    };
    Ok(CreateOptions {
        ip: a.ip.clone(),
        healthcheck,
        no_healthcheck: a.no_healthcheck,
        name: a.name.clone(),
        image: a.image().to_string(),
        cmd: a.command(),
        entrypoint: a.entrypoint.clone().map(|e| vec![e]),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        labels,
        tty: a.tty,
        open_stdin: a.interactive,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        network_aliases,
        expose,
        host,
        id: None,
    })
}

/// A refused `run`/`create` as Docker's client prints it.
pub(super) fn bad_flag(cmd: &str) -> impl Fn(String) -> Failure + '_ {
    move |m| Failure {
        code: 125,
        // A flag's value that does not parse reads as the flag parser's
        // error; the rest as Docker's client reports a refused run.
        msg: if [
            "invalid argument ",
            "unknown flag: ",
            "unknown shorthand flag: ",
        ]
        .iter()
        .any(|p| m.starts_with(p))
        {
            format!("{m}\nSee 'skiff {cmd} --help'.")
        } else {
            format!(
                "skiff: {m}{}\nSee 'skiff {cmd} --help'.",
                if m.ends_with('.') { "" } else { "." }
            )
        },
    }
}

/// An I/O error in the words Go's errors use (`no such file or directory`).
fn go_io_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Create, pulling the image first when it is missing (as Docker does,
/// with the pull's output on stderr).
pub(super) fn create_pulling(e: &Engine, o: &CreateOptions) -> skiff_engine::Result<Container> {
    let made = create_warning(e, o);
    match made {
        Err(err @ skiff_engine::Error::Image(_))
            if err.kind() == skiff_engine::ErrorKind::NotFound
                && skiff_image::reference::Reference::parse(&o.image).is_ok() =>
        {
            let r = skiff_image::reference::Reference::parse(&o.image).expect("parsed");
            let shown = if r.tag.is_none() && r.digest.is_none() {
                format!("{}:latest", r.familiar_string())
            } else {
                r.familiar_string()
            };
            eprintln!("Unable to find image '{shown}' locally");
            let shown = r.familiar_string();
            let progress = super::progress::pull_progress(false, true, shown.clone());
            let opts = skiff_engine::images::PullOptions {
                progress,
                ..Default::default()
            };
            e.pull(&o.image, &opts)?;
            create_warning(e, o)
        }
        r => r,
    }
}

/// Create, printing the engine's warnings as Docker's CLI does.
fn create_warning(e: &Engine, o: &CreateOptions) -> skiff_engine::Result<Container> {
    let (c, warnings) = e.create_with_warnings(o)?;
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(c)
}

pub fn create(root: &Path, runroot: &Path, a: CreateArgs) -> Result {
    let o = create_options(&a).map_err(bad_flag("create"))?;
    let e = open(root, runroot)?;
    let c = create_pulling(&e, &o).map_err(daemon(1))?;
    println!("{}", c.id);
    Ok(())
}
