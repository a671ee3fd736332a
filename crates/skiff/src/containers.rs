//! Container commands with Docker's flags, output and exit codes: run,
//! create, start, stop, kill, rm, ps, logs, wait, inspect, rename.

use crate::format;
use clap::Args;
use skiff_engine::container::{Attach, CreateOptions};
use skiff_engine::model::{Container, HostConfig, Status};
use skiff_engine::Engine;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// A failure with the exit code Docker's CLI gives it.
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            msg: e.to_string(),
        }
    }
}

pub(crate) type Result<T = ()> = std::result::Result<T, Failure>;

/// The exit status Docker's CLI gives a failed `run`, `start` or `exec`:
/// 127 when the command is not found, 126 when it cannot be run, 125 for
/// every other refusal.
pub(crate) fn exit_code(e: &skiff_engine::Error) -> i32 {
    use skiff_engine::StartCause;
    match e.start_cause() {
        Some(StartCause::CommandNotFound) => 127,
        Some(StartCause::NotExecutable) => 126,
        _ => 125,
    }
}

pub(crate) fn daemon(code: i32) -> impl Fn(skiff_engine::Error) -> Failure {
    move |e| Failure {
        code: if code == 125 { exit_code(&e) } else { code },
        msg: format!("Error response from daemon: {e}"),
    }
}

pub(crate) fn open(root: &Path, runroot: &Path) -> Result<Engine> {
    Engine::open(root, runroot).map_err(|e| Failure {
        code: 125,
        msg: e.to_string(),
    })
}

/// `create` and `run` flags.
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
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
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
    #[arg(long, value_parser = crate::cli_errors::go_cpus)]
    cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares", value_parser = crate::cli_errors::go_int)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true, value_parser = crate::cli_errors::go_int)]
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
    #[arg(long = "stop-timeout", allow_hyphen_values = true, value_parser = crate::cli_errors::go_int)]
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
    #[arg(long = "health-retries", value_parser = crate::cli_errors::go_int)]
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

/// `run` adds `-d`.
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[command(flatten)]
    create: CreateArgs,
}

/// `--detach-keys`, checked before anything is made.
fn check_detach_keys(keys: &Option<String>, code: i32, prefix: &str) -> Result {
    match keys {
        Some(k) => skiff_engine::tty::parse_detach_keys(k)
            .map(|_| ())
            .map_err(|e| Failure {
                code,
                msg: format!("{prefix}Error response from daemon: {e}"),
            }),
        None => Ok(()),
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

fn create_options(a: &CreateArgs) -> std::result::Result<CreateOptions, String> {
    // The command line takes flags until the image; a word there that looks
    // like a flag is one skiff does not know (no image name starts so).
    if a.image().starts_with('-') {
        return Err(crate::cli_errors::unknown_flag(a.image()));
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
        pids_limit: a.pids_limit.unwrap_or(0),
        init: a.init,
        publish_all_ports: a.publish_all,
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        extra_hosts: a.add_host.clone(),
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
    if let Some(c) = a.cpus {
        host.nano_cpus = (c * 1e9) as i64;
        if host.nano_cpus < 0 {
            return Err(format!("invalid argument \"{c}\" for \"--cpus\" flag"));
        }
    }
    for u in &a.ulimit {
        host.ulimits.push(skiff_engine::units::parse_ulimit(u)?);
    }
    for o in &a.log_opt {
        if let Some((k, v)) = o.split_once('=') {
            host.log_opts.insert(k.to_string(), v.to_string());
        }
        match o.split_once('=') {
            // Docker reads max-size with decimal units (1k = 1000 bytes).
            Some(("max-size", v)) => {
                host.log_max_size = Some(skiff_engine::units::parse_decimal_size(v)?)
            }
            Some(("max-file", v)) => {
                host.log_max_file = Some(v.parse().map_err(|_| format!("invalid max-file {v}"))?)
            }
            _ => return Err(format!("unknown log opt '{o}' for json-file log driver")),
        }
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
        entrypoint: a.entrypoint.clone(),
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
    })
}

/// A time as Go's default format prints it (`2026-11-22 05:41:36 +0000 UTC`).
fn go_time(rfc3339: &str) -> String {
    // Whole seconds, in Go's time format.
    skiff_engine::time::parse_rfc3339_nanos(rfc3339)
        .map(|n| skiff_engine::time::rfc3339_nanos(n - n.rem_euclid(1_000_000_000)))
        .and_then(|s| crate::template::go_time(&s))
        .unwrap_or_else(|| rfc3339.to_string())
}

/// `msg` with one final period, as Docker's CLI prints daemon errors.
fn period(msg: &str) -> String {
    if msg.ends_with('.') {
        msg.to_string()
    } else {
        format!("{msg}.")
    }
}

/// `-e KEY` takes KEY's value from our environment, as Docker does.
fn env_entry(e: &str) -> String {
    if e.contains('=') {
        e.to_string()
    } else {
        match std::env::var(e) {
            Ok(v) => format!("{e}={v}"),
            Err(_) => e.to_string(),
        }
    }
}

/// A refused `run`/`create` as Docker's client prints it.
fn bad_flag(cmd: &str) -> impl Fn(String) -> Failure + '_ {
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

/// `--label KEY[=VALUE]` flags as a map (a bare key gets an empty value).
pub(crate) fn parse_labels(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A port number, or why not in the words of Go's `strconv.ParseUint`, which
/// Docker's client quotes.
pub(crate) fn parse_port_number(n: &str) -> std::result::Result<u16, String> {
    n.parse().map_err(|_| {
        let why = if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        format!("strconv.ParseUint: parsing {n:?}: {why}")
    })
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
fn create_pulling(e: &Engine, o: &CreateOptions) -> skiff_engine::Result<Container> {
    match e.create(o) {
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
            let progress = crate::images::pull_progress(false, true, shown.clone());
            let opts = skiff_engine::images::PullOptions {
                progress,
                ..Default::default()
            };
            e.pull(&o.image, &opts)?;
            e.create(o)
        }
        r => r,
    }
}

pub fn create(root: &Path, runroot: &Path, a: CreateArgs) -> Result {
    let o = create_options(&a).map_err(bad_flag("create"))?;
    let e = open(root, runroot)?;
    let c = create_pulling(&e, &o).map_err(daemon(1))?;
    println!("{}", c.id);
    Ok(())
}

fn dup(fd: i32) -> Result<OwnedFd> {
    use std::os::fd::{AsFd, BorrowedFd};
    // SAFETY: fds 0-2 are open for the life of the process.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    b.as_fd().try_clone_to_owned().map_err(Failure::from)
}

static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = FORWARD_PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Docker's --sig-proxy: signals to the CLI go to the container.
fn proxy_signals(pid: i32) {
    FORWARD_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward_signal as *const () as libc::sighandler_t) };
    }
}

/// Docker refuses `-it` when stdin is not a terminal.
fn require_tty(tty: bool, interactive: bool) -> Result {
    use std::io::IsTerminal;
    if tty && interactive && !std::io::stdin().is_terminal() {
        return Err(Failure {
            code: 1,
            msg: "the input device is not a TTY".into(),
        });
    }
    Ok(())
}

pub fn run(root: &Path, runroot: &Path, a: RunArgs) -> Result {
    skiff_runtime::log::timing("cli: run");
    if !a.detach {
        require_tty(a.create.tty, a.create.interactive)?;
    }
    let o = create_options(&a.create).map_err(bad_flag("run"))?;
    // Docker reads the keys only when it attaches.
    if !a.detach {
        check_detach_keys(&a.detach_keys, 125, "skiff: ")?;
    }
    let e = open(root, runroot)?;
    let c = create_pulling(&e, &o).map_err(|err| Failure {
        code: exit_code(&err),
        msg: format!(
            "skiff: Error response from daemon: {}\nSee 'skiff run --help'.",
            period(&err.to_string())
        ),
    })?;
    let attach = if a.detach {
        None
    } else {
        Some(Attach {
            stdin: if a.create.interactive {
                Some(dup(0)?)
            } else {
                None
            },
            stdout: dup(1)?,
            stderr: dup(2)?,
            detach_keys: a.detach_keys.clone(),
        })
    };
    // With -it on a terminal, keystrokes go to the container as typed (set
    // before the container can print anything).
    let raw = (a.create.tty && a.create.interactive && !a.detach)
        .then(RawTerminal::enter)
        .flatten();
    // Detached, Docker prints the ID once the container exists, so it shows
    // even when the start fails.
    if a.detach {
        println!("{}", c.id);
    }
    let started = e.start(&c.id, attach).map_err(|err| Failure {
        code: exit_code(&err),
        msg: format!(
            "skiff: Error response from daemon: {}",
            period(&err.to_string())
        ),
    })?;
    if a.detach {
        started.detach();
        return Ok(());
    }
    if !a.create.tty {
        proxy_signals(started.pid);
    }
    let waited = started.wait();
    drop(raw);
    let code = match waited.map_err(|err| Failure {
        code: 125,
        msg: err.to_string(),
    })? {
        Some(code) => code,
        None => std::process::exit(0), // detached
    };
    skiff_runtime::log::timing("cli: exit reported");
    std::process::exit(code);
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(root: &Path, runroot: &Path, a: StartArgs) -> Result {
    if a.attach {
        check_detach_keys(&a.detach_keys, 1, "")?;
    }
    let e = open(root, runroot)?;
    if a.attach && a.containers.len() > 1 {
        return Err(Failure {
            code: 1,
            msg: "you cannot start and attach multiple containers at once".into(),
        });
    }
    let mut failed = Vec::new();
    for what in &a.containers {
        let attach = if a.attach {
            Some(Attach {
                stdin: if a.interactive { Some(dup(0)?) } else { None },
                stdout: dup(1)?,
                stderr: dup(2)?,
                detach_keys: a.detach_keys.clone(),
            })
        } else {
            None
        };
        // Starting a running container is not an error for Docker.
        if let Ok(c) = e.find(what) {
            if c.state.status == Status::Running && !a.attach {
                println!("{what}");
                continue;
            }
        }
        match e.start(what, attach) {
            Ok(s) if a.attach => {
                proxy_signals(s.pid);
                let code = s.wait().map_err(Failure::from)?;
                std::process::exit(code.unwrap_or(0));
            }
            Ok(s) => {
                s.detach();
                println!("{what}");
            }
            // Started by another start in the meantime: as above.
            Err(skiff_engine::Error::AlreadyRunning(_)) if !a.attach => println!("{what}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                failed.push(what.as_str());
            }
        }
    }
    if !failed.is_empty() {
        return Err(Failure {
            code: 1,
            msg: format!("Error: failed to start containers: {}", failed.join(", ")),
        });
    }
    Ok(())
}

/// Run `f` on each named container, printing the name or an error, as
/// Docker's stop, kill, rm do.
fn each(names: &[String], mut f: impl FnMut(&str) -> skiff_engine::Result<()>) -> Result {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Failure {
            code: 1,
            msg: String::new(),
        })
    } else {
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it.
    #[arg(short = 't', long = "time", allow_hyphen_values = true, value_parser = crate::cli_errors::go_int)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, runroot: &Path, a: StopArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.stop(n, a.time).map(drop))
}

pub fn restart(root: &Path, runroot: &Path, a: StopArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.restart(n, a.time))
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, runroot: &Path, a: KillArgs) -> Result {
    let e = open(root, runroot)?;
    let sig = skiff_engine::container::parse_signal(&a.signal).map_err(|err| Failure {
        code: 1,
        msg: format!("Error response from daemon: {err}"),
    })?;
    each(&a.containers, |n| e.kill(n, sig).map(drop))
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, runroot: &Path, a: RmArgs) -> Result {
    let e = open(root, runroot)?;
    if a.force {
        // -f: a missing container is reported, not a failure (Docker).
        let mut failed = false;
        for n in &a.containers {
            match e.remove(n, true, a.volumes) {
                Ok(_) => println!("{n}"),
                Err(err) if err.kind() == skiff_engine::ErrorKind::NotFound => {
                    eprintln!("Error: {err}")
                }
                Err(err) => {
                    eprintln!("Error response from daemon: {err}");
                    failed = true;
                }
            }
        }
        return if failed {
            Err(Failure {
                code: 1,
                msg: String::new(),
            })
        } else {
            Ok(())
        };
    }
    each(&a.containers, |n| e.remove(n, a.force, a.volumes).map(drop))
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, runroot: &Path, a: WaitArgs) -> Result {
    let e = open(root, runroot)?;
    let mut failed = false;
    for n in &a.containers {
        match e.wait(n, Default::default(), &skiff_engine::notify::Cancel::new()) {
            Ok(code) => println!("{code}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show the latest created container.
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show n last created containers.
    #[arg(short = 'n', long = "last", allow_hyphen_values = true, value_parser = crate::cli_errors::go_int)]
    last: Option<i64>,
    /// Filter output (status=, name=, id=, label=, exited=, ancestor=).
    #[arg(short = 'f', long)]
    filter: Vec<String>,
    /// Pretty-print containers using a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
}

/// Docker's COMMAND column: the daemon's command line, cut to 20
/// characters (with `trunc`), quoted as Go quotes a string.
fn command_column(command: &str, trunc: bool) -> String {
    let mut s = command.to_string();
    if trunc && s.chars().count() > 20 {
        s = s.chars().take(19).collect::<String>() + "…";
    }
    serde_json::to_string(&s).unwrap_or_default()
}

pub fn ps(root: &Path, runroot: &Path, a: PsArgs) -> Result {
    let e = open(root, runroot)?;
    let filters = skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?;
    let last = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n > 0).map(|n| n as usize)
    };
    let list = e
        .list_containers(&skiff_engine::container::ListOptions {
            all: a.all,
            last,
            filters,
        })
        .map_err(daemon(1))?;
    let trunc = !a.no_trunc;
    if a.quiet {
        for s in &list {
            let id = &s.container.id;
            println!("{}", if trunc { &id[..12] } else { id });
        }
        return Ok(());
    }
    let rows: Vec<format::Fields> = list
        .iter()
        .map(|s| {
            let c = &s.container;
            let labels = c
                .config
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            vec![
                (
                    "ID",
                    "CONTAINER ID",
                    if trunc {
                        c.id[..12].to_string()
                    } else {
                        c.id.clone()
                    },
                ),
                ("Image", "IMAGE", c.config.image.clone()),
                ("Command", "COMMAND", command_column(&s.command, trunc)),
                ("CreatedAt", "CREATED AT", go_time(&c.created)),
                ("RunningFor", "CREATED", format::ago(&c.created)),
                ("Ports", "PORTS", format::ports_text(s.ports.clone())),
                ("State", "STATE", c.state.status.as_str().to_string()),
                ("Status", "STATUS", s.status.clone()),
                ("Names", "NAMES", c.name.clone()),
                ("Labels", "LABELS", labels),
                ("Mounts", "MOUNTS", String::new()),
                ("Networks", "NETWORKS", s.networks.join(",")),
            ]
        })
        .collect();
    let fmt = a.format.unwrap_or_else(|| {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into()
    });
    if rows.is_empty() && fmt.starts_with("table") {
        // The header alone.
        let header: format::Fields = vec![
            ("ID", "CONTAINER ID", String::new()),
            ("Image", "IMAGE", String::new()),
            ("Command", "COMMAND", String::new()),
            ("CreatedAt", "CREATED AT", String::new()),
            ("RunningFor", "CREATED", String::new()),
            ("Ports", "PORTS", String::new()),
            ("State", "STATE", String::new()),
            ("Status", "STATUS", String::new()),
            ("Names", "NAMES", String::new()),
            ("Labels", "LABELS", String::new()),
            ("Mounts", "MOUNTS", String::new()),
            ("Networks", "NETWORKS", String::new()),
        ];
        let out = format::render_rows(&fmt, &[header]).map_err(Failure::from)?;
        print!(
            "{}",
            out.lines()
                .next()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    print!(
        "{}",
        format::render_rows(&fmt, &rows).map_err(Failure::from)?
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs.
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since timestamp (RFC 3339) or relative (42m).
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative (42m).
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    container: String,
}

/// An RFC 3339 time, Unix seconds, or a duration before now (`10s`, `5m`),
/// as Docker's client reads `--since`/`--until`.
fn parse_time_arg(s: &str) -> std::result::Result<i64, String> {
    if let Some(n) = skiff_engine::time::parse_timestamp(s) {
        return Ok(n);
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let mult: f64 = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "ms" => 0.001,
        _ => return Err(format!("invalid time {s:?}")),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid time {s:?}"))?;
    Ok(skiff_engine::time::now_nanos() - (n * mult * 1e9) as i64)
}

pub fn logs(root: &Path, runroot: &Path, a: LogsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let time = |v: &Option<String>| v.as_deref().map(parse_time_arg).transpose();
    let o = skiff_engine::logs::LogOptions {
        since: time(&a.since).map_err(Failure::from)?,
        until: time(&a.until).map_err(Failure::from)?,
        // What is not a number means all, as Docker's daemon reads it.
        tail: a.tail.parse().ok(),
        follow: a.follow,
    };
    let mut out = std::io::stdout().lock();
    let mut sink = |r: &skiff_engine::logs::Record| {
        let line = if a.timestamps {
            format!("{} {}", r.time, r.data)
        } else {
            r.data.clone()
        };
        let ok = if r.stream == 2 {
            let _ = out.flush();
            std::io::stderr().write_all(line.as_bytes()).is_ok()
        } else {
            out.write_all(line.as_bytes()).is_ok()
        };
        if a.follow {
            let _ = out.flush();
        }
        ok
    };
    e.logs(
        &a.container,
        &o,
        &skiff_engine::notify::Cancel::new(),
        &mut sink,
    )
    .map_err(daemon(1))?;
    let _ = out.flush();
    Ok(())
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output using a Go template.
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn inspect(root: &Path, runroot: &Path, a: InspectArgs) -> Result {
    let e = open(root, runroot)?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for n in &a.containers {
        match e.find(n) {
            Ok(c) => out.push(e.inspect(&c)),
            Err(_) => missing.push(n.clone()),
        }
    }
    match &a.format {
        Some(f) => {
            let opts = crate::template::Options {
                missing_key_error: true,
                null_as: Some(go_type_of),
            };
            for v in &out {
                match crate::template::render_with(f, v, &opts) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        println!();
                        return Err(Failure {
                            code: 1,
                            msg: format!("template parsing error: {e}"),
                        });
                    }
                }
            }
        }
        None => println!("{}", json_4(&out)),
    }
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("Error: No such object: {m}");
        }
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

pub fn rename(root: &Path, runroot: &Path, old: &str, new: &str) -> Result {
    let e = open(root, runroot)?;
    e.rename(old, new).map_err(daemon(1))
}

#[derive(clap::Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        /// Set metadata for a volume.
        #[arg(short = 'l', long = "label")]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Filter output (dangling=true|false, name=).
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Pretty-print volumes using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        /// Format the output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove all unused local volumes.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// `volume inspect` and `network inspect`: each document through the
/// template, or all of them as one JSON array; then exit 1 if any of those
/// asked for was missing (already reported).
pub(crate) fn print_documents(
    out: &[serde_json::Value],
    format: Option<&str>,
    failed: bool,
) -> Result {
    match format {
        Some(f) => {
            for v in out {
                println!("{}", crate::template::render(f, v).map_err(Failure::from)?);
            }
        }
        None => println!("{}", json_4(&out)),
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

/// Ask on the terminal; false unless the answer is y or yes.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::Write;
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub fn volume(root: &Path, runroot: &Path, c: VolumeCmd) -> Result {
    let e = open(root, runroot)?;
    match c {
        VolumeCmd::Create { label, name } => {
            let labels = parse_labels(&label);
            let v = e
                .volume_create(name.as_deref(), labels, false)
                .map_err(daemon(1))?;
            println!("{}", v.name);
        }
        VolumeCmd::Ls {
            quiet,
            filter,
            format,
        } => {
            let filters = skiff_engine::filters::Filters::parse(&filter).map_err(daemon(1))?;
            let list = e.volumes(&filters).map_err(daemon(1))?;
            if quiet {
                for v in &list {
                    println!("{}", v.name);
                }
                return Ok(());
            }
            let rows: Vec<format::Fields> = list
                .iter()
                .map(|v| {
                    vec![
                        ("Driver", "DRIVER", "local".to_string()),
                        ("Name", "VOLUME NAME", v.name.clone()),
                        ("Scope", "SCOPE", "local".to_string()),
                        (
                            "Mountpoint",
                            "MOUNTPOINT",
                            e.volume_data(&v.name).display().to_string(),
                        ),
                        (
                            "Labels",
                            "LABELS",
                            v.labels
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                    ]
                })
                .collect();
            let fmt = format.unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".into());
            if rows.is_empty() && fmt.starts_with("table") {
                println!("DRIVER    VOLUME NAME");
                return Ok(());
            }
            print!(
                "{}",
                format::render_rows(&fmt, &rows).map_err(Failure::from)?
            );
        }
        VolumeCmd::Inspect { format, volumes } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &volumes {
                match e.volume_get(n).map_err(daemon(1))? {
                    Some(v) => out.push(e.volume_inspect(&v)),
                    None => {
                        eprintln!("Error: No such volume: {n}");
                        failed = true;
                    }
                }
            }
            print_documents(&out, format.as_deref(), failed)?;
        }
        VolumeCmd::Rm { force, volumes } => {
            let mut failed = false;
            for n in &volumes {
                match e.volume_remove(n, force) {
                    Ok(()) => println!("{n}"),
                    Err(err) if err.kind() == skiff_engine::ErrorKind::NotFound => {
                        eprintln!("Error: No such volume: {n}");
                        failed = true;
                    }
                    Err(err) => {
                        eprintln!("Error response from daemon: {err}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(Failure {
                    code: 1,
                    msg: String::new(),
                });
            }
        }
        VolumeCmd::Prune { force } => {
            if !force
                && !confirm(
                    "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?",
                )
            {
                return Ok(());
            }
            let (gone, bytes) = e.volume_prune().map_err(daemon(1))?;
            print_deleted("Volumes", &gone);
            println!("Total reclaimed space: {}", format::human_size(bytes));
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

/// One of our standard fds (or /dev/null for `null`), duplicated for a
/// process to use as its own.
fn stdio_fd(fd: i32, null: bool) -> Result<OwnedFd> {
    if null {
        return Ok(std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(Failure::from)?
            .into());
    }
    dup(fd)
}

/// (rows, columns) of the terminal on our stdout, if it is one.
fn terminal_size() -> Option<(u16, u16)> {
    let ws = nix::pty::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let mut ws = ws;
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given.
    let r = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

pub fn exec(root: &Path, runroot: &Path, a: ExecArgs) -> Result {
    if !a.detach {
        require_tty(a.tty, a.interactive)?;
    }
    check_detach_keys(&a.detach_keys, 1, "")?;
    let e = open(root, runroot)?;
    let o = skiff_engine::container::ExecOptions {
        cmd: a.command,
        env: a.env.iter().map(|e| env_entry(e)).collect(),
        workdir: a.workdir,
        user: a.user,
        detach: a.detach,
        privileged: a.privileged,
        tty: a.tty,
        interactive: a.interactive,
        detach_keys: a.detach_keys.clone(),
        console_size: if a.tty { terminal_size() } else { None },
    };
    // Without a pty the process gets our stdio (stdin with -i; nothing
    // when detached).
    let io = if a.tty {
        None
    } else {
        Some(skiff_engine::container::ExecIo {
            stdin: stdio_fd(0, !a.interactive || a.detach)?,
            stdout: stdio_fd(1, a.detach)?,
            stderr: stdio_fd(2, a.detach)?,
        })
    };
    let r = e.exec_start(&a.container, &o, io).and_then(|h| {
        if a.detach {
            return Ok(0);
        }
        match h.pty.as_ref().and_then(|m| m.try_clone().ok()) {
            Some(master) => {
                let raw = a.interactive.then(RawTerminal::enter).flatten();
                let escape = a
                    .detach_keys
                    .as_deref()
                    .and_then(|k| skiff_engine::tty::parse_detach_keys(k).ok())
                    .map(skiff_engine::tty::Escape::new)
                    .unwrap_or_default();
                let detached = proxy_tty(&master, h.exit_fd(), a.interactive, escape);
                drop(raw);
                if detached {
                    return Ok(0);
                }
                h.wait(&e)
            }
            None => h.wait(&e),
        }
    });
    match r {
        Ok(code) => std::process::exit(code),
        // Docker's daemon writes a failed exec's error into its output:
        // stdout, with a terminal's line end.
        Err(err @ skiff_engine::Error::Start { .. }) => {
            use std::io::Write;
            let _ = write!(std::io::stdout(), "{err}\r\n");
            let _ = std::io::stdout().flush();
            std::process::exit(exit_code(&err));
        }
        Err(err) => Err(Failure {
            code: 1,
            msg: format!("Error response from daemon: {err}"),
        }),
    }
}

/// Copy between our terminal and an exec'd process's pty `master` until
/// the process ends (`exit` readable, then the pty drained) or the user
/// types the detach keys (true: detached, the process runs on).
fn proxy_tty(
    master: &OwnedFd,
    exit: std::os::fd::BorrowedFd<'_>,
    interactive: bool,
    mut escape: skiff_engine::tty::Escape,
) -> bool {
    use std::io::Write;
    use std::os::fd::{AsFd, AsRawFd};
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = interactive;
    let mut exited = false;
    loop {
        let mut fds = vec![libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if !exited {
            fds.push(libc::pollfd {
                fd: exit.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // Once it exited, what the pty still holds, then done.
        let timeout = if exited { 100 } else { -1 };
        // SAFETY: a valid pollfd array of its length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
        if r == 0 && exited {
            return false;
        }
        for p in fds.iter().filter(|p| p.revents != 0) {
            if p.fd == master.as_raw_fd() {
                let n = nix::unistd::read(master, &mut buf).unwrap_or(0);
                if n == 0 {
                    return false;
                }
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            } else if p.fd == 0 {
                let n = nix::unistd::read(std::io::stdin().as_fd(), &mut buf).unwrap_or(0);
                if n == 0 {
                    stdin_open = false;
                    continue;
                }
                let (data, detach) = escape.feed(&buf[..n]);
                let _ = nix::unistd::write(master.as_fd(), &data);
                if detach {
                    return true;
                }
            } else {
                exited = true;
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn pause(root: &Path, runroot: &Path, a: NamesArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.pause(n))
}

pub fn unpause(root: &Path, runroot: &Path, a: NamesArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.unpause(n))
}

#[derive(Args, Debug)]
pub struct TopArgs {
    container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

/// `top`: the host's `ps` output, rows of the container's processes only.
pub fn top(root: &Path, runroot: &Path, a: TopArgs) -> Result {
    let e = open(root, runroot)?;
    let (titles, rows) = e.top(&a.container, &a.ps_args).map_err(daemon(1))?;
    let mut all = vec![titles];
    all.extend(rows);
    print!("{}", format::table_min(&all, 20));
    Ok(())
}

/// go-units' BytesSize: binary units, 4 significant digits ("1.203MiB").
/// `stats`' in / out columns: `1.2kB / 656B`.
fn io_pair(a: u64, b: u64) -> String {
    format!("{} / {}", format::human_size(a), format::human_size(b))
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Pretty-print using a Go template.
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

pub fn stats(root: &Path, runroot: &Path, a: StatsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let pick = || -> Result<Vec<Container>> {
        if a.containers.is_empty() {
            let mut l = e.list().map_err(daemon(1))?;
            if !a.all {
                l.retain(|c| matches!(c.state.status, Status::Running | Status::Paused));
            }
            Ok(l)
        } else {
            a.containers
                .iter()
                .map(|n| e.find(n).map_err(daemon(1)))
                .collect()
        }
    };
    let interval = std::time::Duration::from_millis(500);
    // {{.Container}} is the name or ID as given.
    let given: std::collections::HashMap<String, String> = a
        .containers
        .iter()
        .filter_map(|n| e.find(n).ok().map(|c| (c.id, n.clone())))
        .collect();
    loop {
        let list = pick()?;
        let first: Vec<_> = list.iter().map(|c| e.stats(c)).collect();
        std::thread::sleep(interval);
        let rows: Vec<format::Fields> = list
            .iter()
            .zip(first)
            .map(|(c, s0)| {
                let s = e.stats(c);
                let cpu = s.cpu_percent(&s0);
                let mem_pct = s.mem_percent();
                vec![
                    (
                        "Container",
                        "CONTAINER",
                        given.get(&c.id).cloned().unwrap_or_else(|| {
                            if a.no_trunc {
                                c.id.clone()
                            } else {
                                c.id[..12].to_string()
                            }
                        }),
                    ),
                    (
                        "ID",
                        "CONTAINER ID",
                        if a.no_trunc {
                            c.id.clone()
                        } else {
                            c.id[..12].to_string()
                        },
                    ),
                    ("Name", "NAME", c.name.clone()),
                    ("CPUPerc", "CPU %", format!("{cpu:.2}%")),
                    (
                        "MemUsage",
                        "MEM USAGE / LIMIT",
                        format!(
                            "{} / {}",
                            format::bytes_size(s.mem_usage),
                            format::bytes_size(s.mem_limit)
                        ),
                    ),
                    ("MemPerc", "MEM %", format!("{mem_pct:.2}%")),
                    ("NetIO", "NET I/O", io_pair(s.net_rx, s.net_tx)),
                    (
                        "BlockIO",
                        "BLOCK I/O",
                        io_pair(s.cgroup.blkio.read_bytes, s.cgroup.blkio.write_bytes),
                    ),
                    ("PIDs", "PIDS", s.cgroup.pids.current.to_string()),
                ]
            })
            .collect();
        let fmt = a.format.clone().unwrap_or_else(|| {
            "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}".into()
        });
        let out = if rows.is_empty() {
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\n".to_string()
        } else {
            format::render_rows(&fmt, &rows).map_err(Failure::from)?
        };
        if !a.no_stream {
            // Clear the screen between refreshes, as Docker does.
            print!("\x1b[2J\x1b[H");
        }
        print!("{out}");
        let _ = std::io::stdout().flush();
        if a.no_stream {
            return Ok(());
        }
    }
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp.
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Filter output (type=, event=, container=).
    #[arg(short = 'f', long)]
    filter: Vec<String>,
    /// Format the output using a Go template.
    #[arg(long)]
    format: Option<String>,
}

pub fn events(root: &Path, runroot: &Path, a: EventsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let time = |v: &Option<String>| v.as_deref().map(parse_time_arg).transpose();
    let o = skiff_engine::events::EventOptions {
        since: time(&a.since).map_err(Failure::from)?,
        until: time(&a.until).map_err(Failure::from)?,
        filters: skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?,
    };
    let print = |ev: &skiff_engine::store::Event| -> Result {
        let time = skiff_engine::time::rfc3339_nanos(ev.time_nano);
        match &a.format {
            Some(f) => {
                let v = serde_json::json!({
                    "Type": ev.kind, "Action": ev.action, "Status": ev.action, "ID": ev.actor,
                    "Actor": {"ID": ev.actor, "Attributes": ev.attributes},
                    "time": ev.time_nano / 1_000_000_000, "timeNano": ev.time_nano,
                });
                let line = if f == "json" || f == "{{json .}}" {
                    v.to_string()
                } else {
                    crate::template::render(f, &v).map_err(Failure::from)?
                };
                println!("{line}");
            }
            None => {
                let mut attrs: Vec<(String, String)> = ev
                    .attributes
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| v.to_string()),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                attrs.sort();
                let attrs = attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                println!("{time} {} {} {} ({attrs})", ev.kind, ev.action, ev.actor);
            }
        }
        let _ = std::io::stdout().flush();
        Ok(())
    };
    let mut failed = None;
    let mut sink = |ev: &skiff_engine::store::Event| match print(ev) {
        Ok(()) => true,
        Err(f) => {
            failed = Some(f);
            false
        }
    };
    e.subscribe(&o, &skiff_engine::notify::Cancel::new(), &mut sink)
        .map_err(daemon(1))?;
    failed.map_or(Ok(()), Err)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (until=, label=).
    #[arg(long)]
    filter: Vec<String>,
}

/// `Deleted Containers:` and its list, then a blank line (nothing when
/// nothing was removed), as Docker's prune commands print them.
pub(crate) fn print_deleted(title: &str, items: &[String]) {
    if !items.is_empty() {
        println!("Deleted {title}:");
        for i in items {
            println!("{i}");
        }
        println!();
    }
}

pub fn container_prune(root: &Path, runroot: &Path, a: PruneArgs) -> Result {
    if !a.force
        && !confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let e = open(root, runroot)?;
    let filters = skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?;
    let pruned = e.prune_containers(&filters).map_err(daemon(1))?;
    print_deleted("Containers", &pruned.removed);
    println!(
        "Total reclaimed space: {}",
        format::human_size(pruned.bytes)
    );
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum SystemCmd {
    /// Show skiff disk usage.
    Df,
    /// Display system-wide information.
    Info(crate::info::InfoArgs),
    /// Start the containers whose restart policy brings them back after a
    /// reboot (run it from the init system at boot).
    Boot,
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
        /// Prune volumes.
        #[arg(long)]
        volumes: bool,
    },
}

pub fn system(root: &Path, runroot: &Path, c: SystemCmd) -> Result {
    let e = open(root, runroot)?;
    match c {
        SystemCmd::Info(a) => return crate::info::info(root, runroot, a),
        SystemCmd::Boot => {
            for id in e.boot().map_err(daemon(1))? {
                println!("{id}");
            }
        }
        SystemCmd::Df => {
            let du = e.disk_usage().map_err(daemon(1))?;
            let reclaim = |r: u64, t: u64| match (r * 100).checked_div(t) {
                Some(pct) => format!("{} ({pct}%)", format::human_size4(r)),
                None => format::human_size4(r),
            };
            let row = |name: &str, u: &skiff_engine::system::Usage| {
                vec![
                    name.to_string(),
                    u.total.to_string(),
                    u.active.to_string(),
                    format::human_size4(u.size),
                    reclaim(u.reclaimable, u.size),
                ]
            };
            let rows = vec![
                ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
                    .map(String::from)
                    .to_vec(),
                row("Images", &du.images),
                row("Containers", &du.containers),
                row("Local Volumes", &du.volumes),
                vec![
                    "Build Cache".into(),
                    "0".into(),
                    "0".into(),
                    "0B".into(),
                    "0B".into(),
                ],
            ];
            print!("{}", format::table(&rows));
        }
        SystemCmd::Prune {
            all,
            force,
            volumes,
        } => {
            if !force {
                let mut q = String::from(
                    "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
                );
                if volumes {
                    q.push_str("  - all volumes not used by at least one container\n");
                }
                q.push_str(if all {
                    "  - all images without at least one container associated to them\n"
                } else {
                    "  - all dangling images\n"
                });
                q.push_str("  - all dangling build cache\n\nAre you sure you want to continue?");
                if !confirm(&q) {
                    return Ok(());
                }
            }
            let p = e
                .system_prune(&skiff_engine::system::SystemPruneOptions {
                    all_images: all,
                    volumes,
                })
                .map_err(daemon(1))?;
            print_deleted("Containers", &p.containers);
            print_deleted("Networks", &p.networks);
            print_deleted("Volumes", &p.volumes);
            let images: Vec<String> = p.images.iter().map(|i| format!("deleted: {i}")).collect();
            print_deleted("Images", &images);
            println!("Total reclaimed space: {}", format::human_size(p.bytes));
        }
    }
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum ContainerCmd {
    /// List containers.
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// Create and run a new container.
    Run(RunArgs),
    /// Create a new container.
    Create(CreateArgs),
    /// Start containers.
    Start(StartArgs),
    /// Stop containers.
    Stop(StopArgs),
    /// Restart containers.
    Restart(StopArgs),
    /// Kill containers.
    Kill(KillArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Fetch a container's logs.
    Logs(LogsArgs),
    /// Wait for containers to stop.
    Wait(WaitArgs),
    /// Display detailed information on containers.
    Inspect(InspectArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Pause all processes of containers.
    Pause(NamesArgs),
    /// Unpause containers.
    Unpause(NamesArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Display resource usage statistics.
    Stats(StatsArgs),
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Inspect changes on a container's filesystem.
    Diff(DiffArgs),
}

pub fn container(root: &Path, runroot: &Path, c: ContainerCmd) -> Result {
    match c {
        ContainerCmd::Ls(a) => ps(root, runroot, a),
        ContainerCmd::Prune(a) => container_prune(root, runroot, a),
        ContainerCmd::Run(a) => run(root, runroot, a),
        ContainerCmd::Create(a) => create(root, runroot, a),
        ContainerCmd::Start(a) => start(root, runroot, a),
        ContainerCmd::Stop(a) => stop(root, runroot, a),
        ContainerCmd::Restart(a) => restart(root, runroot, a),
        ContainerCmd::Kill(a) => kill(root, runroot, a),
        ContainerCmd::Rm(a) => rm(root, runroot, a),
        ContainerCmd::Logs(a) => logs(root, runroot, a),
        ContainerCmd::Wait(a) => wait(root, runroot, a),
        ContainerCmd::Inspect(a) => inspect(root, runroot, a),
        ContainerCmd::Exec(a) => exec(root, runroot, a),
        ContainerCmd::Pause(a) => pause(root, runroot, a),
        ContainerCmd::Unpause(a) => unpause(root, runroot, a),
        ContainerCmd::Top(a) => top(root, runroot, a),
        ContainerCmd::Stats(a) => stats(root, runroot, a),
        ContainerCmd::Rename {
            container,
            new_name,
        } => rename(root, runroot, &container, &new_name),
        ContainerCmd::Diff(a) => diff(root, runroot, a),
    }
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    container: String,
}

pub fn diff(root: &Path, runroot: &Path, a: DiffArgs) -> Result {
    let e = open(root, runroot)?;
    for (k, p) in e.diff(&a.container).map_err(daemon(1))? {
        println!("{k} {p}");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long)]
    author: Option<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Pause container during commit.
    #[arg(short = 'p', long, default_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    container: String,
    /// REPOSITORY[:TAG]
    repository: Option<String>,
}

pub fn commit(root: &Path, runroot: &Path, a: CommitArgs) -> Result {
    let e = open(root, runroot)?;
    let id = e
        .commit(
            &a.container,
            a.repository.as_deref(),
            &skiff_engine::container::CommitOptions {
                author: a.author,
                message: a.message,
                pause: a.pause,
            },
        )
        .map_err(daemon(1))?;
    println!("{id}");
    Ok(())
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH
    src: String,
    /// DEST_PATH or CONTAINER:DEST_PATH
    dest: String,
}

/// `NAME:PATH` (a container path) or a host path (`./x:y` stays a path).
fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':')
}

pub fn cp(root: &Path, runroot: &Path, a: CpArgs) -> Result {
    let e = open(root, runroot)?;
    let r = match (split_container_path(&a.src), split_container_path(&a.dest)) {
        (Some((c, p)), None) if a.dest == "-" => {
            let mut out = std::io::stdout().lock();
            e.copy_out_tar(c, &absolute(p), a.follow_link, &mut out)
        }
        (None, Some((c, p))) if a.src == "-" => {
            e.copy_in_tar(&mut std::io::stdin().lock(), c, &absolute(p))
        }
        (Some((c, p)), None) => e.copy_out(c, &absolute(p), Path::new(&a.dest), a.follow_link),
        (None, Some((c, p))) => e.copy_in(Path::new(&a.src), c, &absolute(p), a.archive),
        (Some(_), Some(_)) => {
            return Err(Failure {
                code: 1,
                msg: "copying between containers is not supported".into(),
            })
        }
        (None, None) => {
            return Err(Failure {
                code: 1,
                msg: "must specify at least one container source".into(),
            })
        }
    };
    r.map_err(|err| Failure {
        code: 1,
        msg: format!("Error: {err}"),
    })
}

/// A container path relative to its root.
fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// The terminal on stdin in raw mode, restored when dropped.
struct RawTerminal {
    saved: nix::sys::termios::Termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

/// How Docker's typed inspect document prints a null (or left-out) field:
/// nil slices as `[]`, nil maps as `map[]`, empty strings as nothing,
/// pointers as `<nil>`.
fn go_type_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "CapAdd"
        | "CapDrop"
        | "Entrypoint"
        | "Cmd"
        | "SecurityOpt"
        | "Binds"
        | "Env"
        | "Dns"
        | "DnsOptions"
        | "DnsSearch"
        | "ExtraHosts"
        | "Links"
        | "Devices"
        | "DeviceCgroupRules"
        | "DeviceRequests"
        | "Ulimits"
        | "Args"
        | "ExecIDs"
        | "GroupAdd"
        | "VolumesFrom"
        | "OnBuild"
        | "BlkioWeightDevice"
        | "BlkioDeviceReadBps"
        | "BlkioDeviceWriteBps"
        | "BlkioDeviceReadIOps"
        | "BlkioDeviceWriteIOps"
        | "MaskedPaths"
        | "ReadonlyPaths"
        | "SecondaryIPAddresses"
        | "SecondaryIPv6Addresses"
        | "Shell"
        | "Mounts" => "[]",
        "Labels" | "Volumes" | "ExposedPorts" | "Tmpfs" | "PortBindings" | "Ports" | "Networks"
        | "StorageOpt" | "Sysctls" | "Options" => "map[]",
        "StopSignal" | "Domainname" | "MacAddress" | "Name" | "Driver" | "Mode" | "Propagation" => {
            ""
        }
        "Start" | "End" => "time",
        "StopTimeout" | "Healthcheck" | "PidsLimit" | "MemorySwappiness" | "OomKillDisable"
        | "Init" | "Health" => "<nil>",
        _ => return None,
    })
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
}

/// `attach`: the running container's output (and, with a pty, its input)
/// through its supervisor's attach socket; exits as the container does, or
/// with 0 when detached (ctrl-p ctrl-q).
pub fn attach(root: &Path, runroot: &Path, a: AttachArgs) -> Result {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    check_detach_keys(&a.detach_keys, 1, "")?;
    let e = open(root, runroot)?;
    let c = e.find(&a.container).map_err(daemon(1))?;
    let att = e
        .attach(&c.id, !a.no_stdin, a.detach_keys.as_deref())
        .map_err(|err| match err.kind() {
            skiff_engine::ErrorKind::Conflict => Failure {
                code: 1,
                msg: err.to_string(),
            },
            _ => daemon(1)(err),
        })?;
    let raw = (att.stdin && att.tty).then(RawTerminal::enter).flatten();
    if a.sig_proxy && !att.tty {
        proxy_signals(c.state.pid);
    }
    let mut sock = att.stream();
    let mut stdin_open = att.stdin;
    let mut frames = skiff_engine::attach::FrameReader::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: a valid pollfd array of its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, -1) } < 0 {
            continue;
        }
        if fds.len() > 1 && fds[1].revents != 0 {
            // SAFETY: reading our stdin into our buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || sock.write_all(&buf[..n as usize]).is_err() {
                stdin_open = false;
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let n = sock.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        if att.tty {
            let _ = std::io::stdout().write_all(&buf[..n]);
            let _ = std::io::stdout().flush();
            continue;
        }
        for (stream, data) in frames.push(&buf[..n]) {
            if stream == 2 {
                let _ = std::io::stderr().write_all(&data);
            } else {
                let _ = std::io::stdout().write_all(&data);
                let _ = std::io::stdout().flush();
            }
        }
    }
    drop(raw);
    // The connection ended: the container exited, or the client detached.
    let code = att.finish(&e).map_err(daemon(1))?.unwrap_or(0);
    std::process::exit(code);
}

/// JSON indented by 4 spaces, as Docker's inspect commands print it.
pub fn json_4<T: serde::Serialize>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}
